"""Group gap questions into themes by what they ask about, incrementally, so ids stay stable.

Every run weighs the new questions and the open themes together by average linkage on the
data's own spread of similarities (merging.py), which also merges themes that turn out to ask
about the same thing: one rule whatever the number of gaps, stricter while there are few."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from bot.gaps.merging import link_themes, topic_vectors
from bot.gaps.topics import term_weights, topic_label

if TYPE_CHECKING:
    from bot.gaps.records import Gap
    from bot.gaps.store import SqlRecorder
    from bot.search.encoders import Encoder

EXAMPLE_SEP = " — "  # between a theme's label and its example question


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


def assign_themes(store: SqlRecorder, encoder: Encoder, merge_z: float | None = None) -> int:
    """Put each unthemed gap in the open theme it asks about alike, or a new one, and merge
    open themes that ask about the same thing; return how many gaps were put in themes.

    A theme's questions stay together and keep its id while it exists; a merged theme's id
    lives on in the merge recorded in its survivor's history, and a theme a reviewer has worked
    on is never merged away (merging.py), so notes and statuses keep pointing at the same
    questions. Safe when several processes record at once: one run at a time holds the store's
    grouping lock. `merge_z` overrides merging.MERGE_Z (bench/themes.py).
    """
    if not store.gaps(unthemed=True, limit=1):  # the common case: nothing to do, no lock taken
        return 0
    with store.grouping_lock():
        return _assign(store, encoder, merge_z)


def _assign(store: SqlRecorder, encoder: Encoder, merge_z: float | None) -> int:
    loose = store.gaps(unthemed=True)  # again under the lock: another process may have grouped
    if not loose:
        return 0
    themes = store.themes("open")
    members = {t.id: store.gaps(theme_id=t.id) for t in themes}
    # What is wrapper and what is topic is learnt from all the gaps being grouped, so the
    # similarities are recomputed on every run; ids and memberships never are.
    idf = term_weights(
        [g.question for group in members.values() for g in group] + [g.question for g in loose]
    ).idf
    _, touched = link_themes(store, encoder, themes, members, loose, merge_z)
    for theme_id in touched:
        _rename(store, theme_id, encoder, idf)
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
