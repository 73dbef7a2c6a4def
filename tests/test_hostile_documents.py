"""Hostile documents at ingest: links out, bombs, slow files and control characters are refused
or cleaned, each refusal reported by name with its reason."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from bot.config import IngestSettings
from bot.errors import DocumentError
from bot.ingest.files import in_folder, list_knowledge, open_inside
from bot.ingest.limits import Limits
from bot.ingest.readers import read_document
from bot.search.indexer import knowledge_files

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="word/document.xml" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/officeDocument"/></Relationships>'
)


def limits(**changes) -> Limits:
    return Limits.from_settings(IngestSettings(**changes))


def paragraphs_xml(count: int, styled: bool = False) -> str:
    style = '<w:pPr><w:pStyle w:val="S{0}"/></w:pPr>' if styled else ""
    body = "".join(
        f"<w:p>{style.format(i)}<w:r><w:t>Stycke {i}.</w:t></w:r></w:p>" for i in range(count)
    )
    return f'<w:document xmlns:w="{_W}"><w:body>{body}</w:body></w:document>'


def styles_xml(count: int) -> str:
    styles = "".join(
        f'<w:style w:type="paragraph" w:styleId="S{i}"><w:name w:val="Stil {i}"/></w:style>'
        for i in range(count)
    )
    return f'<w:styles xmlns:w="{_W}">{styles}</w:styles>'


def write_docx(path: Path, document: str | bytes, styles: str | None = None) -> Path:
    """A minimal .docx by hand (python-docx's own writer is slow for many paragraphs)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("word/document.xml", document)
        if styles:
            zf.writestr("word/styles.xml", styles)
    return path


def write_docx_bomb(path: Path, unpacked_mb: int) -> Path:
    """A .docx whose document part is streamed in, compressing to a tiny fraction of its size."""
    filler = b"<w:p><w:r><w:t>a</w:t></w:r></w:p>" * 30_000  # about 1 MB
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        with zf.open("word/document.xml", "w", force_zip64=True) as member:
            member.write(f'<w:document xmlns:w="{_W}"><w:body>'.encode())
            for _ in range(unpacked_mb):
                member.write(filler)
            member.write(b"</w:body></w:document>")
    return path


def write_pdf(path: Path, content: bytes, pages: int = 1) -> Path:
    """A PDF by hand: `pages` pages, each showing `content` as one Flate stream of its own."""
    stream = zlib.compress(content, 9)
    kids = b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i in range(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 3 0 R >> >> >>" % (5 + 2 * i)
        )
        objects.append(
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream)
            + stream
            + b"\nendstream"
        )
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.writelines(b"%010d 00000 n \n" % offset for offset in offsets)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    path.write_bytes(out.getvalue())
    return path


PAGE_TEXT = b"BT /F1 12 Tf 72 700 Td (Rutin for hembesok hos aldre personer.) Tj ET\n"


# --- links ---------------------------------------------------------------------------------


@pytest.fixture
def linked(tmp_path):
    """A knowledge folder with a file, a secret outside it and every kind of link."""
    folder = tmp_path / "knowledge"
    (folder / "sub").mkdir(parents=True)
    (folder / "rutin.txt").write_text("Rutin för hembesök.\n", encoding="utf-8")
    secret = tmp_path / "hemligt.txt"
    secret.write_text("Personnummer 19121212-1212.\n", encoding="utf-8")
    (folder / "ut.txt").symlink_to(secret)
    (folder / "alias.txt").symlink_to(folder / "rutin.txt")
    (folder / "borta.txt").symlink_to(tmp_path / "finns-inte.txt")
    (folder / "loop.txt").symlink_to(folder / "loop.txt")
    (folder / "mapp").symlink_to(folder / "sub")
    (folder / "sub" / "upp.md").symlink_to("../../hemligt.txt")
    return folder


def test_links_out_dangling_loops_and_folders_are_refused_with_their_reasons(linked):
    listing = list_knowledge(linked)

    assert [p.name for p in listing.files] == ["alias.txt", "rutin.txt"]
    reasons = dict(listing.skipped)
    assert set(reasons) == {"ut.txt", "borta.txt", "loop.txt", "mapp", "sub/upp.md"}
    assert "outside the knowledge folder" in reasons["ut.txt"]
    assert "outside the knowledge folder" in reasons["sub/upp.md"]
    assert "dangling" in reasons["borta.txt"]
    assert "loop" in reasons["loop.txt"]
    assert "links to folders are not followed" in reasons["mapp"]


