"""Knowledge-gap themes from labelled questions, with their purity, for a person to judge.

    python bench/themes.py [--questions bench/theme_questions.jsonl ../shared/eval/dev.jsonl ...]
                           [--merge-z 1.7] [--attach 0.6] [--few 20] [--clear-terms 0.5]
                           [--beside 0.5] [--batch N] [--show] [--timing 500]

Each question set runs on its own through the recording path as the bot sends it: answered by
the core, recorded (redacted, pseudonymised) in a throwaway SQLite store, and given 👎 when the
answer's top three citations miss the gold passage (what staff would do) or 👍 when they hold
it; a set without gold passages (theme_questions*.jsonl: questions the documents do not answer)
gives 👎 to every answered question. The gaps are then grouped by `assign_themes` (new
questions into themes, then the merge step), once at the end, or with --batch N after every N
questions as the bot's background job does.

Printed per set: themes, purity (the share of questions whose theme's commonest topic label is
theirs), themes per topic (themes over topics, and how many themes a topic's questions spread
over on average), beside the figures of session 5's code. Where bench/subjects/ has a person's
labels of what each question asks about (dev, heldout, heldout2, whose own labels are
categories with an "other" of unrelated questions), the same themes are scored on those too,
with how many themes per topic grouping exactly by those subjects would make. With --show,
every theme: name, most central example, count and topics.

--timing N records N gaps from all the sets in one store and times a grouping run over them:
the first (every question new, nothing encoded yet), one more question in the same process, and
one more after a restart (the topic vectors encoded again).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from common import CORPUS_B_QUESTIONS, DEV, HELDOUT_SETS, ROOT, first_hit, system

THEME_SET = ROOT / "bench" / "theme_questions.jsonl"
# A second blind set (session 6), written from the documents' titles and domain.md by someone who
# had seen neither the grouping code nor any other set; its first run is in PREVIOUS.
THEME_SET2 = ROOT / "bench" / "theme_questions2.jsonl"
SUBJECTS = ROOT / "bench" / "subjects"
# Themes, purity and themes per topic, grouped at once, before the lone-question step (session
# 5's code, 5cb58ff). Session 4 (before the merge step): 49/0.950/4.90 on the first blind set,
# whose first run, before wrapper words were learnt, was 19 themes, purity 0.400, 1.90.
PREVIOUS = {
    "theme_questions.jsonl": (32, 1.000, 3.20),
    "theme_questions2.jsonl": (40, 0.948, 3.33),
    "dev.jsonl": (25, 0.947, 3.12),
    "heldout.jsonl": (20, 1.000, 2.86),
    "heldout2.jsonl": (26, 0.976, 3.25),
    "heldout3.jsonl": (29, 0.952, 1.53),
    "heldout4.jsonl": (27, 0.950, 1.59),
}


# More questions for --timing (no topic labels needed): corpus B's, the personal-data sets'.
TIMING_EXTRA = (
    CORPUS_B_QUESTIONS,
    ROOT / "bench" / "pii_questions.jsonl",
    ROOT / "bench" / "pii_questions2.jsonl",
)


def _rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _record_one(recorder, answerer, i: int, row: dict) -> str:
    """Ask and record one question as the Telegram bot does, with the feedback staff give."""
    answer = answerer.answer(row["question"])
    record_id = recorder.record_question("bench", f"user{i % 9}", row["question"], answer)
    if answer.answered and row.get("answerable", False):
        hit = first_hit([c.text for c in answer.citations[:3]], row.get("quote"))
        recorder.record_feedback(record_id, helpful=hit is not None)
    elif answer.answered:  # answered a question the documents don't answer
        recorder.record_feedback(record_id, helpful=False)
    return record_id


def _record(recorder, answerer, rows: list[dict], group, batch: int) -> tuple[dict, float]:
    """Record the questions, grouping after every `batch` (0: once, at the end); return
    record id -> question row and the seconds spent grouping."""
    asked = {}
    spent = 0.0
    for i, row in enumerate(rows):
        asked[_record_one(recorder, answerer, i, row)] = row
        if batch and ((i + 1) % batch == 0 or i + 1 == len(rows)):
            started = time.monotonic()
            group()
            spent += time.monotonic() - started
    if not batch:
        started = time.monotonic()
        group()
        spent += time.monotonic() - started
    return asked, spent


def _report(recorder, encoder, topic_of: dict[str, str]) -> dict:
    from bot.gaps.themes import central_question
    from bot.gaps.topics import term_weights

    themes = [t for t in recorder.themes() if t.questions]
    idf = term_weights([g.question for g in recorder.gaps()]).idf
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
        example = central_question(recorder, encoder, gaps, idf)
        shown.append((theme, example, topics))
    return {
        "themes": len(themes),
        "topics": len(spread),
        "purity": majority / total if total else 0.0,
        "per_topic": len(themes) / len(spread) if spread else 0.0,
        "spread": sum(map(len, spread.values())) / len(spread) if spread else 0.0,
        "shown": shown,
    }


def _subjects(path: Path) -> dict[str, str]:
    """Question id -> subject, from a person's labels of what each question asks about, where
    there are any (bench/subjects/: written blind to the system, for the sets whose own labels
    are categories, with an "other" of unrelated questions)."""
    labels = SUBJECTS / f"{path.stem}.subjects.jsonl"
    return {r["id"]: r["subject"] for r in _rows(labels)} if labels.exists() else {}


def _by_subject(recorder, encoder, asked: dict, subjects: dict, topic_of: dict) -> dict:
    """The same themes scored on the subject labels, and how many themes per topic of the
    set's own labels grouping exactly by those subjects would make."""
    subject_of = {rid: subjects[row["id"]] for rid, row in asked.items()}
    found = _report(recorder, encoder, subject_of)
    gaps = recorder.gaps()
    found["oracle"] = len({subject_of[g.record_id] for g in gaps}) / max(
        len({topic_of[g.record_id] for g in gaps}), 1
    )
    return found


