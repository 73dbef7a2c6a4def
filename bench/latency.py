"""Speed: answer() latency with the model loaded, and index build time against the encoder's
own speed on the same texts.

    python bench/latency.py [--questions ../shared/eval/dev.jsonl] [--rounds 3] [--no-build]

Targets on the sample corpus (2 cores): answer() median < 50 ms, p95 < 150 ms.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from common import DEV, ensure_index, load_questions, settings


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def answer_latency(answerer, questions: list[str], rounds: int) -> list[float]:
    for q in questions[:5]:  # warm caches (tokenizer, section texts)
        answerer.answer(q)
    times = []
    for _ in range(rounds):
        for q in questions:
            started = time.perf_counter()
            answerer.answer(q)
            times.append((time.perf_counter() - started) * 1000)
    return times


def build_speed(cfg, encoder) -> None:
    from bot.config import parse
    from bot.search.indexer import build_index, sentence_texts, window_text
    from bot.search.store import read_chunks

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        shutil.copytree(cfg.paths.knowledge, base / "knowledge")
        fresh = parse({"encoder": {"num_threads": cfg.encoder.num_threads}}, base)
        report = build_index(fresh, encoder)
        chunks = read_chunks(report.folder)
        texts = [window_text(c, w) for c in chunks for w in range(len(c.windows))]
        texts += [t for c in chunks for t in sentence_texts(c)]
        unique = list(dict.fromkeys(texts))
        started = time.perf_counter()
        for i in range(0, len(unique), 16):
            encoder.passages(unique[i : i + 16])
        raw = time.perf_counter() - started
    print(
        f"index build (full, {report.documents} documents): {report.seconds:.1f} s; "
        f"{report.chunks} chunks, {report.embedded} windows and sentences embedded "
        f"({report.chunks / report.seconds:.1f} chunks/s)"
    )
    print(
        f"encoder alone on the same {len(unique)} distinct texts: {raw:.1f} s "
        f"({len(unique) / raw:.1f} texts/s); indexing beyond encoding: "
        f"{report.seconds - report.encode_seconds:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="answer() latency and indexing speed")
    parser.add_argument("--questions", type=Path, default=DEV)
    parser.add_argument("--config", default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-build", action="store_true", help="skip the index build timing")
    args = parser.parse_args()

    from bot.answer.core import Answerer
    from bot.search.encoders import load_encoder

    cfg = settings(args.config)
    started = time.perf_counter()
    encoder = load_encoder(cfg.encoder)
    load_ms = (time.perf_counter() - started) * 1000
    ensure_index(cfg, encoder)
    answerer = Answerer(cfg, encoder)
    questions = [q.question for q in load_questions(args.questions)]
    encode = []
    for q in questions:
        t = time.perf_counter()
        encoder.queries([q])
        encode.append((time.perf_counter() - t) * 1000)
    times = answer_latency(answerer, questions, args.rounds)
    print(
        f"{len(questions)} questions x {args.rounds} rounds; encoder {encoder.name} "
        f"(loaded in {load_ms:.0f} ms); {len(answerer.retriever().chunks)} chunks"
    )
    print(f"{'':24}{'median':>10}{'p95':>10}{'target':>16}")
    print(
        f"{'answer() ms':24}{statistics.median(times):10.1f}{percentile(times, 0.95):10.1f}"
        f"{'<50 / <150':>16}"
    )
    print(
        f"{'query encoding ms':24}{statistics.median(encode):10.1f}"
        f"{percentile(encode, 0.95):10.1f}{'(baseline)':>16}"
    )
    if not args.no_build:
        build_speed(cfg, encoder)


if __name__ == "__main__":
    main()
