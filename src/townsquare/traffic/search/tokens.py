"""The search tokenizer: Chinese and English text into index terms, with no dictionary.

Why character bigrams for Chinese (and Japanese/Korean) rather than a word segmenter such as
jieba: the text we search is mostly proper names ("鲜丰水果", "仁心诊所", "城东菜场"), which are
out of vocabulary for a dictionary segmenter, so it cuts them unpredictably, and a query cut one
way misses a name indexed another way. Overlapping bigrams need no dictionary to maintain, treat
every name alike, and make a query match wherever its characters appear in order: this is the
CJKAnalyzer approach of Lucene and Elasticsearch (`cjk_bigram`). A one-character run ("茶") is kept
as a unigram. The in-memory index (`index.py`) posts `tokenize`'s terms only; a one-character
query and a Latin prefix are expanded over its vocabulary instead (`Index.containing`,
`Index.with_prefix`). `index_terms` and `query_terms` describe the older table index's scheme
(unigram and `prefix*` postings) and are no longer used by the service.

Latin letters and digits form words, lower-cased (casefolded). Text is NFKC-normalised first,
which folds full-width forms ("ＣＬＩＮＩＣ", "１２") to ASCII, and invisible characters are
dropped (so "鲜丰\u200b水果" is 鲜丰水果). Documents also index each word's
proper prefixes as `prefix*` terms, so a query word finds longer words ("cli" → "clinic") with
an ordinary equality lookup that uses the index on SQLite and PostgreSQL alike (a LIKE on the
term column would not use a b-tree index under PostgreSQL's default collation).

Everything else (spaces, punctuation, symbols, emoji, control characters) separates tokens.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from townsquare.core.confusables import invisible

VERSION = 2  # part of each document's fingerprint: a change here re-indexes everything
WORD_MAX = 32  # longer Latin words are cut (index and query alike), so terms fit the column
PREFIX_MIN = 2  # shortest prefix indexed and queried ("cl" finds "clinic")
PREFIX_WEIGHT = 0.5  # a prefix match counts half an exact one
PREFIX_MARK = "*"  # never produced by the tokenizer itself, so prefix terms cannot collide

_CJK = (
    "\u3005\u3007"  # 々 〇
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uac00-\ud7af"  # Hangul syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\U00020000-\U0003134f"  # extensions B–G
)
_RUN = re.compile(rf"(?P<cjk>[{_CJK}]+)|(?P<word>(?:(?![{_CJK}])[^\W_])+)")


class _Visible(dict[int, int | None]):
    """A `str.translate` table dropping invisible characters, filled as characters are met
    (indexing 200,000 mini-apps asks about each character once, not once per occurrence)."""

    def __missing__(self, code: int) -> int | None:
        kept = None if invisible(chr(code)) else code
        self[code] = kept
        return kept


_VISIBLE = _Visible()


def normalise(text: str) -> str:
    """NFKC (full-width folded), invisible characters (zero-width, soft hyphen, BOM, bidi
    controls) dropped, casefolded, runs of whitespace/control characters as one space."""
    folded = unicodedata.normalize("NFKC", text or "").translate(_VISIBLE).casefold()
    return " ".join(folded.split())


def runs(text: str) -> Iterator[tuple[bool, str]]:
    """(is_cjk, run) for each CJK run and each Latin/digit word of the normalised text."""
    for match in _RUN.finditer(normalise(text)):
        if match.group("cjk"):
            yield True, match.group("cjk")
        else:
            yield False, match.group("word")[:WORD_MAX]


def tokenize(text: str) -> list[str]:
    """Tokens in order: CJK bigrams (a one-character run as itself) and Latin/digit words."""
    out: list[str] = []
    for is_cjk, run in runs(text):
        if is_cjk and len(run) > 1:
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
        else:
            out.append(run)
    return out


def index_terms(text: str) -> list[str]:
    """What a document indexes: its tokens, plus each CJK character and each word's prefixes."""
    out: list[str] = []
    for is_cjk, run in runs(text):
        if is_cjk:
            if len(run) > 1:
                out.extend(run[i : i + 2] for i in range(len(run) - 1))
            out.extend(run)  # unigrams, so a one-character query finds the character anywhere
        else:
            out.append(run)
            out.extend(run[:n] + PREFIX_MARK for n in range(PREFIX_MIN, len(run)))
    return out


def query_terms(text: str) -> dict[str, float]:
    """The terms a query looks up, with their weights: tokens 1, word prefixes PREFIX_WEIGHT."""
    weights: dict[str, float] = {}
    for is_cjk, run in runs(text):
        if is_cjk:
            grams = [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]
            for gram in grams:
                weights[gram] = 1.0
        else:
            weights[run] = 1.0
            if len(run) >= PREFIX_MIN:
                weights.setdefault(run + PREFIX_MARK, PREFIX_WEIGHT)
    return weights


def name_key(text: str) -> str:
    """A name in comparable form: CJK runs joined without spaces, Latin words by one space.

    "鲜丰 水果" and "鲜丰水果" have the same key; "ＫＦＣ 炸鸡" becomes "kfc炸鸡".
    """
    key = ""
    previous_latin = False
    for is_cjk, run in runs(text):
        if key and previous_latin and not is_cjk:
            key += " "
        key += run
        previous_latin = not is_cjk
    return key


def find_name(text_key: str, name: str) -> int:
    """Where the key of `name` occurs in `text_key` as whole words (-1 if nowhere).

    CJK has no word boundaries, so a CJK name may sit anywhere; a name that begins or ends with
    a Latin letter or digit must not continue a Latin word ("tea" is not in "steam").
    """
    needle = name_key(name)
    if not needle:
        return -1
    start = text_key.find(needle)
    while start >= 0:
        end = start + len(needle)
        before_ok = start == 0 or not _latin(needle[0]) or not _latin(text_key[start - 1])
        after_ok = end == len(text_key) or not _latin(needle[-1]) or not _latin(text_key[end])
        if before_ok and after_ok:
            return start
        start = text_key.find(needle, start + 1)
    return -1


def is_cjk(text: str) -> bool:
    """Whether the text starts with a CJK character."""
    return bool(text) and re.match(f"[{_CJK}]", text[0]) is not None


def _latin(char: str) -> bool:
    """A character that belongs to a Latin/digit word (not CJK, not a separator)."""
    return char.isalnum() and not re.match(f"[{_CJK}]", char)
