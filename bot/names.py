"""Personal names in free text, told from places by name lists and the documents' own names."""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path

log = logging.getLogger(__name__)


def wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


@cache
def _resource_words(name: str) -> frozenset[str]:
    text = resources.files("bot").joinpath(f"resources/{name}").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def first_names() -> frozenset[str]:
    """The bundled first names, lower case; read once."""
    return _resource_words("first_names.txt")


def surnames() -> frozenset[str]:
    """The bundled common surnames, lower case; read once."""
    return _resource_words("surnames.txt")


def places() -> frozenset[str]:
    """Swedish municipalities, counties, provinces and countries, lower case; read once."""
    return _resource_words("places.txt")


@dataclass(frozen=True)
class KnownPlaces:
    """Place and organisation names one municipality's documents use (lower case).

    `words` never start a name on their own; `phrases` (Maria Ungdom, Röda Villan) are kept
    whole even when a word in them is a first name.
    """

    words: frozenset[str] = frozenset()
    phrases: frozenset[str] = frozenset()


NO_PLACES = KnownPlaces()

_TOKEN = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
# Between two tokens: anything that ends a sentence, a heading or a list item.
_BREAK = re.compile(r"[.!?:;\n•*#|>]")
_CUE_WORDS = (
    r"(?:heter|hette|kallas|klient|klienten|klientens|brukare|brukaren|brukarens|"
    r"patient|patienten|pojken|flickan|mamman|pappan|mamma|pappa|modern|fadern|namn|namnet|"
    r"vårdnadshavare|vårdnadshavaren|vårdnadshavarna|sökande|sökanden|barnet|barnen|dottern|"
    r"sonen|dotter|son|bror|brodern|syster|systern|eleven|ungdomen|tjejen|killen|kvinnan|"
    r"mannen|maken|makan|make|maka|frun|sambo|sambon|personen|handläggare|handläggaren|"
    r"kontaktperson|kontaktpersonen|god man|gode man|gode mannen|familjen|familj|herr|fru|"
    r"socialsekreterare|socialsekreteraren|handledare|mentor|ombud|ombudet|mormor|morfar|"
    r"farmor|farfar|morbror|farbror|moster|faster|kusin|kusinen|styvpappa|styvmamma|"
    r"bonuspappa|bonusmamma|granne|grannen|hyresvärd|hyresvärden|läraren|rektor|rektorn|"
    r"assistent|assistenten|partner|partnern|pojkvän|pojkvännen|flickvän|flickvännen|"
    r"exet|expartner|hustru|hustrun|elev|anhörig|anhörige|den anhörige|syskon|syskonen|"
    r"tonåringen|fostermamma|fosterpappa|familjehemsmamma|familjehemspappa|kollega|kollegan|"
    r"hos|signerat|sign|mvh|hälsningar|vänligen|undertecknad)"
)
_IS_CUE = re.compile(_CUE_WORDS, re.IGNORECASE)
_CUE = re.compile(
    r"(?:^|[^\w\[])" + _CUE_WORDS + r"\s*[:=(]?\s*$",  # a cue at the end of a sentence cues nothing
    re.IGNORECASE,
)
# Cue words that are also ordinary prepositions or greetings: they cue only a name from the
# name lists or with a surname's ending, not any capitalised word ("hos Försäkringskassan").
_WEAK_CUE = re.compile(
    r"(?:^|[^\w\[])(?:hos|signerat|sign|mvh|hälsningar|vänligen)\s*[:=(]?\s*$", re.IGNORECASE
)
_NAMING_CUE = re.compile(r"(?:heter|hette|kallas|namn|namnet)\s*[:=]?\s*$", re.IGNORECASE)
# Swedish and common immigrant surname endings, capitalised: a name wherever it stands.
_SURNAME_STRONG = re.compile(
    r"(?:sson|[^r]son|qvist|kvist|quist|ström|strom|ović|ovic|ević|evic|ić|zadeh|oglu|oğlu|"
    r"wski|wska|czyk)$"
)
# Endings a capitalised word mid-sentence has as a surname, rarely as anything else.
_SURNAME_MID = re.compile(r"(?:" + _SURNAME_STRONG.pattern[3:-2] + r"|berg|gren|lund|holm|dahl)$")
# Weaker endings: a surname mid-sentence or after a first name, not at a sentence's start.
_SURNAME = re.compile(
    r"(?:" + _SURNAME_STRONG.pattern[3:-2] + r"|berg|gren|lund|holm|dahl|blad|stedt|strand|"
    r"ander|ius|feldt|lind|mark|hed|[a-zåäö]{4}i)$"
)
# Surnames typed in lower case: only endings that ordinary Swedish words rarely have.
_LOWER_SURNAME = re.compile(
    r"(?:sson|ström|strom|qvist|kvist|quist|berg|gren|lund|holm|dahl|blad|stedt|ović|ovic|ić|"
    r"zadeh|[a-zåäö]{4}i)$"
)
_LOWER_STRICT = re.compile(r"(?:sson|qvist|kvist|quist)$")
# Capitalised words that start questions or name things every municipality has: never names,
# and never the start of one.
_NOT_NAMES = wordset(
    """
    vad hur vem vems vilka vilken vilket var varför vart när kan får ska skall måste bör finns
    har är gäller om jag vi hej tack och men eller enligt behöver blir gör går hade fick borde
    kommer ge hjälp min mitt mina vår vårt våra hon han hen de den det dom ni du nu då idag igår
    imorgon inför efter innan under hos med till från på av för vid mellan utan angående ang
    gällande se kolla fråga frågor svar ok okej bra snälla hallå god morgon vänliga hälsningar mvh
    januari februari mars april maj juni juli augusti september oktober november december
    måndag tisdag onsdag torsdag fredag lördag söndag jul påsk midsommar
    västra östra norra södra lilla stora gamla nya sankt
    lex region division social omsorg stadsmission stadsmissionen
    socialnämnden socialnämnd socialtjänsten socialtjänst kommun kommunen kommunfullmäktige
    kommunstyrelsen nämnden länsstyrelsen polisen försäkringskassan arbetsförmedlingen
    migrationsverket skatteverket kronofogden socialstyrelsen inspektionen ivo brå jobbtorg
    riktlinje kommunala kvinnojouren tjejjouren barnahus bris rädda barnen frälsningsarmén
    svenska kyrkan ungdom ungdomsmottagningen vårdcentralen vårdcentral bup
    beroendemottagningen regionen tingsrätten förvaltningsrätten kammarrätten stadshuset
    kommunhuset teams härbärget
    klienten klient brukaren brukare patienten pojken flickan mamman pappan mamma pappa barnet
    dottern sonen eleven ungdomen tjejen killen kvinnan mannen familjen herr fru handläggaren
    ärende ärendet personnummer samordningsnummer pnr född nr
    """
)
# A capitalised word just before a personnummer is a name: "gäller Tindra 150303-2241".
_BEFORE_PNR = re.compile(r",?\s\(?\[PERSONNUMMER\]")
# Names of national laws and organisations that contain a person's name: never redacted.
_NATIONAL_PHRASES = (
    r"lex\s+(?:sarah|maria)",
    r"(?:s:t|st\.|sankt)\s+[^\W\d_]+",
    r"astrid\s+lindgren\w*",
    r"rädda\s+barnen",
    r"röda\s+korset",
    r"hela\s+människan",
    r"svenska\s+kyrkan",
)
# First names and surnames that are also everyday Swedish words: a name only next to another
# name or after a cue.
_WORDLIKE = wordset(
    "per bo dag stig sten rut siv jan hans max tom dina sanna linda saga axel karl milan adel "
    "jasmin tea sam mira said lina lisa alma vilja märta leo ester iris inga dan kaj rosa tor "
    "frank lill tina tilde "
    "berg lind holm björk lund falk ek blom ström nord strand malm borg björn dahl hall tran"
)


