"""A damaged index is refused with exit 3 and repaired by plain `rutinbot index`; a killed build
never breaks the index in service; a knowledge folder with nothing readable changes nothing."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, make_settings

from bot.answer.core import Answerer
from bot.cli import cli
from bot.errors import IndexDamagedError, IndexMissingError, NothingToIndexError
from bot.search import store
from bot.search.indexer import build_index

RUTINBOT = str(ROOT / ".venv" / "bin" / "rutinbot")
MEDICINE = (
    "Läkemedelsförråd\n\nNyckeln till läkemedelsskåpet förvaras i det låsta kassaskåpet på "
    "expeditionen och kvitteras ut av den sjuksköterska som har passet.\n"
)
MEDICINE_QUESTION = "Var förvaras nyckeln till läkemedelsskåpet?"


@pytest.fixture
def settings(small_corpus):
    return make_settings(small_corpus.parent, encoder={"num_threads": 1})


@pytest.fixture
def built(settings, encoder):
    build_index(settings, encoder)
    return settings


@pytest.fixture
def config(small_corpus) -> Path:
    base = small_corpus.parent
    path = base / "config.toml"
    path.write_text(
        f"[paths]\nknowledge = '{small_corpus}'\nindex = '{base / 'embeddings'}'\n\n"
        "[encoder]\nnum_threads = 1\n",
        encoding="utf-8",
    )
    return path


def current_folder(settings) -> Path:
    folder = store.current_dir(settings.paths.index)
    assert folder is not None
    return folder


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def alter(path: Path) -> None:
    """Same size, one byte different: only the checksum can tell."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


DAMAGES = {"missing": Path.unlink, "truncated": truncate, "altered": alter}
INDEX_FILES = ["vectors.npy", "sentences.npy", "chunks.jsonl", "windows.json", "lexical/df.json"]


def run(config: Path, *args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["--config", str(config), *args], input=input)


def assert_one_line_error(result, code: int, *needles: str) -> None:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0]


def test_manifest_lists_every_file_with_its_size_and_checksum(built):
    folder = current_folder(built)
    manifest = store.read_manifest(folder)

    on_disk = {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name != "manifest.json"
    }
    assert {f.path for f in manifest.files} == on_disk
    assert "lexical/vocabulary.json" in on_disk and "vectors.npy" in on_disk
    for record in manifest.files:
        assert record.size == (folder / record.path).stat().st_size
        assert record.sha256 == store.file_digest(folder / record.path).sha256
    assert store.damaged_files(folder, manifest) == {}


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("name", INDEX_FILES)
def test_a_damaged_file_is_refused_naming_it_and_what_to_run(built, encoder, damage, name):
    DAMAGES[damage](current_folder(built) / name)

    with pytest.raises(IndexDamagedError, match="rutinbot index") as err:
        Answerer(built, encoder)

    assert name in str(err.value) and err.value.exit_code == 3
    assert "skadad" in err.value.sv


def test_sizes_alone_miss_an_altered_file_that_checksums_catch(built):
    folder = current_folder(built)
    alter(folder / "vectors.npy")
    manifest = store.read_manifest(folder)

    assert store.damaged_files(folder, manifest, checksums=False) == {}
    assert "vectors.npy" in store.damaged_files(folder, manifest)


@pytest.mark.parametrize("content", ["", '{"format_version": 4, "encod', "[1, 2]", '{"x": 1}'])
def test_an_unreadable_manifest_is_a_damaged_index(built, encoder, content):
    (current_folder(built) / "manifest.json").write_text(content, encoding="utf-8")

    with pytest.raises(IndexDamagedError, match=r"manifest.*rutinbot index"):
        Answerer(built, encoder)


@pytest.mark.parametrize("entry", ["../../outside.txt", "/etc/hostname", "", 7, None])
def test_a_manifest_entry_naming_no_file_of_the_folder_is_damage(built, tmp_path, entry):
    folder = current_folder(built)
    data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    (tmp_path / "outside.txt").write_text("x", encoding="utf-8")
    data["files"].append({"path": entry, "size": 1, "sha256": "0" * 64})
    (folder / "manifest.json").write_text(json.dumps(data), encoding="utf-8")

    with pytest.raises(IndexDamagedError, match="not a file of the index folder"):
        store.open_current(built.paths.index)


