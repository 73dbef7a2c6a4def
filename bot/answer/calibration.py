"""A deployment's own calibration: check the shipped one on labelled questions, adjust it."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.answer import confidence
from bot.errors import ConfigError

log = logging.getLogger(__name__)
# Beside the index folders (embeddings/): a reindex replaces folders, never this file.
DEPLOYMENT_FILE = "calibration.json"
MIN_FOR_THRESHOLD = 30  # labelled questions needed to set the threshold
MIN_FOR_REFIT = 150  # ... and to refit the weights
MAX_BAD = 0.10  # the rule: at most this share of all questions answered without a hit
L2 = 1.0  # ridge penalty on standardised features
THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.01), 2)
HIT_CHARS = 1200
HIT_SHARE = 0.6


@dataclass(frozen=True)
class LabelledQuestion:
    """One line of a questions file (the dev.jsonl format)."""

    question: str
    answerable: bool
    quote: str | None


def quote_words(text: str) -> set[str]:
    text = re.sub(r"(\w)-\s+(\w)", r"\1\2", text.lower())  # join line-break hyphens
    return set(re.findall(r"\w+", text))


def is_hit(citation_text: str, quote: str) -> bool:
    """A citation answers when its first 1200 characters hold >= 60% of the quote's words."""
    gold = quote_words(quote)
    if not gold:
        return False
    return len(gold & quote_words(citation_text[:HIT_CHARS])) / len(gold) >= HIT_SHARE


def first_hit(texts: Sequence[str], quote: str | None) -> int | None:
    """1-based rank of the first citation that is a hit, or None."""
    if not quote:
        return None
    for rank, text in enumerate(texts, start=1):
        if is_hit(text, quote):
            return rank
    return None


def read_questions(path: Path) -> list[LabelledQuestion]:
    """Labelled questions, one JSON object a line: question, answerable and, when answerable,
    quote (a sentence or two the answer must cite). ConfigError names the first bad line."""
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read {path}: {err}") from err
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            question, answerable, quote = d["question"], d["answerable"], d.get("quote")
            if not isinstance(question, str) or not isinstance(answerable, bool):
                raise TypeError("question must be text and answerable true or false")
            if answerable and not (isinstance(quote, str) and quote.strip()):
                raise TypeError("an answerable question needs its quote")
        except (ValueError, KeyError, TypeError) as err:
            raise ConfigError(f"{path} line {number}: not a labelled question ({err})") from None
        out.append(LabelledQuestion(question, answerable, quote if answerable else None))
    return out


def fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Logistic regression by Newton's method with an L2 penalty on standardised features;
    the standardisation is folded back into the returned weights and bias."""
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    xs = np.hstack([(x - mean) / std, np.ones((len(x), 1))])
    w = np.zeros(xs.shape[1])
    reg = np.eye(xs.shape[1]) * L2
    reg[-1, -1] = 0.0  # the bias is not penalised
    for _ in range(50):
        p = 1 / (1 + np.exp(-xs @ w))
        grad = xs.T @ (p - y) + reg @ w
        hess = (xs * (p * (1 - p))[:, None]).T @ xs + reg
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    weights, bias = w[:-1], float(w[-1])
    return weights / std, bias - float((weights * mean / std).sum())


def probability(x: np.ndarray, weights: np.ndarray, bias: float) -> np.ndarray:
    return 1 / (1 + np.exp(-(x @ weights + bias)))


@dataclass(frozen=True)
class Outcome:
    """Counts at one threshold: answerable answered correctly, wrongly, refused; unanswerable
    refused, and how many of each kind there were."""

    correct: int
    wrong: int
    refused: int
    unanswerable_refused: int
    answerable: int
    unanswerable: int

    @property
    def wrong_share(self) -> float:
        return self.wrong / max(self.answerable, 1)

    def describe(self) -> str:
        a, u = max(self.answerable, 1), max(self.unanswerable, 1)
        return (
            f"answered correctly {self.correct}/{self.answerable} ({self.correct / a:.0%}), "
            f"wrongly {self.wrong} ({self.wrong / a:.0%}), refused {self.refused} "
            f"({self.refused / a:.0%}); unanswerable refused "
            f"{self.unanswerable_refused}/{self.unanswerable} ({self.unanswerable_refused / u:.0%})"
        )


def outcome(p: np.ndarray, y: np.ndarray, answerable: np.ndarray, t: float) -> Outcome:
    answered = p >= t
    correct = int((answered & (y == 1) & answerable).sum())
    wrong = int((answered & (y == 0) & answerable).sum())
    n = int(answerable.sum())
    refused_u = int((~answered & ~answerable).sum())
    return Outcome(correct, wrong, n - correct - wrong, refused_u, n, len(y) - n)


def choose_threshold(p: np.ndarray, y: np.ndarray, answerable: np.ndarray) -> float:
    """The rule: the lowest threshold (so the most answered) at which at most MAX_BAD of all the
    questions are answered without a passage that answers them (an answerable question cited
    wrongly, or an unanswerable one answered)."""
    for t in THRESHOLDS:
        answered = p >= t
        bad = (answered & (y == 0)).sum() / max(len(y), 1)
        if bad <= MAX_BAD:
            return float(t)
    return float(THRESHOLDS[-1])


@dataclass(frozen=True)
class Deployment:
    """The file `rutinbot calibrate --write` leaves beside the index folders."""

    encoder: str
    features: tuple[str, ...]
    threshold: float
    questions: int
    rule: str
    written_at: str
    weights: tuple[float, ...] | None = None  # refitted (from MIN_FOR_REFIT questions) or None
    bias: float | None = None

    def describe(self) -> str:
        what = "threshold and weights" if self.weights else "threshold"
        return (
            f"deployment calibration ({what} from {self.questions} labelled questions, "
            f"{self.written_at[:10]}): min_confidence {self.threshold:.2f}"
        )


def deployment_path(index_root: Path) -> Path:
    return index_root / DEPLOYMENT_FILE


def load_deployment(index_root: Path, encoder: str) -> Deployment | None:
    """The deployment's calibration, when there is one for this encoder and these features."""
    path = deployment_path(index_root)
    if not path.is_file():
        return None
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        found = Deployment(
            encoder=d["encoder"],
            features=tuple(d["features"]),
            threshold=float(d["threshold"]),
            questions=int(d["questions"]),
            rule=str(d["rule"]),
            written_at=str(d["written_at"]),
            weights=tuple(map(float, d["weights"])) if d.get("weights") else None,
            bias=float(d["bias"]) if d.get("bias") is not None else None,
        )
    except (OSError, ValueError, KeyError, TypeError) as err:
        log.warning("ignored %s: %s", path, err)
        return None
    if found.encoder != encoder or list(found.features) != list(confidence.FEATURES):
        log.warning("ignored %s: made for another encoder or other features", path)
        return None
    return found


def save_deployment(index_root: Path, deployment: Deployment) -> Path:
    path = deployment_path(index_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "encoder": deployment.encoder,
        "features": list(deployment.features),
        "threshold": deployment.threshold,
        "questions": deployment.questions,
        "rule": deployment.rule,
        "written_at": deployment.written_at,
        "weights": [round(w, 4) for w in deployment.weights] if deployment.weights else None,
        "bias": round(deployment.bias, 4) if deployment.bias is not None else None,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)  # never a half-written file for a starting bot to read
    return path


@dataclass(frozen=True)
class InUse:
    """The calibration an Answerer uses, and what `rutinbot docs` and /om say about it."""

    model: confidence.Calibration
    threshold: float
    description: str
    sv: str  # the same in a few Swedish words, for /om


def in_use(index_root: Path, encoder: str, configured_threshold: float) -> InUse:
    """The deployment's calibration when there is one, else the shipped one."""
    shipped = confidence.calibration_for(encoder)
    found = load_deployment(index_root, encoder)
    if found is None:
        return InUse(
            shipped,
            configured_threshold,
            f"shipped calibration ({shipped.fitted_on}): min_confidence "
            f"{configured_threshold:.2f} from the config",
            f"medföljande kalibrering (tröskel {configured_threshold:.2f})",
        )
    model = shipped
    if found.weights is not None and found.bias is not None:
        model = confidence.Calibration(found.weights, found.bias, encoder, "deployment")
    sv = (
        f"egen kalibrering från {found.questions} bedömda frågor {found.written_at[:10]} "
        f"(tröskel {found.threshold:.2f})"
    )
    return InUse(model, found.threshold, found.describe(), sv)


@dataclass(frozen=True)
class Report:
    """What `rutinbot calibrate` prints: the shipped model on the deployment's questions at the
    threshold in use, and, fold by fold, the threshold (and refit) the rule would choose."""

    questions: int
    answerable: int
    current: Outcome  # the calibration in use, as it is: it was not fitted on these questions
    current_threshold: float
    folds: int
    cross_validated: Outcome | None  # thresholds (and weights) chosen on the other folds
    refit_cross_validated: Outcome | None
    threshold: float | None  # the rule on all questions (what --write would write)
    weights: tuple[float, ...] | None
    bias: float | None


