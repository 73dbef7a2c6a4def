"""HTML for Telegram: every piece of document and user text escaped, messages under 4096.

Telegram's 4096 limit is on the text after parsing the HTML, in UTF-16 code units (an emoji
counts twice), so a text full of escaped `&` and `<` may be much longer as HTML than it looks.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from bot.adapters.text import ANSWERED, NOT_ANSWERED, source_line
from bot.adapters.tgbot import texts
from bot.answer.core import IndexInfo
from bot.asking import as_shown
from bot.models import Answer, Chunk, Citation
from bot.search.store import DocumentRecord

if TYPE_CHECKING:
    from bot.gaps.records import Gap, ThemeInfo
    from bot.gaps.report import Passage, ThemeSummary

MAX_MESSAGE = 4096  # Telegram's limit for a text message
MAX_CAPTION = 1024  # ... and for a document's caption
MAX_TOAST = 200  # ... and for the text of a callback answer
NO_DOCUMENTS = "Kunskapsbanken innehåller inga dokument ännu. Kontakta administratören."
NOTED_AS_GAP = "Frågan har noterats, så att dokumenten kan kompletteras."
_TAG = re.compile(r"<[^>]*>")


def esc(text: str) -> str:
    # quote=False: Telegram knows &quot; but not every entity html.escape can produce.
    return html.escape(text, quote=False)


def units(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def visible(markup: str) -> int:
    """Length of our own HTML as Telegram counts it, after parsing (tags gone, entities one)."""
    return units(html.unescape(_TAG.sub("", markup)))


def clip(text: str, limit: int) -> str:
    """Plain text cut at a word boundary to at most `limit` UTF-16 units (with an ellipsis)."""
    if units(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    while units(cut) > limit - 1:
        cut = cut[:-1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


def pack(blocks: list[str], limit: int = MAX_MESSAGE, sep: str = "\n\n") -> list[str]:
    """Join self-contained HTML blocks into as few messages as fit, splitting only between them."""
    parts: list[str] = []
    current = ""
    for block in blocks:
        candidate = f"{current}{sep}{block}" if current else block
        if visible(candidate) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
        current = block
    if current:
        parts.append(current)
    return parts


def passage(c: Citation, limit: int = 2000) -> str:
    """The passage with its most relevant sentence in bold, escaped piece by piece."""
    text = clip(c.text, limit)
    if not c.highlight or c.highlight[1] > len(text):
        return esc(text)
    s, e = c.highlight
    return f"{esc(text[:s])}<b>{esc(text[s:e])}</b>{esc(text[e:])}"


def citation_block(n: int, c: Citation) -> str:
    head = f"<b>[{n}]</b> <i>{esc(clip(source_line(c), 600))}</i>"
    return f"{head}\n{passage(c)}"


def answer_messages(answer: Answer, first: int = 1) -> list[str]:
    """An answer to read on a phone: the best passage first with some context, the others
    shorter, around their marked sentence; split only between passages."""
    blocks = []
    if first == 1:
        blocks.append(f"<b>{esc(ANSWERED if answer.answered else NOT_ANSWERED)}</b>")
    blocks += [
        citation_block(n, as_shown(c, n)) for n, c in enumerate(answer.citations, start=first)
    ]
    if first == 1 and not answer.citations:
        blocks.append(esc(NO_DOCUMENTS))
    if first == 1 and not answer.answered:
        blocks.append(f"<i>{esc(NOTED_AS_GAP)}</i>")
    return pack(blocks)


def section_heading(chunks: list[Chunk]) -> str:
    top = chunks[0]
    where = top.title + (f" › {top.section_path}" if top.section else "")
    return where + (f" ({top.date})" if top.date else "")


def section_messages(chunks: list[Chunk]) -> list[str]:
    """A whole section: a heading, then its passages in order, split between passages."""
    blocks = [f"<b>{esc(clip(section_heading(chunks), 1000))}</b>"]
    page = None
    for chunk in chunks:
        text = esc(clip(chunk.text, 3000))
        if chunk.page and chunk.page != page:
            text = f"<i>s. {chunk.page}</i>\n{text}"
            page = chunk.page
        blocks.append(text)
    return pack(blocks)


def section_text(chunks: list[Chunk]) -> str:
    """A whole section as plain text, for sending as a file when it is too long for a chat."""
    lines = [section_heading(chunks), f"Fil: {chunks[0].document}", ""]
    page = None
    for chunk in chunks:
        if chunk.page and chunk.page != page:
            lines.append(f"[s. {chunk.page}]")
            page = chunk.page
        lines += [chunk.text, ""]
    return "\n".join(lines)


def sources_messages(info: IndexInfo) -> list[str]:
    """/kallor: the documents the bot answers from, with their dates."""
    if not info.documents:
        return [esc(NO_DOCUMENTS)]
    blocks = [f"<b>Dokument jag svarar ur ({len(info.documents)} st):</b>"]
    for d in sorted(info.documents, key=lambda d: (d.title.lower(), d.path)):
        date = f" ({d.date})" if d.date else " (datum saknas)"
        blocks.append(f"• {esc(clip(d.title, 300))}{esc(date)}{esc(validity(d))}")
    return pack(blocks, sep="\n")


def validity(d: DocumentRecord) -> str:
    """The document's validity for a list (", gäller från 2024-01-01"); "" when not given."""
    if d.valid_from and d.valid_to:
        return f", gäller {d.valid_from}–{d.valid_to}"
    if d.valid_from:
        return f", gäller från {d.valid_from}"
    return f", gäller till {d.valid_to}" if d.valid_to else ""


