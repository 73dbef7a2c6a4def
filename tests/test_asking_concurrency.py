"""Two processes record and group gaps at once (SQLite and PostgreSQL): every gap ends up in
exactly one theme, and no topic gets two themes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import test_gaps_store as store_tests

from bot.gaps import merging
from bot.gaps.merging import question_vectors
from bot.gaps.store import SqlRecorder
from bot.gaps.themes import assign_themes

pg_database = store_tests.pg_database
db_url = store_tests.db_url
recorder = store_tests.recorder
ROOT = Path(__file__).resolve().parent.parent

TOPICS = [
    "hur ansöker man om färdtjänst",
    "vem beslutar om färdtjänst för barn",
    "hur rapporterar jag lex sarah",
    "vem ska lex sarah rapport skickas till",
    "vad kostar trygghetslarm per månad",
    "vilken avgift gäller för trygghetslarm",
]

# One process: open the store, wait for the other at a barrier file, then record every topic
# as an unanswered question and group after each, as the ask service's background job does.
WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from bot.gaps.store import SqlRecorder
    from bot.gaps.themes import assign_themes
    from bot.models import Answer
    from bot.search.encoders import load_encoder
    from bot.config import parse

    url, start, name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    topics = sys.argv[4:]
    encoder = load_encoder(parse({"encoder": {"num_threads": 1}}, Path(".")).encoder)
    store = SqlRecorder(url)
    (start.parent / name).touch()
    while not start.exists():
        time.sleep(0.01)
    for topic in topics:
        store.record_question(name, name, topic, Answer(topic, False, 0.1, (), "idx"))
        assign_themes(store, encoder)
    store.close()
    """
)


def test_two_processes_grouping_at_once_make_each_theme_once(db_url, tmp_path, monkeypatch):
    SqlRecorder(db_url).close()  # migrated once, before the race
    start = tmp_path / "go"
    env = {**os.environ, "RUTINBOT_HASH_KEY": "test-key", "OMP_NUM_THREADS": "1"}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, db_url, str(start), name, *TOPICS],
            cwd=ROOT,
            env=env,
        )
        for name in ("first", "second")
    ]
    while not all((tmp_path / n).exists() for n in ("first", "second")):
        assert all(w.poll() is None for w in workers), "a worker failed to start"
    start.touch()
    assert [w.wait(timeout=300) for w in workers] == [0, 0]

    monkeypatch.setenv("RUTINBOT_HASH_KEY", "test-key")
    with SqlRecorder(db_url) as store:
        gaps = store.gaps()
        assert len(gaps) == 2 * len(TOPICS) and all(g.theme_id is not None for g in gaps)
        theme_of = {}
        for g in gaps:
            theme_of.setdefault(g.question, set()).add(g.theme_id)
        # The same question asked in both processes is in one theme, not one per process.
        assert all(len(ids) == 1 for ids in theme_of.values()), theme_of
        assert len(store.themes()) == len({next(iter(ids)) for ids in theme_of.values()})


def test_vectors_are_stored_once_and_remade_for_another_encoder(recorder, encoder):
    ids = [recorder.record_question("t", "1", q, store_tests.UNANSWERED) for q in TOPICS[:3]]
    assign_themes(recorder, encoder)
    gaps = recorder.gaps()
    stored = recorder.question_vectors(ids, encoder.name)
    assert set(stored) == set(ids)
    fresh = encoder.queries([g.question for g in gaps])
    assert np.allclose(question_vectors(recorder, encoder, gaps), fresh, atol=1e-5)

    class Other:
        name = "another-encoder"
        calls = 0

        def queries(self, texts):
            Other.calls += 1
            return np.ones((len(texts), 4), dtype=np.float32)

    assert recorder.question_vectors(ids, Other.name) == {}
    assert question_vectors(recorder, Other(), gaps).shape == (3, 4)
    question_vectors(recorder, Other(), gaps)
    assert Other.calls == 1  # the second time, read back


def test_a_grouping_run_encodes_only_the_new_questions_whole_text(recorder, encoder, monkeypatch):
    """Grouping uses the stored whole-question vectors: a later run, even after a restart (the
    in-memory vectors gone), encodes the new question's text once and no earlier question's
    text again, and scores pairs as freshly encoded vectors would."""

    seen: list[str] = []

    class Counting:
        name = encoder.name

        def queries(self, texts):
            seen.extend(texts)
            return encoder.queries(texts)

    first = [recorder.record_question("t", "1", q, store_tests.UNANSWERED) for q in TOPICS[:3]]
    assign_themes(recorder, Counting())
    assert set(recorder.question_vectors(first, encoder.name)) == set(first)
    seen.clear()
    monkeypatch.setattr(merging, "_CACHE", merging._VectorCache())  # a restart
    recorder.record_question("t", "1", TOPICS[3], store_tests.UNANSWERED)
    assign_themes(recorder, Counting())
    assert seen.count(TOPICS[3]) == 1
    assert not set(TOPICS[:3]) & set(seen)
    gaps = recorder.gaps()
    assert all(g.theme_id is not None for g in gaps)
    stored = merging.question_vectors(recorder, encoder, gaps)
    assert np.allclose(
        merging.merge_scores(encoder, gaps, whole=stored), merging.merge_scores(encoder, gaps)
    )
