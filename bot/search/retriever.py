"""Rank chunks for a question: dense (best window and best sentence) and BM25 scores over the
same chunks, fused."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from bot.config import RetrievalSettings
from bot.errors import IndexDamagedError
from bot.models import Chunk, Hit
from bot.search import store
from bot.search.dense import DenseIndex
from bot.search.lexical import LexicalIndex
from bot.search.sections import SectionText, section_text

# The cosine given to chunks (and their sentences) taken out of a ranking: below any cosine.
EXCLUDED = -2.0
LEXICAL_SCALE = 3.0  # BM25 / best BM25 lands in [0, 3], about the spread of a z-scored cosine


@dataclass(frozen=True)
class Ranking:
    """Everything one search computed: fused hits and the raw score arrays behind them."""

    hits: tuple[Hit, ...]  # best first, fused
    dense: np.ndarray  # per chunk: its cosine (best window and best sentence, mixed)
    lexical: np.ndarray  # per chunk: BM25
    query_tokens: tuple[str, ...]  # as indexed, typos corrected
    missing_tokens: tuple[str, ...] = ()  # query terms no chunk contains
    sentences: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per sentence row: cosine
    # per content word of the question: the indexed terms it matches (none: found nowhere)
    words: tuple[tuple[str, tuple[str, ...]], ...] = ()


def rrf(rankings: list[np.ndarray], k: int, weights: list[float]) -> dict[int, float]:
    """Reciprocal rank fusion: score = sum of w / (k + rank) over the rankings a chunk is in."""
    fused: dict[int, float] = {}
    for order, weight in zip(rankings, weights, strict=True):
        for rank, idx in enumerate(order, start=1):
            fused[int(idx)] = fused.get(int(idx), 0.0) + weight / (k + rank)
    return fused


def weighted(dense: np.ndarray, lexical: np.ndarray, wd: float, wl: float) -> np.ndarray:
    """A weighted sum of the z-scored cosine and BM25 relative to the query's best BM25.

    Cosines from e5 crowd into a narrow band (0.80-0.92) whose level varies per question, so
    they are standardised over the corpus; BM25 is divided by its maximum, which keeps "how
    much of the best lexical match" and is zero where no query term occurs.
    """
    present = dense[dense > EXCLUDED]  # chunks taken out of a ranking do not set the scale
    z = (dense - present.mean()) / (present.std() + 1e-9) if present.size else dense * 0.0
    top = float(lexical.max()) if lexical.size else 0.0
    lex = lexical / top * LEXICAL_SCALE if top > 0 else np.zeros_like(lexical)
    return wd * z + wl * lex


def _days(values: list[str | None], default: int) -> np.ndarray:
    """Dates (YYYY-MM-DD) as day numbers; `default` where a date is not given."""
    return np.array(
        [date.fromisoformat(v).toordinal() if v else default for v in values], dtype=np.int64
    )


def _first_rows(owners: np.ndarray, chunks: int) -> np.ndarray:
    """For each chunk, the first row of its rows in `owners` (rows are grouped by chunk)."""
    first = np.zeros(chunks, dtype=np.int64)
    if len(owners):
        changes = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
        first[owners[changes]] = changes
    return first


class Retriever:
    """One loaded index: chunks, window vectors and BM25, ready to rank."""

    def __init__(self, folder: Path, manifest: store.Manifest, settings: RetrievalSettings):
        self.folder = folder
        self.manifest = manifest
        self.settings = settings
        try:
            self._load(folder, manifest)
        except (OSError, ValueError, TypeError, KeyError, IndexError, EOFError) as err:
            # Files changed after open_current verified them, or a format it cannot check.
            raise IndexDamagedError(
                f"the index in {folder} cannot be read ({type(err).__name__}: {err}); "
                "run `rutinbot index` to rebuild it"
            ) from None
        self._outside: tuple[date, np.ndarray] | None = None  # the last day's validity mask
        self._section_text: dict[tuple[str, int], SectionText] = {}
        self._by_section: dict[tuple[str, int], list[Chunk]] = {}
        for c in self.chunks:
            self._by_section.setdefault((c.document, c.section_id), []).append(c)

    def _load(self, folder: Path, manifest: store.Manifest) -> None:
        self.chunks: list[Chunk] = store.read_chunks(folder)
        vectors = store.read_vectors(folder)
        self.owners, _ = store.read_windows(folder)
        self._sentence_owners, _, self._sentence_vectors = store.read_sentences(folder)
        n = len(self.chunks)
        sentence_rows = (self._sentence_owners, self._sentence_vectors)
        for owners, rows in ((self.owners, vectors), sentence_rows):
            shape_ok = rows.shape == (len(owners), manifest.dim)
            if len(owners) and not (shape_ok and owners.min() >= 0 and owners.max() < n):
                raise ValueError("the vectors, their owners and the chunks disagree")
        if n != manifest.chunk_count:
            raise ValueError(f"{n} chunks, the manifest says {manifest.chunk_count}")
        self.dense = DenseIndex(vectors)
        self._first_sentence = _first_rows(self._sentence_owners, n)
        self._sentence_chunks = np.unique(self._sentence_owners)
        # Row of each chunk's first window: a window's number within its chunk is row - first.
        self._first_row = _first_rows(self.owners, n)
        self.lexical = LexicalIndex.load(folder / "lexical", n)
        # The days each chunk's document may be cited (galler_fran, galler_till; both included).
        self._valid_from = _days([c.valid_from for c in self.chunks], 0)
        self._valid_to = _days([c.valid_to for c in self.chunks], date.max.toordinal())

    def outside_validity(self, day: date) -> np.ndarray:
        """Per chunk: True when its document is not valid on `day` (before galler_fran or after
        galler_till). Worked out once per day: a document drops out the day after it expires,
        with no reindex."""
        found = self._outside
        if found is None or found[0] != day:
            ordinal = day.toordinal()
            mask = (self._valid_from > ordinal) | (self._valid_to < ordinal)
            found = self._outside = (day, mask)  # one assignment: safe across threads
        return found[1]

    def valid_on(self, chunk_id: int, day: date) -> bool:
        """Whether the chunk's document may be cited on `day`."""
        return not bool(self.outside_validity(day)[chunk_id])

    def sentence_row(self, chunk_id: int, sentence: int) -> int:
        """The row of one sentence of a chunk in the sentence vectors (and Ranking.sentences)."""
        return int(self._first_sentence[chunk_id] + sentence)

    def section_text(self, chunk_id: int) -> SectionText:
        """The sentences of a chunk's section, once each (cached: excerpts need them often)."""
        c = self.chunks[chunk_id]
        key = (c.document, c.section_id)
        found = self._section_text.get(key)
        if found is None:
            found = self._section_text[key] = section_text(self._by_section[key])
        return found

    def section(self, chunk_id: int) -> list[Chunk]:
        """All chunks of the section a chunk belongs to, in document order."""
        c = self.chunks[chunk_id]
        return self._by_section[(c.document, c.section_id)]

    def chunk_dense(self, query_vector: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per chunk: its cosine and the row of its best window; per sentence row: its cosine.

        A chunk's cosine mixes its best window's and its best single sentence's
        (`sentence_weight`). A window carries context; a sentence embedded alone says one thing
        without dilution, which is what a question that one sentence answers matches best.
        On dev and our first three sets, recall@1 0.721 -> 0.762 against windows alone (bench/).
        """
        rows = self.dense.scores(query_vector)
        best = np.full(len(self.chunks), -1.0, dtype=np.float32)
        np.maximum.at(best, self.owners, rows)
        best_row = np.zeros(len(self.chunks), dtype=np.int64)
        order = np.argsort(rows, kind="stable")  # ascending: the best row is written last
        best_row[self.owners[order]] = order
        sentences = np.zeros(0, dtype=np.float32)
        weight = self.settings.sentence_weight
        if len(self._sentence_owners):
            sentences = self._sentence_vectors @ query_vector
            if weight:
                by_sentence = best.copy()  # a chunk without sentence rows keeps its window's
                by_sentence[self._sentence_chunks] = -1.0
                np.maximum.at(by_sentence, self._sentence_owners, sentences)
                best = (1.0 - weight) * best + weight * by_sentence
        return best, best_row, sentences

    def rank(
        self,
        query_vector: np.ndarray,
        question: str,
        fusion: str | None = None,
        exclude: frozenset[int] = frozenset(),
        day: date | None = None,
    ) -> Ranking:
        """Rank the chunks for a question. `exclude` takes chunks out as if they were not
        indexed (calibration asks an answerable question again without its answer), and so
        does `day` every chunk whose document is not valid on that day (None: no such check).
        Both are taken out before ranking and fusion: they are never candidates."""
        fusion = fusion or self.settings.fusion
        n = len(self.chunks)
        known, missing, resolved = self.lexical.resolve_all(question)
        tokens = tuple(known)
        words = tuple(resolved)
        if n == 0:
            return Ranking((), np.zeros(0), np.zeros(0), tokens, tuple(missing), words=words)
        dense, best_row, sentences = self.chunk_dense(query_vector)
        lexical = self.lexical.scores_for(known)
        out = self.outside_validity(day) if day is not None else np.zeros(n, dtype=bool)
        if exclude:
            out = out.copy()
            out[np.fromiter(exclude, dtype=np.int64)] = True
        if out.any():
            dense[out], lexical[out] = EXCLUDED, 0.0
            if len(sentences):
                sentences[out[self._sentence_owners]] = EXCLUDED
        depth = min(self.settings.candidates, n)
        dense_order = np.argsort(-dense, kind="stable")[:depth]
        dense_order = dense_order[~out[dense_order]]
        lex_order = np.argsort(-lexical, kind="stable")[:depth]
        lex_order = lex_order[lexical[lex_order] > 0]  # no shared term: not a lexical candidate
        if fusion == "dense":
            fused = {int(i): float(dense[i]) for i in dense_order}
        elif fusion == "lexical":
            fused = {int(i): float(lexical[i]) for i in lex_order}
        elif fusion == "rrf":
            fused = rrf(
                [dense_order, lex_order],
                self.settings.rrf_k,
                [self.settings.dense_weight, self.settings.lexical_weight],
            )
        else:
            scores = weighted(
                dense, lexical, self.settings.dense_weight, self.settings.lexical_weight
            )
            pool = np.union1d(dense_order, lex_order)
            fused = {int(i): float(scores[i]) for i in pool}
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
                window=int(best_row[i] - self._first_row[i]),
            )
            for i in order
        )
        return Ranking(hits, dense, lexical, tokens, tuple(missing), sentences, words)
