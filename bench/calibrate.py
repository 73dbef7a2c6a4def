"""Fit the abstention model: a logistic regression from retrieval features to "the top three
citations hold the answer", on labelled question sets (dev.jsonl and our own bench/heldout*.jsonl).

    python bench/calibrate.py            # fit on all sets but one, check on that one (for each),
                                         # then fit on all and save
    python bench/calibrate.py --dry-run  # only print

It also proposes `[answer] min_confidence`, against the targets of the quality bench (answer at
least 80% of answerable questions correctly and at most 10% wrongly, refuse at least 60% of
unanswerable ones): the highest threshold at which the dev set, the one the targets are set on,
meets all three, so refusing as much as the targets allow ("a wrong confident answer is worse
than none"); when no threshold does, the one at which the out-of-sample probabilities of all
sets together (each set scored by the model fitted on the others) answer the most correctly
within the wrong and refused targets. The out-of-sample figures at the proposed threshold are
printed too: they, not the dev set's, say what to expect of questions nobody has seen.

Writes bot/answer/calibration.json for the configured encoder. Labels: 1 when the question is
answerable and a gold passage is among the first three citations, else 0 (an answerable
question we would cite wrongly should be refused too).
"""

from __future__ import annotations

import argparse

import numpy as np
from common import DEV, HELDOUT_SETS, first_hit, load_questions, system

L2 = 1.0  # ridge penalty: a handful of features, a hundred or two examples
MIN_CORRECT = 0.80  # answerable questions answered with the gold passage in the top 3
MAX_WRONG = 0.10  # answerable questions answered without it
MIN_REFUSED = 0.60  # unanswerable questions refused
THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.01), 2)


def fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Logistic regression by Newton's method with an L2 penalty on standardised features;
    the standardisation is folded back into the returned weights and bias."""
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    w, b = _fit_standardised((x - mean) / std, y)
    return w / std, b - float((w * mean / std).sum())


def _fit_standardised(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    reg = np.eye(xb.shape[1]) * L2
    reg[-1, -1] = 0.0  # the bias is not penalised
    for _ in range(50):
        p = 1 / (1 + np.exp(-xb @ w))
        grad = xb.T @ (p - y) + reg @ w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + reg
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def _stack(sets: dict, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    return np.vstack([sets[n][0] for n in names]), np.concatenate([sets[n][1] for n in names])


def collect(answerer, path):
    from bot.answer.confidence import FEATURES

    rows, labels, kinds = [], [], []
    for q in load_questions(path):
        text = answerer.check_question(q.question)
        found = answerer.search(text, 3)
        feats = found.features
        texts = [c.text for c in found.citations]
        rank = first_hit(texts, q.quote) if q.answerable else None
        rows.append([feats[f] for f in FEATURES])
        labels.append(1.0 if rank is not None else 0.0)
        kinds.append(q.answerable)
    return np.array(rows), np.array(labels), np.array(kinds)


def probability(x: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    return 1 / (1 + np.exp(-(x @ w + b)))


def outcomes(p, y, kinds, t: float) -> tuple[float, float, float]:
    """Answered correctly and answered wrongly (shares of answerable questions), and refused
    (share of unanswerable ones), when questions with probability >= t are answered."""
    answered = p >= t
    correct = (answered & (y == 1) & kinds).sum() / max(kinds.sum(), 1)
    wrong = (answered & (y == 0) & kinds).sum() / max(kinds.sum(), 1)
    refused = (~answered & ~kinds).sum() / max((~kinds).sum(), 1)
    return float(correct), float(wrong), float(refused)


def report(name: str, p, y, kinds, thresholds=(0.3, 0.4, 0.5, 0.6, 0.7)) -> None:
    print(f"  {name}: threshold  ans.correct  ans.wrong  unans.refused")
    for t in thresholds:
        correct, wrong, refused = outcomes(p, y, kinds, t)
        print(f"  {'':{len(name)}}  {t:9.2f}  {correct:11.3f}  {wrong:9.3f}  {refused:13.3f}")


def highest_meeting_targets(p, y, kinds) -> float | None:
    """The highest threshold (to 0.01) at which all three targets hold."""
    meeting = [
        float(t)
        for t in THRESHOLDS
        if (o := outcomes(p, y, kinds, t))[0] >= MIN_CORRECT
        and o[1] <= MAX_WRONG
        and o[2] >= MIN_REFUSED
    ]
    return max(meeting) if meeting else None


def most_correct_within_limits(p, y, kinds) -> float | None:
    """The threshold (to 0.01) answering the most correctly within the wrong and refused
    targets."""
    best = None
    for t in THRESHOLDS:
        correct, wrong, refused = outcomes(p, y, kinds, t)
        if wrong <= MAX_WRONG and refused >= MIN_REFUSED and (best is None or correct > best[0]):
            best = (correct, float(t))
    return best and best[1]


def main() -> None:
    parser = argparse.ArgumentParser(description="fit the abstention model")
    parser.add_argument("--config", default=None)
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()

    from bot.answer.confidence import FEATURES, save_calibration

    _, encoder, answerer = system(args.config)
    sets = {p.name: collect(answerer, p) for p in (DEV, *HELDOUT_SETS) if p.is_file()}
    names = list(sets)
    held_out = []  # (probabilities, labels, kinds) of each set under the model fitted on the rest
    for test in names if len(names) > 1 else ():
        train = [n for n in names if n != test]
        w, b = fit(*_stack(sets, train))
        x, y, kinds = sets[test]
        held_out.append((probability(x, w, b), y, kinds))
        print(f"fitted on {' + '.join(train)}, checked on {test}:")
        report(test, *held_out[-1])
    x, y = _stack(sets, names)
    w, b = fit(x, y)
    print("fitted on all:", dict(zip(FEATURES, np.round(w, 3), strict=True)), "bias", round(b, 3))
    for name, (xs, ys, kinds) in sets.items():
        report(name, probability(xs, w, b), ys, kinds)
    t = highest_meeting_targets(probability(sets[DEV.name][0], w, b), *sets[DEV.name][1:])
    rule = "the highest at which the dev set meets the targets"
    if held_out:
        pooled = [np.concatenate(parts) for parts in zip(*held_out, strict=True)]
        print("all sets, each checked by the model fitted on the others:")
        report("pooled", *pooled, thresholds=np.round(np.arange(0.35, 0.56, 0.02), 2))
        if t is None:
            t = most_correct_within_limits(*pooled)
            rule = "the most correct within the limits, out of sample"
    if t is None:
        print("no threshold meets the targets")
    else:
        print(f"proposed [answer] min_confidence = {t} ({rule})")
        if held_out:
            correct, wrong, refused = outcomes(*pooled, t)
            print(
                f"  out of sample at {t}: {correct:.3f} answered correctly, {wrong:.3f} wrongly, "
                f"{refused:.3f} of the unanswerable refused"
            )
    if not args.dry_run:
        save_calibration(encoder.name, list(w), b, f"{' + '.join(names)} ({len(y)} questions)")
        print("saved to bot/answer/calibration.json")


if __name__ == "__main__":
    main()
