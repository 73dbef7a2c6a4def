"""Each reader turns a real file into blocks, title and date, and refuses unreadable files."""

from __future__ import annotations

import datetime as dt

import docx
import pypdf
import pytest
from fpdf import FPDF

from bot.errors import DocumentError
from bot.ingest.readers import SUPPORTED, ReadResult, read_document
from bot.models import Block


def write_pdf(path, pages, title=None, created=None):
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)  # a core font: latin-1, which covers å ä ö
    if title:
        pdf.set_title(title)
    if created:
        pdf.set_creation_date(created)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 8, text)
    pdf.output(str(path))
    return path


@pytest.fixture
def three_page_pdf(tmp_path):
    return write_pdf(
        tmp_path / "hembesok.pdf",
        [
            "Rutin för hembesök hos äldre.\nGäller all personal.",
            "Före besöket ringer du brukaren.",
            "Efter besöket dokumenterar du i journalen, även små händelser.",
        ],
        title="Microsoft Word - Rutin för hembesök",
        created=dt.datetime(2024, 3, 1, 9, 30, tzinfo=dt.UTC),
    )


def test_pdf_blocks_carry_one_based_page_numbers_and_swedish_letters(three_page_pdf):
    result = read_document(three_page_pdf)

    assert [b.page for b in result.blocks] == [1, 2, 3]
    assert all(b.kind == "para" for b in result.blocks)
    assert result.blocks[0].text == "Rutin för hembesök hos äldre.\nGäller all personal."
    assert "dokumenterar du i journalen, även små händelser" in result.blocks[2].text


def test_pdf_title_and_creation_date_come_from_metadata(three_page_pdf):
    result = read_document(three_page_pdf)

    assert result.title == "Rutin för hembesök"  # Word's export prefix is dropped
    assert result.date == "2024-03-01"
    assert result.front_matter == {}


def test_pdf_without_text_layer_asks_for_ocr(tmp_path):
    blank = write_pdf(tmp_path / "skannad.pdf", ["", ""])

    with pytest.raises(DocumentError, match=r"skannad\.pdf has no text layer.*OCR"):
        read_document(blank)


def test_pdf_with_user_password_is_refused(tmp_path, three_page_pdf):
    writer = pypdf.PdfWriter(clone_from=str(three_page_pdf))
    writer.encrypt(user_password="hemligt", owner_password="agare", algorithm="RC4-128")
    locked = tmp_path / "last.pdf"
    writer.write(str(locked))

    with pytest.raises(DocumentError, match=r"last\.pdf is encrypted"):
        read_document(locked)


def test_pdf_with_only_an_owner_password_is_read(tmp_path, three_page_pdf):
    writer = pypdf.PdfWriter(clone_from=str(three_page_pdf))
    writer.encrypt(user_password="", owner_password="agare", algorithm="RC4-128")
    restricted = tmp_path / "begransad.pdf"
    writer.write(str(restricted))

    assert [b.page for b in read_document(restricted).blocks] == [1, 2, 3]


def test_truncated_pdf_is_reported_as_unreadable(tmp_path, three_page_pdf):
    broken = tmp_path / "trasig.pdf"
    broken.write_bytes(b"%PDF-1.4\n" + b"garbage " * 50)

    with pytest.raises(DocumentError, match=r"trasig\.pdf"):
        read_document(broken)


def test_docx_headings_paragraphs_and_table_rows_keep_body_order(tmp_path):
    document = docx.Document()
    document.add_heading("Rutin för delegering", level=0)
    document.add_heading("Syfte", level=1)
    document.add_paragraph("Rutinen beskriver hur läkemedel delegeras.")
    document.add_paragraph("   ")  # empty paragraphs are dropped
    table = document.add_table(rows=2, cols=2)
    rows = [("Roll", "Ansvar"), ("Sjuksköterska", "Delegerar")]
    for row, cells in zip(table.rows, rows, strict=True):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    document.add_heading("Uppföljning", level=2)
    document.add_paragraph("Delegeringen följs upp årligen.")
    document.core_properties.title = "Delegering av läkemedel"
    document.core_properties.created = dt.datetime(2023, 11, 5, 8, 0)
    path = tmp_path / "delegering.docx"
    document.save(str(path))

    result = read_document(path)

    assert [(b.kind, b.level, b.text) for b in result.blocks] == [
        ("heading", 1, "Rutin för delegering"),
        ("heading", 1, "Syfte"),
        ("para", 0, "Rutinen beskriver hur läkemedel delegeras."),
        ("para", 0, "Roll | Ansvar"),
        ("para", 0, "Sjuksköterska | Delegerar"),
        ("heading", 2, "Uppföljning"),
        ("para", 0, "Delegeringen följs upp årligen."),
    ]
    assert result.title == "Delegering av läkemedel"
    assert result.date == "2023-11-05"
    assert all(b.page is None for b in result.blocks)


