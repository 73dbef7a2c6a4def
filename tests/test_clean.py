"""Cleaning turns PDF-extracted lines into headings and paragraphs.

Every input below is copied from the sample documents in knowledge/ (PDF extractions with hard
line breaks, page headers in the middle of sentences and, in the Nyköping handlingar, a blank
line after every line). Each excerpt goes through the real text reader first, as in indexing.
"""

from __future__ import annotations

import pytest

from bot.ingest.clean import Segment, segments
from bot.ingest.readers import read_document


@pytest.fixture
def clean(tmp_path):
    """Clean a raw excerpt the way indexing cleans a .txt file."""

    def run(raw: str) -> list[Segment]:
        path = tmp_path / "utdrag.txt"
        path.write_text(raw, encoding="utf-8")
        return segments(read_document(path).blocks)

    return run


def paragraphs(segs: list[Segment]) -> list[str]:
    return [s.text for s in segs if not s.heading_level]


def headings(segs: list[Segment]) -> list[str]:
    return [s.text for s in segs if s.heading_level]


def all_text(segs: list[Segment]) -> str:
    return "\n".join(s.text for s in segs)


# nykoping-socialnamnden-handlingar-2022-12-08.txt, tjänsteskrivelse on anhörigstöd
ANHORIGA = """\
Uppföljning av handlingsplan för anhörigstöd
Bakgrund
Den länsgemensamma nämnden för samverkan kring socialtjänst och vård
(NSV) fastställde år 2017 en Länsgemensam strategi i samverkan för stöd till an-
höriga. I denna fanns ett antal aktiviteter och bland annat skulle handlingsplaner
tas fram och riktlinjer och rutiner revideras för att stärka anhörigperspektivet.
"""


def test_word_hyphenated_across_a_line_break_is_joined(clean):
    text = all_text(clean(ANHORIGA))

    assert "för stöd till anhöriga. I denna fanns" in text
    assert "an-" not in text and "an- höriga" not in text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # strangnas-socialnamnden-meddelanden-2023-10-25.txt
        (
            "Beslut\n\nBarn- och utbildningsnämnden beslutar att\n",
            "Barn- och utbildningsnämnden beslutar att",
        ),
        # nykoping-overenskommelse-kan-dso-2023.txt: the hyphen ends the line
        (
            "Verksamheternas resultat ska kunna utläsas utifrån kön i ordinarie verksamhets-\n"
            "och budgetuppföljning.\n",
            "i ordinarie verksamhets- och budgetuppföljning.",
        ),
        # nykoping-socialnamnden-handlingar-2022-12-08.txt
        (
            "Kunskap om vikten av skolnärvaro är en angelägenhet för alla\n"
            "eftersom skolfrånvaro anses vara ett stort samhällsproblem. Personal\n"
            "som möter barn och ungdomar inom skolan, socialtjänst och hälso-\n"
            "och sjukvård bör ha aktuell kunskap om riskfaktorer för problematisk\n"
            "frånvaro för att kunna förebygga frånvaro och främja närvaro.\n",
            "inom skolan, socialtjänst och hälso- och sjukvård bör ha",
        ),
    ],
)
def test_real_hyphen_before_och_is_kept(clean, raw, expected):
    """A hyphen that stands for a left-out word part ("Barn- och …") is not a line-break one."""
    assert expected in all_text(clean(raw))


def test_hyphen_before_a_capitalised_word_keeps_the_hyphen(clean):
    # nykoping-socialnamnden-handlingar-2022-12-08.txt, enkät on Lex Sarah
    raw = (
        " 2. Jag vet vad som förväntas av mig då jag kommer i kontakt\n"
        "med eventuellt missförhållande eller påtaglig risk för\n"
        "missförhållande enligt Lex-\n"
        "Sarah?\n"
    )

    text = all_text(clean(raw))

    assert "påtaglig risk för missförhållande enligt Lex-Sarah?" in text
    assert "LexSarah" not in text


