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
  (the manifest also lists every other file of the folder with its size and sha256)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import signal
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bot.errors import IndexDamagedError, IndexMismatchError, IndexMissingError
from bot.models import Chunk

FORMAT_VERSION = 4  # 3: sentence vectors; 4: the manifest lists every file with its checksum
# Formats whose vectors a new build may reuse, so an upgrade embeds only what is new.
CACHE_FORMATS = (2, 3, 4)
CURRENT = "current"
MANIFEST = "manifest.json"
# Test hook, read nowhere else: `RUTINBOT_TEST_CRASH_AT=<stage>` makes the process SIGKILL itself
# at that stage of a build (see crash_point), so tests can kill `rutinbot index` at exact points.
CRASH_ENV = "RUTINBOT_TEST_CRASH_AT"
CRASH_STAGES = ("embedded", "written", "renamed", "linked", "switched")


def crash_point(stage: str) -> None:
    """Kill this process here when the test hook names `stage`; a no-op otherwise."""
    if os.environ.get(CRASH_ENV) == stage:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class FileRecord:
    """One file of an index folder as the manifest records it."""

    path: str  # relative to the index folder, POSIX separators
    size: int
    sha256: str


@dataclass(frozen=True)
class DocumentRecord:
    """What the manifest remembers of one indexed document."""

    path: str
    title: str
    date: str | None
    sha256: str
    chunks: int
    pages: int | None = None
    # From the sidecar (absent from manifests written before they existed: None).
    owner: str | None = None  # "ansvarig"
    valid_from: str | None = None  # "galler_fran", YYYY-MM-DD
    valid_to: str | None = None  # "galler_till", YYYY-MM-DD


@dataclass(frozen=True)
class Manifest:
    format_version: int
    encoder: str
    dim: int
    chunk_count: int
    built_at: str
    chunking: dict
    documents: tuple[DocumentRecord, ...]
    skipped: tuple[dict, ...] = ()  # files not read: {"path", "reason", "sha256" if hashed}
    files: tuple[FileRecord, ...] = ()  # every file of the folder but the manifest itself

    def to_json(self) -> dict:
        data = dataclasses.asdict(self)
        data["documents"] = [dataclasses.asdict(d) for d in self.documents]
        data["skipped"] = list(self.skipped)
        data["files"] = [dataclasses.asdict(f) for f in self.files]
        return data

    @classmethod
    def from_json(cls, data: dict) -> Manifest:
        docs = tuple(DocumentRecord(**d) for d in data.get("documents", ()))
        files = tuple(FileRecord(**f) for f in data.get("files", ()))
        return cls(
            **{
                **data,
                "documents": docs,
                "skipped": tuple(data.get("skipped", ())),
                "files": files,
            }
        )


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
    return target if (target / MANIFEST).is_file() else None


