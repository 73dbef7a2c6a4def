"""How much a question's words say, from a fixed Swedish word-frequency table, not the corpus."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import cache
from importlib import resources

# A word absent from the table (the 100,000 most frequent Swedish words) is rarer than any in it.
UNKNOWN_ZIPF = 1.0
# Zipf is log10 of occurrences per billion words; 9 - zipf is the word's information in digits.
MAX_ZIPF = 9.0
_FOLD = str.maketrans("åäöéèüÅÄÖÉÈÜ", "aaoeeuAAOEEU")


@cache
def zipf_table() -> dict[str, float]:
    """Word -> Zipf frequency, from bot/resources/sv_wordfreq.tsv.gz (wordfreq, CC BY-SA 4.0)."""
    raw = resources.files("bot").joinpath("resources/sv_wordfreq.tsv.gz").read_bytes()
    table: dict[str, float] = {}
    for line in gzip.decompress(raw).decode("utf-8").splitlines():
        if line and not line.startswith("#"):
            word, _, zipf = line.partition("\t")
            table[word] = float(zipf)
    return table


@cache
def _folded_table() -> dict[str, float]:
    """Folded spelling -> the highest Zipf of the words that fold to it ("maste" -> "måste")."""
    folded: dict[str, float] = {}
    for word, zipf in zipf_table().items():
        key = word.translate(_FOLD)
        folded[key] = max(folded.get(key, 0.0), zipf)
    return folded


def word_weight(word: str) -> float:
    """The information a word carries in general Swedish: rare words weigh more (0 to 8).

    A word is as common as its most common spelling with å/ä/ö: staff type without them, and
    "maste" is "måste", however often the folded form itself appears in the table."""
    word = word.lower()
    zipf = max(zipf_table().get(word, UNKNOWN_ZIPF), _folded_table().get(word, UNKNOWN_ZIPF))
    return MAX_ZIPF - zipf


@dataclass(frozen=True)
class QuestionTerms:
    """The question's content words, each with its weight and the indexed terms it matches
    (its stem, a compound's parts, a typo's corrections)."""

    words: tuple[str, ...]
    weights: tuple[float, ...]
    terms: tuple[frozenset[str], ...]

    def share_held(self, tokens: set[str] | frozenset[str]) -> float:
        """The weighted share of the question's words that `tokens` (a passage's) hold."""
        total = sum(self.weights)
        if not total:
            return 0.0
        held = sum(w for w, t in zip(self.weights, self.terms, strict=True) if t & tokens)
        return held / total

    def rarest_missing(self, tokens: set[str] | frozenset[str]) -> float:
        """The weight of the rarest question word `tokens` lack, over the largest weight (0 to
        1): "demenssjukdom" missing says more than a missing "ansöka"."""
        gone = [w for w, t in zip(self.weights, self.terms, strict=True) if not t & tokens]
        return max(gone, default=0.0) / (MAX_ZIPF - UNKNOWN_ZIPF)

    def term_weights(self) -> dict[str, float]:
        """Weight per indexed term (a term two words share takes the larger weight)."""
        out: dict[str, float] = {}
        for weight, terms in zip(self.weights, self.terms, strict=True):
            for t in terms:
                out[t] = max(out.get(t, 0.0), weight)
        return out


def question_terms(resolved: list[tuple[str, tuple[str, ...]]]) -> QuestionTerms:
    """From (word, indexed terms) pairs as the lexical index resolved them."""
    words = tuple(w for w, _ in resolved)
    return QuestionTerms(
        words, tuple(word_weight(w) for w in words), tuple(frozenset(t) for _, t in resolved)
    )
