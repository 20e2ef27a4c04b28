"""Venue labels from arXiv comments and journal references ("Accepted by CVPR 2020").

The rule table is data: `venues.yaml` next to this module (venue names and aliases, the
phrases that mean "not published there" and "accepted"). A comment is read clause by
clause; the first clause that names a venue without saying it was only submitted,
rejected or extended gives the label. A journal reference states publication by itself
and is read first; for journals it also gives volume and pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import NamedTuple

import yaml

from papertrack.enrich.taxonomy import Taxonomy, TaxonomyRule

_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)|['’`](\d\d)\b")
# Cheap tests first: most comments ("12 pages, 5 figures") name no year; journal references
# without a year, an acronym or a venue word name no venue either.
_YEARISH = re.compile(r"(?:19|20)\d\d|['’`-]\d\d\b")
_HAS_YEAR_OR_NAME = re.compile(
    r"(?:19|20)\d\d|['’`]\d\d\b|[A-Z]{2}|(?i:conference|journal|proceedings|transactions|symposium)"
)
_SHORT_YEAR = re.compile(r"(?:[-'’`]| (?=\d\d(?:$|[\s,;)])))(\d\d)(?!\d)")  # right after the name
_CLAUSE = re.compile(r"[;|\n]|\.\s+(?=[A-Z(\[])")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9&\-]*")
_NAME_YEAR = re.compile(r"([A-Za-z]+)(?:19|20)\d\d$")
_PART = re.compile(r"[A-Za-z0-9&]+")
_NAME_BEFORE_YEAR = re.compile(r"[A-Za-z]+(?=(?:19|20)\d\d)")


class Venue(NamedTuple):
    """A venue label ("CVPR 2020") and what kind of venue, with volume and pages for journals."""

    label: str | None = None
    type: str | None = None  # conference, journal or workshop
    volume: str | None = None
    pages: str | None = None


NO_VENUE = Venue()


@dataclass(frozen=True)
class _Rules:
    words: dict[str, tuple[str, str]]  # one-word alias (lower-cased unless exact) -> (label, type)
    exact: frozenset[str]
    lower_words: frozenset[str]  # the words that are not exact
    phrases: Taxonomy  # multi-word aliases: one rule per venue, tagged "type:label"
    not_published: re.Pattern
    accepted: re.Pattern
    workshop: re.Pattern
    long_names: dict[str, str]  # label -> the venue's full name, for citations
    workshop_names: dict[str, str]

    def word(self, word: str) -> tuple[str, str] | None:
        """The venue a one-word alias names: exact aliases keep their case, others any case."""
        return self.words.get(word) if word in self.exact else self.words.get(word.lower())


@lru_cache(maxsize=1)
def rules() -> _Rules:
    """The rule table from venues.yaml, compiled once."""
    text = resources.files("papertrack.enrich").joinpath("venues.yaml").read_text(encoding="utf-8")
    data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    exact = frozenset(data.get("exact") or ())
    words: dict[str, tuple[str, str]] = {}
    phrases: list[tuple[str, tuple[str, str]]] = []
    for section, kind in (("conferences", "conference"), ("journals", "journal")):
        for label, aliases in (data.get(section) or {}).items():
            label, aliases = str(label), list(aliases or [])
            # a one-word label is always an alias; a longer one only when no aliases are listed
            for alias in [label, *aliases] if " " not in label or not aliases else aliases:
                alias = str(alias)
                if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9&\-]*", alias):
                    words[alias if alias in exact else alias.lower()] = (label, kind)
                else:
                    phrases.append((alias.lower() if alias == label else alias, (label, kind)))
    by_venue: dict[tuple[str, str], list[str]] = {}
    for alias, venue in phrases:
        by_venue.setdefault(venue, []).append(alias)
    # the taxonomy's machinery: gated by literal strings, so most clauses cost a few substring tests
    phrase_rules = [TaxonomyRule(f"{kind}:{label}", tuple(aliases)) for (label, kind), aliases in by_venue.items()]
    return _Rules(
        words=words,
        exact=exact,
        lower_words=frozenset(w for w in words if w not in exact),
        phrases=Taxonomy(phrase_rules),
        not_published=re.compile("|".join(data["not_published"]), re.IGNORECASE),
        accepted=re.compile("|".join(data["accepted"]), re.IGNORECASE),
        workshop=re.compile(data["workshop"], re.IGNORECASE),
        long_names={str(k): str(v) for k, v in (data.get("long_names") or {}).items()},
        workshop_names={str(k): str(v) for k, v in (data.get("workshop_names") or {}).items()},
    )


def venue_from(comment: str | None, journal_ref: str | None = None) -> Venue:
    """`'12 pages. Accepted to AAAI 2020'` -> `Venue('AAAI 2020', 'conference')`;
    `NO_VENUE` when neither text states a publication."""
    if journal_ref and _HAS_YEAR_OR_NAME.search(journal_ref):
        found = _from_journal_ref(journal_ref)
        if found.label:
            return found
    if comment and _YEARISH.search(comment):  # a comment names a venue with its year
        for clause in _CLAUSE.split(comment):
            named = _from_clause(clause) if _YEARISH.search(clause) else None
            if named:
                return named
    return NO_VENUE


def compact(label: str | None) -> str | None:
    """The newsletter's style: `CVPR 2020` -> `CVPR2020`; longer names keep their spaces
    (`Pattern Recognition 2020`, `ICLR2015 Workshop`)."""
    if not label:
        return label
    return re.sub(r"^(\S+) ((?:19|20)\d\d)\b", r"\1\2", label)


_LABEL = re.compile(r"(?P<name>.+?)(?: (?:19|20)\d\d)?(?P<workshop> Workshops?)?(?: (?:19|20)\d\d)?")
_TRAILING_YEAR = re.compile(r"(?<=[\w)]) (?:19|20)\d\d$")


def citation_name(label: str | None) -> str | None:
    """The venue's full name as its citation pages write it, without the year:
    `CVPR 2020` -> `Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern
    Recognition (CVPR)`, `CVPR 2020 Workshop` -> the same + ` Workshops`, `TPAMI 2021` ->
    `IEEE Transactions on Pattern Analysis and Machine Intelligence`. A label not in
    venues.yaml keeps its text, less the year of a `name year` label (`Foo Symposium 2020` ->
    `Foo Symposium`; a citation such as `Proc. X, Seattle, June 2020` is left whole)."""
    if not label:
        return label
    r = rules()
    m = _LABEL.fullmatch(label)
    name = m.group("name") if m else label
    if name in r.long_names:
        if m and m.group("workshop"):
            return r.workshop_names.get(name) or f"{r.long_names[name]} Workshops"
        return r.long_names[name]
    return label if "," in label else _TRAILING_YEAR.sub("", label)


def label_for(name: str, year: int | None) -> str | None:
    """The label whose `citation_name` is exactly `name` (an export read back):
    `Proceedings of the IEEE/CVF Conference on ... (CVPR) Workshops`, 2020 -> `CVPR 2020 Workshop`."""
    r = rules()
    for label, long_name in r.long_names.items():
        if name == long_name:
            return f"{label} {year}" if year else label
        if name == (r.workshop_names.get(label) or f"{long_name} Workshops"):
            return f"{label} {year} Workshop" if year else f"{label} Workshop"
    return None


def _from_clause(clause: str, published: bool = False) -> Venue | None:
    r = rules()
    match = _find_venue(clause)
    if match is None:
        return None
    (name, kind), start, end = match
    if not published and r.not_published.search(clause) and not r.accepted.search(clause):
        return None
    year = _ref_year(clause) if published and kind == "journal" else _year_near(clause, start, end, kind == "conference")
    if kind == "conference" and r.workshop.search(clause):
        kind, suffix = "workshop", " Workshop"
    else:
        suffix = ""
    label = f"{name} {year}{suffix}" if year else f"{name}{suffix}"
    return Venue(label, kind)


def _find_venue(text: str) -> tuple[tuple[str, str], int, int] | None:
    """The first venue named in `text`: ((label, type), start, end)."""
    r = rules()
    found: list[tuple[int, int, tuple[str, str]]] = []
    # a cheap set test before the word-by-word scan
    parts = _PART.findall(text) + _NAME_BEFORE_YEAR.findall(text)
    if r.lower_words.isdisjoint(map(str.lower, parts)) and r.exact.isdisjoint(parts):
        parts = []
    for m in _TOKEN.finditer(text) if parts else ():
        token, end = m.group(0), m.end()
        venue = r.word(token)
        if venue is None and "-" in token:  # "CVPR-2020", "ACL-94"
            head = token.split("-", 1)[0]
            venue = r.word(head)
            end = m.start() + len(head)
        if venue is None and token[-1].isdigit():
            year = _NAME_YEAR.match(token)  # "CVPR2020"
            if year:
                venue = r.word(year.group(1))
        if venue is not None:
            found.append((m.start(), -end, venue))
            break
    lower = text.lower()
    for tag, evidence in r.phrases.match(text, "").items():
        start = lower.find(evidence.lower())
        kind, label = tag.split(":", 1)
        found.append((start if start >= 0 else len(text), -(start + len(evidence)), (label, kind)))
    if not found:
        return None
    start, end, venue = min(found)  # leftmost, then longest
    return venue, start, -end


def _year_near(text: str, start: int, end: int, short_years: bool = True) -> str | None:
    """The year closest to the venue name, preferring one after it ("CVPR 2020", "CVPR'20",
    and for conferences "ACL-94", "IJCAI 95")."""
    short = _SHORT_YEAR.match(text, end) if short_years else None
    if short:
        return _century(short.group(1))
    years = [(m.start(), m.group(1) or _century(m.group(2))) for m in _YEAR.finditer(text)]
    after = [y for pos, y in years if pos >= end - 4]  # "CVPR2020" holds its year
    before = [y for pos, y in years if pos < start]
    return after[0] if after else (before[-1] if before else None)


def _century(yy: str) -> str:
    return ("20" if yy < "50" else "19") + yy


def _ref_year(ref: str) -> str | None:
    """A citation's year: in parentheses if any, else the last one outside a page range."""
    m = re.search(r"\(((?:19|20)\d\d)\)", ref)
    if m:
        return m.group(1)
    years = [m.group(1) for m in re.finditer(r"(?<![\d\-–])((?:19|20)\d\d)(?![\d\-–])", ref)]
    return years[-1] if years else None


