"""LabelStore: SqlRecorder's reviewers' labels and the labelled export, as a mixin.

A reviewer may mark a refused question as answered by one of its stored nearest passages;
labelled() exports every question with its feedback and mark, the raw material of the
confidence report (bot.gaps.outcomes). SqlRecorder in bot.gaps.store inherits these methods
and supplies the sessions they use.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from bot.gaps.records import GapsError, Labelled
from bot.gaps.tables import Feedback, Question, utcnow
from bot.privacy import redact, redact_actor

MARKED_QUOTE_CHARS = 2000  # of a marked passage's text kept for export (calibration reads 1200)


class LabelStore:
    """Reviewers' labels of SqlRecorder, which provides what is declared here."""

    _session: Callable[[], Session]

    # Reviewers' labels: a refused question that one of its nearest passages did answer

    def mark_answered(
        self, record_id: str, passage: int, *, by: str = "", quote: str | None = None
    ) -> dict:
        """Mark a refused question as answered by citation `passage` (1-based) of its stored
        nearest passages, with who and when; `quote` is that passage's text. Returns the
        citation. Marking again replaces the earlier mark."""
        with self._session() as session:
            question = session.get(Question, record_id)
            if question is None:
                raise GapsError(f"no question with id {record_id}")
            if question.answered:
                raise GapsError(
                    f"question {record_id} was answered: only a refused question can be marked "
                    "(an answer that did not help is rated 👎 instead)"
                )
            count = len(question.citations)
            if not 1 <= passage <= count:
                raise GapsError(
                    f"question {record_id} has {count} nearest passages; "
                    f"choose one from 1 to {count}"
                    if count
                    else f"question {record_id} has no nearest passages to mark"
                )
            question.marked_passage = passage
            question.marked_by = redact_actor(by)
            question.marked_at = utcnow()
            question.marked_quote = redact(quote)[:MARKED_QUOTE_CHARS] if quote else None
            session.add(question)
            session.commit()
            return dict(question.citations[passage - 1])

    def unmark_answered(self, record_id: str) -> bool:
        """Take a reviewer's mark off a question; False if it had none."""
        with self._session() as session:
            question = session.get(Question, record_id)
            if question is None:
                raise GapsError(f"no question with id {record_id}")
            if question.marked_passage is None:
                return False
            question.marked_passage = None
            question.marked_by = None
            question.marked_at = None
            question.marked_quote = None
            session.add(question)
            session.commit()
        return True

    def labelled(self, since: datetime | None = None) -> list[Labelled]:
        """Every recorded question with its feedback and mark, oldest first."""
        rated = (
            select(Feedback.question_id, Feedback.helpful)
            .join(Question, col(Question.id) == col(Feedback.question_id))
            .distinct()
        )
        # Not whole rows: the vectors are of no use here, and there may be many questions.
        # sqlalchemy's select: sqlmodel's is typed for at most four columns.
        query = sa.select(
            col(Question.id),
            col(Question.text),
            col(Question.confidence),
            col(Question.answered),
            col(Question.marked_passage),
            col(Question.marked_quote),
            col(Question.index_id),
            col(Question.citations),
        ).order_by(col(Question.asked_at), col(Question.id))
        if since is not None:
            query = query.where(col(Question.asked_at) >= since)
            rated = rated.where(col(Question.asked_at) >= since)
        with self._session() as session:
            ratings = session.exec(rated).all()
            rows = session.execute(query).all()
        helpful = {rid for rid, ok in ratings if ok}
        unhelpful = {rid for rid, ok in ratings if not ok}
        return [
            Labelled(
                record_id=rid,
                question=text,
                confidence=confidence,
                answered=answered,
                helpful=rid in helpful,
                unhelpful=rid in unhelpful,
                marked_passage=passage,
                marked_quote=quote,
                index_id=index_id,
                citations=tuple(citations),
            )
            for rid, text, confidence, answered, passage, quote, index_id, citations in rows
        ]