def test_docx_without_core_title_uses_its_title_paragraph(tmp_path):
    document = docx.Document()
    document.add_heading("Rutin för nyckelhantering", level=0)
    document.add_paragraph("Nycklar kvitteras ut.")
    document.core_properties.title = ""
    path = tmp_path / "nycklar.docx"
    document.save(str(path))

    result = read_document(path)

    assert result.title == "Rutin för nyckelhantering"
    assert result.date is None  # python-docx's template date says nothing about the document


def test_docx_merged_table_cells_are_read_once(tmp_path):
    document = docx.Document()
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).merge(table.cell(0, 2)).text = "Kontaktuppgifter"
    for cell, text in zip(table.rows[1].cells, ["Ja", "Ja", "Nej"], strict=True):
        cell.text = text
    path = tmp_path / "kontakt.docx"
    document.save(str(path))

    assert [b.text for b in read_document(path).blocks] == ["Kontaktuppgifter", "Ja | Ja | Nej"]


def test_corrupt_docx_names_the_file(tmp_path):
    path = tmp_path / "trasig.docx"
    path.write_bytes(b"PK\x03\x04 this is not really a zip archive")

    with pytest.raises(DocumentError, match=r"trasig\.docx is not a readable Word document"):
        read_document(path)


HTML = """<!DOCTYPE html>
<html><head><title>Rutin &amp; riktlinje</title>
<style>p { color: red; }</style></head>
<body>
<nav><a href="/">Startsida</a> <a href="/om">Om oss</a></nav>
<h1>Hot &amp; v&aring;ld</h1>
<p>Vid hot   ringer du
   <b>112</b>&nbsp;direkt.</p>
<script>var secret = "not content";</script>
<h2>Efteråt</h2>
<ul><li>Anmäl händelsen.</li><li>Prata med chefen.</li></ul>
<table><tr><th>Vem</th><th>Gör vad</th></tr><tr><td>Chef</td><td><p>Följer upp</p></td></tr></table>
<div>Senast ändrad av HR.</div>
</body></html>"""


def test_html_headings_paragraphs_and_entities(tmp_path):
    path = tmp_path / "hot.html"
    path.write_text(HTML, encoding="utf-8")

    result = read_document(path)

    assert [(b.kind, b.level, b.text) for b in result.blocks] == [
        ("heading", 1, "Hot & våld"),
        ("para", 0, "Vid hot ringer du 112 direkt."),
        ("heading", 2, "Efteråt"),
        ("para", 0, "Anmäl händelsen."),
        ("para", 0, "Prata med chefen."),
        ("para", 0, "Vem | Gör vad"),
        ("para", 0, "Chef | Följer upp"),
        ("para", 0, "Senast ändrad av HR."),
    ]
    assert result.title == "Rutin & riktlinje"
    assert result.date is None


def test_htm_without_title_tag_uses_first_h1_and_keeps_pre_lines(tmp_path):
    path = tmp_path / "kod.htm"
    path.write_text("<h1>Larmkoder</h1><pre>kod 1: brand\nkod 2: hot</pre>", encoding="utf-8")

    result = read_document(path)

    assert result.title == "Larmkoder"
    assert result.blocks[1] == Block("kod 1: brand\nkod 2: hot")


MARKDOWN = """---
title: Rutin för avvikelser
date: 2024-05-17
ansvarig: Kvalitetsenheten
---
# Avvikelser

Alla **avvikelser** ska rapporteras
inom `24` timmar.

Bakgrund
--------

Lex Sarah gäller __all__ personal.

## Steg för steg

```
steg 1: **rapportera**
steg 2: följ upp
```

### Kontakt #
"""


def test_markdown_front_matter_is_parsed_and_removed(tmp_path):
    path = tmp_path / "avvikelser.md"
    path.write_text(MARKDOWN, encoding="utf-8")

    result = read_document(path)

    assert result.front_matter == {
        "title": "Rutin för avvikelser",
        "date": "2024-05-17",
        "ansvarig": "Kvalitetsenheten",
    }
    assert result.title == "Rutin för avvikelser"
    assert result.date == "2024-05-17"
    assert not any("ansvarig" in b.text for b in result.blocks)


def test_markdown_headings_levels_emphasis_and_code(tmp_path):
    path = tmp_path / "avvikelser.md"
    path.write_text(MARKDOWN, encoding="utf-8")

    blocks = read_document(path).blocks

    assert [(b.kind, b.level, b.text) for b in blocks] == [
        ("heading", 1, "Avvikelser"),
        ("para", 0, "Alla avvikelser ska rapporteras\ninom 24 timmar."),
        ("heading", 2, "Bakgrund"),
        ("para", 0, "Lex Sarah gäller all personal."),
        ("heading", 2, "Steg för steg"),
        ("para", 0, "steg 1: **rapportera**\nsteg 2: följ upp"),
        ("heading", 3, "Kontakt"),
    ]