def is_name_word(word: str) -> bool:
    """Whether `word` is a known first name or surname, or has a surname's ending."""
    lower = word.lower()
    return (
        lower in first_names()
        or lower in surnames()
        or bool(_SURNAME_STRONG.search(lower))
        or bool(_SURNAME_MID.search(lower))
        or (len(lower) > 1 and lower[-1] == "s" and lower[:-1] in first_names() | surnames())
    )


def learn_places(texts: Iterable[str]) -> KnownPlaces:
    """Place and organisation names from documents: the words they capitalise mid-sentence.

    What looks like a person is never learnt, so that a document mentioning someone (a chair
    in the minutes) does not make their name safe to keep: a known first name or surname, a
    word with a surname's ending, the word after a first name unless the documents also use it
    as an ordinary lower-case word, and a run of two or more capitalised words none of which is
    such an ordinary word or a known place (Yvonne Hjern). A run holding a first name beside
    ordinary words (Maria Ungdom, Lex Sarah) is learnt as a phrase.
    """
    texts = list(texts)
    lower = {t for text in texts for t in _TOKEN.findall(text) if t.islower()}
    words: set[str] = set()
    phrases: set[str] = set()
    for text in texts:
        for run in _capitalised_runs(text):
            _learn_run(run, lower, words, phrases)
    return KnownPlaces(frozenset(words), frozenset(phrases))


