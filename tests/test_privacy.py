"""Redaction: each kind of personal data becomes a typed placeholder; the documents' words stay."""

from __future__ import annotations

import json
import re

import pytest

from bot.models import Chunk
from bot.names import KnownPlaces, index_places, learn_places, surnames
from bot.privacy import (
    REDACTED_ADDRESS,
    REDACTED_EMAIL,
    REDACTED_NAME,
    REDACTED_PHONE,
    REDACTED_PNR,
    first_names,
    hash_key,
    pseudonym,
    redact,
    redact_actor,
    use_index,
)
from bot.search.store import CURRENT, chunk_to_json

# What a municipality's documents teach: its units and homes, in running text.
DOCUMENTS = [
    "Ungdomar kan vända sig till Maria Ungdom i Stockholm. Platserna på HVB Hemgårdsvillan och "
    "på Läggesta fördelas av Socialnämnden. Ordförande Anna Svensson (S) och Yvonne Hjern "
    "justerade protokollet, sekreterare var Anders Wadeskog.",
    "Anhörigstödet i Älvdala har ett anhörigcentrum vid Forsåsen och samarbetar med Röda Villan "
    "och ungdom i hela kommunen. I villan finns åtta platser.",
]


@pytest.mark.parametrize(
    "number",
    [
        "850312-1234",
        "850312+1234",
        "850312–1234",
        "19850312-1234",
        "198503121234",
        "8503121234",
        "850312 1234",
        "19850312 1234",
        "850312 - 1234",
        "850372-1234",  # samordningsnummer: day + 60
        "19890670-1234",
        "050312-1234",  # born 2005: starts with 0 like a phone number
        "0503121234",
        "19 850312-1234",  # grouped as some people write it
        "850312 12 34",
        "850312-12 34",
        "85 03 12-1234",
        "85-03-12-1234",
        "850312.1234",
        "19850312 - 1234",
        "1985-03-12-1234",
        "850312\u20111234",  # a non-breaking hyphen
        "850312\u200b-1234",  # a zero-width space inside
        "121212+1212",  # 100 years or older
        "850312-XXXX",  # the birth date alone identifies
    ],
)
def test_personnummer_and_samordningsnummer_are_redacted(number):
    assert redact(f"Gäller det {number} nu?") == f"Gäller det {REDACTED_PNR} nu?"


@pytest.mark.parametrize(
    "phone",
    [
        "070-123 45 67",
        "0701234567",
        "070 123 45 67",
        "070-1234567",
        "0709-87 65 43",
        "+46 70 123 45 67",
        "+46701234567",
        "+46 (0)70-123 45 67",
        "0046 70 123 45 67",
        "08-123 456 78",
        "08 – 522 123 45",
        "016-12 34 56",
        "0155-24 50 00",
        "073 - 111 22 33",
        "(08) 123 45 67",
        "070.123.45.67",
        "08.123 456 78",
        "070/123 45 67",
        "+46-70-123 45 67",
        "+46 (0) 70 123 45 67",
        "0046-8-123 456 78",
        "(0)70 123 45 67",
        "(08)-123 45 67",
        "070 — 123 45 67",
        "070\u00a0123\u00a045\u00a067",  # no-break spaces, as pasted from a signature
        "+47 912 34 567",  # a relative abroad
        "+358 40 123 4567",
    ],
)
def test_phone_numbers_are_redacted(phone):
    assert redact(f"Ring {phone} i morgon.") == f"Ring {REDACTED_PHONE} i morgon."


@pytest.mark.parametrize(
    "email",
    [
        "anna.svensson@nykoping.se",
        "ANNA.LARSSON@ESKILSTUNA.SE",
        "kalle_83+soc@hotmail.com",
        "lisa.ek@skola.nykoping.se",
        "anna(at)kommun.se",
        "anna [at] kommun.se",
        "anna{at}kommun.se",
        "anna(a)kommun.se",
        "anna @ kommun.se",
        "anna.svensson at kommun.se",
        "anna punkt svensson at kommun punkt se",
        "Anna Punkt Svensson AT Kommun Punkt Se",
        "anna.svensson snabel-a kommun.se",
        "anna (at) kommun (dot) se",
        "anna[at]kommun[punkt]se",
        "anna@kommun",
    ],
)
def test_email_addresses_are_redacted(email):
    assert redact(f"Skicka till {email}, tack") == f"Skicka till {REDACTED_EMAIL}, tack"


