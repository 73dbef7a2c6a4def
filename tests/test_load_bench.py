"""bench/load.py's bookkeeping: replies matched to questions, and every loss or mismatch told."""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from fake_bot_api import TOKEN, FakeBotAPI

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import load  # bench/load.py (bench/ is not a package)

BUTTONS = {"inline_keyboard": [[{"text": "👍 Hjälpte", "callback_data": "h:abc"}]]}


def reply(api: FakeBotAPI, chat: int, text: str, *, buttons: bool = False) -> None:
    """What the bot does: one sendMessage to the fake server, over HTTP."""
    body = {"chat_id": chat, "text": text, "parse_mode": "HTML"}
    if buttons:
        body["reply_markup"] = BUTTONS
    request = urllib.request.Request(
        f"{api.base_url}{TOKEN}/sendMessage",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.load(response)["ok"]


def ask(ledger: load.Ledger, number: int, chat: int, *, refuse: bool = False) -> load.Asked:
    asked = load.Asked(number, chat, refuse, time.monotonic())
    ledger.add(asked)
    return asked


def report(ledger: load.Ledger, records: tuple[int, int] | None) -> tuple[bool, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ok = load.report(ledger, ledger.asked[0].offered, records)
    return ok, out.getvalue()


@pytest.fixture
def api():
    with FakeBotAPI() as server:
        yield server


def test_replies_in_one_chat_go_to_the_right_questions(api):
    """A refusal sent before an earlier question's answer goes to the question to refuse; a
    two-message answer completes at its message with the buttons; the counts then match."""
    ledger = load.Ledger()
    first = ask(ledger, 1, 11)
    refused = ask(ledger, 2, 11, refuse=True)
    other = ask(ledger, 3, 12)
    reply(api, 11, f"{load.REFUSALS[0][1]}. Skriv den med ord.")
    reply(api, 11, f"<b>{load.ANSWERED}</b>\n1. Rutin")
    reply(api, 12, f"<b>{load.NOT_ANSWERED}</b>\n1. Närmast", buttons=True)
    reply(api, 11, "2. Rutin, fortsättning", buttons=True)
    ledger.collect(api)

    assert (refused.outcome, first.outcome, other.outcome) == ("refused", "answered", "answered")
    assert first.first < first.done  # its heading came one message before its buttons
    assert ledger.pending() == 0
    assert (ledger.headings, ledger.said_answered) == (2, 1)
    ok, printed = report(ledger, (2, 1))
    assert ok, printed
    assert "received 3, answered 2 (the documents answer 1), refused 1" in printed


def test_a_lost_answer_and_a_missing_record_are_mismatches(api):
    ledger = load.Ledger()
    ask(ledger, 1, 21)
    ask(ledger, 2, 22)
    reply(api, 21, f"<b>{load.ANSWERED}</b>\n1. Rutin", buttons=True)
    ledger.collect(api)

    ok, printed = report(ledger, (0, 0))
    assert not ok
    assert "lost 1" in printed
    assert "MISMATCH: received 2 != answered 1 + refused 0" in printed
    assert "MISMATCH: recorded 0 != answered 1" in printed


def test_an_error_reply_or_a_wrong_refusal_is_a_mismatch(api):
    ledger = load.Ledger()
    ask(ledger, 1, 31)
    ask(ledger, 2, 32)
    reply(api, 31, "Något gick fel. Försök igen om en stund.")
    reply(api, 32, f"{load.REFUSALS[1][1]} (1200 tecken).")
    ledger.collect(api)

    ok, printed = report(ledger, (0, 0))
    assert not ok
    assert "errors 1" in printed
    assert "MISMATCH: refused 1, expected exactly the 0 unaskable ones" in printed


def test_questions_cycle_the_sets_with_every_fiftieth_refused():
    asked = load.questions(120)
    refused = [i for i, (_, refuse) in enumerate(asked) if refuse]
    assert refused == [49, 99]
    assert {asked[49][0], asked[99][0]} == {text for text, _ in load.REFUSALS}
    assert len({text for text, refuse in asked if not refuse}) > 100


def test_peak_rate_counts_calls_within_one_second():
    assert load.peak_rate([]) == 0
    assert load.peak_rate([0.0, 0.5, 0.99, 1.0, 1.2, 5.0]) == 4
