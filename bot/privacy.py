"""Privacy helpers: redact personal data before anything is stored; pseudonymous asker ids."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from functools import cache
from importlib import resources
from pathlib import Path

log = logging.getLogger(__name__)

HASH_KEY_ENV = "RUTINBOT_HASH_KEY"
REDACTED_PNR = "[PERSONNUMMER]"
REDACTED_PHONE = "[TELEFON]"
REDACTED_EMAIL = "[EPOST]"
REDACTED_ADDRESS = "[ADRESS]"
REDACTED_NAME = "[NAMN]"

# Personnummer and samordningsnummer (day + 60) as people type them: 850312-1234, 850312+1234,
# 19850312-1234, 198503121234, 8503121234, 850312 1234. The date parts are checked so that
# most other numbers survive; the check digit is not, because a mistyped personnummer is just as
# personal.
_PNR = re.compile(
    r"(?<!\d)"
    r"(?:(?:18|19|20)?\d{2})"  # year, with or without century
    r"(?:0[1-9]|1[0-2])"  # month
    r"(?:0[1-9]|[12]\d|3[01]|6[1-9]|[78]\d|9[01])"  # day, or day + 60 for samordningsnummer
    r"(?:\s?[-+–]\s?|\s)?"  # separator: - or + (100 years or older), a space, or none
    r"\d{4}"
    r"(?!\d)"
)


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b")

# Swedish phone numbers: +46/0046 or a leading 0, then groups split by spaces or hyphens (never
# dots or slashes, which dates and times use). Whether the digits add up to a phone number is
# checked in `_phone`, not here.
_PHONE = re.compile(
    r"(?<![\w+\-/.,:§])(?<!\d\s)(?<!\d\s-)"  # not inside a run of amounts: 3 017 3 017
    r"(?:(?:\+|00)\s?46\s?(?:\(0\)\s?)?-?\s?|\(0\d{1,3}\)\s?|0)"
    r"\d(?:(?:\s?[-–]\s?|\s)?\d){4,10}"
    r"(?![\d\w])"
)

_PHONE_SEPARATOR = re.compile(r"\s?[-–]\s?|\s")
_NOT_DIGIT = re.compile(r"\D")
_MOBILE = re.compile(r"07\d{8}")

_STREET_SUFFIX = (
    r"gatan|gata|vägen|väg|gränden|gränd|torget|torg|backen|backe|stigen|allén|allé|planen|"
    r"plan|leden|led|esplanaden|promenaden|kajen|gången|slingan|liden|höjden|parken|stranden|"
    r"udden|hagen|kroken|tvärgatan"
)
_STREET_WORD = r"(?:väg|vägen|gata|gatan|gränd|allé|torg|torget|backe|backen|stig|plan|led)"
_DIRECTION = r"(?:[Vv]ästra|[Öö]stra|[Nn]orra|[Ss]ödra|[Ll]illa|[Ss]tora|[Gg]amla|[Nn]ya)"
# A street with a house number: Storgatan 12, Västra Långgatan 3B, Drottning Kristinas väg 5,
# stora torget 3, with an optional flat (lgh 1101, 2 tr) and postcode (611 32 Nyköping). The
# house number has at most three digits, so that "handlingsplan 2023" stays.
_ADDRESS = re.compile(
    r"(?<![\w-])"
    r"(?P<street>"
    r"(?:" + _DIRECTION + r"\s)?[A-Za-zÅÄÖåäöé][a-zåäöé]*?(?:" + _STREET_SUFFIX + r")"
    r"|(?:" + _DIRECTION + r"\s|[A-ZÅÄÖ][a-zåäöé:.]+\s){1,2}" + _STREET_WORD + r")"
    r"\s?(?:nr\.?\s?)?\d{1,3}(?:\s?[A-Ha-h](?!\w))?"
    r"(?![\d,.:]\d|\s?kap\b|\s?§|\s?%|\s?kr\b|\s?tkr\b|\s?st\b)"
    r"(?:,?\s?(?:lgh|lägenhet)\.?\s?(?:nr\.?\s?)?\d{3,4})?"
    r"(?:,?\s?\d\s?tr\b\.?)?"
    r"(?:,?\s\d{3}\s?\d{2}(?:\s[A-ZÅÄÖ][a-zåäö]+)?)?"
    r"(?!\w)"
)
# Compounds of the documents' own vocabulary that end like a street: "närvaroplan 3" is a plan.
_NOT_STREETS = _wordset(
    "jobbtorg jobbtorget handlingsplan projektplan verksamhetsplan närvaroplan åtgärdsplan "
    "internkontrollplan genomförandeplan vårdplan behandlingsplan arbetsplan"
)

# --- Names --------------------------------------------------------------------------------------
# Names are found three ways: a known first name (with any surname after it), a word after a cue
# ("klienten", "heter", "namn:"), and a capitalised pair whose second word looks like a Swedish
# surname (Karlsson, Lindberg). Everything in _NOT_NAMES is vocabulary, never a name.

_TOKEN = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_CUE = re.compile(
    r"(?:^|[^\w\[])(?:heter|hette|kallas|klient|klienten|klientens|brukare|brukaren|brukarens|"
    r"patient|patienten|pojken|flickan|mamman|pappan|mamma|pappa|modern|fadern|namn|namnet|"
    r"vårdnadshavare|vårdnadshavaren|vårdnadshavarna|sökande|sökanden|barnet|barnen|dottern|"
    r"sonen|dotter|son|bror|brodern|syster|systern|eleven|ungdomen|tjejen|killen|kvinnan|"
    r"mannen|maken|makan|make|maka|frun|sambo|sambon|personen|handläggare|handläggaren|"
    r"kontaktperson|kontaktpersonen|god man|gode man|gode mannen|familjen|herr|fru|"
    r"socialsekreterare|socialsekreteraren|handledare|mentor|ombud|ombudet)"
    r"\s*[:=(]?\s*$",  # a cue at the end of a sentence cues nothing
    re.IGNORECASE,
)
_SURNAME = re.compile(
    r"(?:sson|son|berg|ström|strom|lund|qvist|kvist|quist|gren|blad|dahl|holm|stedt|"
    r"strand|ander|ius|feldt|lind|mark|hed|ović|ovic|ić|ski|wska|lska|zadeh|oglu|oğlu|"
    r"[a-zåäö]{4}i)$"
)
# Surnames typed in lower case: only endings that ordinary Swedish words rarely have.
_LOWER_SURNAME = re.compile(
    r"(?:sson|ström|strom|qvist|kvist|quist|berg|gren|lund|holm|dahl|blad|stedt|ović|ovic|ić|"
    r"zadeh|[a-zåäö]{4}i)$"
)
# Capitalised words that start questions or name the documents' world: not names, and not the
# start of one even when a surname-like word follows.
_NOT_NAMES = _wordset(
    """
    vad hur vem vems vilka vilken vilket var varför vart när kan får ska skall måste bör finns
    har är gäller om jag vi hej tack och men eller enligt behöver blir gör går hade fick borde
    kommer ge hjälp min mitt mina vår vårt våra hon han hen de den det dom ni du nu då idag igår
    imorgon inför efter innan under hos med till från på av för vid mellan utan angående ang
    gällande se kolla fråga frågor svar ok okej bra snälla hallå god morgon vänliga hälsningar mvh
    januari februari mars april maj juni juli augusti september oktober november december
    måndag tisdag onsdag torsdag fredag lördag söndag jul påsk midsommar
    västra östra norra södra lilla stora gamla nya
    lex region division social omsorg stadsmission stadsmissionen stadsmissionens
    socialnämnden socialnämnd socialtjänsten socialtjänst kommun kommunen kommunfullmäktige
    kommunstyrelsen nämnden länsstyrelsen polisen försäkringskassan arbetsförmedlingen
    migrationsverket skatteverket kronofogden socialstyrelsen inspektionen ivo brå jobbtorg
    jobbtorget hemgårdsvillan röda villan bostad först stockholmsenkäten riktlinje kommunala
    anhörigrådet nynäshamnsmodellen samverkansmodell läggesta kvinnojouren mira barnahus bris
    rädda barnen frälsningsarmén hela människan ersta svenska kyrkan ungdom
    ungdomsmottagningen vårdcentralen vårdcentral bup beroendemottagningen regionen tingsrätten
    förvaltningsrätten kammarrätten stadshuset kommunhuset landsort rookie teams stallarholmen
    mariefred härbärget
    klienten klient brukaren brukare patienten pojken flickan mamman pappan mamma pappa barnet
    dottern sonen eleven ungdomen tjejen killen kvinnan mannen familjen herr fru handläggaren
    ärende ärendet personnummer samordningsnummer pnr född nr
    """
)
# A capitalised word just before a personnummer is a name: "gäller Tindra 150303-2241".
_BEFORE_PNR = re.compile(r",?\s\(?" + re.escape(REDACTED_PNR))
# Names of things that contain a first name: never redacted.
_DOMAIN_PHRASES = re.compile(
    r"\b(?:lex\s+(?:sarah|maria)|maria\s+ungdom|s:t\s+lukas|astrid\s+lindgren\w*|"
    r"rädda\s+barnen|röda\s+korset|hela\s+människan)\b",
    re.IGNORECASE,
)
# Places never start a name, but may be a surname after a first name (Emil Lund, Anna Flen).
_PLACES = _wordset(
    """
    sverige stockholm göteborg malmö lund uppsala sundbyberg norrköping linköping västerås örebro
    södertälje nyköping strängnäs eskilstuna eskilstunas nynäshamn oxelösund katrineholm flen
    gnesta trosa vingåker sörmland solna huddinge botkyrka haninge tyresö nacka järna syrien
    irak somalia afghanistan eritrea iran polen danmark norge finland
    """
)
# First names that are also everyday Swedish words: a name only next to a surname or after a cue.
_WORDLIKE = _wordset(
    "per bo dag stig sten rut siv jan hans max tom dina sanna linda saga axel karl milan adel "
    "jasmin tea sam mira said lina lisa alma vilja märta leo ester iris inga dan"
)


@cache
def first_names() -> frozenset[str]:
    """The bundled first names, lower case; read once."""
    text = resources.files("bot").joinpath("resources/first_names.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def _is_title(word: str) -> bool:
    return all(p[:1].isupper() and (len(p) == 1 or p[1:].islower()) for p in word.split("-"))


def _first_name(word: str) -> str | None:
    """The known first name `word` is or starts with (Anna-Karin, Annas), lower case; or None."""
    lower = word.lower().split("-")[0]
    names = first_names()
    if lower in names:
        return lower
    # Genitive only when capitalised: lower-case "dags" and "dans" are words, not Dag's and Dan's.
    if _is_title(word) and lower.endswith("s") and lower[:-1] in names:
        return lower[:-1]
    return None


def _name_spans(text: str) -> list[tuple[int, int]]:
    protected = [m.span() for m in _DOMAIN_PHRASES.finditer(text)]
    tokens = [
        (m.start(), m.end(), m.group())
        for m in _TOKEN.finditer(text)
        if not any(a <= m.start() < b for a, b in protected)
    ]

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
        if not word.islower():
            return False
        name = _first_name(word)
        return bool(_LOWER_SURNAME.search(word)) or (name is not None and name not in _WORDLIKE)

    def surname_follows(i: int) -> bool:
        return i + 1 < len(tokens) and adjacent(i + 1) and part_of_name(i + 1)

    def starts_name(i: int) -> bool:
        word = tokens[i][2]
        lower = word.lower()
        if lower in _NOT_NAMES or lower in _PLACES:
            return False
        cue = bool(_CUE.search(text[max(0, tokens[i][0] - 40) : tokens[i][0]]))
        title = _is_title(word)
        name = _first_name(word)
        if name:
            if name not in _WORDLIKE:
                return title or word.islower()
            return cue or surname_follows(i) or (title and not sentence_start(i))
        if title:
            if cue or (not sentence_start(i) and _BEFORE_PNR.match(text, tokens[i][1])):
                return True
            nxt = tokens[i + 1][2] if i + 1 < len(tokens) else ""
            return (
                surname_follows(i)
                and _is_title(nxt)
                and bool(_SURNAME.search(nxt.lower()))
                and nxt.lower() not in _NOT_NAMES
            )
        # klienten jovana petrović: a lower-case word after a cue when a surname follows it.
        nxt = tokens[i + 1][2] if i + 1 < len(tokens) else ""
        return (
            cue
            and word.islower()
            and bool(_LOWER_SURNAME.search(word) or (surname_follows(i) and nxt.islower()))
        )

    def joins_before(i: int) -> bool:  # Abdulkadir Sheikh Ali: unknown names before a known one
        word = tokens[i][2]
        return (
            _is_title(word)
            and word.lower() not in _NOT_NAMES
            and word.lower() not in _PLACES
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


def _redact_names(text: str) -> str:
    for start, end in reversed(_name_spans(text)):
        text = text[:start] + REDACTED_NAME + text[end:]
    return text


def _phone(m: re.Match[str]) -> str:
    """[TELEFON] for the longest leading part of the match that has a phone number's digits."""
    s = m.group()
    cuts = [k.start() for k in _PHONE_SEPARATOR.finditer(s)] + [len(s)]
    for cut in reversed(cuts):
        part = s[:cut].rstrip(" -–")
        digits = _NOT_DIGIT.sub("", part)
        if part.startswith(("+", "00")):
            national = digits.removeprefix("00").removeprefix("46").removeprefix("0")
            ok = 7 <= len(national) <= 9
        else:
            ok = digits.startswith("0") and 8 <= len(digits) <= 10
            # A personnummer of someone born 2000-2009 starts with 0 too: 6+4 digits with a
            # separator, or ten digits not starting 07 (mobile), are left to _PNR.
            if ok and _PNR.fullmatch(part):
                ok = bool(_MOBILE.fullmatch(part))
        if ok:
            return REDACTED_PHONE + s[len(part) :]
    return s


