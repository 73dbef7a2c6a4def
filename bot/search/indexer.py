"""Build the index: read the knowledge folder, chunk, embed only new text, publish atomically.

The stages live beside it: reading.py (list, hash and read documents), reuse.py (what the
previous index still holds), embedding.py (embed only new text) and planning.py (`index
--check`); this ties them together under the build lock and publishes the result.
"""

from __future__ import annotations

import dataclasses
import fcntl
import logging
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bot.config import Settings
from bot.errors import DocumentError, NothingToIndexError, RutinbotError
from bot.ingest.chunk import group_windows
from bot.ingest.files import list_knowledge
from bot.ingest.readers import SUPPORTED
from bot.models import Chunk
from bot.safetext import clean_text
from bot.search import store
from bot.search.dedup import mark_duplicates
from bot.search.embedding import (
    LIST_CONTEXT_CHARS,
    _embed_counter,
    _embed_sentences,
    _embed_windows,
    _pending,
    _sentence_texts,
    _text_sha,
    _window_texts,
    embed_text,
    sentence_texts,
    window_text,
)
from bot.search.encoders import Encoder
from bot.search.lexical import LexicalIndex
from bot.search.planning import plan_changes
from bot.search.reading import _read_chunks, _sha256, knowledge_files
from bot.search.reuse import _Previous, _previous_index

# The public names; those defined in the stage modules are re-exported for older imports.
__all__ = [
    "LIST_CONTEXT_CHARS",
    "PIPELINE_VERSION",
    "BuildReport",
    "Progress",
    "build_index",
    "embed_text",
    "knowledge_files",
    "plan_changes",
    "sentence_texts",
    "window_text",
]

log = logging.getLogger(__name__)
# Bump when reading, cleaning or chunking changes what a document turns into: documents whose
# content hash is unchanged are otherwise taken from the previous index as they were.
PIPELINE_VERSION = 6  # 6: invisible characters inside words removed (safetext.py)


@dataclass
class BuildReport:
    documents: int = 0
    chunks: int = 0
    embedded: int = 0  # windows and sentences whose text was new and had to be encoded
    reused: int = 0  # windows and sentences whose vectors came from the previous index
    duplicates: int = 0  # chunks marked as repeating an earlier passage
    unchanged_documents: int = 0
    removed_documents: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)  # documents the previous index did not have
    replaced: list[str] = field(default_factory=list)  # documents whose content changed
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    seconds: float = 0.0
    encode_seconds: float = 0.0
    folder: Path | None = None
    repaired: list[str] = field(default_factory=list)  # damaged files of the previous index
    cleared: list[str] = field(default_factory=list)  # leftovers of killed builds, removed


