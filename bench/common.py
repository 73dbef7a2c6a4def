"""Shared by the benches: question sets, the hit criterion, and building the system under test."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEV = ROOT.parent / "shared" / "eval" / "dev.jsonl"
HELDOUT = ROOT / "bench" / "heldout.jsonl"
# Our own question sets, written from the documents (not from dev.jsonl): heldout2 was written
# later by someone who had not seen the system's answers, heldout3 and heldout4 by someone who
# had seen neither the system's answers nor any other question set.
HELDOUT_SETS = (HELDOUT, *(ROOT / "bench" / f"heldout{n}.jsonl" for n in (2, 3, 4)))
HIT_CHARS = 1200
HIT_SHARE = 0.6


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answerable: bool
    doc: str | None
    quote: str | None
    style: str


def load_questions(path: Path) -> list[Question]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                d = json.loads(line)
                out.append(
                    Question(
                        d["id"],
                        d["question"],
                        bool(d["answerable"]),
                        d.get("doc"),
                        d.get("quote"),
                        d.get("style", ""),
                    )
                )
    return out


def _words(text: str) -> set[str]:
    text = re.sub(r"(\w)-\s+(\w)", r"\1\2", text.lower())  # join line-break hyphens
    return set(re.findall(r"\w+", text))


def is_hit(citation_text: str, quote: str) -> bool:
    """A citation answers when its first 1200 characters hold >= 60% of the quote's words."""
    gold = _words(quote)
    if not gold:
        return False
    return len(gold & _words(citation_text[:HIT_CHARS])) / len(gold) >= HIT_SHARE


def first_hit(texts: list[str], quote: str | None) -> int | None:
    """1-based rank of the first citation that is a hit, or None."""
    if not quote:
        return None
    for rank, text in enumerate(texts, start=1):
        if is_hit(text, quote):
            return rank
    return None


def settings(config: str | None):
    from bot.config import load

    return load(config)


def ensure_index(settings, encoder) -> None:
    from bot.search import store
    from bot.search.indexer import build_index

    if store.current_dir(settings.paths.index) is None:
        print("no index: building one first", file=sys.stderr)
        build_index(settings, encoder)


def system(config: str | None):
    """The system under test as the CLI builds it: settings, the encoder, an Answerer over
    the configured index (built first if there is none)."""
    from bot.answer.core import Answerer
    from bot.search.encoders import load_encoder

    cfg = settings(config)
    encoder = load_encoder(cfg.encoder)
    ensure_index(cfg, encoder)
    return cfg, encoder, Answerer(cfg, encoder)
