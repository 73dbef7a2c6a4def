"""Build the index: read the knowledge folder, chunk, embed only new text, publish atomically."""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import logging
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bot.config import Settings
from bot.errors import DocumentError, IndexDamagedError, NothingToIndexError, RutinbotError
from bot.ingest.chunk import chunk_segments, group_windows
from bot.ingest.clean import segments
from bot.ingest.files import content_sha256, list_knowledge
from bot.ingest.limits import Limits
from bot.ingest.metadata import resolve
from bot.ingest.readers import SUPPORTED
from bot.ingest.worker import read_in_worker
from bot.models import Chunk
from bot.safetext import clean_text
from bot.search import store
from bot.search.dedup import mark_duplicates
from bot.search.encoders import Encoder
from bot.search.lexical import LexicalIndex

if TYPE_CHECKING:
    from bot.admin.model import IndexPlan

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


def _context(chunk: Chunk) -> str:
    return chunk.title + (f" – {chunk.section_path}" if chunk.section else "")


def embed_text(chunk: Chunk) -> str:
    """What BM25 reads: the passage with its document title and heading path, so a chunk that
    says "Målgrupp" alone still carries what it is the target group of."""
    return f"{_context(chunk)}\n{chunk.text}"


def window_text(chunk: Chunk, window: int) -> str:
    """What the encoder reads for one window: its sentences under the same title and path."""
    first, last = chunk.windows[window]
    start, end = chunk.sentences[first][0], chunk.sentences[last - 1][1]
    return f"{_context(chunk)}\n{chunk.text[start:end]}"


def _text_sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def knowledge_files(folder: Path) -> list[Path]:
    """Documents in the knowledge folder, in a stable order; metadata and hidden files excluded.

    Entries the listing refuses (links out, dangling links, loops, links to folders) are not
    among them: `list_knowledge(folder).skipped` names each with its reason.
    """
    return list(list_knowledge(folder).files)


def _sha256(path: Path) -> str:
    """The file and its sidecar, read in pieces without following links out of the folder."""
    return content_sha256(path)


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


