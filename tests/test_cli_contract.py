"""The CLI's contract with scripts and terminals, checked on the real `rutinbot` process.

Batches answer exactly one line per input line whatever the bytes or the locale; nothing
printed can carry a terminal escape; whatever escapes a command is one line and an exit code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

RUTINBOT = [sys.executable, "-m", "bot"]
ESC = "\x1b"


def rutinbot(config: Path, *args: str, stdin: bytes = b"", env: dict | None = None):
    """Run the real command; output as bytes, so nothing is decoded on the way."""
    return subprocess.run(
        [*RUTINBOT, "--config", str(config), *args],
        input=stdin,
        capture_output=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
    )


@pytest.fixture(scope="module")
def indexed(tmp_path_factory) -> Path:
    """A tiny corpus, one document carrying terminal escapes and bidi overrides, indexed."""
    base = tmp_path_factory.mktemp("contract")
    knowledge = base / "knowledge"
    knowledge.mkdir()
    (knowledge / "lex-sarah.md").write_text(
        "---\ntitle: Rutin för lex Sarah\ndate: 2024-03-01\n---\n"
        "# Rapportering\n\nMedarbetare ska genast rapportera missförhållanden till sin "
        f"närmaste chef.{ESC}]0;pwned{ESC}\\ Chefen ansvarar för att rapporten utreds.\n\n"
        f"# Anmälan\n\nAllvarliga missförhållanden anmäls till IVO{ESC}[2J inom två veckor."
        "\u202e gnalsväL\u202c\n\n# Bakgrund\n\n"
        + "Rutinen gäller all personal inom socialtjänsten och ska läsas av nyanställda. "
        * 10,
        encoding="utf-8",
    )
    config = base / "config.toml"
    config.write_text(
        f"[paths]\nknowledge = '{knowledge}'\nindex = '{base / 'embeddings'}'\n"
        f"data = '{base / 'data'}'\n[encoder]\nnum_threads = 1\n",
        encoding="utf-8",
    )
    done = rutinbot(config, "index", "--no-reask")
    assert done.returncode == 0, done.stderr.decode()
    return config


LINES = [
    b"vem ska jag rapportera lex sarah till?",
    b"",  # blank
    b"vem \xff\xfe rapporterar jag till?",  # not UTF-8
    b"\xc3",  # a lone byte of a split character: nothing but replacement left
    b"x" * 5000,  # over [answer] max_question_chars
    f"inom hur lång tid anmäls{ESC}[2J till IVO?\r".encode(),  # escape, CRLF line end
    b"\x00\x01\x02",  # controls only
    "när anmäls det till IVO?".encode(),
]


@pytest.mark.parametrize("locale", ["C", "C.UTF-8", "en_US.ISO-8859-1"])
def test_a_json_batch_answers_every_line_in_order_under_any_locale(indexed, locale):
    stdin = b"\n".join(LINES) + b"\n"
    done = rutinbot(indexed, "ask", "--json", stdin=stdin, env={"LC_ALL": locale, "LANG": locale})

    assert done.returncode == 0, done.stderr.decode(errors="replace")
    out = done.stdout.decode("utf-8")  # strict: the output is always UTF-8
    objects = [json.loads(line) for line in out.split("\n") if line]
    assert len(objects) == len(LINES)
    good = [0, 2, 5, 7]
    for i, obj in enumerate(objects):
        assert ("error" in obj) is (i not in good), (i, obj)
        assert isinstance(obj["answered"], bool) and isinstance(obj["citations"], list)
    for i in good:
        assert objects[i]["citations"], i
    assert objects[2]["question"] == "vem \ufffd\ufffd rapporterar jag till?"
    assert ESC not in objects[5]["question"] and "\r" not in objects[5]["question"]
    # Nothing in the stream can drive a terminal, whatever the documents held.
    assert ESC not in out and "\u202e" not in out


def test_text_mode_goes_on_past_a_bad_line(indexed):
    done = rutinbot(indexed, "ask", stdin="\n\nnär anmäls det till IVO?\n".encode())

    assert done.returncode == 0, done.stderr.decode()
    out = done.stdout.decode("utf-8")
    assert out.count("Fel: ") == 2
    assert "Inspektionen" in out or "IVO" in out
    assert ESC not in out and "\u202e" not in out


@pytest.mark.parametrize("as_json", [[], ["--json"]])
@pytest.mark.parametrize("question", ["", "x" * 5000, "?!"])
def test_a_single_bad_question_exits_2_with_one_line(indexed, as_json, question):
    done = rutinbot(indexed, "ask", *as_json, question)

    assert done.returncode == 2
    assert done.stdout == b""
    [line] = done.stderr.decode().strip().splitlines()
    assert line.startswith("Error: ")


def test_an_answer_printed_to_a_terminal_carries_no_escape_from_the_documents(indexed):
    done = rutinbot(indexed, "ask", f"när anmäls det till IVO?{ESC}]0;title{ESC}\\")

    assert done.returncode == 0, done.stderr.decode()
    out = done.stdout.decode("utf-8")
    assert "IVO" in out
    assert ESC not in out and "\u202e" not in out and "\x07" not in out


def index_path_is_a_file(tmp_path: Path, knowledge: Path) -> tuple[Path, Path]:
    """A config whose index path is a file: the system refuses to make a folder there."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    config = tmp_path / "config.toml"
    config.write_text(
        f"[paths]\nknowledge = '{knowledge}'\nindex = '{blocker}'\ndata = '{tmp_path}'\n",
        encoding="utf-8",
    )
    return config, blocker


def test_a_system_refusal_is_one_line_naming_the_path(tmp_path, small_corpus):
    """An index path that is a file: the system refuses, the CLI says so in one line."""
    config, blocker = index_path_is_a_file(tmp_path, small_corpus)

    done = rutinbot(config, "index")

    assert done.returncode == 74
    err = done.stderr.decode()
    assert "Traceback" not in err
    [line] = err.strip().splitlines()
    assert line.startswith("Error: ") and str(blocker) in line


def test_verbose_logs_the_traceback_of_an_unexpected_error(tmp_path, small_corpus):
    config, _ = index_path_is_a_file(tmp_path, small_corpus)

    done = rutinbot(config, "-v", "index")

    err = done.stderr.decode()
    assert done.returncode == 74
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("Error: ")