def labelled_features(answerer, questions: Sequence[LabelledQuestion]) -> tuple:
    """Features and labels (1: answerable and a gold passage in the first three citations)."""
    rows, labels, kinds = [], [], []
    for q in questions:
        found = answerer.search(answerer.check_question(q.question), 3)
        rank = first_hit([c.text for c in found.citations], q.quote) if q.answerable else None
        rows.append([found.features[f] for f in confidence.FEATURES])
        labels.append(1.0 if rank is not None else 0.0)
        kinds.append(q.answerable)
    return np.array(rows, dtype=float), np.array(labels), np.array(kinds, dtype=bool)


def evaluate(answerer, questions: Sequence[LabelledQuestion], folds: int = 5) -> Report:
    """Check the calibration in use on labelled questions, never in-sample: the thresholds (and,
    from MIN_FOR_REFIT questions, the weights) the rule would choose are judged by k-fold
    cross-validation, each fold scored by what the other folds chose."""
    x, y, kinds = labelled_features(answerer, questions)
    model = answerer.calibration
    p_now = np.array([model.probability(dict(zip(confidence.FEATURES, r, strict=True))) for r in x])
    current = outcome(p_now, y, kinds, answerer.threshold)
    n = len(y)
    cv = refit_cv = None
    threshold = weights = bias = None
    folds = max(2, min(folds, n // 10 or 2))
    if n >= MIN_FOR_THRESHOLD:
        order = np.random.default_rng(0).permutation(n)  # fixed: the same report every run
        parts = np.array_split(order, folds)
        answered = np.zeros(n, dtype=bool)
        answered_refit = np.zeros(n, dtype=bool)
        for part in parts:
            rest = np.setdiff1d(order, part)
            t = choose_threshold(p_now[rest], y[rest], kinds[rest])
            answered[part] = p_now[part] >= t
            if n >= MIN_FOR_REFIT:
                w, b = fit(x[rest], y[rest])
                t_refit = choose_threshold(probability(x[rest], w, b), y[rest], kinds[rest])
                answered_refit[part] = probability(x[part], w, b) >= t_refit
        cv = outcome(answered.astype(float), y, kinds, 0.5)
        threshold = choose_threshold(p_now, y, kinds)
        if n >= MIN_FOR_REFIT:
            refit_cv = outcome(answered_refit.astype(float), y, kinds, 0.5)
            w, b = fit(x, y)
            weights, bias = tuple(float(v) for v in w), b
            threshold = choose_threshold(probability(x, w, b), y, kinds)
    return Report(
        n,
        int(kinds.sum()),
        current,
        answerer.threshold,
        folds,
        cv,
        refit_cv,
        threshold,
        weights,
        bias,
    )


def deployment_from(report: Report, encoder: str) -> Deployment:
    """What --write saves; ConfigError when there are too few questions to set anything."""
    if report.threshold is None:
        raise ConfigError(
            f"{report.questions} labelled questions; at least {MIN_FOR_THRESHOLD} are needed to "
            f"set the threshold (and {MIN_FOR_REFIT} to refit the model)"
        )
    return Deployment(
        encoder=encoder,
        features=confidence.FEATURES,
        threshold=report.threshold,
        questions=report.questions,
        rule=f"the lowest threshold at which at most {MAX_BAD:.0%} of the questions are "
        "answered without a passage that answers them",
        written_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        weights=report.weights,
        bias=report.bias,
    )


def report_lines(report: Report) -> list[str]:
    """The report in plain English lines, for the CLI."""
    lines = [
        f"{report.questions} labelled questions ({report.answerable} answerable).",
        f"In use, at min_confidence {report.current_threshold:.2f}: {report.current.describe()}",
    ]
    if report.cross_validated is None:
        lines.append(
            f"At least {MIN_FOR_THRESHOLD} labelled questions are needed to check or set the "
            f"threshold ({MIN_FOR_REFIT} to refit the model)."
        )
        return lines
    lines.append(
        f"Threshold by the rule, {report.folds}-fold cross-validated: "
        f"{report.cross_validated.describe()}"
    )
    if report.refit_cross_validated is not None:
        lines.append(
            f"Refitted model and threshold, {report.folds}-fold cross-validated: "
            f"{report.refit_cross_validated.describe()}"
        )
    what = "threshold and refitted weights" if report.weights else "threshold"
    lines.append(f"--write would set the {what}: min_confidence {report.threshold:.2f}.")
    return lines
