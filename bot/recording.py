"""Recording questions, feedback and knowledge gaps: one small interface, one simple store.

Front ends call a `Recorder`; they never write files themselves. Everything is redacted here,
whatever the caller did, so no personnummer reaches the disk. `JsonlRecorder` is the simplest
durable store (an append-only JSON Lines file); the knowledge-gaps work replaces it with the
real one behind the same interface.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from bot.models import Answer
from bot.privacy import hash_key, pseudonym, redact


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


@dataclass(frozen=True)
class Gap:
    """A question the documents did not answer, or whose answer did not help."""

    record_id: str
    time: str
    question: str  # redacted
    reason: str  # "unanswered" or "unhelpful"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class JsonlRecorder:
    """Append-only JSON Lines file, one event a line; safe to call from several threads."""

    FILE_NAME = "records.jsonl"
    KEY_NAME = "pseudonym.key"

    def __init__(self, folder: Path) -> None:
        self.path = folder / self.FILE_NAME
        self._key_file = folder / self.KEY_NAME
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def _append(self, event: dict) -> None:
        line = json.dumps(event, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())  # a recorded gap must survive a crash right after

    def _pseudonym(self, asker: str) -> str:
        with self._lock:
            if self._key is None:
                self._key = hash_key(self._key_file)
        return pseudonym(asker, self._key)

    def record_question(self, channel: str, asker: str, question: str, answer: Answer) -> str:
        record_id = secrets.token_hex(6)
        self._append(
            {
                "type": "question",
                "id": record_id,
                "time": _now(),
                "channel": channel,
                "asker": self._pseudonym(asker),
                "question": redact(question),
                "answered": answer.answered,
                "confidence": round(float(answer.confidence), 4),
                "index_id": answer.index_id,
                "citations": [
                    {"document": c.document, "chunk_id": c.chunk_id, "score": round(c.score, 6)}
                    for c in answer.citations
                ],
            }
        )
        if not answer.answered:
            self._gap(record_id, "unanswered")
        return record_id

    def record_feedback(self, record_id: str, helpful: bool) -> None:
        self._append({"type": "feedback", "id": record_id, "time": _now(), "helpful": helpful})
        if not helpful:
            self._gap(record_id, "unhelpful")

    def _gap(self, record_id: str, reason: str) -> None:
        self._append({"type": "gap", "id": record_id, "time": _now(), "reason": reason})

    def events(self, kind: str | None = None) -> Iterator[dict]:
        """The recorded events, oldest first; only those of one type if `kind` is given."""
        if not self.path.is_file():
            return
        with self.path.open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    event = json.loads(line)
                    if kind is None or event["type"] == kind:
                        yield event

    def gaps(self) -> list[Gap]:
        """Knowledge gaps, oldest first, with their (redacted) questions."""
        questions: dict[str, str] = {}
        gaps = []
        for e in self.events():
            if e["type"] == "question":
                questions[e["id"]] = e["question"]
            elif e["type"] == "gap":
                gaps.append(Gap(e["id"], e["time"], questions.get(e["id"], ""), e["reason"]))
        return gaps
