"""Which value a stored paper keeps when several sources or the editor give one.

Each rule is written once, here:

* **Venues.** A venue from a higher-ranked source (`dblp` > `bibtex` > `arxiv`, the
  comment or journal reference) is never replaced by one from a lower-ranked source, and
  a venue once stated stays when a newer record names none (`keeps_venue`, `set_venue`).
* **The editor's note** wins over derived text: `papers.summary` and `papers.code_url`
  are the note's when it has them, else derived from the paper (`apply_notes`).
* **Dates to the second** win over dates to the day: arXiv's OAI-PMH gives days and no
  version number, its query API seconds and the version; a stored paper keeps its first
  submission and its version number, and its last update's time when the day agrees
  (`keep_precise`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

import sqlite_utils

from papertrack.enrich.code_links import code_url as detected_code_url
from papertrack.enrich.summary import summarize
from papertrack.models import Paper

VENUE_RANK: dict[str | None, int] = {None: 0, "arxiv": 1, "bibtex": 2, "dblp": 3}
VENUE_COLUMNS = ("venue", "venue_type", "volume", "pages")


def may_replace(source: str | None, stored_source: str | None) -> bool:
    """Whether a venue from `source` may replace one that `stored_source` gave."""
    return VENUE_RANK.get(source, 0) >= VENUE_RANK.get(stored_source, 0)


def keeps_venue(stored: Mapping, venue: str | None, source: str | None) -> bool:
    """Whether the stored row keeps its venue against a new one (`venue` from `source`)."""
    return not may_replace(source, stored["venue_source"]) or bool(stored["venue"] and not venue)


def venue_year(venue: str | None) -> int | None:
    """The year a venue label ends with or names last ("CVPR 2020", "ICLR 2015 Workshop")."""
    years = re.findall(r"\b(?:19|20)\d\d\b", venue or "")
    return int(years[-1]) if years else None


def set_venue(
    db: sqlite_utils.Database, paper_id: str, venue: Mapping[str, str | None], source: str | None, year: int | None = None
) -> bool:
    """Give a stored paper the venue columns in `venue` (and `year` when given) from
    `source`, unless a higher-ranked source set its venue or `venue` names none.
    Returns whether anything changed."""
    row = db.execute(
        f"select {', '.join(VENUE_COLUMNS)}, venue_source, year from papers where id = ?", [paper_id]
    ).fetchone()
    if row is None or not venue.get("venue") or not may_replace(source, row[4]):
        return False
    stored = dict(zip((*VENUE_COLUMNS, "venue_source", "year"), row))
    wanted = {**{c: venue.get(c) for c in VENUE_COLUMNS}, "venue_source": source, "year": year or stored["year"]}
    changed = {k: v for k, v in wanted.items() if stored[k] != v}
    if changed:
        db.execute(f"update papers set {', '.join(f'{k} = ?' for k in changed)} where id = ?", [*changed.values(), paper_id])
    return bool(changed)


def apply_notes(db: sqlite_utils.Database, ids: Iterable[str]) -> None:
    """Make `papers.summary` and `papers.code_url` the note's where it has them, else the
    derived ones (recomputed, so clearing a note brings them back)."""
    for pid, abstract, comment, note_summary, note_code in db.execute(
        "select p.id, p.abstract, p.comment, n.summary, n.code_url from papers p "
        "left join notes n on n.papers_id = p.id where p.id in (select value from json_each(?))",
        [json.dumps(list(ids))],
    ).fetchall():
        db.execute(
            "update papers set summary = ?, code_url = ? where id = ?",
            [note_summary or summarize(abstract or "") or None, note_code or detected_code_url(abstract, comment), pid],
        )


def noted(db: sqlite_utils.Database, ids: Iterable[str]) -> list[str]:
    """The ids among `ids` that have an editor's note."""
    return [
        r[0]
        for r in db.execute(
            "select papers_id from notes where papers_id in (select value from json_each(?))", [json.dumps(list(ids))]
        )
    ]


def keep_precise(stored: Mapping, paper: Paper) -> Paper:
    """`paper` (dated to the day, its version unknown) with the stored row's first
    submission, its last update's time where the days agree, and its version number."""
    if stored["published"]:
        # v1's submission never changes, and OAI-PMH's `created` may be another version's day
        # (its schema says the first version's; arXiv's code reads the current version's row)
        paper.published, paper.year = stored["published"], stored["year"] or paper.year
    old, new = stored["updated"], paper.updated
    if old and new and old[:10] == new[:10]:
        paper.updated = old
    paper.version = stored["version"] or paper.version
    return paper