# Three page breaks of the protocol proposals in nykoping-socialnamnden-handlingar-2022-12-08.txt:
# each new page repeats the same header in the middle of the text.
PAGE_BREAKS = """\
på HVB Hemgårdsvillan. Regionen har meddelat att det i dagsläget är

omöjligt att tillgodose behovet med anledning av brist på sjuksköterskor.

  PROTOKOLLSFÖRSLAG

 Socialnämnden 2022-12-08



Justerare Justerare Utdragsbestyrkande

Vad gäller område sysselsättning, utöver den som är möjlig via HVB

Hemgårdsvillan, kvarstår behov att utveckla samverkan med till exempel

Arbetsförmedlingen, Försäkringskassan och Region Sörmland. Nämnden

ser positivt på projektet från ”frö till sådd” som pågår på HVB

   PROTOKOLLSFÖRSLAG

 Socialnämnden 2022-12-08



Justerare Justerare Utdragsbestyrkande

SN §     Slutrapport för närvaroprojektet-alla barn i

skolan

Diarienummer: SN21/45

Då arbetet enligt ovan fortfarande är under utveckling är bedömningen att

detta bör hållas ihop inom ramen för det systematiska kvalitetsarbete som är

under implementering. Förslaget är därför att resultatet som framkommit
  Socialnämnden 2022-12-08



Justerare Justerare Utdragsbestyrkande

genom enkäten ska tas med som en del av underlaget i analysen inför

arbetet med kvalitetsberättelse 2023.
"""


def test_running_page_headers_are_dropped(clean):
    segs = clean(PAGE_BREAKS)
    text = all_text(segs)

    assert "PROTOKOLLSFÖRSLAG" not in text
    assert "Justerare" not in text and "Utdragsbestyrkande" not in text
    assert "Socialnämnden 2022-12-08" not in text
    assert "Nämnden ser positivt på projektet från ”frö till sådd”" in text  # the text stays


def test_sentence_interrupted_by_a_page_header_reads_on(clean):
    text = all_text(clean(PAGE_BREAKS))

    assert "Förslaget är därför att resultatet som framkommit genom enkäten ska tas med" in text


def test_dated_lines_that_do_not_repeat_are_kept(clean):
    """Only a dated line that repeats page after page is a running header."""
    # nykoping-socialnamnden-handlingar-2022-12-08.txt, slutrapport för närvaroprojektet
    raw = """\
Leveranser
• En fastställd driftorganisation levereras till styrgrupp senast

2020-12-15
• En närvaromodell för Nyköpings kommun levereras till

styrgrupp senast 2020-11-30
• Modell för implementering i Nyköpings kommun levereras

senast 2021-09-30
"""
    segs = clean(raw)

    assert "2020-12-15" in all_text(segs)
    assert (
        "• En närvaromodell för Nyköpings kommun levereras till styrgrupp senast 2020-11-30"
        in paragraphs(segs)
    )
    assert "• Modell för implementering i Nyköpings kommun levereras senast 2021-09-30" in (
        paragraphs(segs)
    )


def test_page_number_header_on_the_first_page_is_dropped(clean):
    # nynashamn-gemensamt-arbetsutskott-protokoll-2024-11-14.txt, top of page 1
    raw = "PROTOKOLL Sida 1(7)\nGemensamt arbetsutskott\nSammanträdesdatum\n2024-11-14\n"

    text = all_text(clean(raw))

    assert "Sida 1(7)" not in text
    assert "Gemensamt arbetsutskott" in text


def test_whitespace_is_collapsed(clean):
    # nynashamn-gemensamt-arbetsutskott-protokoll-2024-11-14.txt
    raw = (
        "Sammanträdesdatum: 2024-11-14\n"
        "Anslaget sätts upp: 2024-11-19             Anslaget tas ned: 2024-12-11\n"
        "Förvaringsplats för protokollet: kommunstyrelseförvaltningens kanslienhet\n"
    )

    for seg in clean(raw):
        assert seg.text == " ".join(seg.text.split())
    assert "Anslaget sätts upp: 2024-11-19 Anslaget tas ned: 2024-12-11" in all_text(clean(raw))