def test_markdown_title_falls_back_to_first_level_one_heading(tmp_path):
    path = tmp_path / "larm.md"
    path.write_text("Intro text.\n\nTrygghetslarm\n=============\n\n## Test\n", encoding="utf-8")

    result = read_document(path)

    assert result.title == "Trygghetslarm"
    assert result.front_matter == {}
    assert result.blocks[1] == Block("Trygghetslarm", kind="heading", level=1)


def test_txt_keeps_line_breaks_and_hyphens_inside_paragraphs(tmp_path):
    path = tmp_path / "rutin.txt"
    text = (
        "---\ntitle: Sekretess\ndate: 2022-01-09\n---\n"
        "SEKRETESS\n\nUppgifter om enskil-\nda omfattas.\n\n\n\nSlut."
    )
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))

    result = read_document(path)

    assert result.blocks == (
        Block("SEKRETESS"),
        Block("Uppgifter om enskil-\nda omfattas."),
        Block("Slut."),
    )
    assert (result.title, result.date) == ("Sekretess", "2022-01-09")
    assert result.front_matter == {"title": "Sekretess", "date": "2022-01-09"}


def test_txt_in_cp1252_is_read_silently(tmp_path):
    path = tmp_path / "gammal.txt"
    path.write_bytes("Åtgärder vid fall.".encode("cp1252"))

    assert read_document(path) == ReadResult((Block("Åtgärder vid fall."),), None, None, {})


def test_unclosed_front_matter_is_kept_as_text(tmp_path):
    path = tmp_path / "streck.txt"
    path.write_text("---\nnyckel: värde\nmen inget slut", encoding="utf-8")

    result = read_document(path)

    assert result.front_matter == {}
    assert result.blocks[0].text.startswith("---\nnyckel")


def test_binary_junk_in_txt_is_not_utf8_text(tmp_path):
    path = tmp_path / "skrap.txt"
    path.write_bytes(bytes(range(256)) * 8)

    with pytest.raises(DocumentError, match=r"skrap\.txt is not UTF-8 text"):
        read_document(path)


@pytest.mark.parametrize("name", ["tom.txt", "tom.md", "tom.pdf", "tom.docx", "tom.html"])
def test_empty_file_is_reported_as_empty(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")

    with pytest.raises(DocumentError, match=rf"{name.replace('.', '[.]')} is empty"):
        read_document(path)


def test_front_matter_only_file_contains_no_text(tmp_path):
    path = tmp_path / "bara.md"
    path.write_text("---\ntitle: Tom\n---\n\n", encoding="utf-8")

    with pytest.raises(DocumentError, match=r"bara\.md contains no text"):
        read_document(path)


@pytest.mark.parametrize("name", ["bild.png", "kalkyl.xlsx", "README"])
def test_unsupported_extension_names_file_and_supported_types(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"x")

    with pytest.raises(DocumentError, match="unsupported file type") as info:
        read_document(path)
    assert name in str(info.value)
    assert all(ext in str(info.value) for ext in SUPPORTED)


def test_missing_file_is_a_document_error(tmp_path):
    with pytest.raises(DocumentError, match=r"finns-ej\.txt cannot be read"):
        read_document(tmp_path / "finns-ej.txt")


def test_extension_is_matched_case_insensitively(tmp_path):
    path = tmp_path / "VERSALER.TXT"
    path.write_text("Hej.", encoding="utf-8")

    assert read_document(path).blocks == (Block("Hej."),)


def test_html_without_closing_head_or_body_tags_still_yields_the_page(tmp_path):
    path = tmp_path / "slarvig.html"
    path.write_text("<head><title>Rutin</title><p>Första<br>stycket<p>Andra", encoding="utf-8")

    result = read_document(path)

    assert [b.text for b in result.blocks] == ["Första stycket", "Andra"]
    assert result.title == "Rutin"


def test_docx_text_is_the_current_text_with_links_and_without_tracked_deletions(tmp_path):
    import zipfile

    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    mc = "http://schemas.openxmlformats.org/markup-compatibility/2006"
    paragraph = (
        "<w:p><w:r><w:t>Gäller </w:t></w:r>"
        "<w:del><w:r><w:delText>inte </w:delText></w:r></w:del>"
        "<w:moveFrom><w:r><w:t>flyttad </w:t></w:r></w:moveFrom>"
        "<w:ins><w:r><w:t>alla</w:t></w:r></w:ins>"
        "<w:hyperlink><w:r><w:t> enheter</w:t></w:r></w:hyperlink>"
        "<w:r><mc:AlternateContent><mc:Choice/><mc:Fallback><w:p><w:r><w:t>kopia</w:t></w:r>"
        "</w:p></mc:Fallback></mc:AlternateContent></w:r><w:r><w:tab/><w:t>nu.</w:t></w:r></w:p>"
    )
    document = (
        f'<w:document xmlns:w="{w}" xmlns:mc="{mc}"><w:body>{paragraph}</w:body></w:document>'
    )
    path = tmp_path / "andringar.docx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("word/document.xml", document)

    assert [b.text for b in read_document(path).blocks] == ["Gäller alla enheter\tnu."]
