"""What a question asks for (a person, a time, a number, a cost, a phone number, a name) and
whether a passage states that kind of fact at all."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_I = re.IGNORECASE
_NUMBER_WORDS = (
    r"två|tre|fyra|fem|sex|sju|åtta|nio|tio|elva|tolv|tretton|fjorton|femton|sexton|sjutton"
    r"|arton|nitton|tjugo|trettio|fyrtio|femtio|hundra|tusen|halv|halva|dubbel|procent"
)
_WEEKDAYS = r"måndag|tisdag|onsdag|torsdag|fredag|lördag|söndag|vardag"
_MONTHS = r"januari|februari|mars|april|maj|juni|juli|augusti|september|oktober|november|december"

# Question patterns (case-insensitive); several kinds may apply to one question.
_ASKS: dict[str, re.Pattern[str]] = {
    "person": re.compile(
        r"\bvem\b|\bvems\b|\bvilk(en|et|a) (person|funktion|roll|enhet|chef|handläggare"
        r"|yrkesgrupp|myndighet|instans)",
        _I,
    ),
    "recipient": re.compile(r"\btill vem\b|\bvem\b.*\btill\W*$", _I),
    "time": re.compile(
        r"\bnär\b|\bnar\b|hur (snabbt|fort|lång tid|lang tid|länge|lange|ofta|tidigt|sent"
        r"|långt tillbaka|langt tillbaka)|inom hur|\bsenast\b|\btidsfrist|\bdeadline|vilka tider"
        r"|vilken tid|vilka dagar|vilken dag|öppettid|oppettid|\bklockan\b|tidsgräns"
        r"|hur många dagar|hur manga dagar|hur många veckor|hur manga veckor",
        _I,
    ),
    "number": re.compile(
        r"hur (många|manga|mycket|stor|stort|gammal|hög|hog)|\bantal(et)?\b|\bålder\b|\balder\b",
        _I,
    ),
    "cost": re.compile(
        r"\bkosta\w*|\bkostnad\w*|\bavgift\w*|\bpris\w*|\barvode\w*|\bersättning\w*|\bersattning"
        r"\w*|\blön\w*|\blontillagg|\bbelopp\w*|\bbetala\w*|\bkronor\b|\bhyr(a|an|or)\b|\bmånadshyr\w*",
        _I,
    ),
    "phone": re.compile(r"telefon\w*|\bnummer\b|\bnumret\b|\bringa\b|\bmobil\w*", _I),
    "name": re.compile(
        r"vad heter|\bnamn(et)?\b|\bkontaktperson\w*|\bmejl\w*|\be-?post\w*|\badress\w*"
        r"|vilk(et|en|a) (företag|leverantör|system|program|tjänst)",
        _I,
    ),
}

# What a passage that answers such a question holds.
_ROLE = (
    r"chef\w*|\w*ansvarig\w*|handläggar\w*|\w*sekreterar\w*|\w*samordnar\w*|\w*ombud\w*"
    r"|\w*nämnd\w*|\w*enhet\w*|\bmas\b|\bmar\b|kurator\w*|polis\w*|\w*personal\w*|utredar\w*"
    r"|direktör\w*|\w*ledar\w*|förvaltning\w*|avdelning\w*|\w*sjuksköterska\w*|team\w*"
    r"|\bivo\b|inspektion\w*|arbetsgivar\w*|skyddsombud\w*|medarbetar\w*|verksamhet\w*"
    r"|anmälar\w*|vårdnadshavar\w*|region\w*|\w*mottagning\w*|\w*grupp\w*|\w*centrum\w*"
    r"|\w*jour(en|er|erna|havande)?|läkare\w*|\w*psykolog\w*|\w*assistent\w*|\w*kontor\w*"
)
_HOLDS: dict[str, re.Pattern[str]] = {
    "person": re.compile(rf"\b({_ROLE})\b", _I),
    "recipient": re.compile(rf"\btill (\w+ ){{0,3}}?({_ROLE})\b", _I),
    # A duration, deadline, frequency, time of day or date; not any word about time.
    "time": re.compile(
        rf"\b(inom|senast|omedelbart|genast|samma (dag|vecka)|snarast|skyndsamt|årligen"
        rf"|(varje|per|en gång i|i) (dag|vecka|månad|kvartal|halvår|år)\w*|gång\w* (per|om|i)"
        rf"|klockan|kl\.?\s*\d|{_WEEKDAYS}\w*|{_MONTHS})\b"
        rf"|\b(\d+|{_NUMBER_WORDS}|en|ett)\s+(arbets)?(dagar?|dygn|veckor?|månader?|år|timm\w*"
        rf"|minuter)\b|\d{{4}}-\d{{2}}-\d{{2}}",
        _I,
    ),
    # A count or amount: a number that is not a year, a date, a paragraph or chapter number.
    "number": re.compile(
        rf"(?<![§\d.,/-])(?<!§ )(?<!kap\. )\b(?!(19|20)\d\d\b)\d+(?!\d)(?![-/]\d)(?! kap\b)(?! §)"
        rf"|\b({_NUMBER_WORDS})\b",
        _I,
    ),
    "cost": re.compile(
        r"\d\s*(kr|kronor|tkr|mnkr|:-|sek)\b|\bkronor\b|kostnadsfri\w*|avgiftsfri\w*|gratis"
        r"|\b(avgift|taxa|arvode|ersättning|lön|hyra|belopp|norm)\w* (är|på|om|med|enligt|\d)",
        _I,
    ),
    "phone": re.compile(r"\d{2,4}[- ]?\d{2,3}[ ]?\d{2}[ ]?\d{2}"),  # not 112: an emergency
    # A quoted name, an address, a person's full name, or a proper name right after the noun
    # it names ("journalsystemet Treserva"); a capitalised unit or place alone is not enough.
    "name": re.compile(
        r"[”\"«][^”\"»]{3,60}[”\"»]|@|\b\w+gatan \d+"
        r"|(?<=[a-zåäö,] )(?P<first>[A-ZÅÄÖ][a-zåäö]+) [A-ZÅÄÖ][a-zåäö]+"
        r"|\b[a-zåäö]{3,}(?:et|en) [A-ZÅÄÖ][\wåäö]+"
    ),
}
KINDS = tuple(_ASKS)


def asked(question: str) -> frozenset[str]:
    """The kinds of fact the question asks for (empty for "how does one …" questions)."""
    return frozenset(kind for kind, pattern in _ASKS.items() if pattern.search(question))


def holds(kind: str, text: str, question: str = "") -> bool:
    """Whether `text` states a fact of that kind. A name counts only when the question does
    not name it already ("vad heter polisens kontaktperson i Älvdala" is not answered by
    "Älvdala")."""
    if kind != "name":
        return bool(_HOLDS[kind].search(text))
    named = {w.lower() for w in re.findall(r"\w+", question)}
    return any(
        not set(re.findall(r"\w+", m.group(0).lower())) <= named
        and (m["first"] is None or m["first"].lower() in _first_names())  # not "Region Älvmark"
        for m in _HOLDS["name"].finditer(text)
    )


@cache
def _first_names() -> frozenset[str]:
    text = resources.files("bot").joinpath("resources/first_names.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def unmet(question: str, texts: list[str]) -> float:
    """1 when the question asks for a kind of fact that none of `texts` states (each text is a
    marked sentence with its neighbours); 0 when every kind asked is stated in one of them."""
    kinds = asked(question)
    if not kinds:
        return 0.0
    return float(any(not any(holds(k, t, question) for t in texts) for k in kinds))


def share_met(kinds: frozenset[str], text: str, question: str = "") -> float:
    """The share of the asked kinds of fact that `text` states (0 when none is asked)."""
    if not kinds:
        return 0.0
    return sum(holds(k, text, question) for k in kinds) / len(kinds)


def met(question: str, text: str) -> float:
    """1 when the question asks for some kind of fact and `text` states every kind asked."""
    kinds = asked(question)
    return float(bool(kinds) and all(holds(k, text, question) for k in kinds))