def test_paragraph_sign_with_only_a_diary_number_takes_its_title_from_the_next_line(clean):
    # nynashamn-nan-arbetsutskott-protokoll-2023-11-06.txt
    raw = """\
 § 42/23 NAN/2023/0160/007

Svar på revisorernas frågor angående Nynäshamnsmodellen
Näringslivs- och arbetsmarknadsnämndens arbetsutskotts förslag till nämnden
Näringslivs- och arbetsmarknadsnämndens arbetsutskott lämnar ärendet till nämnden utan eget
ställningstagande och inför utskick till nämnden ska ärendet kompletteras med beskrivning av
Nynäshamnsmodellen.
"""
    segs = clean(raw)

    [heading] = [s for s in segs if s.heading_level]
    assert heading.heading_level == 1
    assert heading.text.startswith("§ 42/23")
    assert heading.text.endswith("Svar på revisorernas frågor angående Nynäshamnsmodellen")
    assert paragraphs(segs)[0].startswith("Näringslivs- och arbetsmarknadsnämndens")


def test_paragraph_sign_alone_takes_the_title_from_the_next_line(clean):
    # nynashamn-gemensamt-arbetsutskott-protokoll-2024-11-14.txt
    raw = """\
 § 79/24

Information om samverkansarbetet kring barn och ungdomar
Förvaltningscheferna Pär Olsson, Petra Kålbäck och Mikael Landberg informerar om utvecklingen av
samverkansarbetet mellan förvaltningarna. Samverkansmodell för barn och unga i riskzon kommer
framöver ersätta Nynäshamnsmodellen.
"""
    segs = clean(raw)

    assert headings(segs) == ["§ 79/24 Information om samverkansarbetet kring barn och ungdomar"]
    assert paragraphs(segs)[0].startswith("Förvaltningscheferna Pär Olsson")


# nykoping-socialnamnden-handlingar-2022-12-08.txt: a protocol proposal, double-spaced
SN_ITEM = """\
SN §     Uppföljning av internkontrollplan 2022, resultat

av enkät till medarbetare gällande kunskap om

hantering av avvikelse- och Lex Sarah-hantering

Diarienummer: SN22/5

I Socialnämndens interkontrollplan för 2022 bedömde nämnden att det

fanns en risk för att otillräcklig kunskap eller bristande hantering av Lex-

Sarah och avvikelserapportering medför att brister i verksamheten inte

kommer till nämndens kännedom. Som kontrollmoment satte nämnden upp

en rad åtgärder, bland annat att en enkät skulle skickas ut till medarbetare

för att undersöka kunskap och kännedom om avvikelse- och Lex Sarah-

hantering.

En enkät togs fram av sakkunnig i samråd med kvalitetsutvecklare och har

distribuerats via chefer som tillsammans har cirka 200 medarbetare. Enkäten

var öppen för besvarande under en vecka och 52 personer har svarat.
"""


def test_protocol_paragraph_title_wrapped_over_lines_is_one_heading(clean):
    segs = clean(SN_ITEM)

    assert segs[0].heading_level == 1
    assert segs[0].text == (
        "SN § Uppföljning av internkontrollplan 2022, resultat av enkät till medarbetare "
        "gällande kunskap om hantering av avvikelse- och Lex Sarah-hantering"
    )
    assert headings(segs) == [segs[0].text]
    assert paragraphs(segs)[0] == "Diarienummer: SN22/5"