def about_message(info: IndexInfo) -> str:
    """/om: version, index date and encoder."""
    return (
        "<b>rutinbot</b>\n"
        f"Version: {esc(info.version)}\n"
        f"Kunskapsbanken indexerad: {esc(info.built_at)}\n"
        f"Modell för sökning: {esc(info.encoder)}\n"
        f"Dokument: {len(info.documents)}, textavsnitt: {info.chunk_count}"
        + (f"\nSvarsgräns: {esc(info.calibration_sv)}" if info.calibration_sv else "")
    )


# -- knowledge gaps, for reviewers ----------------------------------------------------------------

MAX_GAP_QUESTIONS = 10  # newest first; `rutinbot gaps show` lists them all


def _day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else "–"


def _questions(n: int) -> str:
    return f"{n} fråga" if n == 1 else f"{n} frågor"


def themes_message(rows: Sequence[ThemeSummary]) -> str:
    """/luckor: the open themes, most questions first; one message, so it can be edited."""
    if not rows:
        return texts.NO_THEMES
    blocks = [texts.THEMES_HEADING]
    for r in rows:  # at most ten, each name clipped: well under 4096
        head = f"<b>#{r.id}</b> · {_questions(r.count)} · senast {_day(r.last_seen)}"
        blocks.append(f"{head}\n{esc(clip(r.name, 250))}")
    blocks.append(f"<i>{texts.THEMES_HINT}</i>")
    return "\n\n".join(blocks)


def theme_message(theme: ThemeInfo, gaps: Sequence[Gap], passages: Sequence[Passage]) -> str:
    """One theme: status, note, nearest passages and its newest questions, in one message."""
    status = texts.STATUS.get(theme.status, theme.status)
    head = [
        f"<b>Tema #{theme.id}</b> · {esc(status)} · {_questions(len(gaps))}",
        esc(clip(theme.name, 300)),
    ]
    if theme.answered_now:
        head.append(f"<i>{texts.ANSWERED_NOW}</i>")
    if theme.note:
        head.append(f"<i>Anteckning:</i> {esc(clip(theme.note, 500))}")
    if theme.changed_by:
        who = esc(clip(theme.changed_by, 100))
        head.append(f"<i>Ändrad av {who} {_day(theme.changed_at)}</i>")
    blocks = ["\n".join(head)]
    if passages:
        lines = ["<b>Närmaste avsnitt</b>"]
        for p in passages:
            lines.append(f"• {esc(clip(p.label(), 300))} – {_questions(p.count)}")
        blocks.append("\n".join(lines))
    # The head and passages are clipped to well under 4096; the questions fill what is left.
    newest = list(reversed(gaps))
    shown = min(len(newest), MAX_GAP_QUESTIONS)
    while True:
        items = [
            f"• {_day(g.time)} · {esc(texts.REASON.get(g.reason, g.reason))}\n"
            f"{esc(clip(g.question, 300))}"
            for g in newest[:shown]
        ]
        if len(newest) > shown:
            items.append(
                f"<i>… och {_questions(len(newest) - shown)} till "
                f"(<code>rutinbot gaps show {theme.id}</code> visar alla).</i>"
            )
        text = "\n\n".join([*blocks, "<b>Frågor</b>, nyast först:", *items] if items else blocks)
        if shown == 0 or visible(text) <= MAX_MESSAGE:
            return text
        shown -= 1
