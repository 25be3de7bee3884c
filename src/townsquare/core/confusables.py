"""Names compared as a person reads them: the Unicode security skeleton (UTS #39) used to find
look-alike brand names, and the invisible and bidi-control characters a name must not hide.

`skeleton(name)`: NFKC (full-width and compatibility forms folded), every format character
removed (zero-width spaces and joiners, soft hyphens, the BOM, bidi controls: Unicode category
Cf) and every space, then each character replaced by the prototype of its confusable class
(Cyrillic "а" → Latin "a", "0" → "O", "1"/"|" → "l"), compared case-insensitively. Two names
with the same skeleton look the same to a reader, whatever code points they are made of.

The confusable classes are Unicode's own `confusables.txt`, as shipped by the
`confusable-homoglyphs` package (its data, not its API, which does not compute skeletons): there
each source character lists its one prototype and each prototype lists its sources, so the
prototype of a class is the member with more than one entry (a two-member class has no marked
prototype; the member NFKC leaves alone, else the smaller code point, stands for it).
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from importlib import resources

# Bidi embedding, override and isolate controls and the implicit marks: never in a shown name.
BIDI_CONTROL = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Characters that render as nothing (beyond category Cf): Hangul fillers, variation selectors.
_BLANK = re.compile("[\u115f\u1160\u3164\uffa0\u034f\u180b-\u180f\ufe00-\ufe0f]"
                    "|[\U000e0100-\U000e01ef]")


@lru_cache(maxsize=1)
def _classes() -> dict[str, list[str]]:
    data = resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text(
        encoding="utf-8")
    raw: dict[str, list[dict[str, str]]] = json.loads(data)
    return {char: [entry["c"] for entry in entries] for char, entries in raw.items()}


@lru_cache(maxsize=65536)
def prototype(char: str) -> str:
    """The character (or short string) that stands for `char`'s confusable class."""
    classes = _classes()
    others = classes.get(char)
    if not others or len(others) > 1:
        return char  # not confusable, or itself the prototype of several sources
    other = others[0]
    if len(classes.get(other, ())) > 1:
        return other  # `char` is a source of the prototype `other`
    # a pair: the one NFKC keeps (水 rather than the radical ⽔), deterministically
    return min(char, other, key=lambda c: (unicodedata.normalize("NFKC", c) != c, c))


def invisible(char: str) -> bool:
    return unicodedata.category(char) == "Cf" or bool(_BLANK.match(char))


def visible_form(text: str) -> str:
    """NFKC with every invisible character and every space removed."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in folded if not invisible(ch) and not ch.isspace())


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFD", "".join(prototype(ch) for ch in decomposed))


def skeleton(text: str) -> str:
    """The UTS #39 skeleton of the visible form, casefolded: equal for look-alike names."""
    # case-insensitive: fold the upper-case form (so "Luckin" and "LUCKIN", Cyrillic "К" and
    # Latin "K" meet), casefold, and fold again (a prototype may itself be upper-case: "0" → "O")
    return _fold(_fold(visible_form(text).upper()).casefold())


def has_bidi_control(text: str) -> bool:
    return bool(BIDI_CONTROL.search(text))