def _address(m: re.Match[str]) -> str:
    street = m.group("street").split()[-1].lower()
    return m.group() if street in _NOT_STREETS else REDACTED_ADDRESS


def redact(text: str) -> str:
    """The text with personal data replaced by typed placeholders.

    Replaces personnummer and samordningsnummer ([PERSONNUMMER]), phone numbers ([TELEFON]),
    e-mail addresses ([EPOST]), street addresses with a number ([ADRESS]) and recognisable
    names ([NAMN]); amounts, dates, diary numbers and legal references are kept. Redacting
    twice gives the same text as redacting once.
    """
    text = _EMAIL.sub(REDACTED_EMAIL, text)
    text = _PHONE.sub(_phone, text)
    text = _PNR.sub(REDACTED_PNR, text)
    text = _ADDRESS.sub(_address, text)
    return _redact_names(text)


def pseudonym(user_id: int | str, key: bytes) -> str:
    """A stable pseudonym for a user: HMAC-SHA256 of the id, so the id can't be read back."""
    return hmac.new(key, str(user_id).encode(), hashlib.sha256).hexdigest()[:32]


def hash_key(key_file: Path) -> bytes:
    """The pseudonym key: $RUTINBOT_HASH_KEY, else a random key kept in `key_file`."""
    env = os.environ.get(HASH_KEY_ENV)
    if env:
        return env.encode()
    if key_file.is_file():
        return key_file.read_bytes().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    # Create the file exclusively: two processes starting at once must not pick different keys.
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    log.warning(
        "%s is not set: generated a pseudonym key in %s (back it up, or set the variable)",
        HASH_KEY_ENV,
        key_file,
    )
    return key
