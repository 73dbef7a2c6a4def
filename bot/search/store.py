"""The index on disk: a folder of plain files with a manifest, switched in by one rename.

embeddings/
  current -> index-20261122T110900123456   (a symlink, replaced atomically)
  index-…/manifest.json   encoder, dimension, chunk count, build time, documents
  index-…/chunks.jsonl    one chunk a line; a chunk's line number is its id
  index-…/vectors.npy     float32, one normalised row per window (a few sentences of a chunk)
  index-…/windows.json    for each row: the chunk it belongs to and the hash of its text
  index-…/sentences.npy   float32, one normalised row per sentence of each chunk, in order
  index-…/sentences.json  for each row: its chunk and the hash of its text (as windows.json)
  index-…/lexical/        bm25s files and the compound-splitting vocabulary
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bot.errors import IndexMismatchError, IndexMissingError
from bot.models import Chunk

FORMAT_VERSION = 3  # 3: sentence vectors
# Formats whose window vectors a new build may reuse, so an upgrade embeds only what is new.
CACHE_FORMATS = (2, 3)
CURRENT = "current"
KEEP_OLD = 1  # older index folders kept beside the current one, for a process still using them


@dataclass(frozen=True)
class DocumentRecord:
    """What the manifest remembers of one indexed document."""

    path: str
    title: str
    date: str | None
    sha256: str
    chunks: int
    pages: int | None = None


@dataclass(frozen=True)
class Manifest:
    format_version: int
    encoder: str
    dim: int
    chunk_count: int
    built_at: str
    chunking: dict
    documents: tuple[DocumentRecord, ...]
    skipped: tuple[dict, ...] = ()  # files that could not be read: {"path", "reason"}

    def to_json(self) -> dict:
        data = dataclasses.asdict(self)
        data["documents"] = [dataclasses.asdict(d) for d in self.documents]
        data["skipped"] = list(self.skipped)
        return data

    @classmethod
    def from_json(cls, data: dict) -> Manifest:
        docs = tuple(DocumentRecord(**d) for d in data.get("documents", ()))
        return cls(**{**data, "documents": docs, "skipped": tuple(data.get("skipped", ()))})


def chunk_to_json(chunk: Chunk) -> dict:
    data = dataclasses.asdict(chunk)
    data["section"] = list(chunk.section)
    data["sentences"] = [list(s) for s in chunk.sentences]
    data["windows"] = [list(w) for w in chunk.windows]
    return data


def chunk_from_json(data: dict) -> Chunk:
    return Chunk(
        **{
            **data,
            "section": tuple(data["section"]),
            "sentences": tuple(tuple(s) for s in data["sentences"]),
            "windows": tuple(tuple(w) for w in data.get("windows", ())),
        }
    )


def current_dir(root: Path) -> Path | None:
    """The folder of the index in service, or None when none has been built."""
    link = root / CURRENT
    if not link.is_symlink() and not link.is_dir():
        return None
    target = link.resolve()
    return target if (target / "manifest.json").is_file() else None


def read_manifest(folder: Path) -> Manifest:
    return Manifest.from_json(json.loads((folder / "manifest.json").read_text(encoding="utf-8")))


def read_chunks(folder: Path) -> list[Chunk]:
    with (folder / "chunks.jsonl").open(encoding="utf-8") as fh:
        return [chunk_from_json(json.loads(line)) for line in fh if line.strip()]


def read_vectors(folder: Path) -> np.ndarray:
    return np.load(folder / "vectors.npy")


def read_windows(folder: Path) -> tuple[np.ndarray, list[str]]:
    """For each vector row: the id of its chunk, and the hash of the text it encodes."""
    data = json.loads((folder / "windows.json").read_text(encoding="utf-8"))
    return np.asarray(data["chunk"], dtype=np.int64), list(data["sha"])


def read_sentences(folder: Path) -> tuple[np.ndarray, list[str], np.ndarray]:
    """For each sentence row: the id of its chunk, the hash of its text, and its vector."""
    if not (folder / "sentences.json").is_file():  # format 2: none
        return np.zeros(0, dtype=np.int64), [], np.zeros((0, 0), dtype=np.float32)
    data = json.loads((folder / "sentences.json").read_text(encoding="utf-8"))
    vectors = np.load(folder / "sentences.npy")
    return np.asarray(data["chunk"], dtype=np.int64), list(data["sha"]), vectors


def open_current(root: Path, encoder_name: str | None = None) -> tuple[Path, Manifest]:
    """The current index folder and its manifest, checked against the configured encoder."""
    folder = current_dir(root)
    if folder is None:
        raise IndexMissingError(f"no index in {root}; run `rutinbot index` first")
    manifest = read_manifest(folder)
    if manifest.format_version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index in {folder} has format {manifest.format_version}, this version reads "
            f"{FORMAT_VERSION}; run `rutinbot index` (text embedded before is reused)"
        )
    if encoder_name is not None and manifest.encoder != encoder_name:
        raise IndexMismatchError(
            f"index in {folder} was built with encoder {manifest.encoder!r} but the config "
            f"asks for {encoder_name!r}; run `rutinbot index --full` to rebuild it"
        )
    return folder, manifest


def new_build_dir(root: Path) -> Path:
    """A fresh folder beside the current index to build the next one in."""
    root.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    folder = root / f".building-{stamp}-{os.getpid()}"
    folder.mkdir()
    return folder


@dataclass(frozen=True)
class Rows:
    """Vectors and, for each row, the chunk it belongs to and the hash of its text."""

    vectors: np.ndarray
    owners: np.ndarray
    shas: list[str]


def write_index(
    folder: Path, manifest: Manifest, chunks: list[Chunk], windows: Rows, sentences: Rows
) -> None:
    with (folder / "chunks.jsonl").open("w", encoding="utf-8") as fh:
        for chunk in chunks:
            fh.write(json.dumps(chunk_to_json(chunk), ensure_ascii=False) + "\n")
    for name, rows in (("vectors", windows), ("sentences", sentences)):
        np.save(folder / f"{name}.npy", rows.vectors.astype(np.float32))
    for name, rows in (("windows", windows), ("sentences", sentences)):
        (folder / f"{name}.json").write_text(
            json.dumps({"chunk": [int(o) for o in rows.owners], "sha": rows.shas}),
            encoding="utf-8",
        )
    # The manifest is written last: a folder without one is an unfinished build.
    (folder / "manifest.json").write_text(
        json.dumps(manifest.to_json(), ensure_ascii=False, indent=2), encoding="utf-8"
    )


def publish(root: Path, build: Path) -> Path:
    """Make a finished build the current index with one atomic rename, then tidy old ones."""
    final = root / build.name.replace(".building-", "index-")
    build.rename(final)
    tmp_link = root / f".{CURRENT}-{os.getpid()}"
    if tmp_link.is_symlink():
        tmp_link.unlink()
    tmp_link.symlink_to(final.name)
    os.replace(tmp_link, root / CURRENT)  # readers see the old or the new index, never half
    _tidy(root, keep=final)
    return final


def _tidy(root: Path, keep: Path) -> None:
    olds = sorted(p for p in root.glob("index-*") if p.is_dir() and p != keep)
    for old in olds[: max(0, len(olds) - KEEP_OLD)]:
        shutil.rmtree(old, ignore_errors=True)
    for stale in root.glob(".building-*"):
        try:
            pid = int(stale.name.rsplit("-", 1)[1])
        except ValueError:
            continue
        if pid != os.getpid() and not _alive(pid):
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
