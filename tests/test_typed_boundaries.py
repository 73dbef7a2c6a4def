"""Behaviour behind the type fixes: typed settings changes, the 5xx retry, untyped PDF objects."""

from __future__ import annotations

import asyncio
import dataclasses
import io

import pytest
from fake_bot_api import TOKEN, FakeBotAPI

from bot.adapters.tgbot.retry import RetryingRequest
from bot.config import PathSettings, Settings, SettingsChanges, WebSettings
from bot.errors import DocumentError
from bot.ingest.limits import Budget, Limits
from bot.ingest.pdf import read_pdf


def test_settings_changes_name_exactly_the_settings_fields():
    """Settings.replace is typed by SettingsChanges: a field missing there could not be set."""
    assert SettingsChanges.__optional_keys__ == {f.name for f in dataclasses.fields(Settings)}


def test_settings_replace_changes_only_the_named_section():
    web = WebSettings(port=9000)
    changed = Settings().replace(web=web, paths=PathSettings())
    assert changed.web == web and changed.encoder == Settings().encoder


@pytest.fixture(scope="module")
def api():
    with FakeBotAPI() as api:
        yield api


async def _get_me(api: FakeBotAPI, request: RetryingRequest) -> int:
    await request.initialize()
    try:
        code, _ = await request.do_request(f"{api.base_url}{TOKEN}/getMe", "POST")
    finally:
        await request.shutdown()
    return code


def test_retrying_request_waits_out_a_5xx(api):
    before = len(api.calls_of("getMe"))
    api.fail_next("getMe", 502, retry_after=None)
    api.fail_next("getMe", 500, retry_after=None)
    assert asyncio.run(_get_me(api, RetryingRequest(backoff_first=0.01))) == 200
    assert [c.status for c in api.calls_of("getMe")[before:]] == [502, 500, 200]


def test_retrying_request_gives_up_after_its_retries(api):
    before = len(api.calls_of("getMe"))
    api.fail_next("getMe", 502, retry_after=None)
    api.fail_next("getMe", 502, retry_after=None)
    request = RetryingRequest(retries=1, backoff_first=0.01)
    assert asyncio.run(_get_me(api, request)) == 502
    assert [c.status for c in api.calls_of("getMe")[before:]] == [502, 502]  # try, one retry


_PAGE_TEXT = b"BT /F1 12 Tf 10 100 Td (Rutin for hembesok hos aldre personer.) Tj ET"


def _pdf(resources_forged: bool) -> bytes:
    """One page whose Flate content stream names its /Filter through an indirect reference,
    optionally with a number where the /Resources dictionary belongs."""
    import zlib

    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject, NumberObject

    writer = PdfWriter()
    page = writer.add_blank_page(200, 200)
    stream = DecodedStreamObject()
    stream.set_data(zlib.compress(_PAGE_TEXT))
    stream[NameObject("/Filter")] = writer._add_object(NameObject("/FlateDecode"))
    page[NameObject("/Contents")] = writer._add_object(stream)
    if resources_forged:
        page[NameObject("/Resources")] = NumberObject(7)
    else:
        page[NameObject("/Resources")] = DictionaryObject()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize("resources_forged", [False, True])
def test_pdf_streams_are_counted_through_references_and_forged_objects(resources_forged):
    """A stream's /Filter behind an indirect reference is still counted against the document's
    budget, and a number where a dictionary belongs is passed over, not taken for corruption
    before anything was counted. (The page has no font, so it has no text layer.)"""
    budget = Budget(Limits.from_settings(), "forged.pdf")
    with pytest.raises(DocumentError, match="no text layer"):
        read_pdf("forged.pdf", _pdf(resources_forged), budget)
    assert budget.unpacked == len(_PAGE_TEXT)
