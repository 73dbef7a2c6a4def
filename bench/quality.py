"""Retrieval and abstention quality on a question set, beside BM25-only and dense-only baselines.

    python bench/quality.py [--questions ../shared/eval/dev.jsonl] [--misses]
    python bench/quality.py --corpus bench/corpus-b --questions bench/corpus-b/questions.jsonl

Prints recall@1, recall@3, MRR@5, and for the system how answerable questions fare (answered
with the gold passage in the top 3, answered wrongly, refused) and how many unanswerable ones are
refused. Baselines rank the same chunks with one signal; they have no abstention.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from common import DEV, add_corpus_arguments, asked, first_hit, load_questions, system

TOP = 5


def _ranked_texts(answerer, question: str, fusion: str) -> list[str]:
    """Citations as staff would see them, from one ranking alone."""
    found = answerer.search(answerer.check_question(question), TOP, fusion=fusion)
    return [c.text for c in found.citations]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=Path, default=DEV)
    add_corpus_arguments(parser)
    parser.add_argument("--misses", action="store_true", help="list questions the system missed")
    args = parser.parse_args()

    _, _, answerer = system(args.config, args.corpus)
    questions = load_questions(args.questions)
    systems = ("system", "bm25", "dense")
    ranks: dict[str, list[int | None]] = {s: [] for s in systems}
    outcome = {"correct": 0, "wrong": 0, "refused": 0, "unans_refused": 0}
    misses = []
    started = time.monotonic()
    for q in questions:
        answer = asked(answerer, q.question)  # redacted, as every front end answers
        texts = {
            "system": [c.text for c in answer.citations],
            "bm25": _ranked_texts(answerer, q.question, "lexical"),
            "dense": _ranked_texts(answerer, q.question, "dense"),
        }
        if not q.answerable:
            outcome["unans_refused"] += not answer.answered
            if answer.answered:
                misses.append((q, "answered an unanswerable question", answer.confidence))
            continue
        for s in systems:
            ranks[s].append(first_hit(texts[s], q.quote))
        rank = ranks["system"][-1]
        hit3 = rank is not None and rank <= 3
        if not answer.answered:
            outcome["refused"] += 1
            misses.append((q, f"refused (gold at rank {rank})", answer.confidence))
        elif hit3:
            outcome["correct"] += 1
        else:
            outcome["wrong"] += 1
            misses.append((q, f"answered wrongly (gold at rank {rank})", answer.confidence))
    elapsed = time.monotonic() - started
    n_ans = len(ranks["system"])
    n_unans = len(questions) - n_ans

    def recall(s: str, k: int) -> float:
        return sum(r is not None and r <= k for r in ranks[s]) / max(n_ans, 1)

    def mrr(s: str) -> float:
        return sum(1 / r for r in ranks[s] if r is not None and r <= 5) / max(n_ans, 1)

    print(
        f"{args.questions}  ({n_ans} answerable, {n_unans} unanswerable; "
        f"encoder {answerer.encoder.name}; {elapsed:.1f}s)"
    )
    print(f"{'':28}" + "".join(f"{s:>10}" for s in systems))
    for label, fn in (
        ("recall@1", lambda s: recall(s, 1)),
        ("recall@3", lambda s: recall(s, 3)),
        ("MRR@5", mrr),
    ):
        print(f"{label:28}" + "".join(f"{fn(s):10.3f}" for s in systems))
    rows = (
        ("answered correctly (top 3)", outcome["correct"] / max(n_ans, 1)),
        ("answered wrongly", outcome["wrong"] / max(n_ans, 1)),
        ("refused (answerable)", outcome["refused"] / max(n_ans, 1)),
        ("refused (unanswerable)", outcome["unans_refused"] / max(n_unans, 1)),
    )
    for label, value in rows:
        print(f"{label:28}{value:10.3f}{'-':>10}{'-':>10}")
    if args.misses:
        print()
        for q, why, conf in misses:
            print(f"{q.id} [{q.style}] conf={conf:.2f} {why}: {q.question}")


if __name__ == "__main__":
    main()
