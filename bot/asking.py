"""The ask service: check, redact, answer, record and page a question, for every front end."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from bot.errors import RutinbotError
from bot.models import Answer, Chunk, Citation
from bot.privacy import redact, use_index

if TYPE_CHECKING:
    from bot.answer.core import Answerer
    from bot.gaps.grouping import ThemeJob
    from bot.gaps.outbox import Outbox, Ticket

log = logging.getLogger(__name__)

FIRST_PAGE = 3  # passages in the first message: one phone screen (issue 15)
LEAD_CHARS = 600  # the best passage: its marked sentence with some context
BRIEF_CHARS = 300  # a passage after the first: this much around its marked sentence
MAX_RECORDS = 5000  # answers whose buttons still work, per process
RECORD_TTL = 48 * 3600.0  # seconds an answer's buttons work


class UnknownAnswerError(RutinbotError):
    """A record id that is unknown, expired, or belongs to someone else.

    One error for all three, so a guessed or forged id is never confirmed to exist.
    """

    exit_code = 2
    default_sv = "Svaret finns inte längre. Ställ frågan igen."


@dataclass(frozen=True)
class Asked:
    """A question answered: what a front end renders, and the id its buttons act on."""

    record_id: str
    question_redacted: str  # what was answered, recorded and may be shown back
    answer: Answer  # all the first search's citations (`ask --json` shows them all)
    shown: int  # citations the first message shows; "Fler källor" pages from here
    more: bool  # whether "Fler källor" may find more
    recorded: bool  # queued for the gaps database
    ticket: Ticket | None = field(default=None, compare=False, repr=False)

    @property
    def first_page(self) -> Answer:
        """The answer as the first message shows it: its first `shown` citations."""
        return replace(self.answer, citations=self.answer.citations[: self.shown])


@dataclass(frozen=True)
class SectionText:
    """A whole section of a document ("Visa hela avsnittet")."""

    heading: str  # title › section path (date)
    document: str  # file name in the knowledge folder
    chunks: tuple[Chunk, ...]  # in document order

    @property
    def text(self) -> str:
        """The section as plain text with page marks, for a file or a terminal."""
        lines = [self.heading, f"Fil: {self.document}", ""]
        page = None
        for chunk in self.chunks:
            if chunk.page and chunk.page != page:
                lines.append(f"[s. {chunk.page}]")
                page = chunk.page
            lines += [chunk.text, ""]
        return "\n".join(lines)


@dataclass
class _Record:
    """What the buttons of one answer act on; kept in memory only (bounded, expiring)."""

    question: str  # redacted
    channel: str  # where it was asked: an id is only its asker's on that channel
    asker: str  # pseudonym: the raw id is never kept
    index_id: str
    chunks: dict[int, int]  # citation number (1-based, over all pages) -> chunk id
    at: float
    rated: bool = False
    recorded: bool = False


def as_shown(c: Citation, number: int) -> Citation:
    """A citation as answers show it on a screen: the best (number 1) starting at its marked
    sentence with some context after it, the others shorter, around their marked sentence."""
    if number == 1:
        return brief(c, LEAD_CHARS, before=0.0)
    return brief(c, BRIEF_CHARS)


def brief(c: Citation, limit: int = BRIEF_CHARS, before: float = 1 / 3) -> Citation:
    """The citation cut to about `limit` characters around its marked sentence, at word
    boundaries, with "…" where text was left out; the highlight moved to match. `before`: the
    share of the room left by the sentence that goes to the text before it."""
    text = c.text
    if len(text) <= limit:
        return c
    s, e = c.highlight or (0, min(len(text), limit))
    if e - s >= limit:  # the marked sentence alone fills the space: keep it, cut its end
        start, end = s, s + limit
    else:
        spare = limit - (e - s)
        start = max(0, s - int(spare * before))  # more after than before: it reads on
        end = min(len(text), e + (spare - (s - start)))
        start = max(0, min(start, end - limit))
    if start > 0:
        space = text.find(" ", start, s if c.highlight else start + 40)
        start = space + 1 if space != -1 else start
    if end < len(text):
        space = text.rfind(" ", max(e, end - 40), end)
        end = space if space != -1 else end
    piece = text[start:end].strip()
    lead = text[start:end].find(piece)  # what strip() took from the front
    prefix = "… " if start > 0 else ""
    suffix = " …" if end < len(text) else ""
    highlight = None
    if c.highlight:
        hs = max(s - start - lead, 0) + len(prefix)
        he = min(e - start - lead, len(piece)) + len(prefix)
        highlight = (hs, he) if he > hs else None
    return replace(c, text=prefix + piece + suffix, highlight=highlight)


class AskService:
    """One place for a question's way through the core: check, strip controls and redact,
    answer the redacted text, record it (channel, pseudonymous asker) through the outbox, and
    page, show sections and take feedback for the asker alone.

    Thread-safe. Every front end (terminal chat, `rutinbot ask`, Telegram, the web chat) calls
    it, so the same question gets the same answer and the same record everywhere.
    """

    def __init__(
        self,
        answerer: Answerer,
        outbox: Outbox | None = None,
        *,
        pseudonym: Callable[[str], str] | None = None,
        themes: ThemeJob | None = None,
        max_records: int = MAX_RECORDS,
        ttl: float = RECORD_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`outbox` None: nothing is recorded (scripts, benches). `pseudonym` turns an asker id
        into the store's keyed hash (default: the outbox's recorder's). `themes`, when given,
        groups new gaps into themes in the background as they are recorded."""
        self.answerer = answerer
        self.outbox = outbox
        # Redaction learns the municipality's place names from the index answered from, so
        # every process (bot, web, terminal, benches) redacts a question the same way.
        use_index(answerer.settings.paths.index)
        if pseudonym is None and outbox is not None:
            pseudonym = outbox.recorder.pseudonym
        self._pseudonym = pseudonym or _unkeyed
        self.themes = themes
        self.max_records = max_records
        self.ttl = ttl
        self._clock = clock
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def page_size(self) -> int:
        return self.answerer.settings.answer.citations

    # Asking

    def prepare(self, text: object) -> str:
        """The question as every channel answers and records it: checked (QuestionError when
        it can't be asked), control characters stripped, personal data redacted."""
        return redact(self.answerer.check_question(text))

    def ask(
        self,
        text: object,
        *,
        channel: str,
        asker: str,
        record: bool = True,
        limit: int | None = None,
    ) -> Asked:
        """Answer a question (blocking: CPU work, run it off an event loop) and, with `record`,
        queue it for the gaps database. Raises QuestionError for a question that can't be asked.
        `limit`: citations to find (default: the configured page)."""
        question = self.prepare(text)
        answer = self.answerer.answer(question, limit=limit)
        owner = self._pseudonym(asker)
        ticket = None
        if record and self.outbox is not None:
            ticket = self.outbox.record_question(channel, asker, question, answer)
            record_id = ticket.record_id
            if self.themes is not None and not answer.answered:
                self.themes.after(ticket)
        else:
            record_id = secrets.token_hex(6)
        shown = min(FIRST_PAGE, len(answer.citations))
        chunks = {n: c.chunk_id for n, c in enumerate(answer.citations, start=1)}
        recorded = ticket is not None
        self._remember(
            record_id,
            _Record(
                question, channel, owner, answer.index_id, chunks, self._clock(), recorded=recorded
            ),
        )
        more = len(answer.citations) > shown or len(answer.citations) >= self.page_size
        return Asked(record_id, question, answer, shown, more, recorded, ticket)

    def more(self, record_id: str, asker: str, offset: int, *, channel: str) -> Answer:
        """The next citations of the same redacted question after the first `offset`
        ("Fler källor"); empty citations when there are no more."""
        rec = self._owned(record_id, asker, channel)
        answer = self.answerer.answer(rec.question, offset=max(0, offset))
        with self._lock:
            for n, c in enumerate(answer.citations, start=max(0, offset) + 1):
                rec.chunks[n] = c.chunk_id
        return answer

    def has_more(self, answer: Answer) -> bool:
        """Whether a page of `more()` was full, so another may follow."""
        return len(answer.citations) >= self.page_size

    def section(self, record_id: str, asker: str, citation: int, *, channel: str) -> SectionText:
        """The whole section citation number `citation` (1-based) of that answer comes from."""
        rec = self._owned(record_id, asker, channel)
        with self._lock:
            chunk_id = rec.chunks.get(citation)
        if chunk_id is None:
            if citation < 1:
                raise UnknownAnswerError(f"no citation {citation} in that answer")
            page = self.answerer.answer(rec.question, limit=1, offset=citation - 1)
            if not page.citations:
                raise UnknownAnswerError(f"no citation {citation} in that answer")
            chunk_id = page.citations[0].chunk_id
        chunks = self.answerer.section(chunk_id, rec.index_id)
        top = chunks[0]
        heading = top.title + (f" › {top.section_path}" if top.section else "")
        heading += f" ({top.date})" if top.date else ""
        return SectionText(heading, top.document, tuple(chunks))

    def feedback(self, record_id: str, asker: str, helpful: bool, *, channel: str) -> Ticket | None:
        """Record 👍/👎 for an answer, once; None when it was already rated (a double tap) or
        the answer was not recorded. An unhelpful answer becomes a gap, grouped into a theme."""
        rec = self._owned(record_id, asker, channel)
        with self._lock:
            if rec.rated:
                return None
            rec.rated = True
        if not rec.recorded or self.outbox is None:
            return None
        ticket = self.outbox.record_feedback(record_id, helpful)
        if self.themes is not None and not helpful:
            self.themes.after(ticket)
        return ticket

    def rated(self, record_id: str, asker: str, *, channel: str) -> bool:
        """Whether this asker already rated that answer."""
        return self._owned(record_id, asker, channel).rated

    # The records behind the buttons

    def _remember(self, record_id: str, rec: _Record) -> None:
        with self._lock:
            self._expire()
            self._records[record_id] = rec
            while len(self._records) > self.max_records:
                self._records.popitem(last=False)

    def _owned(self, record_id: str, asker: str, channel: str) -> _Record:
        """The record behind a button, if this asker on this channel made it: the same id on
        two channels (a web account named like a Telegram user id) is two people."""
        owner = self._pseudonym(asker)
        with self._lock:
            self._expire()
            rec = self._records.get(record_id)
        if rec is None:
            rec = self._from_database(record_id)
        mine = rec is not None and rec.channel == channel
        if rec is None or not (secrets.compare_digest(rec.asker, owner) and mine):
            # The id came from a button or a form: never logged (it may be anything).
            log.info("an answer's button refused: unknown, expired or another asker's")
            raise UnknownAnswerError(
                "no such answer for this asker (unknown, expired or not theirs)"
            )
        return rec

    def _from_database(self, record_id: str) -> _Record | None:
        """A recorded answer this process no longer holds (restarted, or evicted)."""
        if self.outbox is None or not isinstance(record_id, str) or len(record_id) > 64:
            return None
        from sqlalchemy.exc import SQLAlchemyError

        try:
            row = self.outbox.recorder.question(record_id)
            rated = row is not None and self.outbox.recorder.has_feedback(record_id)
        except SQLAlchemyError as err:  # the database is away: the answer can't be found now
            log.warning("answer not looked up: database unavailable (%s)", type(err).__name__)
            return None
        if row is None:
            return None
        if self._clock is time.monotonic:
            age = (time.time() - row.asked_at.timestamp()) if row.asked_at.tzinfo else 0.0
            if age > self.ttl:
                return None
        rec = _Record(
            row.text, row.channel, row.asker, row.index_id, {}, self._clock(), rated, True
        )
        self._remember(record_id, rec)
        return rec

    def _expire(self) -> None:
        # Kept in the order they were made, so the stale ones are at the front.
        now = self._clock()
        while self._records:
            key, rec = next(iter(self._records.items()))
            if now - rec.at < self.ttl:
                break
            del self._records[key]


def _unkeyed(asker: str) -> str:
    """Without a database there is no key and nothing stored: the id only has to match."""
    return str(asker)