@pytest.mark.parametrize("command", [["ask", "--json", "Vem utser anhörigombud?"], ["docs"]])
def test_cli_gives_exit_3_and_one_line_for_a_damaged_index(built, config, command):
    truncate(current_folder(built) / "chunks.jsonl")

    result = run(config, *command)

    assert_one_line_error(result, 3, "chunks.jsonl", "damaged", "rutinbot index")


@pytest.mark.parametrize("name", ["vectors.npy", "sentences.json"])
def test_plain_index_repairs_reembedding_only_the_damaged_vectors(built, encoder, name):
    folder = current_folder(built)
    chunks = store.read_chunks(folder)
    windows = sum(len(c.windows) for c in chunks)
    sentences = sum(len(c.sentences) for c in chunks)
    truncate(folder / name)

    report = build_index(built, encoder)

    assert report.repaired == [name]
    assert report.unchanged_documents == 2  # chunks.jsonl is intact: no document re-read
    if name == "vectors.npy":
        assert report.reused == sentences and report.embedded == windows
    else:
        assert report.reused == windows and report.embedded == sentences
    assert Answerer(built, encoder).answer("Vem utser anhörigombud?").citations


def test_damaged_chunks_are_reread_but_no_vector_reembedded(built, encoder):
    alter(current_folder(built) / "chunks.jsonl")

    report = build_index(built, encoder)

    assert report.repaired == ["chunks.jsonl"]
    assert report.unchanged_documents == 0 and report.documents == 2
    assert report.embedded == 0
    store.open_current(built.paths.index)  # verifies every checksum


def test_vectors_lost_in_the_current_index_come_from_the_previous_one(built, encoder, small_corpus):
    (small_corpus / "lakemedel.txt").write_text(MEDICINE, encoding="utf-8")
    build_index(built, encoder)  # the first index stays beside the new current one
    folder = current_folder(built)
    for name in ("vectors.npy", "sentences.npy"):
        (folder / name).unlink()
    (small_corpus / "lakemedel.txt").unlink()

    report = build_index(built, encoder)

    assert sorted(report.repaired) == ["sentences.npy", "vectors.npy"]
    assert report.embedded == 0  # every vector of the two original documents was intact there


def test_a_current_folder_that_is_gone_is_exit_3_and_rebuilt_from_the_one_before(
    built, encoder, small_corpus
):
    (small_corpus / "lakemedel.txt").write_text(MEDICINE, encoding="utf-8")
    build_index(built, encoder)
    shutil.rmtree(current_folder(built))
    (small_corpus / "lakemedel.txt").unlink()
    with pytest.raises(IndexMissingError, match=r"incomplete or gone.*rutinbot index") as err:
        Answerer(built, encoder)
    assert err.value.exit_code == 3

    report = build_index(built, encoder)

    assert report.repaired == ["current"] and report.embedded == 0
    assert Answerer(built, encoder).answer("Vem utser anhörigombud?").citations


def test_a_manifest_beyond_repair_still_gives_a_working_index(built, encoder):
    (current_folder(built) / "manifest.json").write_text("{", encoding="utf-8")

    report = build_index(built, encoder)

    assert report.repaired == ["manifest.json"] and report.documents == 2
    assert Answerer(built, encoder).answer("Vem utser anhörigombud?").citations


def test_a_serving_process_keeps_its_index_when_the_new_one_is_damaged(
    built, encoder, small_corpus, caplog
):
    answerer = Answerer(built, encoder)
    before = answerer.answer(MEDICINE_QUESTION)
    (small_corpus / "lakemedel.txt").write_text(MEDICINE, encoding="utf-8")
    build_index(built, encoder)
    truncate(current_folder(built) / "vectors.npy")

    with caplog.at_level(logging.ERROR, logger="bot.answer.core"):
        after = answerer.answer(MEDICINE_QUESTION)
        again = answerer.answer(MEDICINE_QUESTION)

    assert after.index_id == before.index_id == again.index_id
    assert "lakemedel.txt" not in [c.document for c in after.citations]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "vectors.npy" in errors[0].getMessage()  # logged once
    assert MEDICINE_QUESTION not in caplog.text

    build_index(built, encoder)  # repaired: the next question uses the new index
    assert answerer.answer(MEDICINE_QUESTION).citations[0].document == "lakemedel.txt"


