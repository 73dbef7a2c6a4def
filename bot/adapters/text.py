"""Plain-text rendering of answers for the terminal (`rutinbot ask`, `rutinbot chat`)."""

from __future__ import annotations

from bot.models import Answer, Citation

NOT_ANSWERED = (
    "Jag hittar inget säkert svar på det i dokumenten. "
    "Här är de närmaste träffarna – läs dem kritiskt:"
)
ANSWERED = "Det här säger dokumenten:"
MORE = "Fler källor:"


def source_line(c: Citation) -> str:
    """'Title › Section, s. 3 (2022-12-08)' – where a passage comes from."""
    parts = [c.title]
    if c.section:
        parts.append(c.section)
    where = " › ".join(parts)
    if c.page:
        where += f", s. {c.page}"
    if c.date:
        where += f" ({c.date})"
    return where


def marked(c: Citation, start: str, end: str) -> str:
    """The passage with its most relevant sentence wrapped in `start`/`end`."""
    if not c.highlight:
        return c.text
    s, e = c.highlight
    return c.text[:s] + start + c.text[s:e] + end + c.text[e:]


def render(answer: Answer, color: bool = False, first: int = 1) -> str:
    bold, reset = ("\033[1m", "\033[0m") if color else ("»", "«")
    header = ANSWERED if answer.answered else NOT_ANSWERED
    lines = [header if first == 1 else MORE, ""]
    for n, c in enumerate(answer.citations, start=first):
        lines.append(f"[{n}] {source_line(c)}")
        lines.append(f"    {marked(c, bold, reset)}")
        lines.append(f"    Fil: {c.document}")
        lines.append("")
    if not answer.citations:
        lines.append(
            "(Inga fler källor.)"
            if first > 1
            else "(Kunskapsbanken innehåller inga dokument ännu.)"
        )
    return "\n".join(lines).rstrip() + "\n"
