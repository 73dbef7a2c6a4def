"""Which sentence a citation marks, and when a hit has nothing new to show."""

from __future__ import annotations

from bot.answer.passages import best_sentence
from bot.models import Chunk

SENTENCES = (
    "Kvinnor utgör ungefär åtta procent av dem inom organiserad brottslighet.",  # 0
    "Avhopp sker ofta när en person får familj.",  # 1: the window's sentences
    "Stödet ges av socialtjänsten i samverkan med polisen.",  # 2
    "Programmet följs upp varje år.",  # 3
)
RARE = {"kvinn": 3.0, "organiser": 3.0, "avhopp": 1.0}


def chunk(sentences=SENTENCES, windows=((1, 3),)) -> Chunk:
    text, spans = "", []
    for s in sentences:
        start = len(text)
        text += s + " "
        spans.append((start, start + len(s)))
    return Chunk(0, "d.md", "D", None, (), 0, None, 0, text, tuple(spans), "x", None, windows)


def tokens(text: str) -> list[str]:
    words = {"kvinnor": "kvinn", "organiserad": "organiser", "avhopp": "avhopp", "stödet": "stod"}
    return [words[w] for w in text.lower().replace(".", "").split() if w in words]


def weight(term: str) -> float:
    return RARE.get(term, 1.0)


def test_rare_terms_outside_the_window_beat_a_common_one_inside():
    query = {"kvinn", "avhopp"}  # one term in sentence 0, one in the window's sentence 1
    assert best_sentence(chunk(), query, tokens, 0, weight) == 0
    # Counted equally, the window's prior decides the tie: the dense match points there.
    assert best_sentence(chunk(), query, tokens, 0) == 1


def test_sentences_already_shown_are_passed_over():
    query = {"kvinn", "organiser", "avhopp", "stod"}
    assert best_sentence(chunk(), query, tokens, 0, weight, shown={0}) == 1
    assert best_sentence(chunk(), query, tokens, 0, weight, shown={0, 1}) == 2


def test_nothing_to_show_when_what_is_left_shares_no_term():
    assert best_sentence(chunk(), {"kvinn"}, tokens, 0, weight, shown={0}) is None
    assert best_sentence(chunk(), {"kvinn"}, tokens, 0, weight, shown={0, 1, 2, 3}) is None
    # Nothing shown yet and no term shared: the window's first sentence still opens the citation.
    assert best_sentence(chunk(), {"okand"}, tokens, 0, weight) == 1
