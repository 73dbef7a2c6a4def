"""Build the index: read the knowledge folder, chunk, embed only new text, publish atomically."""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import logging
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bot.config import Settings
from bot.errors import DocumentError, RutinbotError
from bot.ingest.chunk import chunk_segments, group_windows
from bot.ingest.clean import segments
from bot.ingest.metadata import SIDECAR_SUFFIX, resolve, sidecar_path
from bot.ingest.readers import SUPPORTED, read_document
from bot.models import Chunk
from bot.search import store
from bot.search.dedup import mark_duplicates
from bot.search.encoders import Encoder
from bot.search.lexical import LexicalIndex

log = logging.getLogger(__name__)
# Bump when reading, cleaning or chunking changes what a document turns into: documents whose
# content hash is unchanged are otherwise taken from the previous index as they were.
PIPELINE_VERSION = 3


@dataclass
class BuildReport:
    documents: int = 0
    chunks: int = 0
    embedded: int = 0  # windows and sentences whose text was new and had to be encoded
    reused: int = 0  # windows and sentences whose vectors came from the previous index
    duplicates: int = 0  # chunks marked as repeating an earlier passage
    unchanged_documents: int = 0
    removed_documents: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    seconds: float = 0.0
    encode_seconds: float = 0.0
    folder: Path | None = None


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
    """Documents in the knowledge folder, in a stable order; metadata and hidden files excluded."""
    if not folder.is_dir():
        raise RutinbotError(f"knowledge folder not found: {folder}")
    files = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if path.name.endswith(SIDECAR_SUFFIX) or path.name.upper().startswith("README"):
            continue
        files.append(path)
    return files


def _sha256(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes())
    side = sidecar_path(path)
    if side.is_file():  # a changed title or date is a changed document
        digest.update(side.read_bytes())
    return digest.hexdigest()


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
    result = read_document(path)
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


def _embed(
    texts: list[str],
    owners: list[int],
    encoder: Encoder,
    cache: dict[str, np.ndarray],
    report: BuildReport,
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
    report.embedded += sum(len(rows) for rows in todo.values())
    return store.Rows(vectors, np.asarray(owners, dtype=np.int32), shas)


def _embed_windows(
    chunks: list[Chunk], encoder: Encoder, cache: dict[str, np.ndarray], report: BuildReport
) -> store.Rows:
    texts = [window_text(c, w) for c in chunks for w in range(len(c.windows))]
    owners = [c.id for c in chunks for _ in c.windows]
    return _embed(texts, owners, encoder, cache, report)


def _embed_sentences(
    chunks: list[Chunk], encoder: Encoder, cache: dict[str, np.ndarray], report: BuildReport
) -> store.Rows:
    texts = [t for c in chunks for t in sentence_texts(c)]
    owners = [c.id for c in chunks for _ in c.sentences]
    return _embed(texts, owners, encoder, cache, report)


def build_index(settings: Settings, encoder: Encoder, *, full: bool = False) -> BuildReport:
    """Index the knowledge folder into settings.paths.index and make it the current index."""
    started = time.monotonic()
    root = settings.paths.index
    report = BuildReport()
    with _build_lock(root):
        previous: dict[str, list[Chunk]] = {}
        prev_docs: dict[str, store.DocumentRecord] = {}
        cache: dict[str, np.ndarray] = {}
        chunking = {
            "pipeline": PIPELINE_VERSION,
            "target_chars": settings.chunking.target_chars,
            "max_chars": settings.chunking.max_chars,
            "window_chars": settings.chunking.window_chars,
        }
        folder = store.current_dir(root)
        if folder is not None and not full:
            manifest = store.read_manifest(folder)
            if manifest.encoder == encoder.name and manifest.format_version in store.CACHE_FORMATS:
                old_chunks = store.read_chunks(folder)
                _, old_shas = store.read_windows(folder)
                cache = dict(zip(old_shas, store.read_vectors(folder), strict=True))
                _, sentence_shas, sentence_vectors = store.read_sentences(folder)
                cache.update(zip(sentence_shas, sentence_vectors, strict=True))
                if manifest.chunking == chunking:
                    prev_docs = {d.path: d for d in manifest.documents}
                    for c in old_chunks:
                        previous.setdefault(c.document, []).append(c)

        knowledge = settings.paths.knowledge
        docs: list[store.DocumentRecord] = []
        chunks: list[Chunk] = []
        for path in knowledge_files(knowledge):
            rel = path.relative_to(knowledge).as_posix()
            if path.suffix.lower() not in SUPPORTED:
                report.skipped.append((rel, f"unsupported file type {path.suffix or '(none)'}"))
                continue
            try:
                sha = _sha256(path)
                old = prev_docs.get(rel)
                if old is not None and old.sha256 == sha and rel in previous:
                    doc_chunks = previous[rel]
                    report.unchanged_documents += 1
                else:
                    doc_chunks = _read_chunks(path, rel, settings)
            except DocumentError as err:
                report.skipped.append((rel, str(err)))
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
                )
            )
        report.removed_documents = sorted(set(prev_docs) - {d.path for d in docs})
        chunks = mark_duplicates(chunks)
        report.duplicates = sum(c.dup_of is not None for c in chunks)

        encode_started = time.monotonic()
        windows = _embed_windows(chunks, encoder, cache, report)
        sentences = _embed_sentences(chunks, encoder, cache, report)
        report.encode_seconds = time.monotonic() - encode_started

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
                skipped=tuple({"path": p, "reason": r} for p, r in report.skipped),
            )
            store.write_index(build, manifest, chunks, windows, sentences)
            report.folder = store.publish(root, build)
        except BaseException:
            import shutil

            shutil.rmtree(build, ignore_errors=True)
            raise
    report.documents = len(docs)
    report.chunks = len(chunks)
    report.seconds = time.monotonic() - started
    return report
