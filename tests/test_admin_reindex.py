"""Reindexing while serving: questions asked all through two reindexes (one adding a document,
one removing another), each run in its own process as the web page and Telegram start it,
are every one answered, from the old index or a newer one, never failing."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import write_small_corpus
from test_cli import write_config

from bot.admin.documents import AdminService
from bot.admin.model import Actor, JobState, ReindexStatus
from bot.answer.core import Answerer
from bot.asking import AskService
from bot.config import load
from bot.search.indexer import build_index

ADMIN = Actor("web", "anna")
NEW_DOC = "nyckelrutin.txt"
NEW_FACT = (
    "Nyckelrutin för nattpersonal\n\n"
    "Nyckelskåpet i personalrummet öppnas med kod 4711. Nattpersonalen kvitterar nycklarna "
    "i den gröna pärmen och lämnar tillbaka dem till morgonpersonalen klockan sju.\n"
)
KEY_QUESTION = "Vilken kod öppnar nyckelskåpet i personalrummet?"
REMOVED_DOC = "anhorigstod.txt"
REMOVED_QUESTION = "Vad gör ett anhörigombud på enheten?"
KEPT_QUESTION = "Vem ska medarbetare rapportera missförhållanden till?"
RUN_SECONDS = 240


def _wait_done(service: AdminService, timeout: float = RUN_SECONDS) -> ReindexStatus:
    deadline = time.monotonic() + timeout
    status = service.status()
    while status.state is JobState.RUNNING and time.monotonic() < deadline:
        time.sleep(0.2)
        status = service.status()
    assert status.state is JobState.DONE, status
    return status


@pytest.fixture
def served(tmp_path, encoder):
    knowledge = write_small_corpus(tmp_path / "knowledge")
    settings = load(write_config(tmp_path, knowledge, tmp_path / "embeddings"))
    build_index(settings, encoder)
    return settings, AskService(Answerer(settings, encoder))


def test_every_question_is_answered_through_two_reindexes(served):
    settings, asking = served
    service = AdminService(settings)
    first = asking.answerer.retriever().folder.name
    answers: list[tuple[str, str, frozenset[str]]] = []  # (question, index, cited documents)
    errors: list[BaseException] = []
    stop = threading.Event()
    lock = threading.Lock()

    def ask_all_the_time(question: str) -> None:
        while not stop.is_set():
            try:
                answer = asking.ask(question, channel="web", asker="t", record=False).answer
            except BaseException as err:  # the test is that nothing at all escapes
                errors.append(err)
                return
            with lock:
                cited = frozenset(c.document for c in answer.citations)
                answers.append((question, answer.index_id, cited))

    threads = [
        threading.Thread(target=ask_all_the_time, args=(q,), daemon=True)
        for q in (KEY_QUESTION, REMOVED_QUESTION, KEPT_QUESTION)
    ]
    for thread in threads:
        thread.start()
    try:
        service.add(ADMIN, NEW_DOC, NEW_FACT.encode("utf-8"))
        service.reindex(ADMIN)
        added = _wait_done(service)
        service.remove(ADMIN, REMOVED_DOC)
        service.reindex(ADMIN)
        removed = _wait_done(service)
        # keep asking until every thread has been answered from the newest index
        deadline = time.monotonic() + 60
        newest = asking.answerer.retriever().folder.name
        while time.monotonic() < deadline and not errors:
            with lock:
                seen = {q for q, index, _ in answers if index == newest}
            if len(seen) == 3:
                break
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

    assert errors == []
    assert added.summary is not None and added.summary.added == (NEW_DOC,)
    assert removed.summary is not None and removed.summary.removed == (REMOVED_DOC,)
    indexes = [index for _, index, _ in answers]
    assert first in indexes and newest in indexes and newest != first
    assert len(set(indexes)) <= 3  # the old one, the one with the new fact, the newest
    for _question, index, cited in answers:
        if index == first:
            assert NEW_DOC not in cited  # the old index knows nothing of it
        if index == newest:
            assert REMOVED_DOC not in cited
    # each thread only ever moved forward: never back to an older index
    order = {index: n for n, index in enumerate(dict.fromkeys(indexes))}
    for question in (KEY_QUESTION, REMOVED_QUESTION, KEPT_QUESTION):
        steps = [order[i] for q, i, _ in answers if q == question]
        assert steps == sorted(steps), question

    after = asking.ask(KEY_QUESTION, channel="web", asker="t", record=False).answer
    assert after.index_id == newest
    assert after.citations[0].document == NEW_DOC and "4711" in after.citations[0].text
    gone = asking.ask(REMOVED_QUESTION, channel="web", asker="t", record=False).answer
    assert REMOVED_DOC not in {c.document for c in gone.citations}
    entries = [(e.action, e.result.split(":")[0]) for e in service.audit_log(10)]
    assert entries.count(("reindex", "ok")) == 2  # each run, as the job process recorded it


def test_a_follow_up_run_reports_what_changed_across_both_runs():
    from bot.admin.jobs import combine
    from bot.admin.model import ReindexSummary

    first = ReindexSummary(
        added=("a.md", "b.md"), replaced=("c.md",), removed=("d.md",), seconds=1.0, answered_now=1
    )
    second = ReindexSummary(
        added=("d.md", "e.md"),
        removed=("b.md",),
        skipped=(("x.pdf", "no text"),),
        unchanged=4,
        passages=90,
        seconds=2.0,
        answered_now=None,
    )

    both = combine(first, second)

    # b.md came and went: neither added nor removed; d.md went and came back: added again.
    assert both.added == ("a.md", "d.md", "e.md")
    assert both.replaced == ("c.md",)
    assert both.removed == ()
    assert (both.skipped, both.unchanged, both.passages) == (second.skipped, 4, 90)
    assert (both.seconds, both.answered_now) == (3.0, 1)
    assert combine(None, second) is second
