"""Terminal chat: read questions line by line, answer each with the same core as every front end."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from bot.adapters.text import render
from bot.answer.core import Answerer
from bot.errors import QuestionError

WELCOME = (
    "rutinbot – fråga om kommunens rutiner och beslut. Svaren är utdrag ur dokumenten, med källa.\n"
    "Skriv inte klienters namn eller personnummer. Skriv 'mer' för fler källor, 'avsluta' för att "
    "sluta.\n"
)
QUIT = {"avsluta", "sluta", "exit", "quit", ":q"}
MORE = {"mer", "fler", "fler källor"}


def run_chat(
    answerer: Answerer,
    read: Callable[[str], str] = input,
    out: TextIO | None = None,
    color: bool = False,
) -> None:
    import sys

    out = out or sys.stdout
    out.write(WELCOME)
    last: str | None = None
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
            answer = answerer.answer(last, offset=shown)
            out.write(render(answer, color=color, first=shown + 1))
            shown += len(answer.citations)
            continue
        try:
            answer = answerer.answer(question)
        except QuestionError as err:
            out.write(err.sv + "\n")
            continue
        last, shown = question, len(answer.citations)
        out.write(render(answer, color=color))
