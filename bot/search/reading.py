"""Read the knowledge folder for a build: list its documents, hash them, and read one document
into chunks in a worker, so a file that stalls a parser or balloons its memory costs only itself.
"""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings
from bot.errors import DocumentError
from bot.ingest.chunk import chunk_segments
from bot.ingest.clean import segments
from bot.ingest.files import content_sha256, list_knowledge
from bot.ingest.limits import Limits
from bot.ingest.metadata import resolve
from bot.ingest.worker import read_in_worker
from bot.models import Chunk


def knowledge_files(folder: Path) -> list[Path]:
    """Documents in the knowledge folder, in a stable order; metadata and hidden files excluded.

    Entries the listing refuses (links out, dangling links, loops, links to folders) are not
    among them: `list_knowledge(folder).skipped` names each with its reason.
    """
    return list(list_knowledge(folder).files)


def _sha256(path: Path) -> str:
    """The file and its sidecar, read in pieces without following links out of the folder."""
    return content_sha256(path)


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
