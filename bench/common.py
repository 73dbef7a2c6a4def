"""Shared by the benches: question sets, the hit criterion, and building the system under test."""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The hit criterion lives in the core, which `rutinbot calibrate` uses too: a citation answers
# when its first 1200 characters hold >= 60% of the gold quote's words.
from bot.answer.calibration import first_hit, is_hit, quote_words  # noqa: E402, F401

DEV = ROOT.parent / "shared" / "eval" / "dev.jsonl"
HELDOUT = ROOT / "bench" / "heldout.jsonl"
KNOWLEDGE = ROOT / "knowledge"
RESULTS = ROOT / "bench" / "results"
# A second development corpus (issue 11): eight routines of a fictional municipality, copied
# from ../shared/corpus-b with its 60 questions; never part of knowledge/.
CORPUS_B = ROOT / "bench" / "corpus-b"
CORPUS_B_QUESTIONS = CORPUS_B / "questions.jsonl"
# Our own question sets, written from the documents (not from dev.jsonl): heldout2 was written
# later by someone who had not seen the system's answers, heldout3 and heldout4 by someone who
# had seen neither the system's answers nor any other question set.
HELDOUT_SETS = (HELDOUT, *(ROOT / "bench" / f"heldout{n}.jsonl" for n in (2, 3, 4)))


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


def settings(config: str | None):
    from bot.config import load

    return load(config)


def ensure_index(settings, encoder) -> None:
    """Build the index if there is none; bring a bench corpus's index up to date (incremental:
    only changed documents are read again, only new text is embedded)."""
    from bot.search import store
    from bot.search.indexer import build_index

    if store.current_dir(settings.paths.index) is None:
        print("no index: building one first", file=sys.stderr)
        build_index(settings, encoder)
    elif settings.paths.index.is_relative_to(RESULTS):
        build_index(settings, encoder)


def for_corpus(cfg, corpus: Path | None):
    """Settings pointed at another document folder, with its own cached index under
    bench/results/ (git-ignored), so benches on a second corpus never touch the main index."""
    if corpus is None:
        return cfg
    corpus = corpus.resolve()
    name = corpus.name if corpus != KNOWLEDGE else "sample"
    paths = dataclasses.replace(
        cfg.paths, knowledge=corpus, index=RESULTS / f"index-{name}", data=RESULTS / "data"
    )
    return cfg.replace(paths=paths)


def add_corpus_arguments(parser) -> None:
    parser.add_argument("--config", default=None)
    parser.add_argument(
        "--corpus",
        type=Path,
        default=None,
        help="a folder of documents to index and ask instead of the configured one "
        "(its index is cached in bench/results/index-<folder name>)",
    )


@functools.lru_cache(maxsize=8)
def _service(answerer):
    from bot.asking import AskService

    return AskService(answerer)


def asked(answerer, question: str):
    """The answer every front end gives (issue 15): the question checked, stripped of control
    characters and redacted, then answered; nothing recorded."""
    return _service(answerer).ask(question, channel="bench", asker="", record=False).answer


def system(config: str | None, corpus: Path | None = None, encoder=None):
    """The system under test as the CLI builds it: settings, the encoder, an Answerer over
    the configured index, or over `corpus` (built first if there is none)."""
    from bot.answer.core import Answerer
    from bot.search.encoders import load_encoder

    cfg = for_corpus(settings(config), corpus)
    encoder = encoder or load_encoder(cfg.encoder)
    ensure_index(cfg, encoder)
    return cfg, encoder, Answerer(cfg, encoder)
