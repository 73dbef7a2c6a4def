"""Redaction bench: recall per kind of personal data, and ordinary questions changed by mistake.

Run from the repository root: `.venv/bin/python bench/redaction.py [--set FILE ...]`. Every
personal-data set (bench/pii_*.jsonl: questions and reviewers' notes, one JSON object a line
with "question" and "pii": [{"kind", "text"}]) is measured on its own; a personal-data item
counts as found when its text no longer appears in the redacted text. The place names the
redactor knows are learnt from the documents, as in service: the sample corpus for its own
question sets, corpus B for corpus B's. The baseline is the personnummer-only redactor the bot
had first.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import CORPUS_B, CORPUS_B_QUESTIONS, DEV, HELDOUT_SETS, KNOWLEDGE  # noqa: E402
from bot.names import KnownPlaces, learn_places  # noqa: E402
from bot.privacy import redact  # noqa: E402

KINDS = ("personnummer", "samordningsnummer", "phone", "email", "address", "name")
TARGETS = {
    "personnummer": 1.0,
    "samordningsnummer": 1.0,
    "phone": 1.0,
    "email": 1.0,
    "address": 0.95,
    "name": 0.9,
}


# The first redactor's pattern, kept here as the baseline: personnummer only.
_FIRST_PNR = re.compile(
    r"(?<!\d)(?:(?:18|19|20)?\d{2})(?:0[1-9]|1[0-2])"
    r"(?:0[1-9]|[12]\d|3[01]|6[1-9]|[78]\d|9[01])(?:\s?[-+–]\s?|\s)?\d{4}(?!\d)"
)


def baseline(text: str) -> str:
    """The first redactor: personnummer only."""
    return _FIRST_PNR.sub("[PERSONNUMMER]", text)


def load(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def document_places(folder: Path) -> KnownPlaces:
    """What the redactor learns from a folder of documents (their text, as the index holds it)."""
    from bot.ingest.readers import SUPPORTED, read_document

    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUPPORTED)
    return learn_places(block.text for p in paths for block in read_document(p).blocks)


def leaks(pii: str, out: str) -> list[str]:
    """Words or digit groups of a personal-data item still standing in the redacted text."""
    words = set(re.findall(r"\w+", out.lower()))
    return [w for w in re.findall(r"\w+", pii.lower()) if len(w) > 1 and w in words]


def recall(redactor, items: list[dict]):
    """Per kind: items found (text gone), items fully gone (no word left), totals, misses."""
    found, full, total, missed = Counter(), Counter(), Counter(), []
    for item in items:
        out = redactor(item["question"])
        for pii in item["pii"]:
            total[pii["kind"]] += 1
            if pii["text"] in out:
                missed.append((item["id"], pii["kind"], pii["text"], out))
            else:
                found[pii["kind"]] += 1
                if leaks(pii["text"], out):
                    missed.append((item["id"], pii["kind"], pii["text"] + " (partly)", out))
                else:
                    full[pii["kind"]] += 1
    return found, full, total, missed


def measure(path: Path, places: KnownPlaces) -> bool:
    """Print one set's recall per kind and its misses; whether every target is met."""
    items = load(path)

    def ours(text: str) -> str:
        return redact(text, places)

    found, full, total, missed = recall(ours, items)
    base, _, _, _ = recall(baseline, items)
    print(f"\n{path.name}: {len(items)} texts, {sum(total.values())} personal-data items")
    print(f"{'kind':<18}{'items':>6}{'baseline':>10}{'redact':>9}{'fully':>8}{'target':>8}")
    ok = True
    for kind in (*KINDS, *sorted(set(total) - set(KINDS))):  # a kind without a target fails
        n = total[kind]
        if not n:
            continue
        hit = found[kind] / n if n else 1.0
        target = TARGETS.get(kind, 1.0)
        ok &= hit >= target
        line = f"{kind:<18}{n:>6}{base[kind] / max(n, 1):>10.0%}{hit:>9.0%}"
        print(f"{line}{full[kind] / max(n, 1):>8.0%}{target:>8.0%}")
    for qid, kind, text, out in missed:
        print(f"  missed {qid} {kind}: {text!r}\n    {out}")
    twice = [i["id"] for i in items if ours(ours(i["question"])) != ours(i["question"])]
    print(f"Not idempotent: {len(twice)} {twice}")
    return ok and not twice


def false_positives(path: Path, places: KnownPlaces) -> bool:
    """Print the ordinary questions redaction changes; whether there are none."""
    questions = [q["question"] for q in load(path)]
    changed = [(q, redact(q, places)) for q in questions if redact(q, places) != q]
    print(f"{path.name}: {len(changed)} of {len(questions)} changed (false positives)")
    for before, after in changed:
        print(f"  {before}\n  -> {after}")
    return not changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--set", action="append", type=Path, help="a personal-data set (default: every pii_*)"
    )
    args = parser.parse_args()
    sets = args.set or sorted((ROOT / "bench").glob("pii_*.jsonl"))
    sample = document_places(KNOWLEDGE)
    print(
        f"Learnt from the sample corpus: {len(sample.words)} words, {len(sample.phrases)} phrases"
    )
    ok = all([measure(path, sample) for path in sets])

    print()
    ok &= all([false_positives(path, sample) for path in (DEV, *HELDOUT_SETS)])
    if CORPUS_B_QUESTIONS.is_file():
        ok &= false_positives(CORPUS_B_QUESTIONS, document_places(CORPUS_B))

    texts = [i["question"] for path in sets for i in load(path)] * 10
    start = time.perf_counter()
    for t in texts:
        redact(t, sample)
    print(f"\nSpeed: {(time.perf_counter() - start) / len(texts) * 1e6:.0f} µs a text")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
