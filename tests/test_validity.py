"""Document metadata (issue 17): the sidecar keys and their writer, validity at query time
(a document outside "gäller från"/"gäller till" is never cited) and "gäller från" in citations."""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
import tomllib
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from conftest import make_settings, write_small_corpus
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters.text import render, source_line
from bot.adapters.tgbot.render import answer_messages, sources_messages
from bot.answer.core import Answerer
from bot.clock import swedish_today
from bot.errors import DocumentError, IndexMissingError
from bot.ingest.files import in_folder, list_knowledge
from bot.ingest.metadata import read_sidecar, resolve, write_sidecar
from bot.models import Answer, Citation
from bot.search import store
from bot.search.indexer import build_index
from bot.search.retriever import EXCLUDED

QUESTION = "Vem håller anhörigperspektivet levande på enheten?"
ANHORIG = "anhorigstod.txt"
FROM, TO = "2025-01-01", "2025-12-31"


def _doc(tmp_path: Path, name: str = "rutin.txt") -> Path:
    folder = tmp_path / "knowledge"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text("Rutin.\n", encoding="utf-8")
    return in_folder(folder / name, folder)


def _side(path: Path) -> Path:
    return path.with_name(path.name + ".meta.toml")


# --- the sidecar and its writer --------------------------------------------------------------


def test_write_sidecar_merges_and_none_or_empty_removes_a_key(tmp_path):
    doc = _doc(tmp_path)
    write_sidecar(doc, {"title": "Rutin för anhörigstöd", "ansvarig": "Enhetschef Ö"})
    write_sidecar(doc, {"galler_fran": FROM, "galler_till": TO, "date": "2024-03-01"})

    assert read_sidecar(doc) == {
        "title": "Rutin för anhörigstöd",
        "date": "2024-03-01",
        "ansvarig": "Enhetschef Ö",
        "galler_fran": FROM,
        "galler_till": TO,
    }
    write_sidecar(doc, {"ansvarig": None, "galler_till": ""})
    assert read_sidecar(doc) == {
        "title": "Rutin för anhörigstöd",
        "date": "2024-03-01",
        "galler_fran": FROM,
    }
    meta = resolve(doc, "Titel ur filen", None, {}, "")
    assert (meta.title, meta.date, meta.owner, meta.valid_from, meta.valid_to) == (
        "Rutin för anhörigstöd",
        "2024-03-01",
        None,
        FROM,
        None,
    )
    # No temporary file is left beside the documents.
    assert sorted(p.name for p in doc.parent.iterdir()) == ["rutin.txt", "rutin.txt.meta.toml"]


def test_removing_every_key_removes_the_sidecar(tmp_path):
    doc = _doc(tmp_path)
    write_sidecar(doc, {"title": "Rutin", "galler_fran": FROM})
    write_sidecar(doc, {"title": "", "galler_fran": None})

    assert not _side(doc).exists()
    assert read_sidecar(doc) == {}


def test_the_sidecar_is_readable_like_the_documents(tmp_path):
    doc = _doc(tmp_path)
    old = os.umask(0o077)
    try:
        write_sidecar(doc, {"title": "Rutin"})
    finally:
        os.umask(old)
    assert stat.S_IMODE(_side(doc).stat().st_mode) == 0o644


