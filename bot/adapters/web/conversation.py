"""A session's chat so far, and the cards an answer is shown as (view models, no HTML)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.asking import SectionText, brief
from bot.models import Citation

MAX_TURNS = 20  # the conversation on the page; older turns drop off (a chat, not an archive)


@dataclass(frozen=True)
class Card:
    """One passage as the chat shows it: the marked sentence between what surrounds it."""

    number: int
    title: str
    section: str | None
    page: int | None
    date: str | None
    document: str
    before: str
    marked: str
    after: str
    lead: bool  # the best passage: its marked sentence leads the answer
    valid_from: str | None = None  # "gäller från" when the document gives it
    owner: str | None = None  # "ansvarig" (who answers for the routine) when the document gives it


@dataclass
class Turn:
    """One question and what the user has opened under it; mutable, owned by one session."""

    record_id: str
    question: str  # as redacted by the ask service: the chat shows what was recorded
    answered: bool
    cards: list[Card]
    shown: int  # passages shown so far (the offset for "Fler källor")
    more: bool  # whether "Fler källor" may give more
    section: SectionText | None = None
    feedback: bool | None = None  # True 👍, False 👎, None not given
    no_more: bool = False  # "Fler källor" found nothing further


def card(number: int, c: Citation, *, lead: bool) -> Card:
    """The lead card keeps its whole excerpt; the others the core's brief cut around their
    marked sentence (the same as Telegram's)."""
    shown = c if lead else brief(c)
    start, end = shown.highlight or (0, 0)
    text = shown.text
    return Card(
        number=number,
        title=c.title,
        section=c.section,
        page=c.page,
        date=c.date,
        document=c.document,
        before=text[:start],
        marked=text[start:end],
        after=text[end:],
        lead=lead,
        valid_from=c.valid_from,
        owner=c.owner,
    )


def cards(citations: tuple[Citation, ...], first: int = 1) -> list[Card]:
    """Cards numbered from `first`; only the very first passage of an answer leads."""
    return [card(first + i, c, lead=first == 1 and i == 0) for i, c in enumerate(citations)]


def add_turn(chat: list[Turn], turn: Turn) -> None:
    """Append, keeping the conversation bounded: a long session does not grow without end."""
    chat.append(turn)
    del chat[:-MAX_TURNS]


def find_turn(chat: list[Turn], record_id: str) -> Turn | None:
    """This session's turn for a record: another user's (or a forged) id finds nothing."""
    return next((t for t in chat if t.record_id == record_id), None)
