"""A section's text as one sequence of sentences, for excerpts that cross chunk borders."""

from __future__ import annotations

from dataclasses import dataclass

from bot.models import Chunk


@dataclass(frozen=True)
class SectionText:
    """A section's sentences in order, once each (chunks repeat a sentence at their borders)."""

    sentences: tuple[str, ...]
    index: dict[tuple[int, int], int]  # (chunk id, sentence number in chunk) -> position


def section_text(chunks: list[Chunk]) -> SectionText:
    sentences: list[str] = []
    index: dict[tuple[int, int], int] = {}
    for chunk in chunks:
        for i, (start, end) in enumerate(chunk.sentences):
            sent = chunk.text[start:end]
            if i == 0 and sentences and sentences[-1] == sent:
                index[(chunk.id, i)] = len(sentences) - 1  # the overlap with the chunk before
                continue
            index[(chunk.id, i)] = len(sentences)
            sentences.append(sent)
    return SectionText(tuple(sentences), index)
