"""Privacy helpers: redact personal data before anything is stored; pseudonymous asker ids."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from pathlib import Path

from bot.names import NO_PLACES, KnownPlaces, index_places, name_spans, places, wordset
from bot.names import first_names as first_names  # re-exported: callers import it from here
from bot.safetext import clean_text

log = logging.getLogger(__name__)

HASH_KEY_ENV = "RUTINBOT_HASH_KEY"
REDACTED_PNR = "[PERSONNUMMER]"
REDACTED_PHONE = "[TELEFON]"
REDACTED_EMAIL = "[EPOST]"
REDACTED_ADDRESS = "[ADRESS]"
REDACTED_NAME = "[NAMN]"

# A space or tab, never a line break: one number is not split over two lines.
_S = r"[^\S\n]"
_DASHES = "\\-\u2010\u2011\u2012\u2013\u2014\u2212"
# Characters that split a number without showing: zero-width spaces and joiners, the word
# joiner, the byte-order mark and the soft hyphen. Removed before anything is matched.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200d\u2060\ufeff]")

# Personnummer and samordningsnummer (day + 60) as people type them: any dash, plus (100 years
# or older), dot or space between any of century, year, month, day and the last four, which may
# be grouped (12 34) or masked (XXXX: the birth date alone identifies too). The date parts are
# checked so that most other numbers survive; the check digit is not, because a mistyped
# personnummer is just as personal.
_PNR_SEP = rf"(?:{_S}*[{_DASHES}+.]{_S}*|{_S}+)"
_PNR = re.compile(
    r"(?<!\d)(?<!\d[.,])"
    rf"(?P<century>(?:18|19|20){_PNR_SEP}?)?"
    rf"(?P<ymd>\d{{2}}{_PNR_SEP}?(?:0[1-9]|1[0-2]){_PNR_SEP}?"
    r"(?:0[1-9]|[12]\d|3[01]|6[1-9]|[78]\d|9[01]))"  # day, or day + 60 for samordningsnummer
    rf"(?P<sep>{_PNR_SEP})?"
    rf"(?:\d{{4}}|\d{{2}}{_S}\d{{2}}|\d{{3}}{_S}\d|\d{_S}\d{{3}}|[xX*]{{4}})"
    rf"(?!\d|[.,]\d|{_S}?(?:kr|kronor|tkr|st|%|:-)(?!\w))"
)

# E-mail addresses, and the forms people write to dodge spam filters: anna(at)kommun.se,
# anna [at] kommun punkt se, anna punkt svensson snabel-a kommun dot se. The spelled-out forms
# need a known top-level domain, so that a sentence with "at" in it is left alone.
# Every part is bounded (as addresses are): an unbounded one makes a long run of letters or
# digits cost time growing with its square, a way to stall the bot with one message.
_EMAIL = re.compile(
    rf"[\w.+-]{{0,63}}\w{_S}{{0,3}}@{_S}{{0,3}}\w[\w-]{{0,62}}(?:\.[\w-]{{1,63}}){{0,8}}"
)
_TLD = r"(?:se|nu|com|net|org|eu|info|io|fi|no|dk|de|uk|biz|me|co|gov|edu)"
_OB_AT = (
    rf"(?:{_S}*[(\[{{<]{_S}*(?:at|a|@|snabel-?a){_S}*[)\]}}>]{_S}*"
    rf"|{_S}+(?:at|snabel-?a|@){_S}+)"
)
_OB_DOT = rf"(?:\.|{_S}*[(\[{{<]{_S}*(?:dot|punkt|\.){_S}*[)\]}}>]{_S}*|{_S}+(?:dot|punkt|\.){_S}+)"
_OB_EMAIL = re.compile(
    rf"(?<![\w.])\w[\w+-]{{0,63}}(?:{_OB_DOT}\w[\w+-]{{0,63}}){{0,4}}{_OB_AT}"
    rf"\w[\w-]{{0,62}}(?:{_OB_DOT}\w[\w-]{{0,62}}){{0,4}}{_OB_DOT}{_TLD}(?!\w)",
    re.IGNORECASE,
)

# Swedish phone numbers: +46/0046 or a leading 0 or an area code in brackets, then groups split
# by spaces, dashes, dots or slashes. Whether the digits add up to a phone number (and are not
# a time or a date) is checked in `_phone`, not here.
_PHONE_SEP = rf"(?:{_S}*[{_DASHES}./]{_S}*|{_S}+)"
_PHONE = re.compile(
    rf"(?<![\w+§{_DASHES}])(?<!\d[.,:])(?<!\d\s)(?<!\d\s-)"  # not inside a run of amounts
    r"(?<![^\]]/)"  # nor after a slash, unless a number just redacted: [TELEFON]/070-...
    rf"(?:(?:\+|00){_S}*46{_S}*(?:[-.]{_S}*)?(?:\(0\){_S}*)?"
    rf"|\+(?!46)[1-9]\d{{0,2}}{_S}*(?:[-.]{_S}*)?(?:\(0\){_S}*)?"  # abroad: +47, +358, +44
    rf"|\(0\d{{1,3}}\){_S}*(?:-{_S}*)?|\(0\){_S}*|0)"
    rf"\d(?:{_PHONE_SEP}?\d){{4,10}}"
    r"(?![\d\w])"
)
_PHONE_SEPARATOR = re.compile(_PHONE_SEP)
_NOT_DIGIT = re.compile(r"\D")
_MOBILE = re.compile(r"07\d{8}")
# 050312-1234: a personnummer's shape (six digits, a dash or plus, four), not a phone's.
_PNR_SEPARATED = re.compile(rf"\d{{6}}{_S}*[{_DASHES}+]{_S}*\d{{4}}")
# Times, time ranges and dates start with 0 too: 08.00-16.30, 01.02.2024, 05/06/24.
_TIME_OR_DATE = re.compile(
    rf"\d{{1,2}}[.:]\d{{2}}(?:{_S}*[{_DASHES}]{_S}*\d{{1,2}}[.:]\d{{2}})?"
    r"|\d{1,2}([./-])\d{1,2}\1(?:\d{2}|\d{4})"
)

_STREET_SUFFIX = (
    r"gatan|gata|vägen|väg|gränden|gränd|torget|torg|backen|backe|stigen|allén|allé|planen|"
    r"plan|leden|led|esplanaden|promenaden|kajen|gången|slingan|liden|höjden|parken|stranden|"
    r"udden|hagen|kroken|tvärgatan|stråket|ringen|vången|platsen|svängen|kullen|gärdet|slänten"
)
# Street words written apart (Nyfors Torg 3, Svea Vägen 5), in either case.
_STREET_WORD = r"(?i:väg|vägen|gata|gatan|gränd|allé|torg|torget|backe|backen|stig|plan|led)"
_DIRECTION = r"(?:[Vv]ästra|[Öö]stra|[Nn]orra|[Ss]ödra|[Ll]illa|[Ss]tora|[Gg]amla|[Nn]ya)"
# A street with a house number: Storgatan 12, Västra Långgatan 3B, Drottning Kristinas väg 5,
# stora torget 3, Storg. 12, Ringvägen 10-12, with an optional flat (lgh 1101, 2 tr) and
# postcode (611 32 Nyköping). The house number has at most three digits, so that
# "handlingsplan 2023" stays.
_ADDRESS = re.compile(
    r"(?<![\w-])"
    r"(?P<street>"
    r"(?:" + _DIRECTION + r"\s)?[A-Za-zÅÄÖåäöé][a-zåäöé]*?(?:" + _STREET_SUFFIX + r")"
    r"|[A-ZÅÄÖ][a-zåäö]+[gv]\."
    r"|(?:" + _DIRECTION + r"\s|[A-ZÅÄÖ][a-zåäöé:.]+\s){1,2}" + _STREET_WORD + r")"
    r"\s?(?:nr\.?\s?)?\d{1,3}(?:\s?[A-Ha-h](?!\w))?(?:\s?[-–]\s?\d{1,3}(?!\d))?"
    r"(?![\d,.:]\d|\s?kap\b|\s?§|\s?%|\s?kr\b|\s?tkr\b|\s?st\b)"
    r"(?:,?\s?(?:lgh|lägenhet)\.?\s?(?:nr\.?\s?)?\d{3,4})?"
    r"(?:,?\s?\d\s?tr\b\.?)?"
    r"(?:,?\s\d{3}\s?\d{2}(?:\s[A-ZÅÄÖ][a-zåäö]+)?)?"
    r"(?!\w)"
)
# Compounds of the documents' own vocabulary that end like a street: "närvaroplan 3" is a plan.
_NOT_STREETS = wordset(
    "jobbtorg jobbtorget handlingsplan projektplan verksamhetsplan närvaroplan åtgärdsplan "
    "internkontrollplan genomförandeplan vårdplan behandlingsplan arbetsplan"
)
# A postcode with its town (611 32 Nyköping, 61132 nyköping), or after the word: postnr 611 32.
_POSTCODE = re.compile(
    rf"(?<![\w,.])(?:(?:postnummer|postnr|postnr\.){_S}*:?{_S}*)?[1-9]\d{{2}}{_S}?\d{{2}}"
    r"(?:\s(?:[A-ZÅÄÖ][a-zåäö]{2,}(?:\s[A-ZÅÄÖ][a-zåäö]+)?|(?P<town>[a-zåäö]{2,}))(?!\w))"
    rf"|(?i:postnummer|postnr\.?){_S}*:?{_S}*\d{{3}}{_S}?\d{{2}}(?!\d)"
)

# A post box is as much an address: Box 45.
_BOX = re.compile(rf"(?<!\w)Box{_S}?\d{{1,5}}(?!\d)")
# A town after an address belongs to it: [ADRESS], Strängnäs; [ADRESS], 61131 nyköping.
_TOWN_AFTER = re.compile(
    r"\[ADRESS\],?[^\S\n](?:[1-9]\d{2}[^\S\n]?\d{2}[^\S\n])?(?P<town>[^\W\d_]+(?:[ -][^\W\d_]+)?)"
)
# A street of any name is known by the postcode after it: Skogsbrynet 3, 611 91 Nyköping.
_STREET_BEFORE = re.compile(
    r"(?<![\w-])[A-ZÅÄÖ][a-zåäöé]+(?:[^\S\n][A-ZÅÄÖ][a-zåäöé]+)?[^\S\n]\d{1,3}"
    r"(?:[^\S\n]?[A-Ha-h])?,?[^\S\n]\[ADRESS\]"
)
# Pieces of one address found apart: Box 45, 611 22 Nyköping.
_ADDRESS_PIECES = re.compile(r"\[ADRESS\](?:,?[^\S\n]\[ADRESS\])+")
# A flat number on its own: lgh 1101, lägenhet nr 1203 (the four digits every flat has).
_FLAT = re.compile(rf"(?<!\w)(?i:lgh|lägenhet)\.?{_S}?(?:nr\.?{_S}?)?\d{{4}}(?!\d)")

# Who made a change: a name or account this short is the reviewer's own and is kept.
_ACTOR_NAME = re.compile(r"[\w.'@: \[\]-]{1,40}")
# A front end's own account reference (telegram:123456789): written by code, kept as it is.
_ACCOUNT = re.compile(r"[a-z]{2,20}:\d{1,20}")
ACTOR_WORDS = 3
ACTOR_MAX = 100  # the column's length

_index_root: Path | None = None


def use_index(root: Path | None) -> None:
    """Learn place names from the index in service under `root` for later `redact` calls.

    Called once where a process builds its services; without it (or without an index) redaction
    works just the same, knowing only the places every municipality has.
    """
    global _index_root
    _index_root = root


def known_places() -> KnownPlaces:
    """The place names the configured index teaches (cached per index folder)."""
    return NO_PLACES if _index_root is None else index_places(_index_root)


def _redact_names(text: str, known: KnownPlaces) -> str:
    for start, end in reversed(name_spans(text, known)):
        text = text[:start] + REDACTED_NAME + text[end:]
    return text


def _phone(m: re.Match[str]) -> str:
    """[TELEFON] for the longest leading part of the match that has a phone number's digits."""
    s = m.group()
    # The tail of a personnummer written apart (85- 03121234): left whole to _PNR, or its first
    # digits would stay. Found here, as a lookbehind cannot see a separator of any width.
    # (A few characters past the match, so that _PNR's lookahead for "kr" or "st" still sees.)
    for pnr in _PNR.finditer(m.string, max(m.start() - 40, 0), m.end() + 12):
        if pnr.start() < m.start() < pnr.end() and _pnr(pnr) == REDACTED_PNR:
            return s
    seps = list(_PHONE_SEPARATOR.finditer(s))
    cuts = [k.start() for k in seps] + [len(s)]
    # A slash after a whole number separates it from the next (…45 67 / 08-123…, "070/123 45 67"
    # has no whole number before it): that number goes first; the next is found on the next pass.
    slashes = [k.start() for k in seps if "/" in k.group()]
    if slashes:
        cuts = [c for c in cuts if c > slashes[0]] + [c for c in cuts if c <= slashes[0]]
    for cut in reversed(cuts):
        part = s[:cut].rstrip(" ./" + _DASHES.replace("\\", ""))
        digits = _NOT_DIGIT.sub("", part)
        if _TIME_OR_DATE.fullmatch(part):
            continue
        if part.startswith("+") and not part[1:].lstrip().startswith("46"):
            ok = 8 <= len(digits) <= 15  # country code and number, as E.164 allows
        elif part.startswith(("+", "00")):
            national = digits.removeprefix("00").removeprefix("46").removeprefix("0")
            ok = 7 <= len(national) <= 9
        else:
            ok = digits.startswith("0") and 8 <= len(digits) <= 10
            # A personnummer of someone born 2000-2009 starts with 0 too: 6+4 digits with a
            # separator, or ten digits not starting 07 (mobile), are left to _PNR.
            if ok and _PNR.fullmatch(part):
                ok = bool(_MOBILE.fullmatch(digits)) and not _PNR_SEPARATED.fullmatch(part)
                if not ok:  # all of it, not a shorter part that would leave its last digits
                    return s
        if ok:
            return REDACTED_PHONE + s[len(part) :]
    return s


