"""dblp venue queries: the forms papertrack accepts, parsed once, run as SPARQL against
dblp's endpoint (`dblp_sparql`) or over its XML dump (`papertrack import-dblp`).

A query is terms separated by spaces, all of which must hold (dblp's search syntax):

    toc:db/conf/cvpr/cvpr2020.bht:   listed in that table of contents (a proceedings or journal volume)
    venue:CVPR:                      published in that venue (its volumes too: `ECCV (3)`)
    year:2020:                       published that year
    binary quantiz                   title words, case-insensitive, each the start of a title word
    network$                         ... or the whole word

Anything else (`author:`, `type:`, `stream:`, dblp's `|` and `-`) is refused with a
message naming these forms, so a query never silently means something else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from papertrack.errors import UsageError

FORMS = "toc:db/conf/cvpr/cvpr2020.bht:, venue:CVPR:, year:2020: and title words (quantiz, network$)"
_TERM = re.compile(r"(?P<prefix>[A-Za-z]+):(?P<value>[^:]*):(?=\s|$)|(?P<word>\S+)")
_TOC = re.compile(r"db/(?:conf|journals|series|books|reference|informal)/[A-Za-z0-9_.\-/]+\.bht")
_WORD = re.compile(r"[^\W_](?:[\w'-]*[^\W_])?(?P<mode>[*$]?)")
_YEAR = re.compile(r"(?:19|20)\d\d")


class Listed(Protocol):
    """What a dblp query asks of a record: its table of contents, venue, year and title."""

    @property
    def toc(self) -> str | None: ...
    @property
    def venue(self) -> str | None: ...
    @property
    def year(self) -> int | None: ...
    @property
    def title(self) -> str: ...


class DblpQueryError(UsageError):
    """A dblp query papertrack cannot run; the message names the supported forms."""


@dataclass(frozen=True)
class DblpQuery:
    """A parsed dblp query: at most one toc, venue and year, and title words (lower case,
    with whether each must be the whole word)."""

    toc: str | None = None  # db/conf/cvpr/cvpr2020.bht
    venue: str | None = None
    year: int | None = None
    words: tuple[tuple[str, bool], ...] = ()

    @property
    def toc_page(self) -> str | None:
        """The table of contents as dblp's RDF names it: https://dblp.org/db/conf/cvpr/cvpr2020."""
        return f"https://dblp.org/{self.toc.removesuffix('.bht')}" if self.toc else None

    def matches(self, record: Listed) -> bool:
        """Does a record answer this query? (Its fields are read only as far as needed.)"""
        if self.toc and record.toc != self.toc:
            return False
        if self.venue:
            venue = record.venue or ""
            if not (venue == self.venue or venue.startswith(self.venue + " (")):
                return False
        if self.year and record.year != self.year:
            return False
        if not self.words:
            return True
        title = record.title
        return all(re.search(word_pattern(w, exact), title, re.IGNORECASE) for w, exact in self.words)


def word_pattern(word: str, exact: bool) -> str:
    """A regular expression (Python's and XPath's alike) for a title word or word start."""
    return f"(^|[^\\w]){re.escape(word).replace(chr(92) + '-', '-')}" + ("([^\\w]|$)" if exact else "")


def parse_dblp(query: str) -> DblpQuery:
    """Parse a saved dblp query; `DblpQueryError` says what is wrong and what works."""
    fields: dict[str, object] = {}
    words: list[tuple[str, bool]] = []
    for m in _TERM.finditer(query.strip()):
        prefix, value, word = m.group("prefix"), m.group("value"), m.group("word")
        if word is not None:
            found = _WORD.fullmatch(word)
            if not found:
                raise DblpQueryError(f"cannot read {word!r} in a dblp query: use {FORMS}")
            mode = found.group("mode")
            words.append((word[: len(word) - len(mode)].lower(), mode == "$"))
            continue
        key = prefix.lower()
        if key in fields:
            raise DblpQueryError(f"{key}: appears twice in a dblp query")
        value = value.strip()
        if key == "toc" and _TOC.fullmatch(value):
            fields["toc"] = value
        elif key == "venue" and value and not any(c in value for c in '"\\\n\r\t<>'):
            fields["venue"] = value
        elif key == "year" and _YEAR.fullmatch(value):
            fields["year"] = int(value)
        elif key in ("toc", "venue", "year"):
            raise DblpQueryError(f"{key}:{value}: is not a valid {key} (for example {FORMS})")
        else:
            raise DblpQueryError(f"{key}: is not a dblp query form papertrack runs: use {FORMS}")
    if not fields and not words:
        raise DblpQueryError(f"an empty dblp query: use {FORMS}")
    return DblpQuery(words=tuple(words), **fields)  # type: ignore[arg-type]