@pytest.mark.parametrize(
    ("values", "english", "swedish"),
    [
        ({"galler_fran": "2025-02-29"}, "galler_fran '2025-02-29' is not a date", "gäller från"),
        ({"galler_till": "2025-13-01"}, "is not a date", "ÅÅÅÅ-MM-DD"),
        ({"galler_till": "20250101"}, "is not a date", "ÅÅÅÅ-MM-DD"),
        ({"galler_fran": "2025-1-1"}, "is not a date", "ÅÅÅÅ-MM-DD"),
        ({"date": "2024-02-30"}, "is not a date", "datum"),
        ({"date": "2024-13"}, "is not YYYY, YYYY-MM or YYYY-MM-DD", "ÅÅÅÅ-MM"),
        ({"galler_fran": TO, "galler_till": FROM}, "galler_fran 2025-12-31 is after", "senare"),
        ({"giltig": "2025-01-01"}, "unknown key 'giltig'", "Okänt fält"),
        ({"title": "x" * 301}, "longer than 300", "högst 300 tecken"),
        ({"ansvarig": "bad \ud800 surrogate"}, "cannot be stored", "inte kan sparas"),
    ],
)
def test_write_sidecar_refuses_bad_values_and_leaves_the_file(tmp_path, values, english, swedish):
    doc = _doc(tmp_path)
    write_sidecar(doc, {"title": "Rutin"})
    before = _side(doc).read_bytes()

    with pytest.raises(DocumentError, match=english) as caught:
        write_sidecar(doc, values)

    assert swedish in caught.value.sv
    assert _side(doc).read_bytes() == before
    assert sorted(p.name for p in doc.parent.iterdir()) == ["rutin.txt", "rutin.txt.meta.toml"]


def test_an_end_before_an_existing_start_is_refused_naming_the_sidecar(tmp_path):
    doc = _doc(tmp_path)
    write_sidecar(doc, {"galler_fran": "2025-06-01"})

    with pytest.raises(DocumentError, match=r"rutin\.txt\.meta\.toml: galler_fran 2025-06-01"):
        write_sidecar(doc, {"galler_till": "2025-05-31"})
    write_sidecar(doc, {"galler_till": "2025-06-01"})  # one day is a validity too

    assert read_sidecar(doc)["galler_till"] == "2025-06-01"


def test_a_bad_value_written_by_hand_is_refused_on_read_and_can_be_put_right(tmp_path):
    doc = _doc(tmp_path)
    _side(doc).write_text('galler_fran = "2025-02-30"\ntitle = "Rutin"\n', encoding="utf-8")

    with pytest.raises(DocumentError, match=r"rutin\.txt\.meta\.toml: galler_fran"):
        read_sidecar(doc)
    write_sidecar(doc, {"galler_fran": "2025-02-28"})

    assert read_sidecar(doc) == {"title": "Rutin", "galler_fran": "2025-02-28"}


def test_toml_dates_and_old_sidecars_still_read(tmp_path):
    doc = _doc(tmp_path)
    _side(doc).write_text(
        'title = "Rutin"\ndate = 2024-03-01\ngaller_fran = 2025-01-01\n', encoding="utf-8"
    )

    assert read_sidecar(doc) == {"title": "Rutin", "date": "2024-03-01", "galler_fran": FROM}


def test_a_sidecar_that_is_a_link_is_not_written_through(tmp_path):
    doc = _doc(tmp_path)
    target = tmp_path / "elsewhere.toml"
    target.write_text('title = "Orörd"\n', encoding="utf-8")
    _side(doc).symlink_to(target)

    with pytest.raises(DocumentError, match="is a link") as caught:
        write_sidecar(doc, {"title": "Ny"})

    assert "länk" in caught.value.sv
    assert target.read_text(encoding="utf-8") == 'title = "Orörd"\n'
    assert _side(doc).is_symlink()


def test_a_sidecar_for_a_missing_document_is_refused(tmp_path):
    doc = _doc(tmp_path)
    with pytest.raises(DocumentError, match="no such document"):
        write_sidecar(doc.with_name("finns-inte.txt"), {"title": "X"})
    assert not (doc.parent / "finns-inte.txt.meta.toml").exists()


def test_a_sidecar_in_a_subfolder_reached_through_a_link_is_refused(tmp_path):
    folder = tmp_path / "knowledge"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "rutin.txt").write_text("Rutin.\n", encoding="utf-8")
    folder.mkdir()
    (folder / "sub").symlink_to(outside)

    with pytest.raises(DocumentError, match="a folder on its path is a link"):
        write_sidecar(in_folder(folder / "sub" / "rutin.txt", folder), {"title": "X"})
    assert not (outside / "rutin.txt.meta.toml").exists()