def _pnr(m: re.Match[str]) -> str:
    # 2023-10-25 1430 is a date and a time or an amount: with the century and separators inside
    # the date, the last four must follow a dash or plus to be a personnummer.
    if m["century"] and not m["ymd"].isdigit() and not (m["sep"] or "").strip():
        return m.group()
    return REDACTED_PNR


def _address(m: re.Match[str]) -> str:
    street = m.group("street").split()[-1].lower()
    return m.group() if street in _NOT_STREETS else REDACTED_ADDRESS


def redact(text: str, places: KnownPlaces | None = None) -> str:
    """The text, cleaned of control characters, with personal data replaced by placeholders.

    The one function for every free text a person types (questions, notes, theme names) before
    it is stored, logged or shown. Replaces personnummer and samordningsnummer
    ([PERSONNUMMER]), phone numbers ([TELEFON]), e-mail addresses ([EPOST]), street addresses
    and postcodes ([ADRESS]) and recognisable names ([NAMN]); amounts, dates, diary numbers and
    legal references are kept. `places` are the municipality's own place names (default: those
    the index given to `use_index` teaches). Redacting twice gives the same as redacting once.
    """
    text = _redact_numbers_and_contacts(_INVISIBLE.sub("", clean_text(text)))
    return _redact_names(text, known_places() if places is None else places)


