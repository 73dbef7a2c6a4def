"""Turn hits into citations: skip repeated passages, trim to ~1000 characters, mark a sentence."""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable

from bot.models import Chunk, Citation, Hit
from bot.search.sections import SectionText

MAX_CHARS = 1000
WINDOW_PRIOR = 1.25  # how much more a sentence in the best dense window counts


def best_sentence(
    chunk: Chunk,
    query_tokens: set[str],
    tokens: Callable[[str], list[str]],
    window: int = 0,
    weight: Callable[[str], float] = lambda _: 1.0,
    shown: Container[int] = (),
) -> int | None:
    """The sentence to mark: the one holding the most of the question's terms, each counted by
    `weight` (idf: a rare term says more than a common one), anywhere in the chunk; a sentence
    in the best-matching window wins ties and near-ties (the dense match points there).

    Sentences in `shown` (already in an earlier citation) are passed over. With no term shared,
    the window's first sentence; but None when the chunk was partly shown already and what is
    left shares no term, or when all of it was shown."""
    first, last = chunk.windows[window] if chunk.windows else (0, len(chunk.sentences))
    order = [*range(first, last), *range(first), *range(last, len(chunk.sentences))]
    fresh = [i for i in order if i not in shown]
    if not fresh:
        return None
    best, best_score = fresh[0], 0.0
    for i in fresh:
        start, end = chunk.sentences[i]
        sent = set(tokens(chunk.text[start:end]))
        shared = sent & query_tokens
        if not shared:
            continue
        score = sum(weight(t) for t in shared) + 0.001 * len(sent)  # ties: the fuller sentence
        if first <= i < last:
            score *= WINDOW_PRIOR
        if score > best_score + 1e-9:
            best, best_score = i, score
    if not best_score and len(fresh) < len(order):
        return None  # what is left of a partly shown chunk says nothing about the question
    return best


def excerpt(
    section: SectionText,
    chunk: Chunk,
    window: int,
    best: int,
    relevance: Callable[[str], float] = lambda _: 0.0,
    limit: int = MAX_CHARS,
) -> tuple[str, tuple[int, int], range]:
    """Text around the best window, grown with the section's neighbouring sentences (across
    chunk borders) up to `limit` characters; the best sentence's span; the positions shown.

    Each step adds the neighbour, before or after, that is more relevant to the question
    (`relevance`), the one after on a tie: the answer may be the sentence that introduces the
    best window as well as the one that continues it."""
    first, last = chunk.windows[window] if chunk.windows else (best, best + 1)
    center = section.index[(chunk.id, best)]
    lo, hi = section.index[(chunk.id, first)], section.index[(chunk.id, last - 1)]
    sents = section.sentences

    def size(a: int, b: int) -> int:
        return sum(len(s) for s in sents[a : b + 1]) + (b - a)

    if size(lo, hi) > limit or not lo <= center <= hi:
        lo = hi = center  # grown from the marked sentence alone
    while True:
        after = hi + 1 < len(sents) and size(lo, hi + 1) <= limit
        before = lo > 0 and size(lo - 1, hi) <= limit
        if not (after or before):
            break
        if after and (not before or relevance(sents[hi + 1]) >= relevance(sents[lo - 1])):
            hi += 1
        else:
            lo -= 1
    text = " ".join(sents[lo : hi + 1])[:limit]
    start = size(lo, center - 1) + 1 if center > lo else 0
    return text, (start, min(start + len(sents[center]), len(text))), range(lo, hi + 1)


def distinct(hits: Iterable[Hit]) -> Iterable[Hit]:
    """Hits with repeats of an already-yielded passage left out (see search.dedup)."""
    seen: set[int] = set()
    for hit in hits:
        group = hit.chunk.dup_of if hit.chunk.dup_of is not None else hit.chunk.id
        if group in seen:
            continue
        seen.add(group)
        yield hit


def to_citation(hit: Hit, text: str, span: tuple[int, int] | None) -> Citation:
    chunk = hit.chunk
    return Citation(
        document=chunk.document,
        title=chunk.title,
        section=chunk.section_path,
        page=chunk.page,
        date=chunk.date,
        text=text,
        highlight=span,
        score=hit.score,
        chunk_id=chunk.id,
        section_id=chunk.section_id,
    )
