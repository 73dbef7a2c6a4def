"""The gaps store: redacted questions, feedback, themes and retention, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import secrets
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from conftest import PG_URL, make_settings, pg_reachable, require
from sqlalchemy.engine import make_url

from bot.gaps.migrate import current, head, upgrade
from bot.gaps.store import GapsError, SqlRecorder, create_db_engine, create_recorder
from bot.gaps.tables import TABLES
from bot.models import Answer, Citation
from bot.privacy import REDACTED_PNR

ANSWERED = Answer(
    "x",
    True,
    0.83,
    (Citation("rutin.md", "Rutin", "Anmälan", 2, None, "text", None, 0.91234567, 7, 3),),
    "idx1",
)
UNANSWERED = Answer("x", False, 0.12, (), "idx1")


@pytest.fixture(scope="session")
def pg_database():
    """A uniquely named throwaway PostgreSQL database for this session, dropped after it."""
    require(pg_reachable(), "PostgreSQL not reachable at 127.0.0.1:5432")
    name = f"rutinbot_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """An empty database: a SQLite file, or the session's PostgreSQL database emptied after."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gaps.db'}"
        return
    url = request.getfixturevalue("pg_database")
    yield url
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


@pytest.fixture
def recorder(db_url, tmp_path):
    with SqlRecorder(db_url, key_file=tmp_path / "pseudonym.key") as recorder:
        yield recorder


def raw_rows(db_url: str, sql: str) -> list[tuple]:
    """Rows as they lie in the database, read past the store."""
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.exec_driver_sql(sql)]
    finally:
        engine.dispose()


def backdate(db_url: str, record_id: str, days: int) -> None:
    engine = create_db_engine(db_url)
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE questions SET asked_at = :t WHERE id = :id"),
            {"t": datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days), "id": record_id},
        )
    engine.dispose()


def test_question_is_stored_redacted_with_a_pseudonymous_asker(recorder, db_url):
    record_id = recorder.record_question(
        "telegram", "1001", "Gäller lex Sarah för 19850312-1234?", ANSWERED
    )
    [(text, asker, channel, answered, index_id)] = raw_rows(
        db_url, "SELECT text, asker, channel, answered, index_id FROM questions"
    )
    assert text == f"Gäller lex Sarah för {REDACTED_PNR}?"
    assert "1001" not in asker and len(asker) == 32
    assert (channel, bool(answered), index_id) == ("telegram", True, "idx1")
    stored = recorder.question(record_id)
    assert stored.confidence == pytest.approx(0.83)
    assert stored.citations == [
        {"document": "rutin.md", "section": "Anmälan", "page": 2, "chunk_id": 7, "score": 0.912346}
    ]
    assert stored.asked_at.tzinfo is not None
    assert abs(datetime.now(UTC) - stored.asked_at) < timedelta(minutes=1)


def test_same_asker_gets_the_same_pseudonym(recorder, db_url):
    recorder.record_question("telegram", "1001", "a", ANSWERED)
    recorder.record_question("telegram", "1001", "b", ANSWERED)
    recorder.record_question("telegram", "2002", "c", ANSWERED)
    askers = [a for (a,) in raw_rows(db_url, "SELECT asker FROM questions ORDER BY text")]
    assert askers[0] == askers[1] != askers[2]


def test_unanswered_and_unhelpful_questions_are_gaps_helpful_ones_are_not(recorder):
    unanswered = recorder.record_question("telegram", "1", "Sockerkaka?", UNANSWERED)
    unhelpful = recorder.record_question("web", "2", "Lex Sarah?", ANSWERED)
    helpful = recorder.record_question("web", "3", "IVO?", ANSWERED)
    recorder.record_feedback(unhelpful, helpful=False)
    recorder.record_feedback(helpful, helpful=True)
    gaps = recorder.gaps()
    assert [(g.record_id, g.reason) for g in gaps] == [
        (unanswered, "unanswered"),
        (unhelpful, "unhelpful"),
    ]
    assert gaps[1].question == "Lex Sarah?" and gaps[1].citations[0]["document"] == "rutin.md"
    assert recorder.gaps(limit=1)[0].record_id == unanswered
    assert recorder.gaps(since=datetime.now(UTC) + timedelta(minutes=1)) == []


