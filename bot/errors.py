"""One small error hierarchy; each adapter translates it once (CLI: English, bot: Swedish)."""

from __future__ import annotations


class RutinbotError(Exception):
    """Base error. `str(err)` is the English message; `err.sv` is the Swedish one for staff."""

    exit_code = 1
    default_sv = "Något gick fel. Försök igen om en stund, eller kontakta administratören."

    def __init__(self, message: str, sv: str | None = None) -> None:
        super().__init__(message)
        self.sv = sv or self.default_sv


class ConfigError(RutinbotError):
    """config.toml (or an environment variable) is invalid."""

    exit_code = 2


class QuestionError(RutinbotError):
    """The question cannot be answered as asked (empty, too long, not text)."""

    exit_code = 2


class IndexMissingError(RutinbotError):
    """No index has been built yet."""

    exit_code = 3
    default_sv = "Kunskapsbanken är inte indexerad ännu. Kontakta administratören."


class IndexMismatchError(RutinbotError):
    """The index on disk was built with another encoder or format than configured."""

    exit_code = 3
    default_sv = "Kunskapsbanken behöver indexeras om. Kontakta administratören."


class IndexDamagedError(IndexMismatchError):
    """A file of the index is missing, truncated or altered: it no longer matches its manifest."""

    exit_code = 3
    default_sv = "Kunskapsbanken är skadad och behöver indexeras om. Kontakta administratören."


class NothingToIndexError(RutinbotError):
    """The knowledge folder holds no document that could be read: the index is left as it was."""

    exit_code = 1
    default_sv = "Inget dokument i kunskapsbanken kunde läsas. Kontakta administratören."

    def __init__(self, message: str, skipped: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.skipped = skipped  # (file, reason) for every file that was passed over


class EncoderError(RutinbotError):
    """The configured encoder could not be loaded."""

    exit_code = 4


class DocumentError(RutinbotError):
    """One document could not be read; indexing reports it and goes on with the rest."""