def test_double_spaced_running_text_is_joined_into_paragraphs(clean):
    """In double-spaced extractions a blank line follows every line, not every paragraph."""
    assert paragraphs(clean(SN_ITEM))[1:] == [
        "I Socialnämndens interkontrollplan för 2022 bedömde nämnden att det fanns en risk för "
        "att otillräcklig kunskap eller bristande hantering av Lex-Sarah och "
        "avvikelserapportering medför att brister i verksamheten inte kommer till nämndens "
        "kännedom. Som kontrollmoment satte nämnden upp en rad åtgärder, bland annat att en "
        "enkät skulle skickas ut till medarbetare för att undersöka kunskap och kännedom om "
        "avvikelse- och Lex Sarah-hantering.",
        "En enkät togs fram av sakkunnig i samråd med kvalitetsutvecklare och har distribuerats "
        "via chefer som tillsammans har cirka 200 medarbetare. Enkäten var öppen för besvarande "
        "under en vecka och 52 personer har svarat.",
    ]


def test_title_after_a_diary_number_line_joins_the_paragraph_heading(clean):
    # strangnas-socialnamnden-meddelanden-2023-10-25.txt
    raw = """\
BUN § 122

Dnr BUN/2020:161

Namnsättning ny grund- och förskola vid Södra Årby/Läggesta, Mariefred

Beslut

Barn- och utbildningsnämnden beslutar att
"""
    segs = clean(raw)

    assert headings(segs) == [
        "§ 122 Dnr BUN/2020:161 Namnsättning ny grund- och förskola vid Södra Årby/Läggesta, "
        "Mariefred",
        "Beslut",
    ]
    assert [s.heading_level for s in segs if s.heading_level] == [1, 8]  # Beslut sits below


STRANGNAS_PHASES = """\
2.6.2 Fas 2: Implementering

- Upprätta en samverkansform mellan socialkontorets enheter med ansvariga kontaktpersoner.
- Implementera avhopparstödet inom socialkontorets enheter för att processen och\
 handläggning ska ske skyndsamt när det gäller akut stöd och andra insatser som kan bli\
 aktuella.
- Inrätta funktion med samordningsansvar för avhopparstödet.
- Inrätta avhopparcoacher/kontaktpersoner/resursteam.
- Upprätta dokument som är nödvändiga i en avhopparprocess. Det kommer handla om bland\
 annat: handlingsplan, samtycke om informationsutbyte och riktlinjer.

2.6.3 Fas 3: Arbete med målgruppen- avhopparprocessen

- Polis och socialkontor i Strängnäs kommun ska vara redo att hantera avhopparärenden.
- Utökade insatser som ingår i avhopparprocessen ska finnas att tillgå.
- Medarbetare ska vara informerade och delaktiga i deras roll enligt avhopparstödet\
 utformning.

2.6.4 Fas 4: Utvärdering

- Avhopparstödet bör utvärderas för att se att avhopparstödet fyller syfte, mål och behov\
 i Strängnäs kommun.

3 BAKGRUND OCH UNDERLAG
"""


def test_numbered_headings_get_levels_from_their_depth(clean):
    # strangnas-socialnamnden-meddelanden-2023-10-25.txt
    segs = clean(STRANGNAS_PHASES)

    found = [(s.text, s.heading_level) for s in segs if s.heading_level]
    assert found == [
        ("2.6.2 Fas 2: Implementering", 4),
        ("2.6.3 Fas 3: Arbete med målgruppen- avhopparprocessen", 4),
        ("2.6.4 Fas 4: Utvärdering", 4),
        ("3 BAKGRUND OCH UNDERLAG", 2),
    ]
    assert "- Polis och socialkontor i Strängnäs kommun ska vara redo" in all_text(segs)


def test_bullets_start_their_own_paragraphs(clean):
    segs = clean(STRANGNAS_PHASES)

    assert "- Utökade insatser som ingår i avhopparprocessen ska finnas att tillgå." in (
        paragraphs(segs)
    )


