"""The editor's work: notes (headline, summary, source, links) and picks for an issue.

A note wins over derived values everywhere: `papers.summary` and `papers.code_url` show
the note's text as soon as it is written, and harvests keep it (`store.precedence`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, fields

import sqlite_utils

from papertrack.errors import UsageError
from papertrack.models import now_iso, parse_day
from papertrack.store.identity import resolve_id, resolve_ids
from papertrack.store.precedence import apply_notes
from papertrack.store.schema import transaction

_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f]+", re.IGNORECASE)  # what a link of the editor's may be


@dataclass
class Note:
    """The editor's text for one paper; None leaves a field as it is, "" clears it."""

    headline: str | None = None
    summary: str | None = None
    source: str | None = None
    source_url: str | None = None
    code_url: str | None = None

    def given(self) -> dict[str, str | None]:
        """The fields to write ("" becomes NULL)."""
        return {f.name: (getattr(self, f.name) or None) for f in fields(self) if getattr(self, f.name) is not None}


def web_url(value: str | None) -> str | None:
    """`value` (stripped) when it is an http(s) URL, else None: no `javascript:` or
    `data:` link ever reaches a page or a digest."""
    value = (value or "").strip()
    return value if _URL.fullmatch(value) else None


def issue_date(value: str | dt.date) -> str:
    """An issue date (`2020-03-19`, or a date) as YYYY-MM-DD."""
    return parse_day(value, "issue date").isoformat()


def set_note(db: sqlite_utils.Database, paper: str, note: Note) -> dict:
    """Write the given fields of `note` and update the paper's effective summary and code
    link at once; returns the stored note."""
    pid = resolve_id(db, paper)
    if not note.given():
        raise UsageError("a note needs at least one of: headline, summary, source, source URL, code URL")
    for name in ("source_url", "code_url"):
        value = getattr(note, name)
        if value and not web_url(value):
            raise UsageError(f"{name.replace('_', ' ').replace('url', 'URL')} {value!r} is not an http(s) URL")
    with transaction(db):
        write_note(db, pid, note)
    return dict(next(db.query("select * from notes where papers_id = ?", [pid])))


def write_note(db: sqlite_utils.Database, pid: str, note: Note, only_missing: bool = False) -> None:
    """`set_note` inside the caller's transaction; with `only_missing`, fields the stored
    note already has are kept (an editor's later edits beat an imported issue)."""
    values = {k: v.strip() if isinstance(v, str) else v for k, v in note.given().items()}
    row = next(db.query("select * from notes where papers_id = ?", [pid]), None)
    if row is None:
        db.execute("insert into notes (papers_id) values (?)", [pid])
    elif only_missing:
        values = {k: v for k, v in values.items() if row.get(k) is None}
    if values:
        sets = ", ".join(f"{k} = ?" for k in values)
        db.execute(f"update notes set {sets}, updated = ? where papers_id = ?", [*values.values(), now_iso(), pid])
    apply_notes(db, [pid])


def pick(db: sqlite_utils.Database, papers: Iterable[str], issue: str | dt.date) -> list[str]:
    """Pick papers for an issue; returns the ids newly picked."""
    issue = issue_date(issue)
    ids = resolve_ids(db, papers)
    with transaction(db):
        return add_picks(db, ids, issue)


def add_picks(db: sqlite_utils.Database, ids: Iterable[str], issue: str) -> list[str]:
    """`pick` inside the caller's transaction, for checked ids: new picks go last."""
    known = picked_ids(db, issue)
    fresh = [i for i in dict.fromkeys(ids) if i not in known]
    _number(db, issue, known)  # picks stored before the editor's order existed get their places
    db.conn.executemany(
        "insert into picks (papers_id, issue, picked, position) values (?, ?, ?, ?)",
        [(pid, issue, now_iso(), len(known) + n) for n, pid in enumerate(fresh, 1)],
    )
    return fresh


def picked_ids(db: sqlite_utils.Database, issue: str) -> list[str]:
    """The papers picked for `issue`, in the editor's order."""
    return [
        r[0] for r in db.execute("select papers_id from picks where issue = ? order by position, picked, rowid", [issue])
    ]


def move(db: sqlite_utils.Database, papers: Iterable[str], issue: str | dt.date, position: int) -> list[str]:
    """Put picked papers at `position` of the issue (1 first; beyond the end: last), in the
    order given; returns the issue's new order."""
    issue = issue_date(issue)
    ids = resolve_ids(db, papers)
    with transaction(db):
        order = picked_ids(db, issue)
        missing = [i for i in ids if i not in order]
        if missing:
            raise UsageError(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not picked for {issue}")
        rest = [i for i in order if i not in ids]
        at = min(max(position, 1), len(rest) + 1) - 1
        order = rest[:at] + list(dict.fromkeys(ids)) + rest[at:]
        _number(db, issue, order)
    return order


def _number(db: sqlite_utils.Database, issue: str, order: list[str]) -> None:
    db.conn.executemany(
        "update picks set position = ? where issue = ? and papers_id = ? and position is not ?",
        [(n, issue, pid, n) for n, pid in enumerate(order, 1)],
    )


def unpick(db: sqlite_utils.Database, papers: Iterable[str], issue: str | dt.date) -> list[str]:
    """Take papers out of an issue; returns the ids that were picked for it."""
    issue = issue_date(issue)
    ids = resolve_ids(db, papers)
    with transaction(db):
        picked = [
            r[0]
            for r in db.execute(
                "select papers_id from picks where issue = ? and papers_id in (select value from json_each(?))",
                [issue, _json(ids)],
            )
        ]
        db.execute(
            "delete from picks where issue = ? and papers_id in (select value from json_each(?))", [issue, _json(picked)]
        )
    return picked


def featured(db: sqlite_utils.Database, ids: Iterable[str], before: str | None = None) -> dict[str, list[str]]:
    """{paper: issues it was picked for}, only issues before `before` when given."""
    out: dict[str, list[str]] = {}
    for pid, issue in db.execute(
        "select papers_id, issue from picks where papers_id in (select value from json_each(?)) "
        "and (? is null or issue < ?) order by issue",
        [_json(ids), before, before],
    ):
        out.setdefault(pid, []).append(issue)
    return out


def _json(ids: Iterable[str]) -> str:
    return json.dumps(list(ids))
