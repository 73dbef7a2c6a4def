"""From an administrator's upload to a cited answer, and from a removal to its disappearance.

    python bench/admin.py [--corpus knowledge] [--questions-during]

On a copy of the corpus and its index (in a temporary folder): a routine holding a fact no
other document has is saved through the admin service, which reindexes in a process of its own
(as the web page and Telegram do), while an ask service that serves the copy keeps answering a
question about that fact in a thread, as a running bot would. Printed: seconds from the upload
to the saved file, to the reindex done, and to the first answer that cites the new document;
the same for its removal; questions answered meanwhile and how many failed. Beside it, as the
baseline, the same change indexed in this process with `build_index` (what an administrator
ran from a shell before issue 17), which loads no interpreter or encoder.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import KNOWLEDGE, RESULTS, settings

ROUTINE = (
    "# Rutin för nyckelhantering i hemtjänsten\n\n"
    "Nycklar till brukarnas bostäder förvaras i det kodlåsta nyckelskåpet på enhet Lönnen. "
    "Nyckelansvarig samordnare nås på 0701-234 567 vardagar 8-16.\n"
)
NAME = "rutin-nyckelhantering.md"
QUESTION = "var förvaras nycklar till brukarnas bostäder?"


def _copy(corpus: Path, work: Path) -> None:
    shutil.copytree(corpus, work / "knowledge")
    cached = RESULTS / f"index-{corpus.name if corpus != KNOWLEDGE else 'sample'}"
    source = cached if (cached / "current").exists() else Path(settings(None).paths.index)
    if (source / "current").exists():
        shutil.copytree(
            source,
            work / "embeddings",
            symlinks=True,
            ignore=lambda _d, names: [n for n in names if n.startswith(".")],
        )


def _config(work: Path) -> Path:
    path = work / "config.toml"
    path.write_text("[encoder]\nnum_threads = 1\n", encoding="utf-8")
    return path


class Asker(threading.Thread):
    """Asks QUESTION again and again, as staff would during the reindex."""

    def __init__(self, service) -> None:
        super().__init__(daemon=True)
        self.service, self.stop = service, threading.Event()
        self.asked = self.failed = 0
        self.cites: bool | None = None

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                answer = self.service.ask(QUESTION, channel="bench", asker="b", record=False).answer
                self.cites = any(c.document == NAME for c in answer.citations[:3])
            except Exception:  # a failed question is what this bench counts
                self.failed += 1
            self.asked += 1


def _until(predicate, timeout: float = 900.0) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise SystemExit("timed out")
        time.sleep(0.05)
    return time.monotonic() - started


def _through_service(cfg, encoder) -> dict[str, float | int]:
    from bot.admin.documents import AdminService
    from bot.admin.model import Actor, JobState
    from bot.answer.core import Answerer
    from bot.asking import AskService

    service = AdminService(cfg)
    asker = Asker(AskService(Answerer(cfg, encoder)))
    asker.start()
    _until(lambda: asker.cites is not None)
    admin = Actor("cli", "bench")
    out: dict[str, float | int] = {}
    started = time.monotonic()
    service.add(admin, NAME, ROUTINE.encode())
    out["upload: saved"] = time.monotonic() - started
    service.reindex_after_change(admin)
    _until(lambda: service.status().state is not JobState.RUNNING)
    out["upload: reindex done"] = time.monotonic() - started
    _until(lambda: asker.cites is True)
    out["upload: first cited answer"] = time.monotonic() - started
    started = time.monotonic()
    service.remove(admin, NAME)
    service.reindex_after_change(admin)
    _until(lambda: service.status().state is not JobState.RUNNING)
    out["removal: reindex done"] = time.monotonic() - started
    _until(lambda: asker.cites is False)
    out["removal: no longer cited"] = time.monotonic() - started
    asker.stop.set()
    asker.join(60)
    out["questions answered meanwhile"] = asker.asked - asker.failed
    out["questions failed"] = asker.failed
    return out


def _in_process(cfg, encoder) -> dict[str, float]:
    from bot.search.indexer import build_index

    (cfg.paths.knowledge / NAME).write_text(ROUTINE, encoding="utf-8")
    started = time.monotonic()
    build_index(cfg, encoder)
    added = time.monotonic() - started
    (cfg.paths.knowledge / NAME).unlink()
    started = time.monotonic()
    build_index(cfg, encoder)
    return {"upload: reindex done": added, "removal: reindex done": time.monotonic() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=KNOWLEDGE)
    args = parser.parse_args()

    from bot.config import load
    from bot.search.encoders import load_encoder

    with tempfile.TemporaryDirectory(prefix="rutinbot-admin-bench-") as tmp:
        work = Path(tmp)
        _copy(args.corpus.resolve(), work)
        cfg = load(_config(work))
        encoder = load_encoder(cfg.encoder)
        from bot.search.indexer import build_index

        build_index(cfg, encoder)  # brought up to date before timing (reuses the copy)
        baseline = _in_process(cfg, encoder)
        admin = _through_service(cfg, encoder)
    print(
        f"{args.corpus}: seconds (admin service, reindex in its own process) beside the "
        "baseline (the same change indexed in-process, as `rutinbot index` in a shell)"
    )
    print(f"{'':34}{'admin service':>15}{'in-process':>12}")
    for key, value in admin.items():
        base = baseline.get(key)
        shown = f"{value:15.2f}" if isinstance(value, float) else f"{value:15d}"
        print(f"{key:34}{shown}{'' if base is None else f'{base:12.2f}'}")


if __name__ == "__main__":
    sys.exit(main())