def test_a_link_inside_the_folder_is_read_under_its_own_name(linked):
    [alias] = [p for p in list_knowledge(linked).files if p.name == "alias.txt"]

    assert read_document(alias).blocks[0].text == "Rutin för hembesök."


def test_the_listing_refuses_every_link_out_by_name_and_lists_only_documents(linked):
    refused = dict(list_knowledge(linked).skipped)
    assert {"ut.txt", "sub/upp.md", "loop.txt", "borta.txt"} <= set(refused)
    files = {p.relative_to(linked).as_posix() for p in knowledge_files(linked)}
    assert not files & set(refused)


def test_a_file_swapped_for_a_link_after_listing_is_refused(linked, tmp_path):
    listed = in_folder(linked / "rutin.txt", linked)
    (linked / "rutin.txt").unlink()
    (linked / "rutin.txt").symlink_to(tmp_path / "hemligt.txt")  # swapped after the listing

    with pytest.raises(DocumentError, match="outside the knowledge folder"):
        read_document(listed)


def test_a_folder_swapped_for_a_link_after_listing_is_refused(linked, tmp_path):
    (linked / "sub" / "ok.txt").write_text("Text.\n", encoding="utf-8")
    listed = in_folder(linked / "sub" / "ok.txt", linked)
    (linked / "sub").rename(tmp_path / "flyttad")
    (linked / "sub").symlink_to(tmp_path / "flyttad")

    with pytest.raises(DocumentError, match="a folder on its path is a link"):
        open_inside(listed)


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path):
    os.mkfifo(tmp_path / "ror.txt")

    assert dict(list_knowledge(tmp_path).skipped) == {
        "ror.txt": "not a regular file (a pipe, socket or device)"
    }
    with pytest.raises(DocumentError, match="not a regular file"):
        read_document(tmp_path / "ror.txt")


def test_a_sidecar_that_links_out_is_refused(tmp_path):
    folder = tmp_path / "knowledge"
    folder.mkdir()
    (folder / "rutin.txt").write_text("Rutin.\n", encoding="utf-8")
    (tmp_path / "x.toml").write_text('title = "Hemligt"\n', encoding="utf-8")
    (folder / "rutin.txt.meta.toml").symlink_to(tmp_path / "x.toml")
    from bot.ingest.metadata import resolve

    [path] = list_knowledge(folder).files
    with pytest.raises(DocumentError, match="outside the knowledge folder"):
        resolve(path, None, None, {}, "")


# --- limits --------------------------------------------------------------------------------


def test_a_file_over_max_file_mb_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "stor.txt"
    path.write_text("ord " * 300_000, encoding="utf-8")

    with pytest.raises(DocumentError, match=r"over \[ingest\] max_file_mb \(1 MB\)"):
        read_document(path, limits(max_file_mb=1))


def test_a_docx_bomb_is_refused_by_its_unpacked_size(tmp_path):
    bomb = write_docx_bomb(tmp_path / "bomb.docx", unpacked_mb=300)
    assert bomb.stat().st_size < 2 * 1024 * 1024

    with pytest.raises(DocumentError, match=r"over \[ingest\] max_unpacked_mb \(200 MB\)"):
        read_document(bomb, limits(max_compression_ratio=1e9))
    with pytest.raises(DocumentError, match=r"over \[ingest\] max_compression_ratio \(100:1\)"):
        read_document(bomb)


def test_a_docx_whose_headers_understate_its_size_is_refused_not_expanded(tmp_path):
    bomb = write_docx_bomb(tmp_path / "bomb.docx", unpacked_mb=30)
    data = bytearray(bomb.read_bytes())
    # Forge the declared size of word/document.xml in the central directory to 1000 bytes.
    central = data.rfind(b"PK\x01\x02", 0, data.rfind(b"word/document.xml"))
    data[central + 24 : central + 28] = (1000).to_bytes(4, "little")
    forged = tmp_path / "forged.docx"
    forged.write_bytes(bytes(data))

    with pytest.raises(DocumentError, match=r"forged\.docx"):
        read_document(forged, limits(max_unpacked_mb=5, max_compression_ratio=1e9))


def _seconds(path: Path) -> float:
    started = time.perf_counter()
    read_document(path)
    return time.perf_counter() - started


def test_a_docx_of_many_tiny_styled_paragraphs_reads_in_linear_time(tmp_path):
    # Each paragraph with a style of its own: python-docx looked each style up in a list.
    small = write_docx(tmp_path / "liten.docx", paragraphs_xml(2_000, True), styles_xml(2_000))
    large = write_docx(tmp_path / "stor.docx", paragraphs_xml(20_000, True), styles_xml(20_000))

    result = read_document(large)
    assert len(result.blocks) == 20_000
    assert result.blocks[-1].text == "Stycke 19999."
    ratio = min(_seconds(large) for _ in range(2)) / min(_seconds(small) for _ in range(3))
    assert ratio < 25, f"10x the paragraphs took {ratio:.1f}x the time"


