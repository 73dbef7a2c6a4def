"""What a build takes over from the indexes already on disk: the chunks of unchanged documents and
the vectors of text embedded before, with whatever is damaged left out, so a damaged index
repairs itself re-embedding only what it must.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bot.errors import IndexDamagedError
from bot.models import Chunk
from bot.search import store
from bot.search.encoders import Encoder

if TYPE_CHECKING:
    from bot.search.indexer import BuildReport

log = logging.getLogger(__name__)


@dataclass
class _Previous:
    """What a build may take over from the indexes already on disk."""

    chunks: dict[str, list[Chunk]] = field(default_factory=dict)  # by document
    documents: dict[str, store.DocumentRecord] = field(default_factory=dict)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # by text hash


_ROW_FILES = (("windows.json", "vectors.npy"), ("sentences.json", "sentences.npy"))
_READ_ERRORS = (OSError, ValueError, TypeError, KeyError, EOFError)


def _reuse_vectors(folder: Path, damaged: dict[str, str], dim: int, cache: dict) -> bool:
    """Add the folder's vectors whose files are intact to the cache; False if any were not.

    A file whose checksum fails is not trusted at all (which of its rows changed is unknown);
    the other file of the pair still is. Formats before 4 have no checksums: their files are
    only checked to parse and to agree in shape.
    """
    intact = True
    for meta, matrix in _ROW_FILES:
        if meta in damaged or matrix in damaged:
            intact = False
            continue
        try:
            if meta == "windows.json":
                _, shas = store.read_windows(folder)
                vectors = store.read_vectors(folder)
            else:
                _, shas, vectors = store.read_sentences(folder)
        except _READ_ERRORS:
            intact = False
            continue
        if not shas:
            continue
        if vectors.ndim != 2 or vectors.shape != (len(shas), dim):
            intact = False
            continue
        finite = np.isfinite(vectors).all(axis=1)
        for sha, vec, ok in zip(shas, vectors, finite, strict=True):
            if ok and isinstance(sha, str):
                cache.setdefault(sha, vec)
    return intact


def _previous_index(root: Path, encoder: Encoder, chunking: dict, report: BuildReport) -> _Previous:
    """Chunks of unchanged documents and vectors of known text from the current index, with
    whatever of it is damaged left out; vectors from older index folders when the current
    one's are not all intact (a damaged index repairs itself re-embedding only what it must)."""
    found = _Previous()
    current = store.current_dir(root)
    if current is None and (root / store.CURRENT).is_symlink():
        report.repaired.append(store.CURRENT)  # a link to a folder that is gone or unfinished
    folders = [current] if current is not None else []
    need_older = current is None
    for folder in folders + [f for f in store.index_folders(root) if f != current]:
        if folder != current and not need_older:
            break
        try:
            manifest = store.read_manifest(folder)
        except IndexDamagedError:
            if folder == current:
                report.repaired.append(store.MANIFEST)
                need_older = True
            continue
        if (
            manifest.encoder != encoder.name
            or manifest.dim != encoder.dim
            or manifest.format_version not in store.CACHE_FORMATS
        ):
            continue
        damaged = store.damaged_files(folder, manifest) if manifest.files else {}
        if folder == current:
            report.repaired.extend(sorted(damaged))
        intact = _reuse_vectors(folder, damaged, encoder.dim, found.vectors)
        if folder != current:
            continue
        need_older = not intact
        if manifest.chunking != chunking or "chunks.jsonl" in damaged:
            continue
        try:
            old_chunks = store.read_chunks(folder)
        except _READ_ERRORS:
            report.repaired.append("chunks.jsonl")
            continue
        found.documents = {d.path: d for d in manifest.documents}
        for c in old_chunks:
            found.chunks.setdefault(c.document, []).append(c)
    if report.repaired:
        log.warning(
            "the current index in %s is damaged (%s): rebuilding it, reusing what is intact",
            root,
            ", ".join(report.repaired),
        )
    return found
