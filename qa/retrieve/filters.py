"""Which articles a question may be answered from: a date range, sources (outlets), article name patterns.

A filter becomes a `Scope` of the allowed articles (the Assistant asks the backend for it), which the backend
searches within, so a filtered question still gets its k passages when the allowed articles have them. In the
chat, the same filter can be written into the question as tokens:
`since:2020-01-01 until:2020-12-31 source:reuters article:2020/*`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from fnmatch import fnmatch

from qa.errors import UsageError
from qa.index.seam import ArticleRow

_TOKEN = re.compile(r"(?<!\S)(since|until|source|article):(\"[^\"]*\"|\S+)", re.I)


def parse_day(text: str, option: str, end: bool = False) -> date:
    """A YYYY-MM-DD, YYYY-MM or YYYY date given to --since/--until: a month or a year starts on its first day,
    or with `end` (for --until) ends on its last."""
    for pattern, parts in ((r"\d{4}-\d{2}-\d{2}", 3), (r"\d{4}-\d{2}", 2), (r"\d{4}", 1)):
        if re.fullmatch(pattern, text.strip()):
            numbers = [int(n) for n in text.strip().split("-")]
            try:
                if parts == 3:
                    return date(*numbers)
                if not end:
                    return date(*numbers, *[1] * (3 - parts))
                year, month = numbers[0], numbers[1] if parts == 2 else 12
                return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
            except ValueError:
                break
    raise UsageError(f"{option} takes a date as YYYY-MM-DD, YYYY-MM or YYYY (got '{text}')")


@dataclass(frozen=True)
class Filter:
    since: date | None = None
    until: date | None = None
    sources: tuple[str, ...] = ()  # case-insensitive substrings of an article's source
    articles: tuple[str, ...] = ()  # glob patterns over article ids (`2020/*`, `*reuters*`)

    @property
    def active(self) -> bool:
        return bool(self.since or self.until or self.sources or self.articles)

    @property
    def dated(self) -> bool:
        return bool(self.since or self.until)

    def allows(self, article: ArticleRow) -> bool:
        if self.dated:
            if article.date is None:
                return False
            day = date.fromisoformat(article.date)
            if (self.since and day < self.since) or (self.until and day > self.until):
                return False
        if self.sources and not any(s.lower() in (article.source or "").lower() for s in self.sources):
            return False
        return not self.articles or any(fnmatch(article.id, pattern) for pattern in self.articles)

    def chips(self) -> list[str]:
        """The filter as the tokens a user would type, for a status line."""
        chips = [f"since:{self.since}"] if self.since else []
        chips += [f"until:{self.until}"] if self.until else []
        return chips + [f"source:{s}" for s in self.sources] + [f"article:{a}" for a in self.articles]


def make_filter(since: str | None = None, until: str | None = None, sources=(), articles=()) -> Filter:
    """A Filter from option values, checked: dates must parse and `since` must not be after `until`."""
    made = Filter(
        parse_day(since, "--since") if since else None,
        parse_day(until, "--until", end=True) if until else None,
        tuple(s for s in sources if s.strip()),
        tuple(a for a in articles if a.strip()),
    )
    if made.since and made.until and made.since > made.until:
        raise UsageError(f"--since {made.since} is after --until {made.until}")
    return made


def split_inline(question: str) -> tuple[str, Filter | None]:
    """A chat question with `since:`/`until:`/`source:`/`article:` tokens: the question without them, and the
    filter they make (None when there are none)."""
    found: dict[str, list[str]] = {}
    for match in _TOKEN.finditer(question):
        found.setdefault(match[1].lower(), []).append(match[2].strip('"'))
    if not found:
        return question, None
    rest = " ".join(_TOKEN.sub(" ", question).split())
    made = make_filter(
        (found.get("since") or [None])[-1],
        (found.get("until") or [None])[-1],
        found.get("source", ()),
        found.get("article", ()),
    )
    return rest, made