def test_purge_deletes_old_questions_and_their_feedback_only(recorder, db_url):
    old = recorder.record_question("telegram", "1", "gammal", UNANSWERED)
    new = recorder.record_question("telegram", "1", "ny", UNANSWERED)
    recorder.record_feedback(old, helpful=False)
    recorder.record_feedback(new, helpful=False)
    backdate(db_url, old, days=200)
    assert recorder.purge(older_than_days=180) == 1
    assert [g.record_id for g in recorder.gaps()] == [new]
    assert raw_rows(db_url, "SELECT question_id FROM feedback") == [(new,)]
    assert recorder.purge(older_than_days=180) == 0
    with pytest.raises(GapsError):
        recorder.purge(older_than_days=-1)


def test_delete_question_removes_it_and_later_feedback_is_ignored(recorder, db_url):
    gone = recorder.record_question("telegram", "1", "glöm mig", UNANSWERED)
    kept = recorder.record_question("telegram", "1", "behåll", UNANSWERED)
    recorder.record_feedback(gone, helpful=False)
    assert recorder.delete_question(gone) is True
    assert recorder.delete_question(gone) is False
    recorder.record_feedback(gone, helpful=False)  # a late click on a deleted answer
    assert [g.record_id for g in recorder.gaps()] == [kept]
    assert raw_rows(db_url, "SELECT count(*) FROM feedback") == [(0,)]


def test_theme_status_change_records_who_and_when(recorder):
    question = recorder.record_question("telegram", "1", "Sockerkaka?", UNANSWERED)
    theme_id = recorder.add_theme("Bakning")
    assert recorder.assign_theme([question, "missing"], theme_id) == 1
    before = datetime.now(UTC)
    theme = recorder.set_theme_status(theme_id, "in_progress", note="Rutin skrivs", by="anna")
    assert (theme.status, theme.note, theme.changed_by, theme.questions) == (
        "in_progress",
        "Rutin skrivs",
        "anna",
        1,
    )
    assert before - timedelta(seconds=1) <= theme.changed_at <= datetime.now(UTC)
    [listed] = recorder.themes()
    assert listed == theme and listed.created_at <= theme.changed_at
    assert recorder.set_theme_status(theme_id, "resolved", by="berit").note == "Rutin skrivs"
    assert [t.id for t in recorder.themes(status="resolved")] == [theme_id]


def test_gaps_can_be_listed_by_theme(recorder):
    themed = recorder.record_question("telegram", "1", "a", UNANSWERED)
    loose = recorder.record_question("telegram", "1", "b", UNANSWERED)
    theme_id = recorder.add_theme("A")
    recorder.assign_theme([themed], theme_id)
    assert [g.record_id for g in recorder.gaps(theme_id=theme_id)] == [themed]
    assert [g.record_id for g in recorder.gaps(unthemed=True)] == [loose]
    assert recorder.theme(theme_id).questions == 1
    assert recorder.theme(999) is None


def test_theme_history_records_status_changes_merges_and_moves(recorder):
    a, b = recorder.add_theme("A"), recorder.add_theme("B")
    qa = recorder.record_question("telegram", "1", "a", UNANSWERED)
    qb = recorder.record_question("telegram", "1", "b", UNANSWERED)
    recorder.assign_theme([qa], a)
    recorder.assign_theme([qb], b)
    recorder.set_theme_status(a, "in_progress", note="Utreds", by="anna")
    recorder.set_theme_status(b, "wont_fix", by="berit")
    recorder.move_question(qb, a, by="anna")
    history = recorder.theme_events(a)
    assert [(e.kind, e.status, e.by, e.note) for e in history] == [
        ("status", "in_progress", "anna", "Utreds"),
        ("move", None, "anna", ""),
    ]
    assert qb in history[1].detail and [e.kind for e in recorder.theme_events(b)][-1] == "move"
    assert recorder.merge_theme(a, b, by="cecilia") == 2
    assert recorder.theme(a) is None and recorder.theme_events(a) == []  # history went with it
    merge = recorder.theme_events(b)[-1]
    assert (merge.kind, merge.by) == ("merge", "cecilia") and "#" + str(a) in merge.detail
    with pytest.raises(GapsError, match="no question with id nope"):
        recorder.move_question("nope", b)