def _capitalised_runs(text: str) -> Iterable[list[str]]:
    """Runs of capitalised words one space apart, without a run's sentence-initial word."""
    tokens = list(_TOKEN.finditer(text))
    run: list[str] = []
    for k, m in enumerate(tokens):
        word = m.group()
        gap = text[tokens[k - 1].end() : m.start()] if k else "\n"
        if _is_title(word) and len(word) > 1:
            if run and gap == " ":
                run.append(word)
                continue
            if run:
                yield run
            run = [word] if k and not _BREAK.search(gap) else []
            continue
        if run:
            yield run
        run = []
    if run:
        yield run


def _learn_run(run: list[str], lower: set[str], words: set[str], phrases: set[str]) -> None:
    keys = [w.lower() for w in run]
    ordinary = [k in lower or _base(k) in places() for k in keys]
    if len(run) > 1 and not any(ordinary):
        return  # two or three unknown capitalised words: most likely someone's name
    person = False
    learnt: list[str] = []
    for key, plain in zip(keys, ordinary, strict=True):
        if is_name_word(key):
            person = person or _base(key) in first_names()
            continue
        if person and not plain:
            return  # Anders Wadeskog: the word after a first name is a surname
        learnt.append(key)
    words.update(learnt)
    if person and learnt:
        phrases.add(" ".join(keys))


def _base(word: str) -> str:
    """A word without a genitive s: Stockholms -> stockholm."""
    return word[:-1] if len(word) > 2 and word.endswith("s") else word


@lru_cache(maxsize=4)
def _learnt_from(folder: Path) -> KnownPlaces:
    # An index folder never changes once built (a new one is built beside it and switched in),
    # so what it teaches is cached by its path.
    from bot.search.store import read_chunks

    return learn_places(chunk.text for chunk in read_chunks(folder))


def index_places(root: Path) -> KnownPlaces:
    """The places the index in service under `root` teaches; none without an index."""
    from bot.search.store import current_dir

    try:
        folder = current_dir(root)
        return NO_PLACES if folder is None else _learnt_from(folder)
    except (OSError, ValueError, KeyError) as exc:
        # Redaction must work without an index: it then just knows fewer places.
        log.warning("could not learn place names from the index: %s", type(exc).__name__)
        return NO_PLACES


def _is_title(word: str) -> bool:
    return all(p[:1].isupper() and (len(p) == 1 or p[1:].islower()) for p in word.split("-"))


def _first_name(word: str) -> str | None:
    """The known first name `word` is or starts with (Anna-Karin, Annas), lower case; or None."""
    lower = word.lower().split("-")[0]
    names = first_names()
    if lower in names:
        return lower
    # A genitive: lower-case "dags" and "dans" are words, not Dag's and Dan's.
    base = lower[:-1]
    if lower.endswith("s") and base in names and (_is_title(word) or len(base) > 3):
        return base if _is_title(word) or base not in _WORDLIKE else None
    return None


def _surname(word: str) -> bool:
    lower = word.lower()
    return lower in surnames() or (lower.endswith("s") and lower[:-1] in surnames())