_HOSTILE = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200
) | st.sampled_from(['"', "\\", '\\"', "\n", '"""', "'''", "\x00\x1b\x7f", "a\rb", "\\u0000"])


@settings(max_examples=150, deadline=None)
@given(title=_HOSTILE, owner=_HOSTILE)
def test_any_text_round_trips_through_the_written_toml(title, owner):
    with tempfile.TemporaryDirectory() as tmp:
        doc = _doc(Path(tmp))
        write_sidecar(doc, {"title": title, "ansvarig": owner, "galler_fran": FROM})

        expected = {"title": title.strip(), "ansvarig": owner.strip(), "galler_fran": FROM}
        expected = {k: v for k, v in expected.items() if v}
        raw = _side(doc).read_text(encoding="utf-8")
        assert tomllib.loads(raw) == expected  # valid TOML, nothing injected
        assert read_sidecar(doc) == expected
        # whatever the title held, the name shown is one clean line
        shown = resolve(doc, None, None, {}, "")
        assert "\n" not in shown.title and "\x1b" not in shown.title


# --- indexing -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def index(tmp_path_factory, encoder):
    """The small corpus, the anhörigstöd note valid in 2025 only, indexed once."""
    base = tmp_path_factory.mktemp("validity")
    folder = write_small_corpus(base / "knowledge")
    doc = in_folder(folder / ANHORIG, folder)
    write_sidecar(doc, {"ansvarig": "Anhörigkonsulent", "galler_fran": FROM, "galler_till": TO})
    settings_ = make_settings(base, encoder={"num_threads": 1})
    build_index(settings_, encoder)
    return settings_


class Clock:
    def __init__(self, day: date) -> None:
        self.day = day

    def __call__(self) -> date:
        return self.day


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock(date(2025, 6, 1))


@pytest.fixture(scope="module")
def answerer(index, encoder, clock):
    return Answerer(index, encoder, today=clock)


def _cited(answerer: Answerer, clock: Clock, day: date, question: str = QUESTION) -> list[str]:
    clock.day = day
    return [c.document for c in answerer.answer(question).citations]


def test_the_manifest_and_chunks_carry_owner_and_validity(index):
    folder, manifest = store.open_current(index.paths.index)
    record = next(d for d in manifest.documents if d.path == ANHORIG)
    other = next(d for d in manifest.documents if d.path != ANHORIG)

    assert (record.owner, record.valid_from, record.valid_to) == ("Anhörigkonsulent", FROM, TO)
    assert (other.owner, other.valid_from, other.valid_to) == (None, None, None)
    chunks = [c for c in store.read_chunks(folder) if c.document == ANHORIG]
    assert chunks and all((c.valid_from, c.valid_to) == (FROM, TO) for c in chunks)


def test_a_manifest_and_chunks_written_before_validity_existed_still_load(index):
    folder, manifest = store.open_current(index.paths.index)
    data = manifest.to_json()
    for d in data["documents"]:
        for key in ("owner", "valid_from", "valid_to"):
            del d[key]
    old = store.Manifest.from_json(json.loads(json.dumps(data)))
    assert all(d.valid_from is None and d.valid_to is None for d in old.documents)
    [chunk] = store.read_chunks(folder)[:1]
    raw = store.chunk_to_json(chunk)
    for key in ("owner", "valid_from", "valid_to"):
        del raw[key]
    assert store.chunk_from_json(raw).valid_to is None