def test_reanswers_flag_a_theme_when_enough_of_its_questions_are_answered(recorder):
    theme = recorder.add_theme("A")
    ids = [recorder.record_question("telegram", "1", f"q{i}", UNANSWERED) for i in range(3)]
    recorder.assign_theme(ids, theme)
    assert recorder.record_reanswers("idx2", {ids[0]: ANSWERED}) == [theme]  # 1 of 1 re-asked
    flagged = recorder.theme(theme)
    assert flagged.answered_now and flagged.answered_now_index == "idx2" and flagged.answered_now_at
    first = {g.record_id: g for g in recorder.gaps()}[ids[0]]
    assert first.answered_now and first.answered_now_citations[0]["document"] == "rutin.md"
    # Re-asked all three, one answered: under half, so the flag from the earlier index goes.
    answers = {ids[0]: ANSWERED, ids[1]: UNANSWERED, ids[2]: UNANSWERED}
    assert recorder.record_reanswers("idx3", answers) == []
    cleared = recorder.theme(theme)
    assert not cleared.answered_now and cleared.answered_now_at is None
    answers[ids[1]] = ANSWERED  # two of three
    assert recorder.record_reanswers("idx4", answers) == [theme]
    assert recorder.record_reanswers("idx5", answers) == []  # already flagged: not new
    assert [e.kind for e in recorder.theme_events(theme)] == ["answered_now", "answered_now"]


def test_weekly_counts_cover_every_week_with_answers_and_feedback(recorder, db_url):
    now = datetime.now(UTC)
    helped = recorder.record_question("telegram", "1", "a", ANSWERED)
    recorder.record_feedback(helped, True)
    recorder.record_question("telegram", "1", "b", UNANSWERED)
    old = recorder.record_question("telegram", "1", "c", UNANSWERED)
    backdate(db_url, old, 14)
    weeks = recorder.weekly(4, now=now)
    assert len(weeks) == 4 and weeks[-1].week == (now - timedelta(days=now.weekday())).date()
    assert all(b.week - a.week == timedelta(weeks=1) for a, b in itertools.pairwise(weeks))
    last = weeks[-1]
    assert (last.answered, last.unanswered, last.helpful, last.unhelpful) == (1, 1, 1, 0)
    assert sum(w.unanswered for w in weeks) == 2  # the backdated one falls in an earlier week
    assert sum(w.unanswered for w in recorder.weekly(1, now=now)) == 1
    with pytest.raises(GapsError):
        recorder.weekly(0)


def test_theme_errors_name_what_to_do(recorder):
    theme_id = recorder.add_theme("A")
    with pytest.raises(GapsError, match="open, in_progress, resolved, wont_fix"):
        recorder.set_theme_status(theme_id, "done", by="anna")
    with pytest.raises(GapsError, match="no theme with id 999"):
        recorder.set_theme_status(999, "resolved", by="anna")
    with pytest.raises(GapsError, match="no theme"):
        recorder.assign_theme([], 999)


def test_fresh_database_is_migrated_to_head_and_matches_the_models(db_url):
    assert current(db_url) is None
    upgrade(db_url)
    assert current(db_url) == head()
    own = {t.name for t in TABLES}
    engine = create_db_engine(db_url)
    try:
        with engine.connect() as connection:
            names = set(sa.inspect(connection).get_table_names())
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": True,
                    "include_name": lambda name, kind, _: kind != "table" or name in own,
                },
            )
            diff = compare_metadata(context, TABLES[0].metadata)
    finally:
        engine.dispose()
    assert own <= names
    assert diff == []


