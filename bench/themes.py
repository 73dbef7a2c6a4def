"""Knowledge-gap themes from real questions, for a person to judge, beside other thresholds.

    python bench/themes.py [--questions ../shared/eval/dev.jsonl bench/heldout.jsonl]
                           [--format table|markdown]

Every question goes through the recording path as the bot sends it: answered by the core,
recorded (redacted, pseudonymised) in a throwaway SQLite store, and given 👎 when the answer's
top three citations miss the gold passage (what staff would do) or 👍 when they hold it. The gaps
are then grouped into themes. Printed: for each similarity threshold, how many themes form, how
many are single questions, and their purity (the share of each theme's questions that share its
most common topic label from the question set); then the themes at the default threshold.
The baseline is one theme per question (purity 1 by construction, no grouping at all).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from common import DEV, HELDOUT_SETS, first_hit, system

THRESHOLDS = (0.86, 0.88, 0.90, 0.92, 0.94)


def _topics(paths: list[Path]) -> list[dict]:
    rows = []
    for path in paths:
        with path.open(encoding="utf-8") as fh:
            rows.extend(json.loads(line) for line in fh if line.strip())
    return rows


def _record(recorder, answerer, rows: list[dict]) -> dict[str, str]:
    """Ask and record each question as the Telegram bot does; return record id -> topic."""
    topic_of = {}
    for i, row in enumerate(rows):
        answer = answerer.answer(row["question"])
        record_id = recorder.record_question("bench", f"user{i % 9}", row["question"], answer)
        topic_of[record_id] = row.get("topic") or "?"
        if answer.answered and row["answerable"]:
            hit = first_hit([c.text for c in answer.citations[:3]], row.get("quote"))
            recorder.record_feedback(record_id, helpful=hit is not None)
        elif answer.answered:  # answered a question the documents don't answer
            recorder.record_feedback(record_id, helpful=False)
    return topic_of


def _purity(recorder, topic_of: dict[str, str]) -> tuple[int, int, float]:
    themes = [t for t in recorder.themes() if t.questions]
    singles = sum(t.questions == 1 for t in themes)
    majority = 0
    total = 0
    for theme in themes:
        topics = Counter(topic_of[g.record_id] for g in recorder.gaps(theme_id=theme.id))
        majority += topics.most_common(1)[0][1]
        total += sum(topics.values())
    return len(themes), singles, majority / total if total else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=Path, nargs="+", default=[DEV, *HELDOUT_SETS])
    parser.add_argument("--config", default=None)
    parser.add_argument("--format", choices=("table", "markdown"), default="table")
    args = parser.parse_args()

    from bot.gaps.report import render, summaries
    from bot.gaps.store import SqlRecorder
    from bot.gaps.themes import DEFAULT_THRESHOLD, assign_themes

    _, encoder, answerer = system(args.config)
    rows = _topics(args.questions)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/gaps.db"
        with SqlRecorder(url, key_file=Path(tmp) / "key") as recorder:
            topic_of = _record(recorder, answerer, rows)
            gaps = recorder.gaps()
        reasons = Counter(g.reason for g in gaps)
        print(
            f"{len(rows)} questions recorded: {reasons['unanswered']} unanswered, "
            f"{reasons['unhelpful']} answered but 👎 -> {len(gaps)} gaps "
            f"({time.monotonic() - started:.0f}s)\n"
        )
        print(f"{'threshold':>10}  {'themes':>6}  {'single':>6}  {'purity':>6}")
        print(f"{'baseline':>10}  {len(gaps):>6}  {len(gaps):>6}  {1.0:>6.3f}  one per question")
        shown = None
        for threshold in sorted({*THRESHOLDS, DEFAULT_THRESHOLD}):
            copy = Path(tmp) / f"gaps-{threshold}.db"
            copy.write_bytes((Path(tmp) / "gaps.db").read_bytes())
            with SqlRecorder(f"sqlite:///{copy}", key_file=Path(tmp) / "key") as recorder:
                assign_themes(recorder, encoder, threshold)
                themes, singles, purity = _purity(recorder, topic_of)
                mark = "  (default)" if threshold == DEFAULT_THRESHOLD else ""
                print(f"{threshold:>10.2f}  {themes:>6}  {singles:>6}  {purity:>6.3f}{mark}")
                if threshold == DEFAULT_THRESHOLD:
                    shown = render(summaries(recorder), args.format)
        print(f"\nThemes at the default threshold {DEFAULT_THRESHOLD}:\n")
        print(shown)


if __name__ == "__main__":
    main()