@pytest.mark.parametrize(
    "address",
    [
        "Storgatan 12",
        "storgatan 12",
        "Västra Långgatan 3B",
        "Drottninggatan 5 lgh 1101",
        "Stora torget 1, lgh 1002",
        "Ringvägen 110, 611 35 Nyköping",
        "Sveavägen 44, 2 tr",
        "Drottning Kristinas väg 5",
        "Hamngränd 2",
        "Solbacken 14",
        "Ekstigen 3",
        "Björkallén 21",
        "Vasaplan 4",
        "Kungsleden 9",
        "Storg. 12",
        "Ringvägen 10-12",
        "Ringvägen 110, 61135 Nyköping",
        "Parkstråket 7",
        "611 35 Nyköping",
        "postnummer 611 35",
        "lgh 1203",
        "Skogsbrynet 3, 611 91 Nyköping",
        "Nyfors Torg 3",
        "Lilla Torget 2 lgh 1101",
        "Gripsholmsvägen 23, Strängnäs",
        "storgatan 5 lgh 1001, 61131 nyköping",
        "Box 45, 611 22 Nyköping",
    ],
)
def test_street_addresses_are_redacted(address):
    assert redact(f"Hon bor på {address} sedan i våras.") == (
        f"Hon bor på {REDACTED_ADDRESS} sedan i våras."
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Kan Anna Svensson få bistånd?", "Kan [NAMN] få bistånd?"),
        ("kan anna svensson få bistånd?", "kan [NAMN] få bistånd?"),
        ("Ahmed Hassan har fått avslag", "[NAMN] har fått avslag"),
        ("Hur hjälper jag Fatima?", "Hur hjälper jag [NAMN]?"),
        ("Annas mamma ringde", "[NAMN] mamma ringde"),
        ("klienten heter Jovana och bor här", "klienten heter [NAMN] och bor här"),
        ("brukaren Dusan Ilić ringde", "brukaren [NAMN] ringde"),
        ("klienten jovana petrović har", "klienten [NAMN] har"),
        ("Namn: Rashid Noori", "Namn: [NAMN]"),
        ("pappan (Rashid Noori) har", "pappan ([NAMN]) har"),
        ("vårdnadshavare Agnieszka Nowak", "vårdnadshavare [NAMN]"),
        ("familjen Hosseini flyttar", "familjen [NAMN] flyttar"),
        ("Ärendet gäller Kristoffer Wahlberg.", "Ärendet gäller [NAMN]."),
        ("Anna-Karin Björk och Sven-Erik Lundqvist", "[NAMN] och [NAMN]"),
        ("Emil Lund har hotat personal", "[NAMN] har hotat personal"),
        ("med Abdulkadir Sheikh Ali som", "med [NAMN] som"),
        ("Per Hildebrand yrkar", "[NAMN] yrkar"),
        ("Maria Svensson och Sarah Ali", "[NAMN] och [NAMN]"),
        ("orosanmälan gäller Tindra 150303-2241", "orosanmälan gäller [NAMN] [PERSONNUMMER]"),
        ("klienten Andersson har ringt", "klienten [NAMN] har ringt"),
        ("hos familjen Nilsson bor tre barn", "hos familjen [NAMN] bor tre barn"),
        ("mamman Svensson vill inte", "mamman [NAMN] vill inte"),
        ("pappan heter Lindqvist", "pappan heter [NAMN]"),
        ("Hur gör vi när Karlsson inte kommer?", "Hur gör vi när [NAMN] inte kommer?"),
        ("Pettersson har fått avslag, vad nu?", "[NAMN] har fått avslag, vad nu?"),
        ("kan nilsson få bistånd", "kan [NAMN] få bistånd"),
        ("Mötet med Hosseini är flyttat", "Mötet med [NAMN] är flyttat"),
        ("familjen Lund flyttar", "familjen [NAMN] flyttar"),
        ("klienten heter berg i efternamn", "klienten heter [NAMN] i efternamn"),
        ("Mvh Yvonne", "Mvh [NAMN]"),
        ("KLIENT: ANNA SVENSSON", "KLIENT: [NAMN]"),
        ("kontakt med berggren och lindqvist", "kontakt med [NAMN] och [NAMN]"),
        ("vi har jan-olof här", "vi har [NAMN] här"),
        ("nej, fadumos pnr", "nej, [NAMN] pnr"),
    ],
)
def test_names_are_redacted(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Vad säger Lex Sarah om avvikelser?",
        "lex sarah-rapporter och lex Maria",
        "Hur många lex sarah-ärenden kom in 2022?",
        "Division Social omsorg och Region Sörmland",
        "Eskilstuna Stadsmission driver härbärget",
        "Har Stadsmissionen någon sjuksköterska?",
        "Socialnämnden i Nyköping beslutade",
        "Vilket språkkrav ställs på Jobbtorg?",
        "Hur många platser finns på HVB Hemgårdsvillan?",
        "Vilka målgrupper tar Röda Villan emot?",
        "Vilka datum har Kommunala Anhörigrådet möte?",
        "Vad säger Riktlinje anhörigstöd?",
        "Kan Maria Ungdom ta emot unga?",
        "Per dag räknas matnormen så",
        "Bo kvar i jourlägenheten, hur länge?",
        "Max antal nätter på härbärget?",
        "Vad Hur Vem När Kan Får Ska Måste",
        "Inga ekonomiska konsekvenser",
        "det är dags att söka igen",
        "Prata med vårdnadshavare. Samråd ska ske med skolan.",
        "Vilka fokusområden tog statistikern upp från Stockholmsenkäten?",
        "Hur söker man till Läggesta?",
        "Vad gör anhörigcentrum vid Forsåsen?",
        "Socialtjänsten i Lund och Berg",
        "Hur många i Stockholms län?",
        "ärendegenomgång 1:e socialsekreterare per termin",
        "Vad gäller hos Försäkringskassan?",
        "Är det ok att vara ute kl 08.00–16.30 den 01.02.2024?",
        "Vi ses at 3",
    ],
)
def test_domain_terms_and_the_documents_own_places_are_kept(text):
    assert redact(text, learn_places(DOCUMENTS)) == text


