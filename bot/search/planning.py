"""What `rutinbot index --check` shows: the changes a build would make to the current index
(new, changed, removed and unreadable documents), listed and hashed as the build does, writing
nothing.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.errors import DocumentError, IndexDamagedError
from bot.ingest.files import list_knowledge
from bot.ingest.readers import SUPPORTED
from bot.search import store
from bot.search.reading import _sha256

if TYPE_CHECKING:
    from bot.admin.model import IndexPlan


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
