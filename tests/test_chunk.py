"""Chunking keeps sections apart, carries heading paths and splits only between sentences."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from bot.ingest.chunk import ChunkDraft, chunk_segments, split_sentences
from bot.ingest.clean import Segment, segments
from bot.ingest.readers import read_document

SAMPLE = Path(__file__).resolve().parent.parent / "knowledge"
SIZES = [(700, 1000), (200, 300), (60, 100)]  # (target_chars, max_chars)


@pytest.fixture(scope="module")
def sample_segments() -> dict[str, list[Segment]]:
    """Every sample document, read and cleaned as indexing does."""
    return {p.name: segments(read_document(p).blocks) for p in sorted(SAMPLE.glob("*.txt"))}


def sentence_texts(draft: ChunkDraft) -> list[str]:
    return [draft.text[start:end] for start, end in draft.sentences]


def numbered(prefix: str, count: int) -> str:
    """A paragraph of distinct, recognisable sentences."""
    return " ".join(
        f"{prefix} {n}: medarbetaren dokumenterar insatsen i journalen samma dag."
        for n in range(count)
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Nämnden ska bl.a. följa upp anhörigstödet. Uppföljningen sker årligen.",
            ["Nämnden ska bl.a. följa upp anhörigstödet.", "Uppföljningen sker årligen."],
        ),
        (
            "Det gäller t.ex. Lex Sarah och avvikelser. Chefen utreder.",
            ["Det gäller t.ex. Lex Sarah och avvikelser.", "Chefen utreder."],
        ),
        (
            "Vård ges enligt 4 kap. 1 § SoL efter ansökan. Beslutet kan överklagas.",
            ["Vård ges enligt 4 kap. 1 § SoL efter ansökan.", "Beslutet kan överklagas."],
        ),
        (
            "Rapporten lämnas fr.o.m. januari. Vad räknas som avvikelser? Felaktiga utbetalningar!",
            [
                "Rapporten lämnas fr.o.m. januari.",
                "Vad räknas som avvikelser?",
                "Felaktiga utbetalningar!",
            ],
        ),
        (
            "Prioriterade områden: • Närvaro i förskolan • Våldsprevention",
            ["Prioriterade områden:", "• Närvaro i förskolan", "• Våldsprevention"],
        ),
    ],
)
def test_sentences_end_at_stops_but_not_after_abbreviations(text, expected):
    assert split_sentences(text) == expected


@pytest.mark.parametrize("abbreviation", ["bl.a.", "t.ex.", "4 kap.", "s.k.", "dvs."])
def test_a_chunk_never_ends_on_an_abbreviation(abbreviation):
    sentence = f"Enheten ska {abbreviation} Anmäla missförhållanden till nämnden."
    segs = [Segment("Rutin", 1, 1), Segment(" ".join([sentence] * 12), 0, 1)]

    drafts = chunk_segments(segs, target_chars=60, max_chars=120)

    assert len(drafts) > 1
    for draft in drafts:
        assert not draft.text.endswith(abbreviation)
        assert all(s == sentence for s in sentence_texts(draft))


def test_every_chunk_carries_the_path_of_headings_above_it():
    segs = [
        Segment("§ 79/24 Information om samverkansarbetet", 1, 1),
        Segment(numbered("Inledning", 3), 0, 1),
        Segment("Stockholmsenkäten", 2, 2),
        Segment(numbered("Enkät", 30), 0, 2),
        Segment("Svarsfrekvens", 3, 2),
        Segment(numbered("Svar", 3), 0, 3),
        Segment("Den nya samverkansmodellen", 2, 3),
        Segment(numbered("Modell", 3), 0, 3),
    ]

    drafts = chunk_segments(segs, target_chars=200, max_chars=300)

    paths = {d.text.split()[0]: d.section for d in drafts}
    top = "§ 79/24 Information om samverkansarbetet"
    assert paths == {
        "Inledning": (top,),
        "Enkät": (top, "Stockholmsenkäten"),
        "Svar": (top, "Stockholmsenkäten", "Svarsfrekvens"),
        "Modell": (top, "Den nya samverkansmodellen"),  # a same-level heading replaces the last
    }
    assert all(d.section == paths[d.text.split()[0]] for d in drafts)
    assert len([d for d in drafts if d.text.startswith("Enkät")]) > 1  # long section: many chunks


def test_sections_never_share_a_chunk():
    segs = [
        Segment("Ärendet", 8, 1),
        Segment("Kort stycke om ärendet.", 0, 1),
        Segment("Beslut", 8, 1),
        Segment("Nämnden beslutar att godkänna rapporten.", 0, 1),
        Segment("Förslag till beslut", 8, 2),
        Segment(numbered("Förslag", 8), 0, 2),
    ]

    drafts = chunk_segments(segs, target_chars=700, max_chars=1000)

    assert [d.text for d in drafts[:2]] == [
        "Kort stycke om ärendet.",
        "Nämnden beslutar att godkänna rapporten.",
    ]
    assert [d.section for d in drafts] == [("Ärendet",), ("Beslut",), ("Förslag till beslut",)]
    assert len({d.section_no for d in drafts}) == 3


def test_paragraphs_of_one_section_are_chunked_together():
    segs = [Segment("Bakgrund", 8, 1), Segment("Första stycket.", 0, 1), Segment("Andra.", 0, 2)]

    [draft] = chunk_segments(segs)

    assert draft.text == "Första stycket. Andra."
    assert draft.page == 1  # the page the chunk starts on


def test_long_section_is_split_between_sentences_and_loses_none():
    text = numbered("Mening", 40)
    segs = [Segment("Uppföljning", 2, 4), Segment(text, 0, 4)]

    drafts = chunk_segments(segs, target_chars=300, max_chars=400)

    assert len(drafts) > 3
    seen = []
    for draft in drafts:
        assert len(draft.text) <= 400
        for sentence in sentence_texts(draft):
            assert sentence in split_sentences(text)
            if sentence not in seen:
                seen.append(sentence)
    assert seen == split_sentences(text)  # every sentence, in order


@pytest.mark.parametrize(("target", "max_chars"), SIZES)
def test_sample_documents_chunk_within_max_chars(sample_segments, target, max_chars):
    for name, segs in sample_segments.items():
        drafts = chunk_segments(segs, target, max_chars)
        assert drafts, name
        too_long = [d.text for d in drafts if len(d.text) > max_chars]
        assert too_long == [], name


@pytest.mark.parametrize(("target", "max_chars"), SIZES)
def test_sentence_spans_index_into_the_chunk_text(sample_segments, target, max_chars):
    for name, segs in sample_segments.items():
        for draft in chunk_segments(segs, target, max_chars):
            spans = draft.sentences
            assert spans, name
            assert spans[0][0] == 0 and spans[-1][1] == len(draft.text)
            for (_, end), (next_start, _) in itertools.pairwise(spans):
                assert draft.text[end:next_start] == " "  # one space between sentences
            for start, end in spans:
                sentence = draft.text[start:end]
                assert sentence == sentence.strip() and sentence


def test_sample_chunks_below_a_heading_carry_it(sample_segments):
    """In a real protocol a passage carries its § heading and the protocol heading under it."""
    segs = sample_segments["nynashamn-nan-arbetsutskott-protokoll-2023-11-06.txt"]

    [draft] = [d for d in chunk_segments(segs) if "Hur uppfattar nämnden sin roll" in d.text]

    assert draft.section[0].startswith("§ 42/23")
    assert draft.section[0].endswith("Svar på revisorernas frågor angående Nynäshamnsmodellen")
    assert draft.section[-1] == "Ärendet"


def test_a_word_longer_than_max_chars_is_cut_too():
    # A reference in nykoping-socialnamnden-handlingar-2022-12-08.txt
    url = "https://attention.se/2022/09/01/barnpsykiatern-med-hemmasittande-barn-jag-vetinte-heller-vad-jag-ska-gora/"
    segs = [Segment("Referenser", 8, 60), Segment(f"Läs mer: {url}", 0, 60)]

    drafts = chunk_segments(segs, target_chars=40, max_chars=50)

    assert all(len(d.text) <= 50 for d in drafts)
    assert "".join(d.text for d in drafts).replace(" ", "") == f"Läsmer:{url}"
