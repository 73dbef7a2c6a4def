"""Decide "answered" from a calibrated signal: a logistic model over a few retrieval features.

The fused rank score says which passage is best, not whether it answers: it looks the same for
a question the documents answer and for one they don't. The best chunk's cosine, how far it
stands out from the rest, how far the best single sentence stands out from the other sentences,
how much of the question's vocabulary the top passage holds, how much of it no passage holds at
all, whether a number the question names is missing from the evidence, and how close the one
marked sentence is to the question do differ, and a logistic model turns them into a
probability.
The weights are fitted by `bench/calibrate.py` on labelled questions and shipped in
`calibration.json`, one entry per encoder (cosine levels differ between models).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from bot.search.retriever import Ranking

log = logging.getLogger(__name__)
CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
FEATURES = (
    "dense_top",
    "dense_standout",
    "coverage",
    "missing",
    "numbers_missing",
    "sentence_cosine",
    "sentence_standout",
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def numbers_missing(question: str, evidence: str) -> float:
    """1 when the question names a number (a year, an amount) that the evidence lacks: "riksnorm
    2021" is not answered by the 2023 norm, however similar the rest of the passage is."""
    wanted = set(_NUMBER.findall(question))
    return float(bool(wanted - set(_NUMBER.findall(evidence))))


def standout(scores: np.ndarray) -> float:
    """How far the best score stands above the background (the 6th to 20th best, averaged)."""
    ranked = np.sort(scores)[::-1]
    background = ranked[5:20] if len(ranked) > 6 else ranked[1:]
    return float(ranked[0] - background.mean()) if len(background) else 0.0


def features(
    ranking: Ranking,
    chunk_tokens: set[str] | None,
    idf: Callable[[str], float],
    question: str = "",
    evidence: str = "",
    sentence_cosine: float = 0.0,
) -> dict[str, float]:
    """Features of the top hit of a ranking.

    coverage: the share of the question's terms (weighted by idf) that the top passage holds;
    missing: the share that no passage holds at all ("färdtjänst" in a corpus without it);
    numbers_missing: see numbers_missing(); `evidence` is the text of the top citations;
    sentence_cosine: the question's cosine with the sentence the top citation marks. A window
    about the right topic scores high for a question it does not answer; the one sentence
    that would answer it has to say what was asked;
    dense_standout and sentence_standout: how far the best chunk, and the best single sentence,
    stand out from the rest (see standout()). The fitted model weighs them in opposite
    directions, on every subset it was fitted on: a question one sentence matches far better
    than the passages around it is more often a near miss (the sentence names the topic) than
    one a whole passage answers.
    """
    if not ranking.hits:
        return dict.fromkeys(FEATURES, 0.0)
    top = ranking.hits[0]
    q = set(ranking.query_tokens)
    gone = set(ranking.missing_tokens)
    total = sum(idf(t) for t in q | gone)
    held = sum(idf(t) for t in q & (chunk_tokens or set()))
    coverage = held / total if total else 0.0
    missing = sum(idf(t) for t in gone) / total if total else 0.0
    return {
        "dense_top": float(top.dense or 0.0),
        "dense_standout": standout(ranking.dense),
        "coverage": coverage,
        "missing": missing,
        "numbers_missing": numbers_missing(question, evidence),
        "sentence_cosine": sentence_cosine,
        "sentence_standout": standout(ranking.sentences) if len(ranking.sentences) else 0.0,
    }


@dataclass(frozen=True)
class Calibration:
    weights: tuple[float, ...]
    bias: float
    encoder: str

    def probability(self, feats: dict[str, float]) -> float:
        z = self.bias + sum(w * feats[name] for w, name in zip(self.weights, FEATURES, strict=True))
        return 1.0 / (1.0 + math.exp(-z))


# Used when no calibration exists for the encoder in use: coverage and standout alone, set by
# hand to be cautious. Run bench/calibrate.py to fit weights for a new model.
_UNCALIBRATED = Calibration(weights=(0.0, 20.0, 4.0, -4.0, -2.0, 0.0, 0.0), bias=-3.0, encoder="")


@cache
def _load_all(path: Path = CALIBRATION_FILE) -> dict[str, Calibration]:
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    out = {}
    for encoder, entry in data.items():
        if list(entry["features"]) != list(FEATURES):
            log.warning("calibration for %s uses other features; ignored", encoder)
            continue
        out[encoder] = Calibration(tuple(entry["weights"]), float(entry["bias"]), encoder)
    return out


def calibration_for(encoder: str) -> Calibration:
    found = _load_all().get(encoder)
    if found is None:
        log.warning(
            "no calibration for encoder %s; using cautious defaults (run bench/calibrate.py)",
            encoder,
        )
        return _UNCALIBRATED
    return found


def save_calibration(encoder: str, weights: list[float], bias: float, note: str) -> None:
    data = {}
    if CALIBRATION_FILE.is_file():
        data = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
    data[encoder] = {
        "features": list(FEATURES),
        "weights": [round(w, 4) for w in weights],
        "bias": round(bias, 4),
        "fitted_on": note,
    }
    CALIBRATION_FILE.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    _load_all.cache_clear()
