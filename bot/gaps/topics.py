"""What a gap question asks about: its topical text, specific terms and a short topic label."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache, lru_cache

from bot.answer.terms import word_weight, zipf_table
from bot.names import places

# The redaction placeholders (bot/privacy.py): they stand for a person, never for a topic.
PLACEHOLDER = re.compile(r"\[(?:NAMN|PERSONNUMMER|TELEFON|EPOST|ADRESS)\]")
LABEL_TERMS = 3
SPECIFIC_SHARE = 0.4  # of the best word's score, for a word to be in the label
SAMPLE = 40  # questions per word looked at to tell phrasing from topic
BESIDE = 0.5  # weight of a word next to a placeholder, relative to its weight elsewhere
# A word typed without å/ä/ö gets them back when general Swedish writes it so this much more
# often (in Zipf: 1.5 is 30 times): "nar" -> "när", "fardtjanst" -> "färdtjänst", not "bor".
RESPELL_MARGIN = 1.5


@cache
def _tokenizer():
    """One tokenizer (stemmer and stopwords loaded once) for grouping and naming themes."""
    from bot.search.lexical import SwedishTokenizer

    return SwedishTokenizer()


_FOLD = str.maketrans("åäöéÅÄÖÉ", "aaoeAAOE")
_WORD = re.compile(r"[^\W\d_]+")


@cache
def _accented() -> dict[str, tuple[str, float]]:
    """Folded spelling -> the commonest word with å/ä/ö/é that folds to it, and its Zipf."""
    best: dict[str, tuple[str, float]] = {}
    for word, zipf in zipf_table().items():
        key = word.translate(_FOLD)
        if key != word and zipf > best.get(key, ("", 0.0))[1]:
            best[key] = (word, zipf)
    return best


@lru_cache(maxsize=50_000)
def _respelled_word(word: str) -> str:
    if len(word) > 1 and word.isupper():  # an abbreviation ("KOL", "FK") or a placeholder
        return word
    lower = word.lower()
    accented, zipf = _accented().get(lower, ("", 0.0))
    if not accented or zipf < zipf_table().get(lower, 0.0) + RESPELL_MARGIN:
        return word
    return accented.capitalize() if word[:1].isupper() else accented


def respelled(text: str) -> str:
    """The text with words typed without å/ä/ö given them back where general Swedish writes
    them so far more often ("fardtjanst nar" -> "färdtjänst när"): staff often type without
    them, and neither the stemmer nor the encoder would match the two spellings."""
    return _WORD.sub(lambda m: _respelled_word(m.group()), text)


def topical_text(question: str) -> str:
    """The redacted question without its placeholders (and with its å/ä/ö, `respelled`):
    what gets embedded for grouping."""
    text = respelled(question)
    return re.sub(r"\s+", " ", PLACEHOLDER.sub(" ", text)).strip() or text


def _words(question: str) -> list[tuple[str, str]]:
    """(surface word, stem) per content word; numbers and place names (the municipalities,
    counties and countries bot/names.py knows) say nothing about the topic: where the client
    lives is part of the wrapper. A word and the function word after it that general Swedish
    also writes as one word are one term ("god man": "godman"; "man" alone is a stopword)."""
    tok = _tokenizer()
    raw = tok.all_words(topical_text(question))
    out = []
    for k, word in enumerate(raw):
        if not tok.words(word) or word.isdigit() or word in places():
            continue
        follower = raw[k + 1] if k + 1 < len(raw) else ""
        if _stopword(follower) and word + follower in zipf_table():
            word = f"{word} {follower}"
        parts = tok.word_tokens(word.replace(" ", ""))
        if parts and parts[0]:
            out.append((word, parts[0][0]))
    return out


def _stopword(word: str) -> bool:
    """A function word the tokenizer drops ("man"), not a number or a lone letter."""
    return word.isalpha() and len(word) > 1 and not _tokenizer().words(word)


def beside_placeholders(question: str) -> set[str]:
    """Stems of the content words right before or after a placeholder: they say what the
    personal data is ("pnr [PERSONNUMMER]", "tfn [TELEFON]", "bor på [ADRESS]", "mejl från
    [EPOST]", "en klient, [NAMN]"), seldom what the question asks; learnt from where the
    redaction put its placeholders, not from a list of phrases."""
    tok = _tokenizer()
    pieces = PLACEHOLDER.split(respelled(question))
    near: set[str] = set()
    for k, piece in enumerate(pieces):
        words = [w for w in tok.words(piece) if not w.isdigit()]
        if not words:
            continue
        ends = ([words[0]] if k > 0 else []) + ([words[-1]] if k < len(pieces) - 1 else [])
        for word in ends:
            parts = tok.word_tokens(word)
            if parts and parts[0]:
                near.add(parts[0][0])
    return near


@dataclass(frozen=True)
class TermWeights:
    """Per question, each stem's weight: how rare the word is in general Swedish times how
    few of the recorded gap questions use it. Wrapper phrasing ("har en klient som undrar")
    recurs across questions on unrelated topics and so weighs little, learnt from the gaps
    themselves rather than from a list of phrases."""

    vectors: tuple[dict[str, float], ...]  # unit length, so a dot product is a cosine
    idf: dict[str, float]

    def similarity(self, i: int, j: int) -> float:
        a, b = self.vectors[i], self.vectors[j]
        if len(b) < len(a):
            a, b = b, a
        return sum(w * b[t] for t, w in a.items() if t in b)


def _singular(held: list[set[str]]) -> float:
    """1 / (1 + how many other words the questions using a word share, on average).

    Words of a recurring phrasing come together: every "ringde en anhörig angående X som vill
    veta" question also holds "ringde", "anhörig", "angående", "veta", while questions on one
    topic mostly share the topic's word and little else. So a word whose questions share many
    more words weighs less: the phrasing is learnt from how the gaps are written."""
    held = held[:SAMPLE]
    if len(held) < 3:  # two questions say too little about how a word is used
        return 1.0
    pairs = [(a, b) for i, a in enumerate(held) for b in held[i + 1 :]]
    # One more shared word is a two-word topic ("god man", "lex sarah"), not a phrasing.
    shared = sum(max(len(a & b) - 2, 0) for a, b in pairs) / len(pairs)
    return 1.0 / (1.0 + shared)


def term_weights(questions: list[str]) -> TermWeights:
    words = [_words(q) for q in questions]
    df = Counter(stem for ws in words for stem in {s for _, s in ws})
    n = len(questions)
    sets = [{s for _, s in ws} for ws in words]
    using: dict[str, list[int]] = {}
    for i, stems in enumerate(sets):
        for stem in stems:
            using.setdefault(stem, []).append(i)
    idf = {
        stem: math.log((n + 1) / (count + 0.5)) * _singular([sets[i] for i in using[stem]])
        for stem, count in df.items()
    }
    vectors = []
    for question, ws in zip(questions, words, strict=True):
        near = beside_placeholders(question)
        vec: dict[str, float] = {}
        for word, stem in ws:
            weight = word_weight(word) * max(idf[stem], 0.0) * (BESIDE if stem in near else 1.0)
            vec[stem] = max(vec.get(stem, 0.0), weight)
        norm = math.sqrt(sum(w * w for w in vec.values())) or 1.0
        vectors.append({t: w / norm for t, w in vec.items()})
    return TermWeights(tuple(vectors), idf)


def topic_label(questions: list[str], idf: dict[str, float] | None = None) -> str:
    """The theme's 2-4 most specific words its questions share, in the order staff wrote them.

    A word counts as shared when at least half the questions (and two of them, in a theme of
    more than one) hold it; if too few are shared, the most specific words overall fill in."""
    idf = idf or {}
    spelled: dict[str, Counter[str]] = {}
    held: Counter[str] = Counter()
    beside: Counter[str] = Counter()  # questions where the word stands next to a placeholder
    score: dict[str, float] = {}
    position: dict[str, float] = {}
    for question in questions:
        ws = _words(question)
        for k, (word, stem) in enumerate(dict.fromkeys(ws)):
            spelled.setdefault(stem, Counter())[word] += 1
            position[stem] = position.get(stem, 0.0) + k / max(len(ws), 1)
        near = beside_placeholders(question)
        for stem in {s for _, s in ws}:
            held[stem] += 1
            beside[stem] += stem in near
    for stem, count in held.items():
        word = spelled[stem].most_common(1)[0][0]
        score[stem] = (
            count
            * word_weight(word)
            * (idf.get(stem, 1.0) if idf else 1.0)
            * BESIDE ** (beside[stem] / count)
        )
    need = max(2, math.ceil(len(questions) / 2)) if len(questions) > 1 else 1
    top = max(score.values(), default=0.0)
    # Words far less specific than the best (a phrasing's, like "klient" or "undrar") stay out.
    ranked = sorted(score.items(), key=lambda item: -item[1])
    specific = [s for s, v in ranked if v >= top * SPECIFIC_SHARE]
    shared = [s for s in specific if held[s] >= need][:LABEL_TERMS]
    if len(shared) < 2:
        shared += [s for s in specific if s not in shared][: 2 - len(shared)]
    shared.sort(key=lambda s: position[s] / held[s])  # the order the words usually come in
    return " ".join(spelled[s].most_common(1)[0][0] for s in shared)


# What is kept of a question for the topic embedding: its words weighing at least this share of
# its weightiest word (bench/themes.py: 0.5 put same-topic paraphrases closest on every set).
KEEP_SHARE = 0.5
GRAMS = (4, 5)  # character n-grams that tie a compound to its parts ("skuldsanering", "skulder")
STEM_SHARE = 0.3  # of a word's weight on its stem; the rest on its character n-grams


def topic_text(question: str, idf: dict[str, float]) -> str:
    """The question's words that say what it asks about: each word weighing at least KEEP_SHARE
    of its weightiest one, so a wrapper's words ("har en klient som undrar") drop out once the
    gaps have shown them to recur across topics. The placeholder-free text when none weigh."""
    words = _words(question)
    near = beside_placeholders(question)
    weights = [
        word_weight(word) * max(idf.get(stem, 0.0), 0.0) * (BESIDE if stem in near else 1.0)
        for word, stem in words
    ]
    top = max(weights, default=0.0)
    if top <= 0.0:
        return topical_text(question)
    return " ".join(
        w for (w, _), weight in zip(words, weights, strict=True) if weight >= KEEP_SHARE * top
    )


def _grams(word: str) -> dict[str, float]:
    padded = f"<{word.lower().replace(' ', '')}>"
    counts = Counter(padded[a : a + k] for k in GRAMS for a in range(len(padded) - k + 1))
    if not counts:
        counts[padded] = 1
    norm = math.sqrt(sum(c * c for c in counts.values()))
    return {g: c / norm for g, c in counts.items()}


def soft_term_rows(questions: list[str], terms: TermWeights) -> list[dict[str, float]]:
    """Per question, a unit vector over its stems and their character n-grams, each word with
    its TermWeights weight: a dot product is the term overlap, where a compound shares part of
    its weight with its parts ("bostadsanpassningsbidrag" with "bostadsanpassning", "begravnings-
    kostnad" with "begravningen") and a wrapper's words, weighing little, add little."""
    rows = []
    for i, question in enumerate(questions):
        weights = terms.vectors[i]
        row: dict[str, float] = {}
        seen: set[str] = set()
        for word, stem in _words(question):
            if stem in seen or stem not in weights:
                continue
            seen.add(stem)
            weight = weights[stem]
            row["§" + stem] = row.get("§" + stem, 0.0) + STEM_SHARE * weight
            for gram, share in _grams(word).items():
                row[gram] = row.get(gram, 0.0) + (1 - STEM_SHARE) * weight * share
        norm = math.sqrt(sum(x * x for x in row.values())) or 1.0
        rows.append({k: x / norm for k, x in row.items()})
    return rows
