"""Plain-text rendering of answers for the terminal (`rutinbot ask`, `rutinbot chat`)."""

from __future__ import annotations

from bot.asking import as_shown
from bot.models import Answer, Citation
from bot.safetext import for_terminal

NOT_ANSWERED = (
    "Jag hittar inget säkert svar på det i dokumenten. "
    "Här är de närmaste träffarna – läs dem kritiskt:"
)
ANSWERED = "Det här säger dokumenten:"
MORE = "Fler källor:"


def source_line(c: Citation) -> str:
    """'Title › Section, s. 3 (2022-12-08), gäller från 2023-01-01, ansvarig: Enhetschef' –
    where a passage comes from (validity and owner when the document's sidecar gives them:
    staff who doubt a routine know whom to ask)."""
    parts = [for_terminal(c.title)]
    if c.section:
        parts.append(for_terminal(c.section))
    where = " › ".join(parts)
    if c.page:
        where += f", s. {c.page}"
    if c.date:
        where += f" ({for_terminal(c.date)})"
    if c.valid_from:
        where += f", gäller från {for_terminal(c.valid_from)}"
    if c.owner:
        where += f", ansvarig: {for_terminal(c.owner)}"
    return where


def marked(c: Citation, start: str, end: str) -> str:
    """The passage with its most relevant sentence wrapped in `start`/`end` (terminal-safe:
    only the markers this function adds can be escape sequences)."""
    if not c.highlight:
        return for_terminal(c.text)
    s, e = c.highlight
    text = c.text
    return for_terminal(text[:s]) + start + for_terminal(text[s:e]) + end + for_terminal(text[e:])


def render(answer: Answer, color: bool = False, first: int = 1, short: bool = False) -> str:
    """An answer as text. `short` (the chat): the best passage with some context, the others
    a few hundred characters around their marked sentence, as on a phone."""
    bold, reset = ("\033[1m", "\033[0m") if color else ("»", "«")
    header = ANSWERED if answer.answered else NOT_ANSWERED
    lines = [header if first == 1 else MORE, ""]
    for n, c in enumerate(answer.citations, start=first):
        if short:
            c = as_shown(c, n)
        lines.append(f"[{n}] {source_line(c)}")
        lines.append(f"    {marked(c, bold, reset)}")
        lines.append(f"    Fil: {for_terminal(c.document)}")
        lines.append("")
    if not answer.citations:
        lines.append(
            "(Inga fler källor.)"
            if first > 1
            else "(Kunskapsbanken innehåller inga dokument ännu.)"
        )
    return "\n".join(lines).rstrip() + "\n"
