"""Read one document in a forked worker with a memory cap, killed when its deadline passes.

The readers check their limits while streaming; this is the backstop for what they cannot see
(a parser stuck inside C code, memory a library allocates on its own), so no single file can
stall `rutinbot index` past its deadline or push it over its memory.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
from pathlib import Path

from bot.errors import DocumentError
from bot.ingest.limits import Limits
from bot.ingest.readers import ReadResult, read_document

# Address space a worker may add to what it inherits: room for a 50 MB file, its parse and the
# text, while the indexer and one worker together stay well under 1 GB resident.
WORKER_MEMORY_BYTES = 640 * 1024 * 1024
_GRACE_SECONDS = 2.0  # the worker's own deadline check normally fires first


def _address_space() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _work(conn, path: Path, limits: Limits) -> None:
    try:
        cap = _address_space() + WORKER_MEMORY_BYTES
        resource.setrlimit(resource.RLIMIT_AS, (cap, resource.getrlimit(resource.RLIMIT_AS)[1]))
    except (OSError, ValueError):
        pass  # no /proc or no limit allowed: the readers' own limits still hold
    try:
        conn.send(("ok", read_document(path, limits)))
    except DocumentError as err:
        conn.send(("error", str(err)))
    except MemoryError:
        conn.send(("error", f"{path.name}: needs more memory than a document may use to read"))
    except Exception as err:  # a reader bug must not lose the message
        conn.send(("error", f"{path.name} could not be read: {type(err).__name__}: {err}"))
    finally:
        conn.close()


def read_in_worker(path: Path, limits: Limits) -> ReadResult:
    """read_document(path, limits) in a forked process; DocumentError for whatever goes wrong."""
    try:
        context = multiprocessing.get_context("fork")
    except ValueError:  # no fork on this platform: read in this process
        return read_document(path, limits)
    receive, send = context.Pipe(duplex=False)
    worker = context.Process(target=_work, args=(send, path, limits), daemon=True)
    worker.start()
    send.close()
    try:
        if not receive.poll(limits.timeout_seconds + _GRACE_SECONDS):
            raise DocumentError(
                f"{path.name}: took longer than [ingest] timeout_seconds "
                f"({limits.timeout_seconds:g} s) to read"
            )
        try:
            status, value = receive.recv()
        except (EOFError, OSError):
            worker.join(1)
            raise DocumentError(
                f"{path.name}: the reader stopped without an answer (exit code {worker.exitcode}); "
                "the file is probably too large or malformed"
            ) from None
    finally:
        receive.close()
        if worker.is_alive():
            worker.kill()
        worker.join()
    if status != "ok":
        raise DocumentError(value)
    return value
