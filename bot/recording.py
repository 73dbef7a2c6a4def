"""Recording questions, feedback and knowledge gaps: the one small interface front ends call.

Front ends call a `Recorder`; they never write files themselves. The store behind it
(`bot.gaps.store.SqlRecorder`) redacts everything, whatever the caller did, so no personnummer
reaches the disk.
"""

from __future__ import annotations

from typing import Protocol

from bot.models import Answer


class Recorder(Protocol):
    """Where front ends report what was asked and how it went."""

    def record_question(self, channel: str, asker: str, question: str, answer: Answer) -> str:
        """Store a question and its answer; return a record id for feedback.

        An unanswered question is a knowledge gap. `asker` is the channel's user id; it is
        stored only as a pseudonym.
        """
        ...

    def record_feedback(self, record_id: str, helpful: bool) -> None:
        """Store whether an answer helped; an unhelpful answer makes its question a gap."""
        ...
