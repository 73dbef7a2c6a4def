"""Turn hits into citations: skip repeated passages, trim to ~1000 characters, mark a sentence."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from bot.models import Chunk, Citation, Hit

MAX_CHARS = 1000


def best_sentence(chunk: Chunk, query_tokens: set[str], tokens: Callable[[str], list[str]]) -> int:
    """Index of the sentence sharing most of the question's terms (the first, if none do)."""
    best, best_score = 0, 0.0
    for i, (start, end) in enumerate(chunk.sentences):
        sent = set(tokens(chunk.text[start:end]))
        score = len(sent & query_tokens) + 0.001 * len(sent)  # ties: the fuller sentence
        if score > best_score + 1e-9 and sent & query_tokens:
            best, best_score = i, score
    return best


def trim(chunk: Chunk, center: int, limit: int = MAX_CHARS) -> tuple[str, tuple[int, int] | None]:
    """The chunk's text, or a window of whole sentences around `center` when it is too long."""
    spans = chunk.sentences
    if not spans:
        return chunk.text[:limit], None
    if len(chunk.text) <= limit:
        start, end = spans[center]
        return chunk.text, (start, end)
    lo = hi = center
    while True:
        grown = False
        if hi + 1 < len(spans) and spans[hi + 1][1] - spans[lo][0] <= limit:
            hi, grown = hi + 1, True
        if lo > 0 and spans[hi][1] - spans[lo - 1][0] <= limit:
            lo, grown = lo - 1, True
        if not grown:
            break
    begin, stop = spans[lo][0], spans[hi][1]
    text = chunk.text[begin:stop][:limit]
    s, e = spans[center]
    return text, (s - begin, min(e - begin, len(text)))


def distinct(hits: Iterable[Hit]) -> Iterable[Hit]:
    """Hits with repeats of an already-yielded passage left out (see search.dedup)."""
    seen: set[int] = set()
    for hit in hits:
        group = hit.chunk.dup_of if hit.chunk.dup_of is not None else hit.chunk.id
        if group in seen:
            continue
        seen.add(group)
        yield hit


def to_citation(hit: Hit, query_tokens: set[str], tokens: Callable[[str], list[str]]) -> Citation:
    chunk = hit.chunk
    text, span = trim(chunk, best_sentence(chunk, query_tokens, tokens))
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
