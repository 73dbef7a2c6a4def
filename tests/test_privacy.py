"""Redaction: each kind of personal data becomes a typed placeholder; the documents' words stay."""

from __future__ import annotations

import re

import pytest

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
)


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
    ],
)
def test_domain_terms_are_kept(text):
    assert redact(text) == text


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
