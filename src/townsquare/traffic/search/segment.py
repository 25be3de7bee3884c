"""Query segmentation with jieba: a query is cut into words before it is looked up.

Documents are indexed by character bigrams (`tokens`), which need no dictionary and treat proper
names alike; a query is first cut into words by jieba's dictionary, so that "我想买菜" looks up
买菜 (and its synonyms) without the noise bigrams 我想 and 想买 that straddle two words. Words of
one character are dropped when the query has longer words (我, 的, 想 match almost anything).

jieba's first load takes about a second (its dictionary is cached under the system temporary
directory, never in the repository): `warm()` loads it at start; until then a query falls back
to the whole run as one word.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from functools import lru_cache
from typing import Any

from townsquare.traffic.search import tokens

_lock = threading.Lock()
_tokenizer: Any = None


def warm() -> None:
    """Load jieba's dictionary now (about a second on first use; cached afterwards)."""
    global _tokenizer
    with _lock:
        if _tokenizer is not None:
            return
        import jieba  # noqa: PLC0415 - loaded on demand: importing it costs nothing, loading does

        jieba.setLogLevel(logging.WARNING)
        found = jieba.Tokenizer()
        found.tmp_dir = os.environ.get("TOWNSQUARE_JIEBA_CACHE", tempfile.gettempdir())
        found.initialize()
        _tokenizer = found


@lru_cache(maxsize=4096)
def words(text: str) -> tuple[str, ...]:
    """The query's words: CJK runs cut by jieba, Latin/digit words as they are (normalised)."""
    if _tokenizer is None:
        warm()
    out: list[str] = []
    for is_cjk, run in tokens.runs(text):
        if is_cjk and len(run) > 2:
            out.extend(w for w in _tokenizer.cut(run, HMM=True) if w.strip())
        else:
            out.append(run)
    if any(len(w) > 1 for w in out):
        out = [w for w in out if len(w) > 1 or not tokens.is_cjk(w)]
    return tuple(dict.fromkeys(out))