def read_manifest(folder: Path) -> Manifest:
    """The folder's manifest; IndexDamagedError when it cannot be read or makes no sense."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        return Manifest.from_json(data)
    except (OSError, ValueError, TypeError, AttributeError) as err:
        raise IndexDamagedError(
            f"the manifest of the index in {folder} cannot be read ({type(err).__name__}); "
            "run `rutinbot index` to rebuild it"
        ) from None


def file_digest(path: Path) -> FileRecord:
    """Size and sha256 of one file, read in blocks (never whole into memory)."""
    with path.open("rb") as fh:
        digest = hashlib.file_digest(fh, "sha256")
        size = fh.tell()
    return FileRecord("", size, digest.hexdigest())


def _inside(folder: Path, rel: object) -> Path | None:
    """The file a manifest entry names, or None when the entry points outside the folder."""
    if not isinstance(rel, str):
        return None
    parts = rel.split("/")
    if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
        return None
    return folder.joinpath(*parts)


def damaged_files(folder: Path, manifest: Manifest, *, checksums: bool = True) -> dict[str, str]:
    """Files of the folder that do not match the manifest, each with what is wrong.

    Sizes are always checked (a stat each); checksums unless `checksums=False`."""
    problems: dict[str, str] = {}
    if not manifest.files:
        return {MANIFEST: "lists no files"}
    for record in manifest.files:
        path = _inside(folder, record.path)
        if path is None:
            problems[repr(record.path)] = "is not a file of the index folder"
            continue
        try:
            if path.is_symlink() or not path.is_file():
                problems[record.path] = "is missing"
                continue
            size = path.stat().st_size
            if size != record.size:
                problems[record.path] = f"has {size} bytes, the manifest says {record.size}"
            elif checksums and file_digest(path).sha256 != record.sha256:
                problems[record.path] = "has been altered (its checksum differs)"
        except OSError as err:
            problems[record.path] = f"cannot be read ({err.strerror or err})"
    return problems


def verify(folder: Path, manifest: Manifest, *, checksums: bool = True) -> None:
    """IndexDamagedError naming every file that does not match the manifest, if any."""
    problems = damaged_files(folder, manifest, checksums=checksums)
    if problems:
        listed = "; ".join(f"{name} {what}" for name, what in sorted(problems.items()))
        raise IndexDamagedError(
            f"the index in {folder} is damaged: {listed}; run `rutinbot index` to rebuild it "
            "(intact vectors are reused)"
        )


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


def open_current(
    root: Path, encoder_name: str | None = None, *, checksums: bool = True
) -> tuple[Path, Manifest]:
    """The current index folder and its manifest, checked against the configured encoder and
    against the manifest's file list (sizes always, checksums unless `checksums=False`).

    Checksums are checked by default: hashing the sample index (9.4 MB) takes 10 ms warm and
    28 ms cold on our two cores, little beside loading it, and a missing, truncated or altered
    file becomes IndexDamagedError (exit 3), never a traceback or a silently wrong answer."""
    folder = current_dir(root)
    if folder is None:
        if (root / CURRENT).is_symlink():
            raise IndexMissingError(
                f"the current index in {root} is incomplete or gone; run `rutinbot index` to "
                "rebuild it"
            )
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
    verify(folder, manifest, checksums=checksums)
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
    """Write the index files, then the manifest listing them all (with checksums), synced to
    disk before the folder can be published: a power cut must not leave a truncated index."""
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
    crash_point("written")
    files = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST):
        _fsync(path)
        record = file_digest(path)
        files.append(dataclasses.replace(record, path=path.relative_to(folder).as_posix()))
    manifest = dataclasses.replace(manifest, files=tuple(files))
    # The manifest is written last: a folder without one is an unfinished build.
    (folder / MANIFEST).write_text(
        json.dumps(manifest.to_json(), ensure_ascii=False, indent=2), encoding="utf-8"
    )
    _fsync(folder / MANIFEST)
    for sub in {p.parent for p in folder.rglob("*")} | {folder}:
        _fsync(sub)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def index_folders(root: Path) -> list[Path]:
    """Every published index folder under root, newest first (the current one among them)."""
    return sorted((p for p in root.glob("index-*") if p.is_dir()), reverse=True)


def publish(root: Path, build: Path) -> Path:
    """Make a finished build the current index with one atomic rename, then tidy old ones.

    A crash at any step leaves `current` pointing at the old index or the new one, never at
    half of one; what it leaves behind is cleared by the next build (clear_leftovers, _tidy).
    """
    previous = current_dir(root)
    final = root / build.name.replace(".building-", "index-")
    build.rename(final)
    crash_point("renamed")
    tmp_link = root / f".{CURRENT}-{os.getpid()}"
    if tmp_link.is_symlink():
        tmp_link.unlink()
    tmp_link.symlink_to(final.name)
    crash_point("linked")
    os.replace(tmp_link, root / CURRENT)  # readers see the old or the new index, never half
    _fsync(root)
    crash_point("switched")
    _tidy(root, keep={final.name, previous.name if previous else ""})
    return final


def _tidy(root: Path, keep: set[str]) -> None:
    """Remove index folders other than the new one and the one it replaced (a process may
    still be reading it): older ones, and any a crashed build renamed but never switched in."""
    for old in index_folders(root):
        if old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)


def clear_leftovers(root: Path) -> list[str]:
    """Remove what killed builds left: build folders and half-made links. Only call it while
    holding the build lock: then no other build can be using them. Returns their names."""
    cleared = []
    for stale in [*root.glob(".building-*"), *root.glob(f".{CURRENT}-*")]:
        if stale.is_symlink() or stale.is_file():
            stale.unlink(missing_ok=True)
        else:
            shutil.rmtree(stale, ignore_errors=True)
        cleared.append(stale.name)
    return cleared
