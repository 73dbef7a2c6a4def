"""Terminal chat: read questions line by line, answer each through the ask service."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from bot.adapters.text import render
from bot.asking import AskService, UnknownAnswerError
from bot.errors import QuestionError

CHANNEL = "terminal"
WELCOME = (
    "rutinbot – fråga om kommunens rutiner och beslut. Svaren är utdrag ur dokumenten, med källa.\n"
    "Skriv inte klienters namn eller personnummer. Skriv 'mer' för fler källor, 'avsluta' för att "
    "sluta.\n"
)
RECORDING = (
    "Frågor som dokumenten inte besvarar sparas (utan ditt namn), så att dokumenten kan "
    "kompletteras.\n"
)
QUIT = {"avsluta", "sluta", "exit", "quit", ":q"}
MORE = {"mer", "fler", "fler källor"}


def run_chat(
    asking: AskService,
    read: Callable[[str], str] = input,
    out: TextIO | None = None,
    color: bool = False,
    *,
    asker: str = "",
    record: bool = True,
) -> None:
    """Chat until 'avsluta' or end of input. `asker`: who types (the OS user; the store keeps
    only its keyed hash); `record`: whether questions go to the gaps database."""
    out = out or sys.stdout
    out.write(WELCOME)
    if record and asking.outbox is not None:
        out.write(RECORDING)
    last: str | None = None  # the record id "mer" pages
    shown = 0
    while True:
        try:
            line = read("\nFråga> ")
        except (EOFError, KeyboardInterrupt):
            out.write("\n")
            return
        question = line.strip()
        if question.lower() in QUIT:
            return
        if question.lower() in MORE:
            if last is None:
                out.write("Ställ en fråga först.\n")
                continue
            try:
                answer = asking.more(last, asker, shown, channel=CHANNEL)
            except UnknownAnswerError as err:
                out.write(err.sv + "\n")
                last = None
                continue
            out.write(render(answer, color=color, first=shown + 1, short=True))
            shown += len(answer.citations)
            continue
        try:
            asked = asking.ask(question, channel=CHANNEL, asker=asker, record=record)
        except QuestionError as err:
            out.write(err.sv + "\n")
            continue
        last, shown = asked.record_id, asked.shown
        out.write(render(asked.first_page, color=color, short=True))
