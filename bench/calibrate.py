"""Fit the abstention model: a logistic regression from retrieval features to "the top three
citations hold the answer", on labelled question sets (dev.jsonl and our own bench/heldout*.jsonl).

    python bench/calibrate.py            # fit on all sets but one, check on that one (for each),
                                         # then fit on all and save
    python bench/calibrate.py --dry-run  # only print

Writes bot/answer/calibration.json for the configured encoder. Labels: 1 when the question is
answerable and a gold passage is among the first three citations, else 0 (an answerable
question we would cite wrongly should be refused too).
"""

from __future__ import annotations

import argparse

import numpy as np
from common import DEV, HELDOUT_SETS, first_hit, load_questions, system

L2 = 1.0  # ridge penalty: a handful of features, a hundred or two examples


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


def report(name: str, x, y, kinds, w, b) -> None:
    p = 1 / (1 + np.exp(-(x @ w + b)))
    print(f"  {name}: threshold  ans.correct  ans.wrong  unans.refused")
    for t in (0.3, 0.4, 0.5, 0.6, 0.7):
        answered = p >= t
        correct = (answered & (y == 1) & kinds).sum() / max(kinds.sum(), 1)
        wrong = (answered & (y == 0) & kinds).sum() / max(kinds.sum(), 1)
        refused = (~answered & ~kinds).sum() / max((~kinds).sum(), 1)
        print(f"  {'':{len(name)}}  {t:9.1f}  {correct:11.3f}  {wrong:9.3f}  {refused:13.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description="fit the abstention model")
    parser.add_argument("--config", default=None)
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()

    from bot.answer.confidence import FEATURES, save_calibration

    _, encoder, answerer = system(args.config)
    sets = {p.name: collect(answerer, p) for p in (DEV, *HELDOUT_SETS) if p.is_file()}
    names = list(sets)
    for test in names if len(names) > 1 else ():
        train = [n for n in names if n != test]
        w, b = fit(*_stack(sets, train))
        print(f"fitted on {' + '.join(train)}, checked on {test}:")
        report(test, *sets[test], w, b)
    x, y = _stack(sets, names)
    w, b = fit(x, y)
    print("fitted on all:", dict(zip(FEATURES, np.round(w, 3), strict=True)), "bias", round(b, 3))
    for name, s in sets.items():
        report(name, *s, w, b)
    if not args.dry_run:
        save_calibration(encoder.name, list(w), b, f"{' + '.join(names)} ({len(y)} questions)")
        print("saved to bot/answer/calibration.json")


if __name__ == "__main__":
    main()
