"""Mark passages that repeat earlier ones (a proposal, then its minutes, then an attachment)."""

from __future__ import annotations

import dataclasses
import re
import zlib

import numpy as np

from bot.models import Chunk

_WORD = re.compile(r"\w+")
SHINGLE = 4  # words per shingle
CONTAINMENT = 0.8  # share of the smaller passage's shingles found in the other


def _shingles(text: str) -> set[int]:
    words = _WORD.findall(text.lower())
    if len(words) < SHINGLE:
        return {zlib.crc32(" ".join(words).encode())} if words else set()
    return {zlib.crc32(" ".join(words[i : i + SHINGLE]).encode()) for i in range(len(words) - 3)}


def mark_duplicates(chunks: list[Chunk]) -> list[Chunk]:
    """Set `dup_of` to the first chunk of each group of (nearly) identical passages.

    Done once at index time, so answering only has to skip a chunk whose group it has already
    cited. Near-duplicates matter more than exact ones: the same text is chunked slightly
    differently where it reappears, so containment of word 4-grams is compared, not hashes.
    """
    from scipy.sparse import csr_matrix

    sets = [_shingles(c.text) for c in chunks]
    vocab: dict[int, int] = {}
    rows, cols = [], []
    for i, s in enumerate(sets):
        for h in s:
            rows.append(i)
            cols.append(vocab.setdefault(h, len(vocab)))
    if not rows:
        return chunks
    m = csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(chunks), len(vocab))
    )
    overlap = (m @ m.T).tocoo()
    sizes = np.array([len(s) for s in sets], dtype=np.float32)
    parent = list(range(len(chunks)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, shared in zip(overlap.row, overlap.col, overlap.data, strict=True):
        if i >= j:
            continue
        smaller = min(sizes[i], sizes[j])
        if smaller >= 8 and shared / smaller >= CONTAINMENT:
            a, b = find(int(i)), find(int(j))
            if a != b:
                parent[max(a, b)] = min(a, b)
    out = []
    for c in chunks:
        root = find(c.id)
        out.append(dataclasses.replace(c, dup_of=root if root != c.id else None))
    return out
