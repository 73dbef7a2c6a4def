"""Measure the who/when preference (core.FACT_BONUS): recall on the sample's sets and corpus-b.

    python bench/fact_ranking.py [--corpus knowledge] [--bonus 0 0.3 0.6]

For each bonus: recall@1 and recall@3 of answerable questions, over all of them and over those
that ask for a person, a recipient or a time (the ones the bonus can move).
"""

from __future__ import annotations

import argparse

from common import (
    CORPUS_B,
    CORPUS_B_QUESTIONS,
    DEV,
    HELDOUT_SETS,
    add_corpus_arguments,
    first_hit,
    load_questions,
    system,
)


def recall(ranks: list, asking: list[bool], k: int, only: bool = False) -> str:
    chosen = [r for r, a in zip(ranks, asking, strict=True) if a or not only]
    return f"{sum(r is not None and r <= k for r in chosen)}/{len(chosen)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bonus", type=float, nargs="+", default=[0.0, 0.3, 0.6])
    add_corpus_arguments(parser)
    args = parser.parse_args()

    from bot.answer import core
    from bot.answer.asks import asked

    _, encoder, sample = system(args.config, args.corpus)
    _, _, corpus_b = system(args.config, CORPUS_B, encoder)
    sets = [(sample, p) for p in (DEV, *HELDOUT_SETS)] + [(corpus_b, CORPUS_B_QUESTIONS)]
    for bonus in args.bonus:
        core.FACT_BONUS = bonus
        print(f"FACT_BONUS = {bonus}")
        for answerer, path in sets:
            qs = [q for q in load_questions(path) if q.answerable]
            ranks, asking = [], []
            for q in qs:
                found = answerer.search(answerer.check_question(q.question), 3)
                ranks.append(first_hit([c.text for c in found.citations], q.quote))
                asking.append(bool(asked(q.question) & core._RANKED_KINDS))

            name = "corpus-b" if path == CORPUS_B_QUESTIONS else path.name
            print(
                f"  {name:16} recall@1 {recall(ranks, asking, 1):>7} recall@3 "
                f"{recall(ranks, asking, 3):>7}   asking who/when: recall@1 "
                f"{recall(ranks, asking, 1, True):>6} recall@3 {recall(ranks, asking, 3, True):>6}"
            )


if __name__ == "__main__":
    main()
