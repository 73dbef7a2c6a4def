"""Exact dense search with FAISS: inner product equals cosine on normalised vectors."""

from __future__ import annotations

import numpy as np


class DenseIndex:
    def __init__(self, vectors: np.ndarray) -> None:
        import faiss

        self.dim = int(vectors.shape[1]) if vectors.ndim == 2 else 0
        self.size = int(vectors.shape[0])
        # Exact search: at a municipality's corpus size (thousands of chunks) a flat index answers
        # in well under a millisecond, and recall is not traded away.
        self._index = faiss.IndexFlatIP(max(self.dim, 1))
        # One query against a few thousand vectors takes microseconds: threads only add
        # contention with the encoder's own.
        faiss.omp_set_num_threads(1)
        if self.size:
            self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def scores(self, query: np.ndarray) -> np.ndarray:
        """Cosine similarity of every chunk to the query vector."""
        out = np.full(self.size, -1.0, dtype=np.float32)
        if not self.size:
            return out
        sims, ids = self._index.search(np.ascontiguousarray(query.reshape(1, -1)), self.size)
        out[ids[0]] = sims[0]
        return out
