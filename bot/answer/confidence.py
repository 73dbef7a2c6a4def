"""Decide "answered" from a calibrated probability: a logistic model over retrieval features.

The fused rank score says which passage is best, not whether it answers. Features of what the
question retrieved and of its own words (weighted by a fixed Swedish word-frequency table, not
the corpus) do differ, and a logistic model turns them into a probability. The weights are
fitted by `bench/calibrate.py` and shipped in `calibration.json`, one entry per encoder (cosine
levels differ between models); a deployment may adjust them (answer/calibration.py).
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from bot.answer.asks import met, unmet
from bot.answer.terms import QuestionTerms
from bot.models import Hit
from bot.search.retriever import EXCLUDED, Ranking

log = logging.getLogger(__name__)
CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
FEATURES = (
    "dense_top",
    "dense_standout",
    "sentence_cosine",
    "sentence_standout",
    "coverage",
    "evidence_missing",
    "marked_coverage",
    "numbers_missing",
    "fact_met",
    "fact_unmet",
    "ranks_agree",
    "rarest_missing",
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def numbers_missing(question: str, evidence: str) -> float:
    """1 when the question names a number (a year, an amount) that the evidence lacks: "riksnorm
    2021" is not answered by the 2023 norm, however similar the rest of the passage is."""
    wanted = set(_NUMBER.findall(question))
    return float(bool(wanted - set(_NUMBER.findall(evidence))))


def standout(scores: np.ndarray) -> float:
    """How far the best score stands above the background (the 6th to 20th best, averaged);
    chunks taken out of the ranking (Retriever.rank's `exclude`) are not part of it."""
    ranked = np.sort(scores[scores > EXCLUDED])[::-1]
    if not len(ranked):
        return 0.0
    background = ranked[5:20] if len(ranked) > 6 else ranked[1:]
    return float(ranked[0] - background.mean()) if len(background) else 0.0


@dataclass(frozen=True)
class Evidence:
    """What the answer core found for one question, as the features need it."""

    question: str
    terms: QuestionTerms
    top_tokens: frozenset[str]  # the top passage's terms (with its title and headings)
    cited_tokens: frozenset[str]  # the terms of the first three citations
    marked: tuple[str, ...]  # per citation (first three): its marked sentence and neighbours
    marked_tokens: frozenset[str]  # the terms of the first of those
    text: str  # the first three citations with their titles and dates
    sentence_cosine: float  # the question's cosine with the sentence the top citation marks
    top: Hit | None = None  # the first cited hit


def ranks_agree(hit: Hit | None) -> float:
    """How well the dense and the lexical ranking agree on the cited passage: the mean of the
    reciprocal ranks it has in each (1 when both put it first, 0 when neither has it)."""
    if hit is None:
        return 0.0
    return sum(1 / r for r in (hit.dense_rank, hit.lexical_rank) if r) / 2


def features(ranking: Ranking, evidence: Evidence) -> dict[str, float]:
    """Features of what one question retrieved and of its own words; none uses the corpus's
    statistics (idf, vocabulary, size). The standouts still compare with the 6th-20th best
    passages, which a corpus of routines on one subject crowds more than one of minutes.

    coverage: the share of the question's words the top passage holds, each word weighted by
    its rarity in general Swedish (bot/resources/sv_wordfreq.tsv.gz), not by the corpus's idf
    (a word a small corpus lacks is not thereby important);
    evidence_missing: the weighted share of the question's words none of the first three
    citations holds ("färdtjänst" where the passages never say it);
    marked_coverage: the weighted share the marked sentence and its neighbours hold;
    numbers_missing: see numbers_missing();
    fact_met: the question asks for a person, a time, a number, a cost, a phone number or a
    name (see asks.py) and the top citation's marked sentence (with its neighbours) states
    every kind asked; fact_unmet: it asks, and no marked sentence (with its neighbours) of the
    first three citations states such a fact. Most near misses ask for exactly such a fact,
    which the routine does not state;
    ranks_agree: see ranks_agree(); rarest_missing: see QuestionTerms.rarest_missing(), over
    the first three citations;
    sentence_cosine: the question's cosine with the sentence the top citation marks. A window
    about the right topic scores high for a question it does not answer; the one sentence
    that would answer it has to say what was asked;
    dense_standout and sentence_standout: how far the best chunk, and the best single sentence,
    stand out from the rest (see standout()).
    """
    if not ranking.hits:
        return dict.fromkeys(FEATURES, 0.0)
    terms = evidence.terms
    return {
        "dense_top": float(ranking.hits[0].dense or 0.0),
        "dense_standout": standout(ranking.dense),
        "sentence_cosine": evidence.sentence_cosine,
        "sentence_standout": standout(ranking.sentences) if len(ranking.sentences) else 0.0,
        "coverage": terms.share_held(evidence.top_tokens),
        "evidence_missing": 1.0 - terms.share_held(evidence.cited_tokens) if terms.words else 0.0,
        "marked_coverage": terms.share_held(evidence.marked_tokens),
        "numbers_missing": numbers_missing(evidence.question, evidence.text),
        "ranks_agree": ranks_agree(evidence.top),
        "rarest_missing": terms.rarest_missing(evidence.cited_tokens),
        "fact_met": met(evidence.question, evidence.marked[0]) if evidence.marked else 0.0,
        "fact_unmet": unmet(evidence.question, list(evidence.marked)),
    }


@dataclass(frozen=True)
class Calibration:
    weights: tuple[float, ...]
    bias: float
    encoder: str
    fitted_on: str = ""  # which questions, for `rutinbot docs`

    def probability(self, feats: dict[str, float]) -> float:
        z = self.bias + sum(w * feats[name] for w, name in zip(self.weights, FEATURES, strict=True))
        return 1.0 / (1.0 + math.exp(-z))


# Used when no calibration exists for the encoder in use: coverage and standout alone, set by
# hand to be cautious. Run bench/calibrate.py to fit weights for a new model.
_UNCALIBRATED = Calibration(
    weights=(0.0, 20.0, 0.0, 0.0, 4.0, -4.0, 0.0, -2.0, 0.0, -2.0, 0.0, 0.0),
    bias=-3.0,
    encoder="",
    fitted_on="uncalibrated cautious defaults",
)


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
        out[encoder] = Calibration(
            tuple(entry["weights"]), float(entry["bias"]), encoder, entry.get("fitted_on", "")
        )
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