def _progress(total: int) -> Callable[[int], None]:
    """A progress bar with counts and ETA on a terminal, plain log lines otherwise."""
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=total, unit="passage", desc="Embedding", leave=False)

        def update(n: int) -> None:
            bar.update(n)
            if bar.n >= total:
                bar.close()

        return update
    done, started, step = 0, time.monotonic(), max(1, total // 10)

    def report(n: int) -> None:
        nonlocal done
        before, done = done, done + n
        if done // step != before // step or done >= total:
            rate = done / max(time.monotonic() - started, 1e-9)
            eta = (total - done) / rate if rate else 0.0
            log.info("embedded %d/%d passages (%.1f/s, ETA %.0fs)", done, total, rate, eta)

    return report


def _read_chunks(path: Path, rel: str, settings: Settings) -> list[Chunk]:
    # In a worker: a file that stalls a parser or balloons its memory costs only itself.
    result = read_in_worker(path, Limits.from_settings(settings.ingest))
    segs = segments(result.blocks)
    text = " ".join(s.text for s in segs[:40])
    meta = resolve(path, result.title, result.date, result.front_matter, text)
    drafts = chunk_segments(segs, settings.chunking.target_chars, settings.chunking.max_chars)
    if not drafts:
        raise DocumentError(f"{rel}: no text left after cleaning")
    return [
        Chunk(
            id=-1,
            document=rel,
            title=meta.title,
            date=meta.date,
            owner=meta.owner,
            valid_from=meta.valid_from,
            valid_to=meta.valid_to,
            section=d.section,
            section_id=d.section_no,
            page=d.page,
            position=i,
            text=d.text,
            sentences=d.sentences,
            sha="",
        )
        for i, d in enumerate(drafts)
    ]


_LIST_ITEM = re.compile(r"[•▪–-]\s")
LIST_CONTEXT_CHARS = 400  # a list's lead-in is embedded with its items up to about this size


def sentence_texts(chunk: Chunk) -> list[str]:
    """A chunk's sentences as they are embedded one by one.

    A list's items are sentences of their own, and so is its lead-in ("Kartläggningen
    innehåller:"), which alone says little and whose items alone ("• Elevens beskrivning") say
    nothing of what they list. So a lead-in ending in a colon is embedded with the items that
    follow it (up to LIST_CONTEXT_CHARS), and each item with its lead-in. Measured on dev and
    our first three sets: recall@1 0.754 -> 0.762, and the abstention model tells answered from
    unanswered better (bench/calibrate.py).
    """
    plain = [chunk.text[start:end] for start, end in chunk.sentences]
    texts = list(plain)
    for i, lead in enumerate(plain):
        if not lead.rstrip().endswith(":"):
            continue
        items = []
        for item in plain[i + 1 :]:
            if not _LIST_ITEM.match(item):
                break
            items.append(item)
            texts[i + len(items)] = f"{lead} {item}"
        shown = lead
        for item in items:
            if len(shown) + 1 + len(item) > LIST_CONTEXT_CHARS:
                break
            shown = f"{shown} {item}"
        texts[i] = shown
    return texts


# What a build tells its caller as it goes: (phase, done, total), phase "reading" (documents),
# "embedding" (texts to encode, windows and sentences together) or "publishing".
Progress = Callable[[str, int, int], None]


def _pending(texts: list[str], cache: dict[str, np.ndarray]) -> int:
    return len({_text_sha(t) for t in texts} - set(cache))


def _embed(
    texts: list[str],
    owners: list[int],
    encoder: Encoder,
    cache: dict[str, np.ndarray],
    report: BuildReport,
    progress: Callable[[int], None] | None = None,
) -> store.Rows:
    """One vector a text; text embedded before (same encoder) is taken from the cache."""
    shas = [_text_sha(t) for t in texts]
    vectors = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    todo: dict[str, list[int]] = {}
    for row, sha in enumerate(shas):
        if sha in cache:
            vectors[row] = cache[sha]
            report.reused += 1
        else:
            todo.setdefault(sha, []).append(row)  # identical text is encoded once
    pending = list(todo)
    update = _progress(len(pending)) if pending else None
    batch = max(1, getattr(encoder, "batch_size", 16))
    for start in range(0, len(pending), batch):
        part = pending[start : start + batch]
        encoded = encoder.passages([texts[todo[sha][0]] for sha in part])
        for sha, vec in zip(part, encoded, strict=True):
            vectors[todo[sha]] = vec
            cache[sha] = vec
        if update:
            update(len(part))
        if progress:
            progress(len(part))
    report.embedded += sum(len(rows) for rows in todo.values())
    return store.Rows(vectors, np.asarray(owners, dtype=np.int32), shas)


def _window_texts(chunks: list[Chunk]) -> list[str]:
    return [window_text(c, w) for c in chunks for w in range(len(c.windows))]


def _sentence_texts(chunks: list[Chunk]) -> list[str]:
    return [t for c in chunks for t in sentence_texts(c)]


def _embed_windows(
    chunks: list[Chunk],
    encoder: Encoder,
    cache: dict[str, np.ndarray],
    report: BuildReport,
    progress: Callable[[int], None] | None = None,
) -> store.Rows:
    owners = [c.id for c in chunks for _ in c.windows]
    return _embed(_window_texts(chunks), owners, encoder, cache, report, progress)


def _embed_sentences(
    chunks: list[Chunk],
    encoder: Encoder,
    cache: dict[str, np.ndarray],
    report: BuildReport,
    progress: Callable[[int], None] | None = None,
) -> store.Rows:
    owners = [c.id for c in chunks for _ in c.sentences]
    return _embed(_sentence_texts(chunks), owners, encoder, cache, report, progress)


def _embed_counter(progress: Progress | None, total: int) -> Callable[[int], None] | None:
    """Adds up the passages embedded so far and reports them as one count against `total`."""
    if progress is None:
        return None
    done = 0
    progress("embedding", 0, total)

    def count(n: int) -> None:
        nonlocal done
        done = min(total, done + n)
        progress("embedding", done, total)

    return count


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


def plan_changes(settings: Settings) -> IndexPlan:
    """What `build_index` would change, listed and hashed as it does, writing nothing.

    A file the last index skipped and that has not changed since is "unreadable" with that
    reason (its content is not read again here); a file it never saw is "new".
    """
    from bot.admin.model import IndexPlan

    knowledge = settings.paths.knowledge
    folder = store.current_dir(settings.paths.index)
    documents: dict[str, str] = {}
    skipped: dict[str, str] = {}
    skipped_sha: dict[str, object] = {}
    built: float | None = None
    if folder is not None:
        try:
            manifest = store.read_manifest(folder)
        except IndexDamagedError:
            manifest = None
        if manifest is not None:
            documents = {d.path: d.sha256 for d in manifest.documents}
            skipped = {str(s.get("path")): str(s.get("reason")) for s in manifest.skipped}
            skipped_sha = {str(s.get("path")): s.get("sha256") for s in manifest.skipped}
            try:
                built = datetime.fromisoformat(manifest.built_at).timestamp()
            except ValueError:
                built = None
    listing = list_knowledge(knowledge)
    new: list[str] = []
    changed: list[str] = []
    unreadable: list[tuple[str, str]] = list(listing.skipped)
    unchanged = 0
    seen: set[str] = set()
    for path in listing.files:
        rel = path.relative_to(knowledge).as_posix()
        seen.add(rel)
        if path.suffix.lower() not in SUPPORTED:
            unreadable.append((rel, f"unsupported file type {path.suffix or '(none)'}"))
            continue
        try:
            sha = _sha256(path)
            modified = os.lstat(path).st_mtime
        except DocumentError as err:
            unreadable.append((rel, str(err)))
            continue
        except OSError as err:
            unreadable.append((rel, f"cannot be read: {err.strerror or err}"))
            continue
        if rel in documents:
            if documents[rel] == sha:
                unchanged += 1
            else:
                changed.append(rel)
        elif rel in skipped and _unchanged_since_skipped(
            skipped_sha.get(rel), sha, modified, built
        ):
            unreadable.append((rel, skipped[rel]))
        else:
            new.append(rel)
    return IndexPlan(
        new=tuple(new),
        changed=tuple(changed),
        removed=tuple(sorted(set(documents) - seen)),
        unreadable=tuple(sorted(unreadable)),
        unchanged=unchanged,
    )


def _unchanged_since_skipped(
    recorded: object, sha: str, modified: float, built: float | None
) -> bool:
    """Whether a file the last index skipped is the same file now: by its content when the
    manifest recorded it, else (an index built before it did) by its time, to the second."""
    if isinstance(recorded, str):
        return recorded == sha
    return built is not None and modified < built