def test_a_document_is_cited_only_inside_its_validity_without_a_reindex(answerer, clock):
    inside = _cited(answerer, clock, date(2025, 6, 1))
    assert inside[0] == ANHORIG  # the question is about it: it comes first while valid

    assert ANHORIG in _cited(answerer, clock, date(2025, 1, 1))  # the first day counts
    assert ANHORIG in _cited(answerer, clock, date(2025, 12, 31))  # ... and so does the last
    # Valid until yesterday: gone today, from the same loaded index.
    assert ANHORIG not in _cited(answerer, clock, date(2026, 1, 1))
    # Valid from tomorrow: not yet.
    assert ANHORIG not in _cited(answerer, clock, date(2024, 12, 31))
    # The nearest passages still come from what is valid.
    assert set(_cited(answerer, clock, date(2026, 1, 1))) == {"rutin-lex-sarah.md"}
    assert ANHORIG in _cited(answerer, clock, date(2025, 7, 1))  # the clock goes back: cited


def test_an_expired_document_is_out_before_ranking_not_just_hidden(answerer, clock):
    clock.day = date(2026, 1, 1)
    found = answerer.search(QUESTION, 5)
    retriever = found.retriever
    expired = [c.id for c in retriever.chunks if c.document == ANHORIG]

    assert expired and all(h.chunk.document != ANHORIG for h in found.ranking.hits)
    assert all(found.ranking.dense[i] == EXCLUDED for i in expired)
    assert all(found.ranking.lexical[i] == 0.0 for i in expired)
    assert not any(retriever.valid_on(i, clock.day) for i in expired)
    assert all(retriever.valid_on(i, date(2025, 3, 3)) for i in expired)


def test_citations_carry_galler_fran_and_owner(answerer, clock):
    clock.day = date(2025, 6, 1)
    answer = answerer.answer(QUESTION)
    first = answer.citations[0]

    assert (first.document, first.valid_from, first.owner) == (ANHORIG, FROM, "Anhörigkonsulent")
    assert first.to_json()["valid_from"] == FROM
    others = [c for c in answer.citations if c.document != ANHORIG]
    assert others and all(c.valid_from is None and c.owner is None for c in others)
    text = render(answer)
    assert f"gäller från {FROM}, ansvarig: Anhörigkonsulent" in text
    assert text.count("gäller från") == text.count("ansvarig:") == 1


def test_the_section_of_a_document_that_expired_since_the_answer_is_refused(answerer, clock):
    clock.day = date(2025, 6, 1)
    answer = answerer.answer(QUESTION)
    chunk_id = answer.citations[0].chunk_id
    assert answerer.section(chunk_id, answer.index_id)[0].document == ANHORIG

    clock.day = date(2026, 1, 1)
    with pytest.raises(IndexMissingError, match="not valid today") as caught:
        answerer.section(chunk_id, answer.index_id)
    assert "gäller inte längre" in caught.value.sv


def test_a_changed_validity_is_a_changed_document(index, encoder):
    folder = index.paths.knowledge
    doc = in_folder(folder / ANHORIG, folder)
    write_sidecar(doc, {"galler_till": "2025-06-30"})
    try:
        report = build_index(index, encoder)
        assert report.unchanged_documents == 1
        _, manifest = store.open_current(index.paths.index)
        record = next(d for d in manifest.documents if d.path == ANHORIG)
        assert record.valid_to == "2025-06-30"
    finally:
        write_sidecar(doc, {"galler_till": TO})
        build_index(index, encoder)


def test_a_sidecar_with_its_dates_the_wrong_way_round_skips_the_document(tmp_path, encoder):
    folder = write_small_corpus(tmp_path / "knowledge")
    _side(folder / ANHORIG).write_text(
        f'galler_fran = "{TO}"\ngaller_till = "{FROM}"\n', encoding="utf-8"
    )

    report = build_index(make_settings(tmp_path, encoder={"num_threads": 1}), encoder)

    reasons = dict(report.skipped)
    assert "anhorigstod.txt.meta.toml: galler_fran 2025-12-31 is after" in reasons[ANHORIG]
    assert [p.name for p in list_knowledge(folder).files] == [ANHORIG, "rutin-lex-sarah.md"]


