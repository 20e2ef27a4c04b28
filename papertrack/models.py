"""The one noun every part shares: `Paper`, plus identifier and text normalisation."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime

from papertrack.errors import UsageError

# New-style (0704.0001, 1909.04977) and old-style (hep-th/9901001, math.GT/0309136) ids,
# bare or after an `arXiv:` prefix or an abs/pdf URL.
_ARXIV_ID = re.compile(
    r"(?:arxiv\.org/(?:abs|pdf)/|arxiv:\s*|^\s*)"
    r"(\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[a-z]{2})?/\d{7})(?:v(\d+))?(?!\d)",
    re.IGNORECASE,
)


@dataclass(slots=True)
class Paper:
    """A paper as every source yields it and `store.save_papers` writes it.

    Dates are ISO-8601 UTC strings (`2019-09-11T09:20:54Z`); `authors` and `categories`
    are ordered lists. `venue` is only set by sources that know it (DBLP, BibTeX);
    for arXiv records it is derived from the comment at save time.
    """

    id: str
    title: str
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    updated: str | None = None
    version: int = 1
    primary_category: str | None = None
    categories: list[str] = field(default_factory=list)
    doi: str | None = None
    journal_ref: str | None = None
    comment: str | None = None
    url: str | None = None
    pdf_url: str | None = None
    venue: str | None = None
    venue_type: str | None = None
    volume: str | None = None
    pages: str | None = None
    year: int | None = None
    dblp_key: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def split_arxiv_id(text: str) -> tuple[str, int | None] | None:
    """`'http://arxiv.org/abs/hep-ex/0406020v1'` -> `('hep-ex/0406020', 1)`; None if no id.

    Accepts bare ids, `arXiv:` prefixes and abs/pdf URLs (with or without `.pdf`).
    """
    m = _ARXIV_ID.search(text or "")
    if not m:
        return None
    return m.group(1), int(m.group(2)) if m.group(2) else None


def arxiv_id(text: str) -> str | None:
    """The versionless arXiv id found in `text`, or None."""
    found = split_arxiv_id(text)
    return found[0] if found else None


def abs_url(paper_id: str) -> str:
    return f"https://arxiv.org/abs/{paper_id}"


def pdf_url(paper_id: str) -> str:
    return f"https://arxiv.org/pdf/{paper_id}"


def iso_utc(value: datetime | None) -> str | None:
    """A datetime as `YYYY-MM-DDTHH:MM:SSZ` in UTC (naive values are taken as UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_day(value: str | date, what: str = "date") -> date:
    """A day written `YYYY-MM-DD` (or already a date); UsageError naming `what` otherwise.
    Every date a user gives (options, queries.yaml, issue files) is read here."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise UsageError(f"{what} {value!r} is not a date (YYYY-MM-DD)") from None


def ascii_int(text: str, digits: int) -> int | None:
    """`text` as a number when it is 1 to `digits` ASCII digits, else None (`isdigit` alone
    passes '²' and '٣', which `int` refuses or reads)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= digits else None


def date_window(start: str | date, end: str | date) -> tuple[date, date]:
    """Days from `start` to `end`, both included; UsageError if it ends before it starts."""
    first, last = parse_day(start, "window start"), parse_day(end, "window end")
    if last < first:
        raise UsageError(f"the date window ends ({last}) before it starts ({first})")
    return first, last


def window_sql(column: str, start: str = ":from", end: str = ":to") -> str:
    """The date window in SQL, defined once (candidates, digests, BibTeX exports and the
    site's canned queries use it): `column`, an ISO-8601 day or UTC timestamp, falls on a
    day from `start` to `end` (SQL expressions giving days, YYYY-MM-DD), both days whole
    and included; a NULL or empty bound leaves that side open, and a NULL column is never
    inside. Any timestamp of day D sorts below D || '~' ('~' sorts after every character
    a timestamp has), so the end needs no date arithmetic and an index on the column
    serves the range."""
    return f"{column} >= coalesce({start}, '') and {column} < coalesce({end}, '') || '~'"


def window_params(start: str | date | None, end: str | date | None) -> dict[str, str | None]:
    """`window_sql`'s default parameters (`from`, `to`) for a window given as days (either
    may be missing: open-ended); UsageError for a bound that is not a day, or a window that
    ends before it starts."""
    if start and end:
        first, last = date_window(start, end)
        return {"from": first.isoformat(), "to": last.isoformat()}
    return {
        "from": parse_day(start, "window start").isoformat() if start else None,
        "to": parse_day(end, "window end").isoformat() if end else None,
    }


def now_iso() -> str:
    return iso_utc(datetime.now(UTC))  # type: ignore[return-value]


def clean_text(text: str | None) -> str:
    """Collapse the hard line breaks and indentation arXiv keeps in titles and abstracts."""
    return " ".join((text or "").split())


# A TeX accent and its letter (\'e, \"{o}, \v{c}, {\'\i}): the letter, as for "é" after NFKD
_TEX_ACCENT = re.compile(r"\\(?:['\"^`~=.]|[vuHcdbkrt](?![a-zA-Z]))\s*\{?\s*\\?([a-zA-Z])(?:\s*\})?")


def normalize_title(title: str) -> str:
    """A key for comparing titles across sources: ASCII, lowercase, letters and digits only.

    Strips LaTeX braces/commands and accents, so `{BERT}-of-{T}heseus.` and
    `BERT-of-Theseus` compare equal, and so do `L\\'evy` (arXiv) and `Lévy` (BibTeX).
    """
    text = _TEX_ACCENT.sub(r"\1", title or "")
    text = re.sub(r"\\[a-zA-Z]+\s*|[{}]", "", text)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def find_doi(text: str | None) -> str | None:
    """The DOI in a doi field or a doi.org URL, as written."""
    m = re.search(r"10\.\d{4,9}/\S+", text.strip()) if text else None
    return m.group(0).rstrip(".,;") if m else None


def normalize_doi(doi: str | None) -> str | None:
    """`https://doi.org/10.1/ABC` -> `10.1/abc` (DOIs are case-insensitive)."""
    found = find_doi(doi)
    return found.lower() if found else None
