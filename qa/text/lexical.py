"""The one tokenizer for everything lexical: BM25 over chunks and over sentences uses the same terms."""

from __future__ import annotations

import re
from functools import cache, lru_cache

import numpy as np

_TOKEN = re.compile(r"\w+", re.UNICODE)
# Lucene's English stop words (as bm25s has them, whose scores `qa.index.local.bm25` reproduces). Questions are our
# queries: their function words carry no evidence, and "s" is what possessives leave.
STOPWORDS_EN = """a an and are as at be but by for if in into is it no not of on or such that the their then there
these they this to was will with""".split()  # noqa: SIM905
_QUESTION_WORDS = ("who", "whom", "whose", "what", "when", "where", "which", "why", "how", "did", "does", "do", "s")
_STOPWORDS = frozenset(STOPWORDS_EN).union(_QUESTION_WORDS)


@cache
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


# Snowball leaves irregular forms alone ("met" is not "meet"); the answer step compares a question with a
# sentence word by word, so it folds the common ones. (BM25 keeps plain stems: its index is built with them.)
IRREGULAR = dict(
    pair.split(":")
    for pair in """met:meet said:say told:tell took:take taken:take won:win lost:lose made:make gave:give given:give
    went:go gone:go came:come began:begin begun:begin bought:buy sold:sell paid:pay left:leave held:hold
    led:lead found:find thought:think brought:bring saw:see seen:see knew:know known:know grew:grow
    grown:grow rose:rise risen:rise fell:fall fallen:fall ran:run wrote:write written:write spent:spend
    built:build struck:strike sent:send became:become chose:choose chosen:choose drew:draw drawn:draw
    fought:fight kept:keep meant:mean sought:seek spoke:speak spoken:speak stood:stand taught:teach
    threw:throw thrown:throw wore:wear worn:wear stole:steal stolen:steal drove:drive driven:drive
    broke:break broken:break shown:show did:do done:do felt:feel heard:hear hung:hang laid:lay lent:lend
    lit:light overtook:overtake undertook:undertake withdrew:withdraw withdrawn:withdraw""".split()  # noqa: SIM905
)


# BM25's parameters, bm25s's default ("lucene"), the same for both backends.
BM25_K1 = 1.5
BM25_B = 0.75


def lucene_idf(df: int, total: int) -> float:
    """BM25's inverse document frequency of a term in `df` of `total` documents, as bm25s (and Lucene) weigh it;
    a term no document has gets the rarest weight."""
    return float(np.log(1 + (total - df + 0.5) / (df + 0.5)))


def terms(text: str) -> list[str]:
    """Lower-cased, stop-word-free, Snowball-stemmed word tokens; apostrophes fold (Lee’s -> lee)."""
    return list(_cached_terms(text, False))


def folded_terms(text: str) -> list[str]:
    """`terms` with irregular verbs folded ("met" -> "meet"), for comparing a question with a sentence."""
    return list(_cached_terms(text, True))


@lru_cache(maxsize=8192)
def term_set(text: str) -> frozenset[str]:
    """The distinct folded terms of `text`; cached, because the answer step sees the same sentences and
    headlines many times."""
    return frozenset(_cached_terms(text, True))


@lru_cache(maxsize=8192)
def _cached_terms(text: str, fold_irregular: bool) -> tuple[str, ...]:
    words = [w for w in _TOKEN.findall(text.lower().replace("’", "'")) if w not in _STOPWORDS]
    if fold_irregular:
        words = [IRREGULAR.get(w, w) for w in words]
    return tuple(_stemmer().stemWords(words))