def test_swedish_today_is_a_date():
    assert isinstance(swedish_today(), date)


# --- renderers ----------------------------------------------------------------------------


def _citation(title: str, valid_from: str | None) -> Citation:
    return Citation(
        "rutin.md", title, "Anmälan", 2, "2024-03-01", "Text.", None, 0.5, 0, 0, valid_from, "X"
    )


def test_the_source_line_shows_galler_fran_and_owner_only_when_known():
    assert source_line(_citation("Rutin", FROM)) == (
        f"Rutin › Anmälan, s. 2 (2024-03-01), gäller från {FROM}, ansvarig: X"
    )
    unknown = source_line(replace(_citation("Rutin", None), owner=None))
    assert "gäller" not in unknown and "ansvarig" not in unknown


def test_telegram_shows_galler_fran_and_owner_escaped():
    cited = replace(_citation("<b>Rutin</b> & co", FROM), owner="<i>Enhetschef</i>")
    answer = Answer("fråga", True, 0.9, (cited,))

    [message] = answer_messages(answer)

    assert f"gäller från {FROM}, ansvarig: &lt;i&gt;Enhetschef&lt;/i&gt;" in message
    assert "&lt;b&gt;Rutin&lt;/b&gt; &amp; co" in message


def test_rutinbot_docs_shows_validity_and_that_it_has_expired(index, tmp_path):
    from click.testing import CliRunner

    from bot.cli import cli

    config = tmp_path / "config.toml"
    config.write_text(
        f"[paths]\nknowledge = '{index.paths.knowledge}'\nindex = '{index.paths.index}'\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["--config", str(config), "docs"])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert " valid " in next(line for line in lines if line.startswith("document"))
    [expired] = [line for line in lines if line.startswith(ANHORIG)]
    assert f"  {FROM}..{TO} (expired)  " in expired  # 2025 only: over by now, for good
    [other] = [line for line in lines if line.startswith("rutin-lex-sarah.md")]
    assert re.search(r"\s-\s+\S", other) and "expired" not in other


def test_kallor_shows_each_documents_validity(index, answerer):
    [message] = sources_messages(answerer.info())

    [line] = [line for line in message.splitlines() if "gäller" in line]
    assert line.endswith(f", gäller {FROM}–{TO}")
    assert line.startswith("• Anhorigstod")  # the title from the file name


def test_the_web_chat_card_shows_galler_fran(index, answerer, clock, tmp_path):
    from fastapi.testclient import TestClient

    from bot.adapters.web.access import WebRole
    from bot.adapters.web.app import create_app
    from bot.adapters.web.auth import hash_password
    from bot.adapters.web.deps import get_ask_service, get_store
    from bot.adapters.web.pages import SESSION_COOKIE
    from bot.asking import AskService
    from bot.gaps.store import SqlRecorder

    clock.day = date(2025, 6, 1)
    password = "korrekt-häst-batteri"
    with SqlRecorder(f"sqlite:///{tmp_path / 'gaps.db'}", key_file=tmp_path / "key") as rec:
        app = create_app(
            index, users={"sara": hash_password(password)}, roles={"sara": WebRole.STAFF}
        )
        app.dependency_overrides[get_store] = lambda: rec
        app.dependency_overrides[get_ask_service] = lambda: AskService(answerer)
        with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
            login = client.get("/login").text
            token = re.search(r'name="csrf" value="([^"]+)"', login).group(1)
            client.post("/login", data={"username": "sara", "password": password, "csrf": token})
            csrf = client.app.state.sessions.get(client.cookies.get(SESSION_COOKIE)).csrf
            asked = client.post("/fraga", data={"csrf": csrf, "fraga": QUESTION})
            assert asked.status_code == 303, asked.text[:300]
            page = client.get("/fraga").text

    assert page.count(f'<span class="valid">gäller från {FROM}</span>') == 1
    assert page.count('<span class="owner">ansvarig: Anhörigkonsulent</span>') == 1
