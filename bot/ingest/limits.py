"""What one document may cost to read: size, unpacked size, compression ratio, text, time."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import IO

from bot.config import IngestSettings
from bot.errors import DocumentError

_MB = 1024 * 1024
# Small parts compress far better than 100:1 when they repeat one tag; a ratio says little
# until a part has produced this much, and below it the part cannot hurt anyway.
RATIO_GRACE_BYTES = 1 * _MB
CHUNK_BYTES = 64 * 1024  # archive members and files are read in pieces of this size


@dataclass(frozen=True)
class Limits:
    """The [ingest] settings in bytes and seconds, with the wording a skipped file is given."""

    max_file_bytes: int
    max_unpacked_bytes: int
    max_ratio: float
    max_chars: int
    timeout_seconds: float

    @classmethod
    def from_settings(cls, ingest: IngestSettings | None = None) -> Limits:
        ingest = ingest or IngestSettings()
        return cls(
            max_file_bytes=int(ingest.max_file_mb * _MB),
            max_unpacked_bytes=int(ingest.max_unpacked_mb * _MB),
            max_ratio=float(ingest.max_compression_ratio),
            max_chars=int(ingest.max_chars),
            timeout_seconds=float(ingest.timeout_seconds),
        )

    def too_big(self, name: str) -> DocumentError:
        return DocumentError(f"{name}: over [ingest] max_file_mb ({_mb(self.max_file_bytes)})")

    def too_unpacked(self, name: str) -> DocumentError:
        return DocumentError(
            f"{name}: over [ingest] max_unpacked_mb ({_mb(self.max_unpacked_bytes)}) "
            "when decompressed"
        )

    def too_compressed(self, name: str) -> DocumentError:
        return DocumentError(
            f"{name}: over [ingest] max_compression_ratio ({self.max_ratio:g}:1) when decompressed"
        )

    def too_long(self, name: str) -> DocumentError:
        return DocumentError(f"{name}: over [ingest] max_chars ({self.max_chars:,} characters)")


def _mb(n: int) -> str:
    return f"{n / _MB:g} MB"


class Budget:
    """Per-document counters: decompressed bytes, text characters and the deadline.

    Checked inside every reading loop, so a document over a limit stops where it crosses it
    instead of after the damage is done.
    """

    def __init__(self, limits: Limits, name: str) -> None:
        self.limits = limits
        self.name = name
        self.unpacked = 0
        self.chars = 0
        self.deadline = time.monotonic() + limits.timeout_seconds

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise DocumentError(
                f"{self.name}: took longer than [ingest] timeout_seconds "
                f"({self.limits.timeout_seconds:g} s) to read"
            )

    def add_chars(self, n: int) -> None:
        self.chars += n
        if self.chars > self.limits.max_chars:
            raise self.limits.too_long(self.name)

    def add_unpacked(self, n: int) -> None:
        """Count `n` more decompressed bytes of an archive member or stream."""
        self.unpacked += n
        if self.unpacked > self.limits.max_unpacked_bytes:
            raise self.limits.too_unpacked(self.name)


class BoundedStream:
    """A read-only stream over a decompressing one that counts what comes out.

    Declared sizes in an archive's headers can lie, so the bytes actually produced are counted
    against the document's budget, and against the member's compressed size for the ratio.
    """

    def __init__(self, raw: IO[bytes], packed: int, budget: Budget) -> None:
        self.raw = raw
        self.packed = max(packed, 1)
        self.budget = budget
        self.produced = 0

    def read(self, n: int = -1) -> bytes:
        """At most CHUNK_BYTES at a time, even when asked for all: b"" alone means the end."""
        self.budget.check_time()
        size = CHUNK_BYTES if n is None or n < 0 or n > CHUNK_BYTES else n
        data = self.raw.read(size)
        self.produced += len(data)
        self.budget.add_unpacked(len(data))
        limits = self.budget.limits
        if self.produced > RATIO_GRACE_BYTES and self.produced > limits.max_ratio * self.packed:
            raise limits.too_compressed(self.budget.name)
        return data

    def close(self) -> None:
        self.raw.close()