@pytest.mark.parametrize(
    "text",
    [
        "Hyran är 3 150 kr i månaden",
        "Budget 2 136 400 kr, skyddat boende 2 400 kr/dygn",
        "Beslut 2023-10-25 § 12",
        "Diarienummer SN22/37 och SN22/5",
        "Protokoll § 42/23",
        "Enligt 4 kap. 1 § SoL",
        "16 kap. 6 f–h § SoL",
        "SOSFS 2011:9 och Lag (2023:196)",
        "NAN/2023/0160/007",
        "anslag 18,999 tkr",
        "år 2024 och 2020 2021",
        "15 % frånvaro, 79 % svarade",
        "kl 08.00–16.30",
        "-3 017 3 017 -3 620",
        "handlingsplan 2023 och närvaroplan 3",
        "belopp 12345 kr",
        "tel. 114 14",
        "Personnummer eller samordningsnummer?",
        "Beslut 2023-10-25 1430 kr",
        "Mötet 2024-03-01 1300",
        "1985-2024 och 2019/2020",
        "version 0.5.1 från 2023",
        "Sidan 123 av 456",
        "12345 kronor och 611 35 st",
        "Ökning med +5 %, +12 platser, +1 234 kr",
        "LSS, LVU, LVM, SoL, IVO och BUP",
    ],
)
def test_amounts_dates_diary_numbers_and_references_are_kept(text):
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Hur gör jag med Anna Svensson 19850312-1234?",
            "Hur gör jag med [NAMN] [PERSONNUMMER]?",
        ),
        (
            "sökande: Khadija Abdullahi, 0723456789, Sveavägen 44, 2 tr – vilka handlingar?",
            "sökande: [NAMN], [TELEFON], [ADRESS] – vilka handlingar?",
        ),
        (
            "Mvh Kajsa Lind, kajsa.lind@strangnas.se – gäller 4 kap. 1 § SoL för 3 150 kr?",
            "Mvh [NAMN], [EPOST] – gäller 4 kap. 1 § SoL för 3 150 kr?",
        ),
        (
            "Gäller lex Sarah för Ahmed Ali på Storgatan 12 (SN22/37)?",
            "Gäller lex Sarah för [NAMN] på [ADRESS] (SN22/37)?",
        ),
    ],
)
def test_mixed_questions_keep_their_point(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Hur gör jag med Anna Svensson 19850312-1234?",
        "klienten jovana petrović, 070-123 45 67, Storgatan 12, anna@x.se",
        "Vad säger Lex Sarah?",
        "[NAMN] [PERSONNUMMER] [TELEFON] [EPOST] [ADRESS]",
    ],
)
def test_redacting_twice_is_redacting_once(text):
    once = redact(text)
    assert redact(once) == once


def test_placeholders_are_typed():
    out = redact("Anna Svensson, 850312-1234, 070-123 45 67, a@b.se, Storgatan 12")
    assert re.findall(r"\[[A-Z]+\]", out) == [
        REDACTED_NAME,
        REDACTED_PNR,
        REDACTED_PHONE,
        REDACTED_EMAIL,
        REDACTED_ADDRESS,
    ]


def test_first_names_are_loaded_once_from_the_package():
    assert first_names() is first_names()
    assert {"anna", "mohammed", "fatima", "erik"} <= first_names()
    assert len(first_names()) >= 300


def test_pseudonym_is_stable_and_keyed():
    assert pseudonym(42, b"k1") == pseudonym("42", b"k1") != pseudonym(42, b"k2")
    assert "42" not in pseudonym(42, b"k1")


