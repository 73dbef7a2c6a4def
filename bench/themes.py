"""Knowledge-gap themes from labelled questions, with their purity, for a person to judge.

    python bench/themes.py [--questions bench/theme_questions.jsonl ../shared/eval/dev.jsonl ...]
                           [--threshold 0.9]

Each question set runs on its own through the recording path as the bot sends it: answered by
the core, recorded (redacted, pseudonymised) in a throwaway SQLite store, and given 👎 when the
answer's top three citations miss the gold passage (what staff would do) or 👍 when they hold it;
a set without gold passages (theme_questions.jsonl: questions the documents do not answer) gives
👎 to every answered question. The gaps are then grouped by `assign_themes`. Printed per set:
themes, purity (the share of questions whose theme's commonest topic label is theirs), themes
per topic (themes over topics, and how many themes a topic's questions spread over on average),
then every theme: name, most central example, count and topics.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from common import DEV, HELDOUT_SETS, ROOT, first_hit, system

THEME_SET = ROOT / "bench" / "theme_questions.jsonl"


def _rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _record(recorder, answerer, rows: list[dict]) -> dict[str, str]:
    """Ask and record each question as the Telegram bot does; return record id -> topic."""
    topic_of = {}
    for i, row in enumerate(rows):
        answer = answerer.answer(row["question"])
        record_id = recorder.record_question("bench", f"user{i % 9}", row["question"], answer)
        topic_of[record_id] = row.get("topic") or "?"
        if answer.answered and row.get("answerable", False):
            hit = first_hit([c.text for c in answer.citations[:3]], row.get("quote"))
            recorder.record_feedback(record_id, helpful=hit is not None)
        elif answer.answered:  # answered a question the documents don't answer
            recorder.record_feedback(record_id, helpful=False)
    return topic_of


def _report(recorder, encoder, topic_of: dict[str, str]) -> dict:
    from bot.gaps.themes import central_question

    themes = [t for t in recorder.themes() if t.questions]
    majority = total = 0
    spread: dict[str, set[int]] = defaultdict(set)
    shown = []
    for theme in themes:
        gaps = recorder.gaps(theme_id=theme.id)
        topics = Counter(topic_of[g.record_id] for g in gaps)
        majority += topics.most_common(1)[0][1]
        total += sum(topics.values())
        for topic in topics:
            spread[topic].add(theme.id)
        example = central_question(recorder, encoder, gaps)
        shown.append((theme, example, topics))
    return {
        "themes": len(themes),
        "topics": len(spread),
        "purity": majority / total if total else 0.0,
        "per_topic": len(themes) / len(spread) if spread else 0.0,
        "spread": sum(map(len, spread.values())) / len(spread) if spread else 0.0,
        "shown": shown,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--questions", type=Path, nargs="+", default=[THEME_SET, DEV, *HELDOUT_SETS]
    )
    parser.add_argument("--config", default=None)
    parser.add_argument("--threshold", type=float, default=None)
    args = parser.parse_args()

    from bot.gaps.store import SqlRecorder
    from bot.gaps.themes import DEFAULT_THRESHOLD, assign_themes

    threshold = args.threshold or DEFAULT_THRESHOLD
    _, encoder, answerer = system(args.config)
    summary = []
    for path in args.questions:
        rows = _rows(path)
        started = time.monotonic()
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/gaps.db"
            with SqlRecorder(url, key_file=Path(tmp) / "key") as recorder:
                topic_of = _record(recorder, answerer, rows)
                gaps = recorder.gaps()
                assign_themes(recorder, encoder, threshold)
                found = _report(recorder, encoder, topic_of)
        reasons = Counter(g.reason for g in gaps)
        print(
            f"== {path.name}: {len(rows)} questions -> {len(gaps)} gaps "
            f"({reasons['unanswered']} unanswered, {reasons['unhelpful']} 👎), "
            f"{found['themes']} themes on {found['topics']} topics, purity {found['purity']:.3f}, "
            f"themes/topic {found['per_topic']:.2f}, a topic spreads over {found['spread']:.2f} "
            f"themes ({time.monotonic() - started:.0f}s)"
        )
        for theme, example, topics in sorted(found["shown"], key=lambda s: -s[0].questions):
            labels = ", ".join(f"{t} {n}" for t, n in topics.most_common())
            print(f"  #{theme.id} [{theme.questions}] {theme.name}\n      e.g. {example}")
            print(f"      topics: {labels}")
        print()
        summary.append((path.name, len(gaps), found))
    print(f"{'set':<24} {'gaps':>5} {'themes':>6} {'topics':>6} {'purity':>6} {'th/top':>6}")
    for name, n, f in summary:
        print(
            f"{name:<24} {n:>5} {f['themes']:>6} {f['topics']:>6} {f['purity']:>6.3f} "
            f"{f['per_topic']:>6.2f}"
        )


if __name__ == "__main__":
    main()
