"""The one tokenizer for everything lexical: BM25 over chunks and over sentences uses the same terms."""

from __future__ import annotations

import re
from functools import cache

_TOKEN = re.compile(r"\w+", re.UNICODE)
# Questions are our queries: their function words carry no evidence, and "s" is what possessives leave.
_QUESTION_WORDS = ("who", "whom", "whose", "what", "when", "where", "which", "why", "how", "did", "does", "do", "s")


@cache
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@cache
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN).union(_QUESTION_WORDS)


def terms(text: str) -> list[str]:
    """Lower-cased, stop-word-free, Snowball-stemmed word tokens; apostrophes fold (Lee’s -> lee)."""
    words = [w for w in _TOKEN.findall(text.lower().replace("’", "'")) if w not in _stopwords()]
    return _stemmer().stemWords(words)
