"""Read a PDF's text layer page by page, its streams bounded in size, ratio and time."""

from __future__ import annotations

import io
import zlib
from typing import TYPE_CHECKING

from bot.errors import DocumentError
from bot.ingest.limits import CHUNK_BYTES, RATIO_GRACE_BYTES, Budget

if TYPE_CHECKING:
    from pypdf import Configuration, PageObject
    from pypdf.generic import StreamObject

_MIN_CHARS_PER_PAGE = 16  # below this on average the "text" is page numbers or stamps on scans


def _stream_cap(budget: Budget, size: int) -> int:
    """Most bytes one stream may decode to: no stream can beat the ratio over the whole file."""
    limits = budget.limits
    by_ratio = max(int(limits.max_ratio * size), RATIO_GRACE_BYTES)
    return max(1, min(limits.max_unpacked_bytes, by_ratio))


def _pypdf_limits(cap: int, size: int) -> Configuration:
    """pypdf's own per-stream limits, set from [ingest]; its defaults for the rest."""
    from pypdf import Configuration

    return Configuration(
        maximum_declared_stream_length=size,
        array_based_stream_maximum_output_length=cap,
        jbig2_maximum_output_length=cap,
        lzw_maximum_output_length=cap,
        run_length_maximum_output_length=cap,
        zlib_maximum_output_length=cap,
        brotli_maximum_output_length=cap,
        image_maximum_buffer_size=cap,
        stream_decoding_work_maximum_length=cap,
    )


def _count_inflated(raw: bytes, budget: Budget) -> None:
    """Decompress a Flate stream in pieces, keeping nothing, to count it against the budget.

    pypdf bounds each stream, and keeps what it decoded; counting first bounds the document.
    """
    inflater = zlib.decompressobj()
    produced = 0
    limits = budget.limits
    try:
        for start in range(0, len(raw), CHUNK_BYTES):
            pending = raw[start : start + CHUNK_BYTES]
            while pending:
                out = inflater.decompress(pending, CHUNK_BYTES)
                produced += len(out)
                budget.add_unpacked(len(out))
                if produced > RATIO_GRACE_BYTES and produced > limits.max_ratio * len(raw):
                    raise limits.too_compressed(budget.name)
                pending = inflater.unconsumed_tail
                if not out:
                    break
            budget.check_time()
    except zlib.error:
        return  # pypdf repairs or refuses broken streams itself, under its own limits


def _resolved(obj: object) -> object:
    """What an indirect reference points to; any other value as it is."""
    from pypdf.generic import PdfObject

    return obj.get_object() if isinstance(obj, PdfObject) else obj


def _page_streams(page: PageObject) -> list[StreamObject]:
    """The content streams a page's text comes from: its /Contents and its form XObjects.

    A forged file may put anything anywhere: what is not a stream holds no data to count."""
    from pypdf.generic import DictionaryObject, StreamObject

    contents = _resolved(page.get("/Contents"))
    parts = contents if isinstance(contents, list) else [contents]
    found = [s for s in map(_resolved, parts) if isinstance(s, StreamObject)]
    resources = _resolved(page.get("/Resources"))
    if isinstance(resources, DictionaryObject):
        xobjects = _resolved(resources.get("/XObject"))
        if isinstance(xobjects, DictionaryObject):
            for ref in xobjects.values():
                obj = _resolved(ref)
                if isinstance(obj, StreamObject) and obj.get("/Subtype") == "/Form":
                    found.append(obj)
    return found


def _count_page(page: PageObject, budget: Budget) -> None:
    for stream in _page_streams(page):
        filters = _resolved(stream.get("/Filter"))
        names = filters if isinstance(filters, list) else [filters]
        raw = getattr(stream, "_data", b"")
        if names and _resolved(names[0]) in ("/FlateDecode", "/Fl") and isinstance(raw, bytes):
            _count_inflated(raw, budget)


def read_pdf(name: str, data: bytes, budget: Budget) -> tuple[list[str], str | None, str | None]:
    """Each page's text, the title and the raw creation date; DocumentError when unreadable."""
    import pypdf  # lazily: only indexing pays for it
    from pypdf.errors import DependencyError, LimitReachedError

    cap = _stream_cap(budget, len(data))
    try:
        with pypdf.apply_configuration(_pypdf_limits(cap, len(data))):
            reader = pypdf.PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not reader.decrypt(""):
                raise DocumentError(f"{name} is encrypted with a password; save an open copy")
            texts: list[str] = []
            for page in reader.pages:
                budget.check_time()
                _count_page(page, budget)
                text = page.extract_text() or ""
                budget.add_chars(len(text))
                texts.append(text)
            info = reader.metadata  # None when the file has no information dictionary
            title = info.get("/Title") if info is not None else None
            created = info.get("/CreationDate") if info is not None else None
    except LimitReachedError as err:
        raise budget.limits.too_unpacked(name) from err
    except DependencyError as err:
        # Restriction-only PDFs often use AES, which pypdf can only open with `cryptography`.
        raise DocumentError(
            f"{name} is AES-encrypted; `pip install cryptography` to read it"
        ) from err
    except DocumentError:
        raise
    except Exception as err:  # pypdf raises parse, zlib, key and index errors on broken files
        raise DocumentError(f"{name} is not a readable PDF (corrupt?): {err}") from err
    if sum(len("".join(t.split())) for t in texts) < _MIN_CHARS_PER_PAGE * max(len(texts), 1):
        raise DocumentError(f"{name} has no text layer (scanned?); run OCR first")
    return texts, str(title) if title else None, str(created) if created else None
