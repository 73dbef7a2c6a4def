"""Property-based test of the CLI batch contract: any bytes in, one JSON object a line out.

`rutinbot ask --json` reads standard input as lines of bytes; for any lines (any bytes but
b"\\n") it writes exactly one JSON object per line, in order, as UTF-8, and exits 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import make_settings
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.cli import cli
from bot.safetext import clean_text

QUESTIONS = [
    "vem ska jag rapportera lex sarah till?",
    "Inom hur lång tid anmäls allvarliga missförhållanden till IVO?",
    "Vad gör ett anhörigombud?",
]


@pytest.fixture(scope="module")
def config(tmp_path_factory, encoder) -> Path:
    """A two-document corpus indexed once for the module, with the real encoder."""
    from bot.search.indexer import build_index

    base = tmp_path_factory.mktemp("batch")
    knowledge = base / "knowledge"
    knowledge.mkdir()
    (knowledge / "lex-sarah.md").write_text(
        "---\ntitle: Rutin för lex Sarah\ndate: 2024-03-01\n---\n# Rapportering\n\n"
        "Medarbetare ska genast rapportera missförhållanden till sin närmaste chef.\n\n"
        "# Anmälan till IVO\n\nAllvarliga missförhållanden anmäls till IVO inom två veckor.\n",
        encoding="utf-8",
    )
    (knowledge / "anhorigstod.txt").write_text(
        "Anhörigombud\n\nVarje enhet utser ett anhörigombud som sprider information om "
        "anhörigstöd till kollegor.\n",
        encoding="utf-8",
    )
    paths = {"knowledge": str(knowledge), "index": str(base / "embeddings"), "data": str(base)}
    build_index(make_settings(base, paths=paths, encoder={"num_threads": 1}), encoder)
    config = base / "config.toml"
    config.write_text(
        "[paths]\n"
        + "".join(f"{key} = '{value}'\n" for key, value in paths.items())
        + "[encoder]\nnum_threads = 1\n",
        encoding="utf-8",
    )
    return config


# Lines as scripts and files hand them over: real questions, any bytes (invalid UTF-8, controls,
# CR line ends, NUL), blank lines and lines over the question length limit.
line = st.one_of(
    st.sampled_from(QUESTIONS).map(str.encode),
    st.binary(max_size=60).map(lambda b: b.replace(b"\n", b"")),
    st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass").replace(b"\n", b"")),
    st.sampled_from([b"", b"\r", b" \t ", b"x" * 1500, "\u2028\x85".encode()]),
)


def expected_questions(stdin: bytes) -> list[str]:
    """The lines a reader splitting at b"\\n" sees, tidied as the answerer tidies a question."""
    lines = stdin.split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # the newline after the last line ends it; it starts no new one
    return [
        " ".join(clean_text(raw.rstrip(b"\r").decode("utf-8", errors="replace")).split())
        for raw in lines
    ]


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(line, max_size=6), st.booleans())
@example([b"\xff\xfe", b"", "vad gör ett anhörigombud?\r".encode()], False)
@example([b"0\xc2\xad"], False)  # a soft hyphen: removed like every invisible character
def test_a_json_batch_writes_one_object_per_input_line_in_order(config, lines, final_newline):
    stdin = b"\n".join(lines) + (b"\n" if final_newline else b"")
    result = CliRunner().invoke(cli, ["--config", str(config), "ask", "--json"], input=stdin)

    assert result.exit_code == 0, (result.output, result.exception)
    out = result.stdout_bytes.decode("utf-8")  # strict: the output is UTF-8
    assert out == "" or out.endswith("\n")
    # One object a line, whichever line splitter a script uses.
    assert out.splitlines() == out.split("\n")[:-1] if out else True
    objects = [json.loads(text) for text in out.split("\n")[:-1]]
    questions = expected_questions(stdin)
    assert len(objects) == len(questions)
    for obj, question in zip(objects, questions, strict=True):
        assert " ".join(obj["question"].split()) == question
        assert isinstance(obj["answered"], bool) and isinstance(obj["citations"], list)
        assert ("error" in obj) is (obj["citations"] == [] and "confidence" not in obj)
        if question in QUESTIONS or question.lower() in (q.lower() for q in QUESTIONS):
            assert obj["citations"] and "error" not in obj
