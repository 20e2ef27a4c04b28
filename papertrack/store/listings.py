"""arXiv OAI-PMH listings in progress (table `oai_listings`): one row per set while a daily
run pages through it, written in the transaction of each page, so a killed or failed run
resumes at its resumption token (or, if that expired, at the newest day it listed)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields

import sqlite_utils

# the table as `schema.TABLES` describes tables (merged there)
TABLES: dict[str, dict] = {
    "oai_listings": {
        "doc": "arXiv OAI-PMH listings in progress (one per set), so a killed or failed daily run resumes where it stopped.",
        "pk": "set_spec",
        "columns": {
            "set_spec": (str, "The set listed: cs, stat, cs:cs:LG ..."),
            "start": (str, "The window's first day (from=), YYYY-MM-DD"),
            "queries": (str, "JSON object: the saved queries every page so far was matched against, name to query text"),
            "token": (str, "The resumptionToken of the next page (null: the first page)"),
            "newest": (str, "Newest datestamp listed so far"),
            "response_day": (str, "The day of the server's responseDate when the listing started"),
            "pages": (int, "Pages listed so far"),
            "keep_all": (int, "1 if its pages stored every record (--keep-all), not only the matches"),
        },
    },
}


@dataclass
class Listing:
    """Where a listing of one set stands: its window start (`from=`), the queries its
    pages were matched against, the token of its next page, what it has seen."""

    set_spec: str
    start: str
    queries: dict[str, str | None] = field(default_factory=dict)  # name -> the text matched
    token: str | None = None
    newest: str | None = None  # newest datestamp listed so far
    response_day: str | None = None  # the server's date when the listing started
    pages: int = 0
    keep_all: bool = False  # its pages stored every record, not only the matches

    def covers(self, start: str, queries: dict[str, str], keep_all: bool = False) -> bool:
        """Whether resuming this listing serves a run starting at `start` for `queries` (name
        to text: an edited query was not matched against its pages), keeping every record if
        `keep_all` (pages that kept only matches do not)."""
        same = all(self.queries.get(name) == text for name, text in queries.items())
        return self.start <= start and same and (self.keep_all or not keep_all)


def load_listing(db: sqlite_utils.Database, set_spec: str) -> Listing | None:
    names = [f.name for f in fields(Listing)]
    row = db.execute(f"select {', '.join(names)} from oai_listings where set_spec = ?", [set_spec]).fetchone()
    if row is None:
        return None
    values = dict(zip(names, row))
    queries = json.loads(values["queries"] or "{}")
    # an older papertrack stored names only: with no texts to compare, the window is listed again
    values["queries"] = queries if isinstance(queries, dict) else dict.fromkeys(queries)
    values["pages"] = values["pages"] or 0
    values["keep_all"] = bool(values["keep_all"])
    return Listing(**values)


def save_listing(db: sqlite_utils.Database, listing: Listing) -> None:
    """Store a listing's progress (inside the caller's transaction)."""
    row = asdict(listing)
    row["queries"] = json.dumps(listing.queries)
    db["oai_listings"].upsert(row, pk="set_spec")  # type: ignore[union-attr]


def end_listing(db: sqlite_utils.Database, set_spec: str) -> None:
    db.execute("delete from oai_listings where set_spec = ?", [set_spec])