def test_hash_key_from_environment_or_a_file_made_once(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("RUTINBOT_HASH_KEY", "hemlig")
    assert hash_key(tmp_path / "key") == b"hemlig"
    monkeypatch.delenv("RUTINBOT_HASH_KEY")
    first = hash_key(tmp_path / "key")
    assert "RUTINBOT_HASH_KEY is not set" in caplog.text
    assert hash_key(tmp_path / "key") == first and len(first) == 64


def test_control_characters_are_removed_in_the_same_function():
    assert redact("Ring\x07 Anna\u202e\x00 nu\x1b[2J") == "Ring [NAMN] nu[2J"


def test_common_surnames_are_listed_and_names_are_never_learnt_as_places():
    assert {"andersson", "nilsson", "hosseini", "nowak"} <= surnames() and len(surnames()) > 300
    known = learn_places(DOCUMENTS)
    assert {"hemgårdsvillan", "läggesta", "forsåsen", "röda", "villan"} <= known.words
    # A chair, a secretary and two unknown capitalised words side by side are people.
    assert not {"anna", "svensson", "yvonne", "hjern", "anders", "wadeskog"} & known.words
    assert "maria ungdom" in known.phrases


@pytest.mark.parametrize(
    "text",
    [
        "Kan Maria Ungdom ta emot unga?",
        "Vad säger maria ungdom om det?",
    ],
)
def test_phrases_the_documents_use_keep_their_first_name(text):
    assert redact(text, learn_places(DOCUMENTS)) == text
    assert REDACTED_NAME in redact(text)  # unknown elsewhere: Maria is a name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Anna Svensson ringde om Läggesta", "[NAMN] ringde om Läggesta"),
        ("Ordförande Anna Svensson", "Ordförande [NAMN]"),
        ("klienten Hemgårdsvillan", "klienten [NAMN]"),  # a strong cue outweighs a place
        ("Wadeskog hörde av sig", "Wadeskog hörde av sig"),  # unknown, at a sentence's start
        ("Vi pratade med Wadeskog igår", "Vi pratade med Wadeskog igår"),
    ],
)
def test_what_documents_teach_never_hides_a_known_name(text, expected):
    assert redact(text, learn_places(DOCUMENTS)) == expected


def _index(root, texts):
    """An index folder as bot.search.store lays it out, with only what redaction reads."""
    folder = root / "index-1"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text("{}", encoding="utf-8")
    chunks = [
        Chunk(i, "doc.md", "Doc", None, (), i, None, i, text, ((0, len(text)),), str(i))
        for i, text in enumerate(texts)
    ]
    lines = [json.dumps(chunk_to_json(c), ensure_ascii=False) for c in chunks]
    (folder / "chunks.jsonl").write_text("\n".join(lines), encoding="utf-8")
    (root / CURRENT).symlink_to(folder.name)
    return folder


def test_places_are_learnt_from_the_index_in_service_and_redaction_works_without_one(tmp_path):
    assert index_places(tmp_path) == KnownPlaces()  # no index yet
    _index(tmp_path, DOCUMENTS)
    assert index_places(tmp_path) is index_places(tmp_path)  # cached per index folder
    assert "läggesta" in index_places(tmp_path).words
    try:
        use_index(tmp_path)
        assert redact("Kan Maria Ungdom hjälpa?") == "Kan Maria Ungdom hjälpa?"
        use_index(tmp_path / "missing")
        assert redact("Kan Maria Ungdom hjälpa?") == "Kan [NAMN] Ungdom hjälpa?"
    finally:
        use_index(None)


@pytest.mark.parametrize(
    ("by", "stored"),
    [
        ("anna", "anna"),
        ("Anna K", "Anna K"),
        ("anna.k@", "anna.k@"),
        ("  Berit\t\x1b[31m Lind ", "Berit [31m Lind"),
        ("anna 850312-1234", "anna [PERSONNUMMER]"),
        ("Berit 070-123 45 67", "Berit [TELEFON]"),
        ("anna.svensson@kommun.se", "[EPOST]"),
        ("telegram:5912011234", "telegram:5912011234"),  # an account id, not a personnummer
        ("telegram:anna_k", "telegram:anna_k"),
        ("klienten Kalle Karlsson ringde igen", "klienten [NAMN] ringde igen"),
        ("", None),
        (" \n ", None),
        (None, None),
    ],
)
def test_who_made_a_change_keeps_a_short_name_and_redacts_everything_else(by, stored):
    assert redact_actor(by) == stored


def test_who_made_a_change_fits_its_column():
    assert len(redact_actor("x" * 500)) == 100