@cache
def _phrase_pattern(phrases: frozenset[str]) -> re.Pattern[str]:
    learnt = (r"\s+".join(map(re.escape, p.split())) for p in sorted(phrases, key=len)[::-1])
    multi = (r"\s+".join(map(re.escape, p.split())) for p in places() if " " in p)
    alternatives = "|".join((*_NATIONAL_PHRASES, *learnt, *multi))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def name_spans(text: str, known: KnownPlaces = NO_PLACES) -> list[tuple[int, int]]:
    """Where personal names stand in `text`, as (start, end) spans in order."""
    protected = [m.span() for m in _phrase_pattern(known.phrases).finditer(text)]
    starts = [a for a, _ in protected]

    def inside_phrase(pos: int) -> bool:  # spans are sorted and apart: look up, don't scan
        k = bisect.bisect_right(starts, pos) - 1
        return k >= 0 and pos < protected[k][1]

    tokens = [
        (m.start(), m.end(), m.group())
        for m in _TOKEN.finditer(text)
        if not inside_phrase(m.start())
    ]
    general_places = places()

    def place(word: str) -> bool:
        lower = word.lower()
        return lower in general_places or _base(lower) in general_places or lower in known.words

    def adjacent(i: int) -> bool:  # token i follows token i-1 after exactly one space
        return i > 0 and text[tokens[i - 1][1] : tokens[i][0]] == " "

    def sentence_start(i: int) -> bool:
        before = text[tokens[i - 1][1] : tokens[i][0]] if i else text[: tokens[i][0]]
        return i == 0 or any(c in before for c in ".!?\n")

    def part_of_name(i: int) -> bool:  # can token i continue a name started before it?
        word = tokens[i][2]
        if word.lower() in _NOT_NAMES:
            return False
        if _is_title(word):
            return True
        if word.isupper() and len(word) > 1:  # ANNA SVENSSON, as typed in a form
            return is_name_word(word) or bool(_SURNAME.search(word.lower()))
        if not word.islower():
            return False
        name = _first_name(word)
        return bool(_LOWER_SURNAME.search(word)) or (name is not None and name not in _WORDLIKE)

    def surname_follows(i: int) -> bool:
        return i + 1 < len(tokens) and adjacent(i + 1) and part_of_name(i + 1)

    def starts_name(i: int) -> bool:
        word = tokens[i][2]
        lower = word.lower()
        if lower in _NOT_NAMES or _IS_CUE.fullmatch(lower):
            return False
        context = text[max(0, tokens[i][0] - 40) : tokens[i][0]]
        cue = bool(_CUE.search(context))
        strong_cue = cue and not _WEAK_CUE.search(context)
        title = _is_title(word)
        name = _first_name(word)
        surname = _surname(word)
        if lower in general_places and not (cue and (surname or name)):
            return False
        if name and "-" in word and all(p in first_names() for p in lower.split("-")):
            return True  # jan-olof, anna-karin: a double first name is no word
        if name:
            if name not in _WORDLIKE:
                return title or word.islower() or (word.isupper() and len(word) > 2)
            # "socialsekreterare per termin": a word-like name in lower case needs a naming cue.
            cued = cue and (title or bool(_NAMING_CUE.search(context)))
            return cued or surname_follows(i) or (title and not sentence_start(i))
        if surname:
            base = lower.removesuffix("s") if lower not in surnames() else lower
            if base not in _WORDLIKE:
                return True
            return cue or (title and not sentence_start(i))
        if title:
            if lower in known.words:
                return strong_cue
            if _SURNAME_STRONG.search(lower) or (
                not sentence_start(i) and _SURNAME_MID.search(lower)
            ):
                return True
            if strong_cue or (not sentence_start(i) and _BEFORE_PNR.match(text, tokens[i][1])):
                return True
            nxt = tokens[i + 1][2] if i + 1 < len(tokens) else ""
            return (
                surname_follows(i)
                and _is_title(nxt)
                and bool(_SURNAME.search(nxt.lower()) or _surname(nxt))
                and nxt.lower() not in _NOT_NAMES
                and not place(nxt)
            )
        if word.islower() and _LOWER_STRICT.search(word):
            return True  # no Swedish word ends like "nilsson" or "lindqvist"
        # klienten jovana petrović: a lower-case word after a cue when a surname follows it.
        nxt = tokens[i + 1][2] if i + 1 < len(tokens) else ""
        return (
            strong_cue
            and word.islower()
            and bool(_LOWER_SURNAME.search(word) or (surname_follows(i) and nxt.islower()))
        )

    def joins_before(i: int) -> bool:  # Abdulkadir Sheikh Ali: unknown names before a known one
        word = tokens[i][2]
        return (
            _is_title(word)
            and word.lower() not in _NOT_NAMES
            and not place(word)
            and not sentence_start(i)
        )

    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        if not starts_name(i):
            i += 1
            continue
        j = start = i
        while j + 1 < len(tokens) and j - i < 3 and adjacent(j + 1) and part_of_name(j + 1):
            j += 1
        while (
            start > 0
            and i - start < 2
            and adjacent(start)
            and joins_before(start - 1)
            and not (spans and spans[-1][1] >= tokens[start - 1][0])
        ):
            start -= 1
        spans.append((tokens[start][0], tokens[j][1]))
        i = j + 1
    return spans