def _from_journal_ref(ref: str) -> Venue:
    """A journal reference: a known venue, or a citation's name; volume and pages for journals."""
    r = rules()
    if r.not_published.search(ref) and not r.accepted.search(ref):
        return NO_VENUE
    found = _from_clause(ref, published=True)
    if found is None:
        name = re.match(r"\s*([A-Z][A-Za-z.&:' \-]*?[A-Za-z.])(?:[\s,.]+(?i:vol(?:ume)?\.?|no\.))?[\s,]+\d", ref)
        if (
            not name
            or re.match(r"(?:in|proc|proceedings)\b", name.group(1), re.IGNORECASE)
            or len(name.group(1).split()) > 8
        ):
            return NO_VENUE
        year = _ref_year(ref)
        kind = "conference" if re.search(r"proceedings|conference|symposium|workshop", ref, re.IGNORECASE) else "journal"
        found = Venue(f"{name.group(1).strip()} {year}" if year else name.group(1).strip(), kind)
    if found.type != "journal":
        return found
    volume, pages = _volume_pages(ref)
    return found._replace(volume=volume, pages=pages)


def _volume_pages(ref: str) -> tuple[str | None, str | None]:
    """Volume and pages (or article number) of a journal citation, in the usual layouts:
    `Pattern Recognition 105 (2020) 107281`, `vol. 42, no. 3, pp. 123-145, 2020`,
    `18(1):6869-6898, 2017`, `Volume 398, 2020, Pages 185-196`."""
    volume = re.search(r"\bvol(?:ume)?\.?\s*(\d+)", ref, re.IGNORECASE) or re.search(
        r"[A-Za-z.)]\s*,?\s+(\d{1,4})\b(?!\s*[-–]\s*\d)(?=\s*(?:\(|,|:|$|\s))", ref
    )
    pages = (
        re.search(r"\b(?:pp?\.|pages?)\s*(\d+(?:\s*[-–]+\s*\d+)?)", ref, re.IGNORECASE)
        or re.search(r":\s*(\d+(?:\s*[-–]+\s*\d+)?)", ref)
        or re.search(r"\((?:19|20)\d\d\)\s*,?\s*(\d+(?:\s*[-–]+\s*\d+)?)", ref)
        or re.search(r"\d,\s*(\d+(?:\s*[-–]+\s*\d+)?)\s*\((?:19|20)\d\d\)", ref)
    )
    if volume and re.fullmatch(r"(?:19|20)\d\d", volume.group(1)):
        volume = None  # a year, not a volume
    return (volume.group(1) if volume else None, re.sub(r"\s*[-–]+\s*", "-", pages.group(1)) if pages else None)
