"""Outcomes by confidence band: is the bot too cautious or too bold on a deployment's questions?"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.gaps.records import Labelled

BANDS = 10  # 0-0.1, 0.1-0.2, ... 0.9-1.0
MIN_EXAMPLES = 30  # labelled examples needed before a threshold is implied
QUOTE_CHARS = 1000  # of a passage exported as a quote: calibration matches 1200 of a citation
MAX_BOLD = 0.10  # the rule: at most this share of the labelled answered ones are 👎
THRESHOLDS = tuple(round(t / 100, 2) for t in range(0, 100))  # candidate thresholds, 0.01 apart
RULE = (
    "the lowest threshold (0.01 steps, not below the lowest labelled example) at which at most "
    "10% of the labelled questions it would answer were answered badly (👎); labelled: answered "
    "with 👍 or 👎, or refused and marked answered by a reviewer (counted as answered well); "
    "refused questions nobody marked are not counted"
)


@dataclass(frozen=True)
class Band:
    """One confidence band's questions by outcome."""

    low: float
    high: float
    answered_ok: int  # answered, no 👎
    answered_bad: int  # answered, 👎: too bold
    refused_marked: int  # refused, a reviewer marked it answered: too cautious
    refused_unmarked: int  # refused, nobody marked it
    examples: int  # labelled ones: answered with 👍 or 👎, or refused and marked

    @property
    def questions(self) -> int:
        return self.answered_ok + self.answered_bad + self.refused_marked + self.refused_unmarked


@dataclass(frozen=True)
class OutcomeReport:
    """Bands, the labelled examples behind them and the threshold they imply (None: too few)."""

    bands: tuple[Band, ...]
    examples: int
    implied: float | None
    configured: float

    @property
    def enough(self) -> bool:
        return self.examples >= MIN_EXAMPLES

    def verdict(self) -> str:
        """One line for a reviewer, in English (the web page has its own Swedish)."""
        if not self.enough:
            return f"too few examples ({self.examples} labelled, {MIN_EXAMPLES} needed)"
        if self.implied is None:
            return "no threshold keeps 👎 at or below 10% of the labelled answered questions"
        if self.implied < self.configured - 0.05:
            return f"too cautious: the examples imply {self.implied:.2f}"
        if self.implied > self.configured + 0.05:
            return f"too bold: the examples imply {self.implied:.2f}"
        return f"about right: the examples imply {self.implied:.2f}"


def _band(confidence: float) -> int:
    return min(max(int(confidence * BANDS), 0), BANDS - 1)


def _is_example(q: Labelled) -> bool:
    return (q.answered and (q.helpful or q.unhelpful)) or (
        not q.answered and q.marked_passage is not None
    )


def _is_bad(q: Labelled) -> bool:
    return q.answered and q.unhelpful


def implied_threshold(questions: Sequence[Labelled]) -> float | None:
    """RULE applied to the labelled examples: None when no threshold meets it."""
    labelled = [q for q in questions if _is_example(q)]
    if not labelled:
        return None
    # Never below the lowest labelled example: what lies under it nobody has judged.
    lowest = math.floor(round(min(q.confidence for q in labelled) * 100, 6)) / 100
    for t in (t for t in THRESHOLDS if t >= lowest):
        above = [q for q in labelled if q.confidence >= t]
        if above and sum(_is_bad(q) for q in above) <= MAX_BOLD * len(above):
            return t
    return None


def outcomes(questions: Sequence[Labelled], configured: float) -> OutcomeReport:
    """Questions grouped in confidence bands by outcome, and the threshold the examples imply."""
    counts = [[0, 0, 0, 0, 0] for _ in range(BANDS)]
    for q in questions:
        row = counts[_band(q.confidence)]
        if q.answered:
            row[1 if q.unhelpful else 0] += 1
        else:
            row[2 if q.marked_passage is not None else 3] += 1
        row[4] += _is_example(q)
    bands = tuple(Band(i / BANDS, (i + 1) / BANDS, *row) for i, row in enumerate(counts))
    examples = sum(b.examples for b in bands)
    implied = implied_threshold(questions) if examples >= MIN_EXAMPLES else None
    return OutcomeReport(bands, examples, implied, configured)


def report_lines(report: OutcomeReport) -> list[str]:
    """The report as plain text lines for the CLI."""
    lines = [
        f"{'band':<9} {'answered':>8} {'👎 bold':>8} {'marked':>7} {'refused':>8} {'examples':>8}",
    ]
    for b in report.bands:
        lines.append(
            f"{b.low:.1f}-{b.high:.1f}  {b.answered_ok:>8} {b.answered_bad:>8} "
            f"{b.refused_marked:>7} {b.refused_unmarked:>8} {b.examples:>8}"
        )
    lines += [
        "answered: answered, no 👎; 👎 bold: answered, 👎 (too bold); marked: refused, a reviewer "
        "marked it answered (too cautious); refused: refused, unmarked.",
        f"Labelled examples: {report.examples}. Configured [answer] min_confidence: "
        f"{report.configured:.2f}. Implied threshold: "
        + (f"{report.implied:.2f}" if report.implied is not None else "-")
        + f" ({report.verdict()}).",
        f"Rule: {RULE}.",
    ]
    return lines


def passage_text(index_root: Path, index_id: str, chunk_id: int) -> str | None:
    """A cited chunk's text from the index folder the citation was made in, or None when that
    folder is gone (replaced by a reindex) or does not hold the chunk."""
    # index_id comes from the database: a plain folder name, never a path out of the root.
    if not index_id or Path(index_id).name != index_id or index_id.startswith("."):
        return None
    chunks = index_root / index_id / "chunks.jsonl"
    if not isinstance(chunk_id, int) or chunk_id < 0 or not chunks.is_file():
        return None
    try:
        with chunks.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh):
                if number == chunk_id:
                    text = json.loads(line).get("text")
                    return text if isinstance(text, str) and text.strip() else None
    except (OSError, ValueError):
        return None
    return None


@dataclass(frozen=True)
class Export:
    """What an export wrote, and what it had to leave out."""

    lines: tuple[str, ...]
    answerable: int
    unanswerable: int
    skipped: int  # labelled answerable, but the passage's text is no longer in any index


def labelled_lines(questions: Sequence[Labelled], index_root: Path) -> Export:
    """The labelled questions in the dev.jsonl format (`rutinbot calibrate` reads it).

    Refused and marked: answerable, quoting the marked passage. Answered with 👎: not
    answerable by what the bot found (calibration's label is "answerable and cited"). Answered
    with 👍 and no 👎: answerable, quoting its first cited passage. Other questions carry no label.
    """
    lines: list[str] = []
    answerable = unanswerable = skipped = 0
    for q in questions:
        if not _is_example(q):
            continue
        if _is_bad(q):
            record = {"id": q.record_id, "question": q.question, "answerable": False}
            unanswerable += 1
        else:
            quote = q.marked_quote if q.marked_passage is not None else None
            if quote is None:
                n = q.marked_passage or 1
                cited = q.citations[n - 1] if len(q.citations) >= n else None
                chunk = cited.get("chunk_id") if cited else None
                quote = passage_text(index_root, q.index_id, chunk) if chunk is not None else None
            if not quote:
                skipped += 1
                continue
            record = {
                "id": q.record_id,
                "question": q.question,
                "answerable": True,
                "quote": quote[:QUOTE_CHARS],
            }
            answerable += 1
        record["confidence"] = q.confidence
        lines.append(json.dumps(record, ensure_ascii=False))
    return Export(tuple(lines), answerable, unanswerable, skipped)