@pytest.mark.parametrize(
    ("raw", "heading"),
    [
        # nynashamn-nan-arbetsutskott-protokoll-2023-11-06.txt
        (
            "Nynäshamnsmodellen.\n\nÄrendet\n\nHur uppfattar nämnden sin roll i arbetet inom "
            "ramen för Nynäshamnsmodellen?\n",
            "Ärendet",
        ),
        # strangnas-socialnamnden-meddelanden-2023-10-25.txt
        (
            "Namnsättning ny grund- och förskola vid Södra Årby/Läggesta, Mariefred\n\nBeslut\n\n"
            "Barn- och utbildningsnämnden beslutar att\n",
            "Beslut",
        ),
        # nykoping-socialnamnden-handlingar-2022-12-08.txt
        (
            "Alla verksamheter har nu aktuella skriftliga verksamhetsspecifika\n"
            "rutiner/verksamhetsplaner för anhörigstöd.\n\nFörslag till beslut\n"
            "Socialnämnden beslutar\n\n1) att godkänna rapporten Arbete enligt handlingsplan "
            "för anhörigstöd i\nNyköpings kommun, 2020 – 2021 enligt bilaga till "
            "tjänsteskrivelse daterad\n2022-11-25.\n",
            "Förslag till beslut",
        ),
    ],
)
def test_protocol_headings_on_their_own_line_are_headings(clean, raw, heading):
    segs = clean(raw)

    assert heading in headings(segs)
    assert all(heading not in p for p in paragraphs(segs))


def test_footnotes_are_not_headings(clean):
    """Footnotes at the foot of a page, in the middle of a sentence, stay out of the outline."""
    # nykoping-socialnamnden-handlingar-2022-12-08.txt, slutrapport för närvaroprojektet
    raw = """\
Samverkan kring barn behöver vara systematisk för att ge positiva
och snabba resultat.20 Genom att skolan ska utreda frånvaron med


17 Projektet Egen växtkraft (2011).
18 Ibid
19 Bronfenbrenner, 1979a, s. 214
20 Socialstyrelsen (2013)
 hjälp av det framtagna kartläggningsmaterialet skapar man
förutsättningar för att skola, socialtjänst, vårdnadshavare och elev når
samsyn, att man ser och förstår frånvaron på samma sätt, vilket leder
till att man tillsammans kan förändra den.
"""
    assert headings(clean(raw)) == []


AKTIVITETSPLIKT = """\
På regeringsnivå pågår en utredning
om införande av en ”aktivitetsplikt” i
socialtjänstlagen. Enligt
uppdragsbeskrivningen ska
aktiviteterna inte ersätta befintliga
utbildnings- och arbetsmarknads-
insatser utan vara ett komplement som
medverkar till att individen får en
meningsfull sysselsättning. Syftet är att
ge individer ytterligare stöd för att
närma sig arbetsmarknaden genom
aktiviteter som bland annat bidrar till
att bryta isolering, förbättra hälsa samt
främja integration för utrikesfödda.
Utredningsuppdraget, som ska
redovisas till Socialdepartementet den
1 december 2023, kan leda till att
kommuner blir skyldiga att i framtiden
tillhandahålla insatserna.
"""


def test_wrapped_running_text_is_not_a_heading(clean):
    """Short capitalised lines of a narrow table column are running text when it reads on."""
    # nykoping-overenskommelse-kan-dso-2023.txt
    segs = clean(AKTIVITETSPLIKT)

    assert headings(segs) == []
    text = all_text(segs)
    assert "På regeringsnivå pågår en utredning om införande av en ”aktivitetsplikt” i" in text
    assert "Utredningsuppdraget, som ska redovisas till Socialdepartementet den 1 december" in text
    assert "utbildnings- och arbetsmarknadsinsatser utan vara" in text


