"""BM25 over Swedish text: stopwords, Snowball stemming, å/ä/ö folding and compound splitting."""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np

_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*", re.UNICODE)
_FOLD = str.maketrans("åäöéèüÅÄÖÉÈÜ", "aaoeeuAAOEEU")

# Question words and verbs staff use to ask, on top of bm25s's Swedish stopwords: they say how
# someone asks, not what about.
_QUESTION_WORDS = {
    "vad",
    "hur",
    "vem",
    "vilken",
    "vilket",
    "vilka",
    "varför",
    "när",
    "var",
    "finns",
    "gäller",
    "ska",
    "skall",
    "kan",
    "får",
    "måste",
    "behöver",
    "jag",
    "vi",
    "man",
    "gör",
    "göra",
    "nåt",
    "något",
    "några",
    "någon",
    "enligt",
    "typ",
    "bra",
    "vill",
    "blir",
    "sker",
    "ha",
    "har",
}
_MIN_PART = 4
TYPO_MIN_LEN = 6  # shorter words have too many neighbours one edit away


def _deletions(term: str) -> set[str]:
    return {term} | {term[:i] + term[i + 1 :] for i in range(len(term))}


def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_SWEDISH

    words = set(STOPWORDS_SWEDISH) | _QUESTION_WORDS
    return frozenset(words | {w.translate(_FOLD) for w in words})


class SwedishTokenizer:
    """Tokens for BM25. The same instance must tokenize chunks and queries.

    Compounds are split against the corpus's own vocabulary ("anhörigombud" also yields
    "anhörig" and "ombud"), so a question phrased with the parts still meets the compound.
    Tokens are folded to ASCII after stemming, so "forvantas" meets "förväntas".
    """

    def __init__(self, vocabulary: Iterable[str] = ()) -> None:
        import Stemmer

        self._stemmer = Stemmer.Stemmer("swedish")
        self._stop = _stopwords()
        self.vocabulary = frozenset(vocabulary)
        self._cache: dict[str, tuple[str, ...]] = {}

    def words(self, text: str) -> list[str]:
        return [w for w in _WORD.findall(text.lower()) if w not in self._stop and len(w) > 1]

    def _stem(self, word: str) -> str:
        return self._stemmer.stemWord(word).translate(_FOLD)

    def learn_vocabulary(self, texts: Iterable[str]) -> None:
        """Remember the stems that occur at least twice: the parts compounds may split into."""
        counts = Counter(self._stem(w) for t in texts for w in self.words(t))
        self.vocabulary = frozenset(s for s, n in counts.items() if n >= 2 and len(s) >= 3)
        self._cache.clear()

    def _split(self, word: str) -> tuple[str, ...]:
        """Best two-part split of a compound whose parts both occur in the corpus."""
        best: tuple[str, str] | None = None
        folded = word.translate(_FOLD)
        for i in range(_MIN_PART + 1, len(word) - _MIN_PART + 1):
            left, right = word[:i], word[i:]
            right_stem = self._stem(right)
            if right_stem not in self.vocabulary or len(right_stem) < _MIN_PART:
                continue
            for head in (left, left[:-1] if left.endswith("s") else None):
                if not head or len(head) < _MIN_PART + 1:
                    continue
                head_stem = self._stem(head)
                # Prefer the most balanced split: "rapportering|skyldighet".
                balanced = best is None or min(len(head), len(right)) > min(map(len, best))
                if head_stem in self.vocabulary and head_stem != folded and balanced:
                    best = (head_stem, right_stem)
        return best or ()

    def tokens(self, text: str) -> list[str]:
        out: list[str] = []
        for word in self.words(text):
            parts = self._cache.get(word)
            if parts is None:
                stem = self._stem(word)
                pieces = [p for p in word.split("-") if p] if "-" in word else [word]
                extra: list[str] = []
                for piece in pieces:
                    if len(pieces) > 1:
                        extra.append(self._stem(piece))
                    if len(piece) >= 2 * _MIN_PART + 2:
                        extra.extend(self._split(piece))
                parts = (stem, *dict.fromkeys(p for p in extra if p != stem))
                self._cache[word] = parts
            out.extend(parts)
        return out


def _bm25s():
    """Import bm25s, which sets its own logger to DEBUG on import; quiet it again."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


class LexicalIndex:
    """BM25 (bm25s, Lucene variant) over tokenized chunks; a result's position is its chunk id."""

    def __init__(
        self, tokenizer: SwedishTokenizer, bm25: object, size: int, df: dict[str, int]
    ) -> None:
        self.tokenizer = tokenizer
        self._bm25 = bm25
        self.size = size
        self._df = df  # how many chunks contain each term
        self._near: dict[str, set[str]] | None = None  # built on first use

    def _neighbours(self) -> dict[str, set[str]]:
        """Single-deletion variants of every indexed term (SymSpell): typo look-up in O(1)."""
        if self._near is None:
            near: dict[str, set[str]] = {}
            for term in self._bm25.vocab_dict:
                if isinstance(term, str) and len(term) >= TYPO_MIN_LEN - 1:
                    for variant in _deletions(term):
                        near.setdefault(variant, set()).add(term)
            self._near = near
        return self._near

    def correct(self, token: str) -> list[str]:
        """Indexed terms one edit away from an unknown query term ("uppdarget" -> "uppdrag")."""
        near = self._neighbours()
        found: set[str] = set()
        for variant in _deletions(token):
            found |= near.get(variant, set())
        return sorted(found)[:3]

    @classmethod
    def build(cls, texts: list[str]) -> LexicalIndex:
        bm25s = _bm25s()
        tokenizer = SwedishTokenizer()
        tokenizer.learn_vocabulary(texts)
        bm25 = bm25s.BM25(k1=1.2, b=0.75)
        corpus = [tokenizer.tokens(t) or ["\u2205"] for t in texts]
        bm25.index(corpus, show_progress=False)
        df = Counter(term for doc in corpus for term in set(doc))
        return cls(tokenizer, bm25, len(texts), dict(df))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._bm25.save(str(folder))
        (folder / "vocabulary.json").write_text(
            json.dumps(sorted(self.tokenizer.vocabulary), ensure_ascii=False), encoding="utf-8"
        )
        (folder / "df.json").write_text(json.dumps(self._df, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, size: int) -> LexicalIndex:
        bm25 = _bm25s().BM25.load(str(folder))
        vocabulary = json.loads((folder / "vocabulary.json").read_text(encoding="utf-8"))
        df = json.loads((folder / "df.json").read_text(encoding="utf-8"))
        return cls(SwedishTokenizer(vocabulary), bm25, size, df)

    def idf(self, term: str) -> float:
        """Lucene's BM25 idf; a term no chunk contains gets the highest value."""
        n = self._df.get(term, 0)
        return float(np.log(1 + (self.size - n + 0.5) / (n + 0.5)))

    def resolve(self, query: str) -> tuple[list[str], list[str]]:
        """The query's terms as indexed (typos corrected), and the terms found nowhere.

        A query term the corpus does not contain is replaced by indexed terms one edit away:
        staff type fast, and "sakunnig" should still find "sakkunnig".
        """
        vocab = self._bm25.vocab_dict
        known: list[str] = []
        missing: list[str] = []
        for t in self.tokenizer.tokens(query):
            if t in vocab:
                known.append(t)
                continue
            fixed = self.correct(t) if len(t) >= TYPO_MIN_LEN else []
            if fixed:
                known.extend(fixed)
            else:
                missing.append(t)
        return known, missing

    def scores_for(self, known: list[str]) -> np.ndarray:
        """BM25 score of every chunk for already resolved query terms."""
        if not known:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)