def test_a_pdf_with_a_huge_flate_stream_is_refused(tmp_path):
    pdf = write_pdf(tmp_path / "bomb.pdf", PAGE_TEXT + b" " * (40 * 1024 * 1024))

    with pytest.raises(DocumentError, match=r"bomb\.pdf: over \[ingest\] max_unpacked_mb"):
        read_document(pdf, limits(max_unpacked_mb=10, max_compression_ratio=1e9))
    with pytest.raises(DocumentError, match=r"max_compression_ratio \(100:1\)"):
        read_document(pdf)


def test_a_pdf_whose_streams_together_unpack_past_the_limit_is_refused(tmp_path):
    pdf = write_pdf(tmp_path / "sidor.pdf", PAGE_TEXT + b" " * (4 * 1024 * 1024), pages=4)

    unbounded_ratio = limits(max_compression_ratio=1e9)
    assert len(read_document(pdf, unbounded_ratio).blocks) == 4  # each page alone is fine
    with pytest.raises(DocumentError, match=r"sidor\.pdf: over \[ingest\] max_unpacked_mb"):
        read_document(pdf, limits(max_unpacked_mb=10, max_compression_ratio=1e9))


def test_a_plain_pdf_stream_is_read(tmp_path):
    pdf = write_pdf(tmp_path / "rutin.pdf", PAGE_TEXT)

    assert read_document(pdf).blocks[0].text == "Rutin for hembesok hos aldre personer."


@pytest.mark.parametrize("suffix", [".txt", ".docx"])
def test_text_over_max_chars_is_refused(tmp_path, suffix):
    path = tmp_path / f"lang{suffix}"
    if suffix == ".docx":
        write_docx(path, paragraphs_xml(5_000))
    else:
        path.write_text("Ett stycke.\n\n" * 5_000, encoding="utf-8")

    with pytest.raises(DocumentError, match=r"over \[ingest\] max_chars \(10,000 characters\)"):
        read_document(path, limits(max_chars=10_000))


@pytest.mark.parametrize("suffix", [".docx", ".html", ".md"])
def test_a_document_over_its_deadline_is_refused(tmp_path, suffix):
    path = tmp_path / f"seg{suffix}"
    if suffix == ".docx":
        write_docx(path, paragraphs_xml(5_000))
    else:
        path.write_text("<p>Ett stycke.</p>\n\n" * 20_000, encoding="utf-8")

    with pytest.raises(DocumentError, match=r"timeout_seconds \(1e-06 s\)"):
        read_document(path, limits(timeout_seconds=1e-6))


# --- control characters --------------------------------------------------------------------

HOSTILE = "Rubrik\x1b]0;pwned\x07 med \u202eövers\u202c text\x9b2J och\r\nslut."
# A few controls in ordinary text: a file that is mostly controls is refused as binary.
PLAIN = "Rutinen gäller all personal inom hemtjänsten och ses över varje år. " * 20


@pytest.mark.parametrize("suffix", [".txt", ".md", ".html", ".docx"])
def test_control_and_bidi_characters_never_leave_the_readers(tmp_path, suffix):
    path = tmp_path / f"fientlig{suffix}"
    if suffix == ".docx":  # XML 1.0 forbids C0 controls; C1 and bidi overrides pass
        write_docx(path, paragraphs_xml(1).replace("Stycke 0.", "Rubrik\x9b2J \u202eövers\x85"))
    else:
        text = f"---\ntitle: {HOSTILE}\n---\n\n{HOSTILE}\n\n{PLAIN}\n"
        path.write_text(text, encoding="utf-8")

    result = read_document(path)
    texts = [b.text for b in result.blocks] + [result.title or ""]
    texts += list(result.front_matter.values())
    for text in texts:
        assert not any(c in text for c in "\x1b\x07\x9b\x00\r\u202e\u202c\x85"), repr(text)


def test_a_title_from_a_sidecar_or_file_name_is_cleaned(tmp_path):
    from bot.ingest.metadata import resolve

    path = tmp_path / "rutin\x1b[2J.txt"
    path.write_text("Text.\n", encoding="utf-8")
    (tmp_path / "rutin\x1b[2J.txt.meta.toml").write_text(
        'title = "Titel\\u001b]0;x\\u0007 \\u202eslut"\n', encoding="utf-8"
    )

    assert resolve(path, None, None, {}, "").title == "Titel]0;x slut"