def test_migration_upgrade_is_idempotent(db_url, tmp_path):
    upgrade(db_url)
    upgrade(db_url)
    with SqlRecorder(db_url, key_file=tmp_path / "k") as recorder:  # upgrades again on open
        recorder.record_question("telegram", "1", "a", UNANSWERED)
    with SqlRecorder(db_url, key_file=tmp_path / "k") as recorder:
        assert len(recorder.gaps()) == 1
    assert current(db_url) == head()


def _write_questions(url: str, key_file: str, count: int) -> None:
    with SqlRecorder(url, key_file=key_file) as recorder:
        for i in range(count):
            record_id = recorder.record_question("telegram", str(i), f"fråga {i}", ANSWERED)
            recorder.record_feedback(record_id, helpful=False)


def test_concurrent_writers_share_a_sqlite_file_without_locking_errors(tmp_path):
    """Processes opening (and migrating) a new file at once, and threads in each, all get in."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    key_file = str(tmp_path / "pseudonym.key")
    fork = multiprocessing.get_context("fork")
    processes = [fork.Process(target=_write_questions, args=(url, key_file, 40)) for _ in range(3)]
    for p in processes:
        p.start()
    errors = []

    def write_in_thread():
        try:
            _write_questions(url, key_file, 40)
        except Exception as err:  # collected: an exception in a thread would be lost
            errors.append(err)

    threads = [threading.Thread(target=write_in_thread) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in processes:
        p.join(timeout=60)
    assert errors == []
    assert [p.exitcode for p in processes] == [0, 0, 0]
    assert raw_rows(url, "SELECT count(*), count(DISTINCT id) FROM questions") == [(240, 240)]
    assert raw_rows(url, "SELECT count(*) FROM feedback") == [(240,)]
    assert raw_rows(url, "PRAGMA journal_mode") == [("wal",)]


def test_sqlite_connections_enforce_foreign_keys_and_wait_for_locks(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    engine.dispose()


def test_database_url_defaults_to_a_sqlite_file_in_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = make_settings(tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'rutinbot.db'}"
    assert settings.database.retention_days == 180
    assert "url" not in repr(settings.database)  # it may hold a password
    configured = make_settings(tmp_path, database={"url": "sqlite:////srv/x.db"})
    assert configured.database_url == "sqlite:////srv/x.db"
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert make_settings(tmp_path, database={"url": "sqlite:////srv/x.db"}).database_url == (
        "postgresql+psycopg://u@h/db"
    )


def test_create_recorder_opens_the_configured_database_and_purges_old_questions(
    tmp_path, monkeypatch
):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = make_settings(tmp_path, database={"retention_days": 30})
    with create_recorder(settings) as recorder:
        old = recorder.record_question("telegram", "1", "gammal", UNANSWERED)
    backdate(settings.database_url, old, days=31)
    with create_recorder(settings) as recorder:
        assert recorder.gaps() == []
        recorder.record_question("telegram", "1", "ny", UNANSWERED)
    assert (tmp_path / "data" / "rutinbot.db").is_file()
    assert (tmp_path / "data" / "pseudonym.key").is_file()


def test_server_database_without_a_pseudonym_key_is_refused(monkeypatch):
    monkeypatch.delenv("RUTINBOT_HASH_KEY", raising=False)
    recorder = SqlRecorder("sqlite://")  # in memory: no folder to keep a key file in
    with pytest.raises(GapsError, match="RUTINBOT_HASH_KEY"):
        recorder.record_question("web", "1", "a", ANSWERED)
    monkeypatch.setenv("RUTINBOT_HASH_KEY", "k")
    assert recorder.record_question("web", "1", "a", ANSWERED)
    recorder.close()


def test_notes_names_of_themes_and_who_changed_them_are_stored_redacted(recorder, db_url):
    """Every free text a reviewer or a front end passes is redacted before it reaches a row."""
    question = recorder.record_question("web", "1", "Vad gäller?", UNANSWERED)
    theme = recorder.add_theme("Ring Anna Svensson på 070-123 45 67")
    other = recorder.add_theme("Mejla fatima(at)kommun.se")
    recorder.assign_theme([question], theme)
    recorder.set_theme_status(
        theme,
        "in_progress",
        note="Pratade med mamman Fatima, 19850312-1234, Storgatan 12\x1b[2J",
        by="anna 850312-1234",
    )
    recorder.move_question(question, other, by="Berit +46 70 123 45 67")
    recorder.merge_theme(theme, other, by="klienten Kalle Karlsson ringde och ville ha svar")
    [(name, note, changed_by)] = raw_rows(db_url, "SELECT name, note, changed_by FROM themes")
    events = raw_rows(db_url, "SELECT kind, by, note, detail FROM theme_events ORDER BY id")
    stored = " ".join(map(str, [name, note, changed_by, *events]))
    for typed in ("070", "123 45", "fatima", "Fatima", "1234", "Storgatan", "Karlsson", "\x1b"):
        assert typed not in stored
    assert name == "Mejla [EPOST]"
    # The status change went with the merged theme; a later one is checked below.
    assert [(kind, by) for kind, by, _, _ in events] == [
        ("move", "Berit [TELEFON]"),
        ("merge", "klienten [NAMN] ringde och ville ha svar"),
    ]
    recorder.set_theme_status(other, "open", note="Ny rutin om hot 0701234567", by="anna")
    [*_, status] = recorder.theme_events(other)
    assert (status.note, status.by) == ("Ny rutin om hot [TELEFON]", "anna")
    assert recorder.theme(other).note == "Ny rutin om hot [TELEFON]"


def test_renaming_a_theme_redacts_the_name_and_keeps_it_within_the_column(recorder):
    theme = recorder.add_theme("x")
    recorder.rename_theme(theme, "Klienten Ahmed Hassan " + "och mer " * 40)
    name = recorder.theme(theme).name
    assert name.startswith("Klienten [NAMN] och mer") and len(name) == 200


def test_migration_redacts_text_stored_before_it(db_url):
    """Rows written as typed by an older version are redacted by revision 0003, once."""
    upgrade(db_url, "0002")
    engine = create_db_engine(db_url)
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO themes (id, name, status, answered_now, answered_now_index, note,"
                " changed_by, created_at) VALUES (1, :name, 'open', false, '', :note, :by, :at)"
            ),
            {
                "name": "Ring 070 123 45 67",
                "note": "Familjen Nilsson, anna.svensson@kommun.se",
                "by": "Berit 19850312-1234",
                "at": now,
            },
        )
        connection.execute(
            sa.text(
                "INSERT INTO questions (id, text, asked_at, channel, asker, answered, confidence,"
                " index_id, citations, theme_id, answered_now, answered_now_citations) VALUES"
                " ('q1', :text, :at, 'cli', 'x', false, 0.1, '', '[]', 1, false, '[]')"
            ),
            {"text": "Kan Andersson få bistånd? pnr 850312 12 34", "at": now},
        )
        connection.execute(
            sa.text(
                "INSERT INTO theme_events (theme_id, at, by, kind, note, detail) VALUES"
                " (1, :at, :by, 'status', :note, '')"
            ),
            {"at": now, "by": "anna", "note": "Ring mamman Svensson på 08-123 456 78"},
        )
    engine.dispose()
    upgrade(db_url)
    assert raw_rows(db_url, "SELECT name, note, changed_by FROM themes") == [
        ("Ring [TELEFON]", "Familjen [NAMN], [EPOST]", "Berit [PERSONNUMMER]")
    ]
    assert raw_rows(db_url, "SELECT text FROM questions") == [
        ("Kan [NAMN] få bistånd? pnr [PERSONNUMMER]",)
    ]
    assert raw_rows(db_url, "SELECT by, note FROM theme_events") == [
        ("anna", "Ring mamman [NAMN] på [TELEFON]")
    ]