def test_wrapped_numbered_question_is_not_a_heading(clean):
    # nykoping-socialnamnden-handlingar-2022-12-08.txt, a question of the Lex Sarah enkät
    raw = """\
4. Jag får återkoppling på resultatet av genomförda rapporter
och utredningar av avvikelser och rapporterade
missförhållanden enligt Lex-
Sarah?
"""
    assert clean(raw) == [
        Segment(
            "4. Jag får återkoppling på resultatet av genomförda rapporter och utredningar av "
            "avvikelser och rapporterade missförhållanden enligt Lex-Sarah?",
            0,
            None,
        )
    ]


def test_short_title_between_paragraphs_is_a_heading(clean):
    # nynashamn-gemensamt-arbetsutskott-protokoll-2024-11-14.txt
    raw = """\
Varför gemensamt arbetsutskott?
Inom alla nämnders ansvarsområden finns målsättningar för arbetet med barn och unga.

Stockholmsenkäten
Åsa Nyberg, statistiker, informerar om Stockholmsenkäten från 2024 för de elever som bor i
Nynäshamns kommun. Enkäten har genomförts var annat år sedan 2006, och innehåller resultat
från nästan alla kommuner i Stockholms län.
"""
    segs = clean(raw)

    assert headings(segs) == ["Stockholmsenkäten"]
    assert paragraphs(segs)[-1].startswith("Åsa Nyberg, statistiker, informerar")


def _pages(*pages: str) -> list:
    """Blocks as the PDF reader makes them: a page's paragraphs, each with its page number."""
    from bot.ingest.readers import _paragraphs

    return [b for number, text in enumerate(pages, 1) for b in _paragraphs(text, number)]


# An invented template, none of whose words the cleaner knows: found only by repetition.
_HEADER = "Brukshamns stad · Omsorgskontoret\nRiktlinje för matdistribution · Utgåva {v}\n"
_FOOTER = "\nDiarie-id OK-{p}/2025-0{p}4   Blad {p} / 3"


def test_lines_repeated_at_the_top_and_bottom_of_most_pages_are_dropped():
    pages = [
        _HEADER.format(v=3) + "Maten körs ut på tisdagar och fredagar av hemtjänstens"
        "\nbilpool, och kylväskan hämtas vid nästa leverans." + _FOOTER.format(p=1),
        _HEADER.format(v=3) + "Den som inte är hemma får ett kort i brevlådan med"
        "\nett nummer att ringa." + _FOOTER.format(p=2),
        _HEADER.format(v=3) + "Avgiften tas ut per portion." + _FOOTER.format(p=3),
    ]
    text = " ".join(s.text for s in segments(_pages(*pages)))
    assert "Brukshamns" not in text
    assert "Utgåva" not in text
    assert "Diarie-id" not in text and "Blad" not in text
    assert "Maten körs ut på tisdagar och fredagar av hemtjänstens bilpool" in text
    assert "Avgiften tas ut per portion." in text


def test_a_line_repeated_in_the_middle_of_pages_is_kept():
    body = "Första stycket om rutinen.\nAndra stycket.\nTredje.\nFjärde.\nFemte.\n"
    pages = [body + "Kontakta enhetschefen vid frågor.\n" + body + f"Sida {n}" for n in (1, 2, 3)]
    text = " ".join(s.text for s in segments(_pages(*pages)))
    assert text.count("Kontakta enhetschefen vid frågor.") == 3


def test_a_single_page_keeps_its_header_lines():
    text = " ".join(s.text for s in segments(_pages(_HEADER.format(v=1) + "Rutinens text.")))
    assert "Brukshamns stad" in text


def test_corpus_b_pdf_headers_and_page_footers_are_not_cited():
    from pathlib import Path

    pdf = Path(__file__).resolve().parent.parent / "bench/corpus-b/alvdala-rutin-sip-2024.pdf"
    segs = segments(read_document(pdf).blocks)
    text = " ".join(s.text for s in segs)
    assert "Dnr SN" not in text and "Sida 2 av 3" not in text
    assert "Den första uppföljningen ska göras senast tre månader" in text