def test_indexed_text_is_clean_and_refused_links_are_reported(linked, tmp_path, encoder):
    from conftest import make_settings

    from bot.search import store
    from bot.search.indexer import build_index

    (linked / "fientlig.md").write_text(f"# {HOSTILE}\n\n{HOSTILE} {PLAIN}\n", encoding="utf-8")
    settings = make_settings(
        tmp_path,
        paths={"knowledge": str(linked), "index": str(tmp_path / "idx"), "data": str(tmp_path)},
    )
    report = build_index(settings, encoder)

    skipped = dict(report.skipped)
    assert {"ut.txt", "sub/upp.md", "loop.txt", "borta.txt", "mapp"} <= set(skipped)
    assert "outside the knowledge folder" in skipped["ut.txt"]
    assert "unsupported file type" not in skipped["mapp"]  # a link to a folder, said so
    chunks = store.read_chunks(store.current_dir(settings.paths.index))
    assert {c.document for c in chunks} == {"alias.txt", "fientlig.md", "rutin.txt"}
    assert not any("19121212" in c.text for c in chunks)
    for chunk in chunks:
        for text in (chunk.text, chunk.title, chunk.section or ""):
            assert not any(c in text for c in "\x1b\x07\x9b\x00\u202e\u202c"), repr(text)


# --- memory --------------------------------------------------------------------------------


def test_rutinbot_index_stays_under_1_gb_with_bombs_in_the_folder(tmp_path):
    folder = tmp_path / "knowledge"
    folder.mkdir()
    (folder / "rutin.txt").write_text("Rutin för hembesök hos äldre.\n", encoding="utf-8")
    write_docx_bomb(folder / "bomb.docx", unpacked_mb=300)
    write_pdf(folder / "bomb.pdf", PAGE_TEXT + b" " * (150 * 1024 * 1024))
    write_docx(folder / "stycken.docx", paragraphs_xml(40, True), styles_xml(20_000))
    config = tmp_path / "config.toml"
    config.write_text(
        f'[paths]\nknowledge = "{folder}"\nindex = "{tmp_path / "idx"}"\n'
        f'data = "{tmp_path / "data"}"\n',
        encoding="utf-8",
    )
    runner = textwrap.dedent(
        f"""
        import resource, subprocess, sys
        done = subprocess.run([sys.executable, "-m", "bot", "--config", {str(config)!r},
                               "index", "--no-reask"], capture_output=True, text=True, timeout=400)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
        print(done.returncode, peak)
        print(done.stderr, file=sys.stderr)
        """
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", runner], capture_output=True, text=True, env=env, timeout=600
    )
    code, peak_kib = map(int, done.stdout.split())

    assert code == 0, done.stderr
    assert "bomb.docx" in done.stderr and "max_compression_ratio" in done.stderr
    assert "bomb.pdf" in done.stderr and "max_compression_ratio" in done.stderr
    assert peak_kib < 1024 * 1024, f"peak resident {peak_kib / 1024:.0f} MB"


# --- the worker ----------------------------------------------------------------------------


def test_the_worker_reads_what_the_readers_read_and_passes_their_refusals_on(tmp_path):
    from bot.ingest.worker import read_in_worker

    good = write_docx(tmp_path / "rutin.docx", paragraphs_xml(50, True), styles_xml(50))
    bomb = write_docx_bomb(tmp_path / "bomb.docx", unpacked_mb=30)

    assert read_in_worker(good, limits()) == read_document(good)
    with pytest.raises(DocumentError, match=r"bomb\.docx: over \[ingest\] max_compression_ratio"):
        read_in_worker(bomb, limits())
    with pytest.raises(DocumentError, match=r"timeout_seconds \(1e-06 s\)"):
        read_in_worker(good, limits(timeout_seconds=1e-6))


def test_a_worker_that_needs_more_memory_than_allowed_is_stopped(tmp_path, monkeypatch):
    from bot.ingest import worker

    path = tmp_path / "stor.txt"
    # Over glibc's largest mmap threshold (32 MB): the worker cannot serve it from a heap it
    # inherited, it must map new memory, which its cap refuses.
    path.write_bytes(b"Ett ord i taget. " * 2_700_000)  # 46 MB
    monkeypatch.setattr(worker, "WORKER_MEMORY_BYTES", 1024 * 1024)

    with pytest.raises(DocumentError, match=r"stor\.txt: (needs more memory|the reader stopped)"):
        worker.read_in_worker(path, limits(max_chars=10**9))
