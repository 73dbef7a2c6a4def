"""Text made safe to store and to print: control characters and bidi overrides removed.

One function for every text that enters the system (document text at ingest, a staff member's
question, a reviewer's note) and one for everything printed to a terminal, whatever is stored.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls; bidirectional embeddings, overrides and
# isolates (U+202A-202E, U+2066-2069), which can make a terminal or a page show text in an
# order other than it is stored ("Trojan source"); and lone surrogates, which cannot be encoded.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# Invisible characters that split a word without showing: the soft hyphen PDFs leave in
# hyphenated words, zero-width spaces and joiners, the word joiner and a stray byte-order mark.
# "social\u00adsekreterare" must match "socialsekreterare", in a document and in a question.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200d\u2060\ufeff]")
# A carriage return, form feed, vertical tab or the Unicode line and paragraph separators end
# a line as much as a newline does: keep them as line breaks rather than gluing words together.
_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x85\u2028\u2029]")


def clean_text(text: str) -> str:
    """`text` without control characters (but newline and tab), bidi overrides or invisible
    characters inside words."""
    return _INVISIBLE.sub("", _UNSAFE.sub("", _LINE_BREAKS.sub("\n", text)))


def for_terminal(text: str) -> str:
    """`text` safe to print: nothing in it can move the cursor, set a title or clear a screen."""
    return clean_text(text)
