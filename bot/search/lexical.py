"""BM25 over Swedish text: stopwords, Snowball stemming, å/ä/ö folding and compound splitting."""

from __future__ import annotations

import bisect
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

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
PREFIX_MIN = 5  # an unknown word and an indexed term may differ by an ending when both ...
ENDING = 4  # ... are at least this long and the ending is at most this long


def _distance(a: str, b: str) -> int:
    """Optimal string alignment distance (Levenshtein with adjacent transpositions)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


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

    def all_words(self, text: str) -> list[str]:
        """Every word, lowercased, stopwords and one-letter words kept."""
        return _WORD.findall(text.lower())

    def words(self, text: str) -> list[str]:
        return [w for w in self.all_words(text) if w not in self._stop and len(w) > 1]

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

    def word_tokens(self, text: str) -> list[tuple[str, ...]]:
        """Per word: its stem first, then the parts of a compound or hyphenated word."""
        out: list[tuple[str, ...]] = []
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
            out.append(parts)
        return out

    def tokens(self, text: str) -> list[str]:
        return [t for parts in self.word_tokens(text) for t in parts]


class _BM25(Protocol):
    """What this module uses of bm25s.BM25 (bm25s ships no type information)."""

    # A token's column; keys are tokens, or token ids for an index built from ids.
    vocab_dict: Mapping[str | int, int]

    def save(self, save_dir: str) -> None: ...

    def get_scores(self, query_tokens_single: list[str]) -> np.ndarray: ...


def _bm25s():
    """Import bm25s, which sets its own logger to DEBUG on import; quiet it again."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


class LexicalIndex:
    """BM25 (bm25s, Lucene variant) over tokenized chunks; a result's position is its chunk id."""

    def __init__(
        self, tokenizer: SwedishTokenizer, bm25: _BM25, size: int, df: dict[str, int]
    ) -> None:
        self.tokenizer = tokenizer
        self._bm25 = bm25
        self.size = size
        self._df = df  # how many chunks contain each term
        self._near: dict[str, set[str]] | None = None  # built on first use
        self._sorted: list[str] | None = None

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
        """Indexed terms one edit away from an unknown query term ("uppdarget" -> "uppdrag").

        Deletions on both sides find candidates up to two edits apart ("forsakring" and
        "forankring" share "forakring"); only those one edit away are kept."""
        if len(token) < TYPO_MIN_LEN:
            return []
        near = self._neighbours()
        found: set[str] = set()
        for variant in _deletions(token):
            found |= near.get(variant, set())
        return sorted(t for t in found if _distance(token, t) <= 1)[:3]

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
        """The query's terms as indexed, and the words found nowhere.

        A word the corpus does not contain is replaced by indexed terms one edit away (staff
        type fast: "sakunnig" should find "sakkunnig"), else by indexed terms that differ only
        by an ending (see prefixed()). A compound the corpus lacks still counts as missing when
        its parts are found ("trygghetsboendet" where the corpus has "trygghet" and "boende"):
        its parts take part in the ranking, but the concept itself is not in the documents,
        which is worth knowing when deciding to answer (measured with bench/calibrate.py).
        """
        known: list[str] = []
        missing: list[str] = []
        for _, stem, found, gone in self._resolved(query):
            known.extend(found)
            if gone:
                missing.append(stem)
        return known, missing

    def _resolved(self, query: str) -> list[tuple[str, str, list[str], bool]]:
        """Per content word of the query: the word, its stem, the indexed terms it matches (its
        stem and a compound's parts when indexed, else the parts and the stem's corrections),
        and whether the word itself is found nowhere (neither indexed nor corrected)."""
        vocab = self._bm25.vocab_dict
        out = []
        words = self.tokenizer.words(query)
        for word, (stem, *parts) in zip(words, self.tokenizer.word_tokens(query), strict=True):
            found = [p for p in parts if p in vocab]
            if stem in vocab:
                out.append((word, stem, [stem, *found], False))
                continue
            fixed = self.correct(stem) or self.prefixed(stem)
            out.append((word, stem, [*found, *fixed], not fixed))
        return out

    def resolve_words(self, query: str) -> list[tuple[str, tuple[str, ...]]]:
        """Per content word of the query, the indexed terms it matches (none: found nowhere)."""
        return [(word, tuple(found)) for word, _, found, _ in self._resolved(query)]

    def resolve_all(
        self, query: str
    ) -> tuple[list[str], list[str], list[tuple[str, tuple[str, ...]]]]:
        """resolve() and resolve_words() in one pass over the query."""
        resolved = self._resolved(query)
        known = [t for _, _, found, _ in resolved for t in found]
        missing = [stem for _, stem, _, gone in resolved if gone]
        return known, missing, [(word, tuple(found)) for word, _, found, _ in resolved]

    def prefixed(self, stem: str) -> list[str]:
        """Indexed terms that differ from an unknown term only by an ending ("forsakring" and
        "forsakr", from "försäkring" and "försäkrad": Snowball stems inflections unevenly)."""
        if len(stem) < PREFIX_MIN:
            return []
        vocab = self._bm25.vocab_dict
        for size in range(len(stem) - 1, max(PREFIX_MIN, len(stem) - ENDING) - 1, -1):
            if stem[:size] in vocab:  # the longest indexed term the word starts with
                return [stem[:size]]
        terms = self._sorted_vocabulary()
        i = bisect.bisect_left(terms, stem)
        longer = []
        while i < len(terms) and terms[i].startswith(stem):
            if len(terms[i]) - len(stem) <= ENDING:
                longer.append(terms[i])
            i += 1
        return sorted(longer, key=len)[:2]  # else the (two) closest that start with the word

    def _sorted_vocabulary(self) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(t for t in self._bm25.vocab_dict if isinstance(t, str))
        return self._sorted

    def scores_for(self, known: list[str]) -> np.ndarray:
        """BM25 score of every chunk for already resolved query terms."""
        if not known:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)
