"""Redaction bench: recall per kind of personal data, and ordinary questions changed by mistake.

Run from the repository root: `.venv/bin/python bench/redaction.py`. A personal-data item counts
as found when its text no longer appears in the redacted question. The baseline is the
personnummer-only redactor the bot had before.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.privacy import _PNR, redact  # noqa: E402

PII = ROOT / "bench" / "pii_questions.jsonl"
ORDINARY = [ROOT.parent / "shared" / "eval" / "dev.jsonl", ROOT / "bench" / "heldout.jsonl"]
KINDS = ("personnummer", "phone", "email", "address", "name")
TARGETS = {"personnummer": 1.0, "phone": 1.0, "email": 1.0, "address": 0.0, "name": 0.9}


def baseline(text: str) -> str:
    """The old redactor: personnummer only."""
    return _PNR.sub("[PERSONNUMMER]", text)


def load(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


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


def main() -> int:
    items = load(PII)
    ours, full, total, missed = recall(redact, items)
    base, _, _, _ = recall(baseline, items)
    print(f"Personal data: {len(items)} questions, {sum(total.values())} items")
    print(f"{'kind':<14}{'items':>6}{'baseline':>10}{'redact':>9}{'fully':>8}{'target':>8}")
    ok = True
    for kind in KINDS:
        n = total[kind]
        hit = ours[kind] / n if n else 1.0
        ok &= hit >= TARGETS[kind]
        target = f"{TARGETS[kind]:.0%}" if TARGETS[kind] else "-"
        line = f"{kind:<14}{n:>6}{base[kind] / n:>10.0%}{hit:>9.0%}{full[kind] / n:>8.0%}"
        print(f"{line}{target:>8}")
    for qid, kind, text, out in missed:
        print(f"  missed {qid} {kind}: {text!r}\n    {out}")

    not_idempotent = [
        i["id"] for i in items if redact(redact(i["question"])) != redact(i["question"])
    ]
    print(f"Not idempotent: {len(not_idempotent)} {not_idempotent}")

    for path in ORDINARY:
        questions = [q["question"] for q in load(path)]
        changed = [(q, redact(q)) for q in questions if redact(q) != q]
        ok &= not changed
        print(f"\n{path.name}: {len(changed)} of {len(questions)} changed (false positives)")
        for before, after in changed:
            print(f"  {before}\n  -> {after}")

    texts = [i["question"] for i in items] * 20
    start = time.perf_counter()
    for t in texts:
        redact(t)
    per = (time.perf_counter() - start) / len(texts) * 1e6
    print(f"\nSpeed: {per:.0f} µs a question")
    placeholders = Counter(
        re.findall(r"\[[A-ZÅÄÖ]+\]", " ".join(redact(t) for t in texts[: len(items)]))
    )
    print("Placeholders:", dict(placeholders))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