# Nothing readable


def unreadable_corpus(folder: Path) -> None:
    for path in folder.iterdir():
        path.unlink()
    (folder / "skannad.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf\n")
    (folder / "trasig.docx").write_bytes(b"PK\x03\x04 not a zip archive")
    (folder / "tom.md").write_text("---\ntitle: Tom\n---\n\n", encoding="utf-8")


def test_nothing_readable_names_every_file_and_keeps_the_index(built, encoder, small_corpus):
    before = current_folder(built)
    unreadable_corpus(small_corpus)

    with pytest.raises(NothingToIndexError) as err:
        build_index(built, encoder)

    message = str(err.value)
    for name in ("skannad.pdf", "trasig.docx", "tom.md"):
        assert name in message
    assert {p for p, _ in err.value.skipped} == {"skannad.pdf", "trasig.docx", "tom.md"}
    assert "left as it was" in message and "\n" not in message
    assert current_folder(built) == before
    assert Answerer(built, encoder).answer("Vem utser anhörigombud?").citations
    assert list(built.paths.index.glob(".building-*")) == []


def test_an_empty_knowledge_folder_is_refused(built, encoder, small_corpus):
    before = current_folder(built)
    for path in small_corpus.iterdir():
        path.unlink()

    with pytest.raises(NothingToIndexError, match="holds no documents"):
        build_index(built, encoder)

    assert current_folder(built) == before


def test_cli_index_with_nothing_readable_is_one_line_exit_1(built, config, small_corpus):
    unreadable_corpus(small_corpus)

    assert_one_line_error(run(config, "index", "--no-reask"), 1, "skannad.pdf", "trasig.docx")


def test_chat_on_first_run_with_nothing_readable_is_one_line(config, small_corpus):
    unreadable_corpus(small_corpus)

    result = run(config, "chat", input="avsluta\n")

    assert result.exit_code == 1, result.output
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("Error: ")]
    assert len(errors) == 1 and "skannad.pdf" in errors[0]
    assert "Traceback" not in result.output


# Killed builds (SIGKILL at exact points, via the test hook store.CRASH_ENV)


def rutinbot(config: Path, *args: str, crash_at: str | None = None, input: str | None = None):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop(store.CRASH_ENV, None)
    if crash_at:
        env[store.CRASH_ENV] = crash_at
    return subprocess.run(
        [RUTINBOT, "--config", str(config), *args],
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_every_crash_stage_is_reached_by_a_build(built, encoder, monkeypatch):
    """The stages the kill test uses exist: a build without the hook passes all of them."""
    seen = []
    monkeypatch.setattr(store, "crash_point", seen.append)

    build_index(built, encoder)

    assert tuple(seen) == store.CRASH_STAGES


@pytest.mark.parametrize("stage", store.CRASH_STAGES)
def test_a_killed_build_leaves_a_serving_index_and_the_next_run_cleans_up(
    built, encoder, config, small_corpus, stage
):
    old = current_folder(built)
    (small_corpus / "lakemedel.txt").write_text(MEDICINE, encoding="utf-8")

    killed = rutinbot(config, "index", "--no-reask", crash_at=stage)

    assert killed.returncode == -signal.SIGKILL, killed.stderr
    asked = rutinbot(config, "ask", "--json", MEDICINE_QUESTION)
    assert asked.returncode == 0, asked.stderr
    cited = [c["document"] for c in json.loads(asked.stdout)["citations"]]
    # Until the link is switched the old index serves; after it, the new one, whole.
    assert ("lakemedel.txt" in cited) == (stage == "switched")
    assert (current_folder(built) == old) == (stage != "switched")

    replaced = current_folder(built)
    finished = rutinbot(config, "index", "--no-reask")

    assert finished.returncode == 0, finished.stderr
    root = built.paths.index
    assert list(root.glob(".building-*")) == [] and list(root.glob(".current-*")) == []
    assert "Traceback" not in finished.stderr
    new = current_folder(built)
    # Kept: the new index and the one it replaced; a folder never switched in is removed.
    assert set(store.index_folders(root)) == {new, replaced}
    store.verify(new, store.read_manifest(new))
    assert Answerer(built, encoder).answer(MEDICINE_QUESTION).citations[0].document == (
        "lakemedel.txt"
    )