def _redact_numbers_and_contacts(text: str) -> str:
    text = _OB_EMAIL.sub(REDACTED_EMAIL, text)
    text = _EMAIL.sub(REDACTED_EMAIL, text)
    # Again until nothing changes: a number next to another (070-123 45 67 / 08-123 456 78,
    # 850312-1234/070-…) is only seen once the first is redacted. Each pass removes digits.
    while (numbered := _PNR.sub(_pnr, _PHONE.sub(_phone, text))) != text:
        text = numbered
    text = _ADDRESS.sub(_address, text)
    text = _FLAT.sub(REDACTED_ADDRESS, text)
    text = _BOX.sub(REDACTED_ADDRESS, text)
    text = _POSTCODE.sub(_postcode, text)
    text = _STREET_BEFORE.sub(REDACTED_ADDRESS, text)
    text = _TOWN_AFTER.sub(_town, text)
    return _ADDRESS_PIECES.sub(REDACTED_ADDRESS, text)


def _postcode(m: re.Match[str]) -> str:
    # A lower-case word after five digits is a town only if it is one: "12345 kronor" is not.
    if not m["town"] or m["town"] in places():
        return REDACTED_ADDRESS
    if m.group().lower().startswith("post"):  # postnummer 611 35 sedan: the number alone
        return REDACTED_ADDRESS + m.group()[m.start("town") - m.start() - 1 :]
    return m.group()


def _town(m: re.Match[str]) -> str:
    town = m["town"]
    if town.lower() not in places():  # Upplands Väsby is one town; "Strängnäs sedan" is not
        town = re.split("[ -]", town)[0]
        if town.lower() not in places():
            return m.group()
    return REDACTED_ADDRESS + m.group()[m.start("town") - m.start() + len(town) :]


def redact_actor(by: str | None) -> str | None:
    """Who made a change, safe to store; None when nobody is named.

    A reviewer's login or own name (up to three words: "anna", "Anna K", "anna.k") says who
    made the change and is no client's data, so it is kept, with any personnummer, phone
    number, e-mail or address in it redacted. Anything longer is free text, redacted in full
    like a note. Control characters and runs of spaces go; the result fits the column.
    """
    if by is None:
        return None
    text = " ".join(_INVISIBLE.sub("", clean_text(by)).split())
    if not text:
        return None
    if _ACCOUNT.fullmatch(text):
        return text
    kept = _redact_numbers_and_contacts(text)
    if len(kept.split()) <= ACTOR_WORDS and _ACTOR_NAME.fullmatch(kept):
        return kept[:ACTOR_MAX]
    return redact(text)[:ACTOR_MAX]


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