@contextmanager
def _build_lock(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RutinbotError(
                f"another `rutinbot index` is already building in {root}; wait for it to finish"
            ) from None
        yield


# What a build tells its caller as it goes: (phase, done, total), phase "reading" (documents),
# "embedding" (texts to encode, windows and sentences together) or "publishing".
Progress = Callable[[str, int, int], None]


def _one_line(text: str) -> str:
    return " ".join(clean_text(text).split())


def _nothing_readable(knowledge: Path, skipped: list[tuple[str, str]]) -> NothingToIndexError:
    """The error for a knowledge folder that yields no text: it names what was passed over."""
    keep = "the current index is left as it was"
    if not skipped:
        return NothingToIndexError(f"the knowledge folder {knowledge} holds no documents; {keep}")
    shown = "; ".join(f"{_one_line(p)} ({_one_line(r)})" for p, r in skipped[:10])
    more = f"; and {len(skipped) - 10} more" if len(skipped) > 10 else ""
    return NothingToIndexError(
        f"no document in {knowledge} could be read, {keep}; skipped {len(skipped)}: {shown}{more}",
        skipped=tuple(skipped),
    )


def build_index(
    settings: Settings, encoder: Encoder, *, full: bool = False, progress: Progress | None = None
) -> BuildReport:
    """Index the knowledge folder into settings.paths.index and make it the current index.

    `progress`, when given, is told each document read and each batch of passages embedded."""
    started = time.monotonic()
    root = settings.paths.index
    report = BuildReport()
    skipped_sha: dict[str, str] = {}  # a document that could not be read: its content hash
    with _build_lock(root):
        report.cleared = store.clear_leftovers(root)
        if report.cleared:
            log.warning("removed what an interrupted build left: %s", ", ".join(report.cleared))
        chunking = {
            "pipeline": PIPELINE_VERSION,
            "target_chars": settings.chunking.target_chars,
            "max_chars": settings.chunking.max_chars,
            "window_chars": settings.chunking.window_chars,
        }
        found = _Previous() if full else _previous_index(root, encoder, chunking, report)
        previous, prev_docs, cache = found.chunks, found.documents, found.vectors

        knowledge = settings.paths.knowledge
        docs: list[store.DocumentRecord] = []
        chunks: list[Chunk] = []
        listing = list_knowledge(knowledge)
        report.skipped.extend(listing.skipped)  # links out, loops, unreadable folders
        for done, path in enumerate(listing.files):
            if progress:
                progress("reading", done, len(listing.files))
            rel = path.relative_to(knowledge).as_posix()
            if path.suffix.lower() not in SUPPORTED:
                report.skipped.append((rel, f"unsupported file type {path.suffix or '(none)'}"))
                continue
            sha = None
            try:
                sha = _sha256(path)
                old = prev_docs.get(rel)
                if old is not None and old.sha256 == sha and rel in previous:
                    doc_chunks = previous[rel]
                    report.unchanged_documents += 1
                else:
                    doc_chunks = _read_chunks(path, rel, settings)
                    (report.added if old is None else report.replaced).append(rel)
            except DocumentError as err:
                report.skipped.append((rel, str(err)))
                if sha is not None:  # so `index --check` knows it unchanged, and unreadable
                    skipped_sha[rel] = sha
                log.warning("skipped %s", err)
                continue
            except OSError as err:
                report.skipped.append((rel, f"cannot be read: {err}"))
                continue
            first = len(chunks)
            for c in doc_chunks:
                chunk = dataclasses.replace(
                    c,
                    id=len(chunks),
                    dup_of=None,
                    windows=group_windows(c.sentences, settings.chunking.window_chars),
                )
                chunks.append(dataclasses.replace(chunk, sha=_text_sha(embed_text(chunk))))
            pages = [c.page for c in doc_chunks if c.page]
            docs.append(
                store.DocumentRecord(
                    rel,
                    doc_chunks[0].title,
                    doc_chunks[0].date,
                    sha,
                    len(chunks) - first,
                    max(pages) if pages else None,
                    owner=doc_chunks[0].owner,
                    valid_from=doc_chunks[0].valid_from,
                    valid_to=doc_chunks[0].valid_to,
                )
            )
        if progress:
            progress("reading", len(listing.files), len(listing.files))
        if not chunks:  # nothing to search: keep serving the index there is
            raise _nothing_readable(knowledge, report.skipped)
        report.removed_documents = sorted(set(prev_docs) - {d.path for d in docs})
        chunks = mark_duplicates(chunks)
        report.duplicates = sum(c.dup_of is not None for c in chunks)

        encode_started = time.monotonic()
        counter = _embed_counter(
            progress,
            _pending(_window_texts(chunks), cache) + _pending(_sentence_texts(chunks), cache)
            if progress
            else 0,
        )
        windows = _embed_windows(chunks, encoder, cache, report, counter)
        sentences = _embed_sentences(chunks, encoder, cache, report, counter)
        report.encode_seconds = time.monotonic() - encode_started
        store.crash_point("embedded")

        if progress:
            progress("publishing", 0, 1)
        build = store.new_build_dir(root)
        try:
            LexicalIndex.build([embed_text(c) for c in chunks]).save(build / "lexical")
            manifest = store.Manifest(
                format_version=store.FORMAT_VERSION,
                encoder=encoder.name,
                dim=encoder.dim,
                chunk_count=len(chunks),
                built_at=datetime.now(UTC).isoformat(timespec="seconds"),
                chunking=chunking,
                documents=tuple(docs),
                skipped=tuple(
                    {"path": p, "reason": r}
                    | ({"sha256": skipped_sha[p]} if p in skipped_sha else {})
                    for p, r in report.skipped
                ),
            )
            store.write_index(build, manifest, chunks, windows, sentences)
            report.folder = store.publish(root, build)
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
    report.documents = len(docs)
    report.chunks = len(chunks)
    report.seconds = time.monotonic() - started
    return report
