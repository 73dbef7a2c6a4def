"""Rank chunks for a question: dense and BM25 scores over the same chunks, fused."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.config import RetrievalSettings
from bot.models import Chunk, Hit
from bot.search import store
from bot.search.dense import DenseIndex
from bot.search.lexical import LexicalIndex


@dataclass(frozen=True)
class Ranking:
    """Everything one search computed: fused hits and the raw score arrays behind them."""

    hits: tuple[Hit, ...]  # best first, fused
    dense: np.ndarray  # cosine per chunk
    lexical: np.ndarray  # BM25 per chunk
    query_tokens: tuple[str, ...]


def rrf(rankings: list[np.ndarray], k: int, weights: list[float]) -> dict[int, float]:
    """Reciprocal rank fusion: score = sum of w / (k + rank) over the rankings a chunk is in."""
    fused: dict[int, float] = {}
    for order, weight in zip(rankings, weights, strict=True):
        for rank, idx in enumerate(order, start=1):
            fused[int(idx)] = fused.get(int(idx), 0.0) + weight / (k + rank)
    return fused


class Retriever:
    """One loaded index: chunks, dense vectors and BM25, ready to rank."""

    def __init__(self, folder: Path, manifest: store.Manifest, settings: RetrievalSettings):
        self.folder = folder
        self.manifest = manifest
        self.settings = settings
        self.chunks: list[Chunk] = store.read_chunks(folder)
        self.dense = DenseIndex(store.read_vectors(folder))
        self.lexical = LexicalIndex.load(folder / "lexical", len(self.chunks))
        self._by_section: dict[tuple[str, int], list[Chunk]] = {}
        for c in self.chunks:
            self._by_section.setdefault((c.document, c.section_id), []).append(c)

    def section(self, chunk_id: int) -> list[Chunk]:
        """All chunks of the section a chunk belongs to, in document order."""
        c = self.chunks[chunk_id]
        return self._by_section[(c.document, c.section_id)]

    def rank(self, query_vector: np.ndarray, question: str, fusion: str | None = None) -> Ranking:
        fusion = fusion or self.settings.fusion
        n = len(self.chunks)
        tokens = tuple(self.lexical.tokenizer.tokens(question))
        if n == 0:
            return Ranking((), np.zeros(0), np.zeros(0), tokens)
        dense = self.dense.scores(query_vector)
        lexical = self.lexical.scores(question)
        depth = min(self.settings.candidates, n)
        dense_order = np.argsort(-dense, kind="stable")[:depth]
        lex_order = np.argsort(-lexical, kind="stable")[:depth]
        lex_order = lex_order[lexical[lex_order] > 0]  # no shared term: not a lexical candidate
        if fusion == "dense":
            fused = {int(i): float(dense[i]) for i in dense_order}
        elif fusion == "lexical":
            fused = {int(i): float(lexical[i]) for i in lex_order}
        else:
            fused = rrf(
                [dense_order, lex_order],
                self.settings.rrf_k,
                [self.settings.dense_weight, self.settings.lexical_weight],
            )
        dense_rank = {int(i): r for r, i in enumerate(dense_order, start=1)}
        lex_rank = {int(i): r for r, i in enumerate(lex_order, start=1)}
        order = sorted(fused, key=lambda i: (-fused[i], -dense[i]))
        hits = tuple(
            Hit(
                chunk=self.chunks[i],
                score=fused[i],
                dense=float(dense[i]),
                lexical=float(lexical[i]),
                dense_rank=dense_rank.get(i),
                lexical_rank=lex_rank.get(i),
            )
            for i in order
        )
        return Ranking(hits, dense, lexical, tokens)