def _timing(paths: list[Path], answerer, encoder, count: int, group) -> None:
    """Time grouping runs over `count` gaps gathered from all the sets."""
    from bot.gaps import merging
    from bot.gaps.store import SqlRecorder

    rows = [row for path in (*paths, *TIMING_EXTRA) for row in _rows(path)]
    with (
        tempfile.TemporaryDirectory() as tmp,
        SqlRecorder(f"sqlite:///{tmp}/gaps.db", key_file=Path(tmp) / "key") as recorder,
    ):
        asked = 0
        while len(recorder.gaps()) < count and asked < 4 * len(rows):
            # The sets' questions again once they run out (the same topic texts: no encoding).
            row = rows[asked % len(rows)]
            if asked >= len(rows):
                row = {**row, "question": f"{row['question']} ({asked // len(rows)})"}
            _record_one(recorder, answerer, asked, row)
            asked += 1
        n = len(recorder.gaps())
        times = []
        for restart in (False, False, True):
            if restart:
                merging._CACHE = merging._VectorCache()
            if times:
                _record_one(recorder, answerer, asked, {"question": "hur söker man tolk?"})
                asked += 1
            started = time.monotonic()
            group(recorder)
            times.append(time.monotonic() - started)
        themes = len([t for t in recorder.themes() if t.questions])
    print(
        f"== timing: {n} gaps from {asked} questions ({len(rows)} different) -> {themes} themes; "
        f"grouping run: "
        f"first {times[0]:.1f}s, one more question {times[1]:.2f}s, "
        f"one more after a restart {times[2]:.1f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--questions", type=Path, nargs="+", default=[THEME_SET, THEME_SET2, DEV, *HELDOUT_SETS]
    )
    parser.add_argument("--config", default=None)
    parser.add_argument("--merge-z", type=float, default=None, help="merging themes")
    parser.add_argument("--attach", type=float, default=None, help="1: no lone-question step")
    parser.add_argument("--few", type=float, default=None, help="gaps' worth of doubt")
    parser.add_argument("--clear-terms", type=float, default=None, help="0: no term view")
    parser.add_argument("--beside", type=float, default=None, help="1: no wrapper weighting")
    parser.add_argument("--batch", type=int, default=0, help="group after every N questions")
    parser.add_argument("--show", action="store_true", help="print every theme")
    parser.add_argument("--timing", type=int, default=0, help="time a run over N gaps")
    args = parser.parse_args()

    from bot.gaps import merging, topics
    from bot.gaps.store import SqlRecorder
    from bot.gaps.themes import assign_themes

    for module, name, value in (
        (merging, "MERGE_Z", args.merge_z),
        (merging, "FEW", args.few),
        (merging, "ATTACH", args.attach),
        (merging, "CLEAR_TERMS", args.clear_terms),
        (topics, "BESIDE", args.beside),
    ):
        if value is not None:
            setattr(module, name, value)
    _, encoder, answerer = system(args.config)
    if args.timing:
        _timing(
            args.questions,
            answerer,
            encoder,
            args.timing,
            lambda rec: assign_themes(rec, encoder),
        )
        return
    summary = []
    for path in args.questions:
        rows = _rows(path)
        started = time.monotonic()
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/gaps.db"
            with SqlRecorder(url, key_file=Path(tmp) / "key") as recorder:
                asked, grouping = _record(
                    recorder,
                    answerer,
                    rows,
                    lambda rec=recorder: assign_themes(rec, encoder),
                    args.batch,
                )
                gaps = recorder.gaps()
                topic_of = {rid: row.get("topic") or "?" for rid, row in asked.items()}
                found = _report(recorder, encoder, topic_of)
                subjects = _subjects(path)
                if subjects:
                    found["subjects"] = _by_subject(recorder, encoder, asked, subjects, topic_of)
        reasons = Counter(g.reason for g in gaps)
        print(
            f"== {path.name}: {len(rows)} questions -> {len(gaps)} gaps "
            f"({reasons['unanswered']} unanswered, {reasons['unhelpful']} 👎), "
            f"{found['themes']} themes on {found['topics']} topics, purity {found['purity']:.3f}, "
            f"themes/topic {found['per_topic']:.2f}, a topic spreads over {found['spread']:.2f} "
            f"themes (grouping {grouping:.1f}s, all {time.monotonic() - started:.0f}s)"
        )
        if "subjects" in found:
            sub = found["subjects"]
            print(
                f"   on a person's subject labels ({SUBJECTS.name}/{path.stem}.subjects.jsonl): "
                f"{sub['topics']} subjects, purity {sub['purity']:.3f}, themes/subject "
                f"{sub['per_topic']:.2f}; that person's subjects as themes would be "
                f"{sub['oracle']:.2f} themes per topic on the set's own labels"
            )
        if args.show:
            for theme, example, held in sorted(found["shown"], key=lambda s: -s[0].questions):
                labels = ", ".join(f"{t} {n}" for t, n in held.most_common())
                print(f"  #{theme.id} [{theme.questions}] {theme.name}\n      e.g. {example}")
                print(f"      topics: {labels}")
            print()
        summary.append((path.name, len(gaps), found))
    print(
        f"\nmerge z {merging.MERGE_Z}, attach {merging.ATTACH}, few {merging.FEW}, "
        f"clear terms {merging.CLEAR_TERMS}, beside {topics.BESIDE}, batch {args.batch or 'all'}"
    )
    print(
        f"{'set':<24} {'gaps':>5} {'themes':>6} {'topics':>6} {'purity':>6} {'th/top':>6}"
        f"   {'before: themes':>14} {'purity':>6} {'th/top':>6}"
    )
    for name, n, f in summary:
        before = PREVIOUS.get(name)
        was = f"{before[0]:>14} {before[1]:>6.3f} {before[2]:>6.2f}" if before else f"{'-':>14}"
        met = "ok" if f["purity"] >= 0.9 and f["per_topic"] <= 1.5 else "  "
        print(
            f"{name:<24} {n:>5} {f['themes']:>6} {f['topics']:>6} {f['purity']:>6.3f} "
            f"{f['per_topic']:>6.2f} {met} {was}"
        )


if __name__ == "__main__":
    main()
