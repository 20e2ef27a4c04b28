"""The editor's desk as data: an issue's window, its candidates best first for a profile
and grouped by tag (papers featured in a past issue set apart), its picks in the editor's
order with their notes and drafts, and the 论文 section exactly as `papertrack digest
--issue` writes it (`issue_markdown`: one function for both).

The site (`web.desk`) shows this. Its writes are the CLI's own functions (`editorial`,
`drafting`), run on a connection of their own while holding the database's lock, the one
harvests take (`locked`): the site's read connections see each change at once (WAL).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from papertrack.enrich.summary import summarize
from papertrack.errors import UsageError
from papertrack.models import abs_url, date_window, parse_day
from papertrack.newsletter.digest import LANGS, render, select, tag_group
from papertrack.newsletter.editorial import featured, issue_date, picked_ids
from papertrack.rank.scores import PICKS, ranked_profiles, scores_for
from papertrack.sources.locks import database_lock
from papertrack.store.drafts import PaperDrafts, paper_drafts
from papertrack.store.runs import tag_order
from papertrack.store.schema import ids_json, open_db

FORTNIGHT = 14  # days before the issue: its default window
MAX_WINDOW = 92  # days a window may span (a page does bounded work)
MAX_CANDIDATES = 1000  # candidates listed, best first
LOCK_WAIT = 5.0  # seconds a write waits for the database's lock (a harvest holds it while it runs)
NOTE_FIELDS = ("headline", "source", "source_url", "summary", "code_url")


class NothingPicked(UsageError):
    """The issue has no picks (so no section yet)."""


@dataclass
class Paper:
    """A candidate as the desk lists it."""

    id: str
    title: str
    published: str
    venue: str | None
    url: str
    tags: list[str]
    score: float | None = None
    why: list[str] = field(default_factory=list)
    featured: list[str] = field(default_factory=list)  # earlier issues it was picked for
    picked: bool = False  # for this issue


@dataclass
class Group:
    """The candidates under one tag (None: untagged), best first; those featured in a
    past issue apart."""

    tag: str | None
    papers: list[Paper] = field(default_factory=list)
    featured: list[Paper] = field(default_factory=list)


@dataclass
class Pick:
    """A picked paper with the editor's note, the text the digest falls back to where
    the note says nothing, and its drafts in the desk's language."""

    position: int
    id: str
    title: str
    url: str
    venue: str | None
    note: dict[str, str | None]
    fallback: dict[str, str]
    drafts: PaperDrafts | None
    featured: list[str]


@dataclass
class Desk:
    issue: str
    start: dt.date
    end: dt.date
    profile: str
    ranked: bool  # whether the profile has scores (else newest first)
    profiles: list[str]
    groups: list[Group]
    candidates: int  # listed (at most MAX_CANDIDATES)
    more: bool  # whether the window holds more
    picks: list[Pick]
    lang: str
    drafts: bool
    markdown: str | None  # None: nothing picked yet


def window(issue: str | dt.date, date_from: str | None = None, date_to: str | None = None) -> tuple[dt.date, dt.date]:
    """The issue's window: the fortnight before it unless given (at most MAX_WINDOW days)."""
    day = parse_day(issue, "issue date")
    if day < dt.date(1000, 1, 1):
        raise UsageError(f"issue date {day} is before any paper")
    start = parse_day(date_from, "window start") if date_from else day - dt.timedelta(days=FORTNIGHT)
    end = parse_day(date_to, "window end") if date_to else day - dt.timedelta(days=1)
    start, end = date_window(start, end)
    if (end - start).days + 1 > MAX_WINDOW:
        raise UsageError(f"a window of {(end - start).days + 1} days: the desk shows at most {MAX_WINDOW}")
    return start, end


def read_desk(
    db: sqlite_utils.Database,
    issue: str | dt.date,
    *,
    date_from: str | None = None,
    date_to: str | None = None,
    profile: str = PICKS,
    lang: str = "zh",
    drafts: bool = False,
) -> Desk:
    """Everything the desk shows for `issue` (read only)."""
    issue = issue_date(issue)
    start, end = window(issue, date_from, date_to)
    if lang not in LANGS:
        raise UsageError(f"language {lang!r}: use {' or '.join(LANGS)}")
    profiles = ranked_profiles(db.conn)
    ranked = profile in profiles
    if not ranked and profile != PICKS and not db.execute("select 1 from tags where name = ?", [profile]).fetchone():
        raise UsageError(f"no profile {profile!r} (a profile is a tag, or {PICKS})")
    found = _candidates(db, profile, ranked, start, end)
    picked = picked_ids(db, issue)
    before = featured(db, [p.id for p in found] + picked, before=issue)
    for p in found:
        p.featured, p.picked = before.get(p.id, []), p.id in picked
    return Desk(
        issue=issue, start=start, end=end, profile=profile, ranked=ranked,
        profiles=profiles if PICKS in profiles else [PICKS, *profiles],
        groups=_groups(found[:MAX_CANDIDATES], tag_order(db)),
        candidates=min(len(found), MAX_CANDIDATES), more=len(found) > MAX_CANDIDATES,
        picks=_picks(db, picked, lang, before), lang=lang, drafts=drafts,
        markdown=issue_markdown(db, issue, lang, drafts) if picked else None,
    )  # fmt: skip


def issue_markdown(db: sqlite_utils.Database, issue: str | dt.date, lang: str = "zh", drafts: bool = False) -> str:
    """The issue's 论文 section, as `papertrack digest --issue ISSUE [--lang] [--drafts]`
    writes it (`NothingPicked` when nothing is)."""
    issue = issue_date(issue)
    if not picked_ids(db, issue):
        raise NothingPicked(f"nothing is picked for {issue} yet")
    return render(select(db, issue=issue, lang=lang, drafts=drafts), lang)


@contextmanager
def locked(db_path: str | Path, wait: float | None = None) -> Iterator[sqlite_utils.Database]:
    """A writable connection to the papers database while this process holds its lock
    (`LockHeld` after `wait` seconds, LOCK_WAIT by default: a harvest or an import is running)."""
    with database_lock(db_path, wait=LOCK_WAIT if wait is None else wait, owner="papertrack desk"):
        db = open_db(db_path, create=False)
        try:
            yield db
        finally:
            db.close()


def _candidates(db: sqlite_utils.Database, profile: str, ranked: bool, start: dt.date, end: dt.date) -> list[Paper]:
    """The window's papers (the digest's window), best first for a ranked profile, else
    newest first (one more than MAX_CANDIDATES, to know there are more). Scores are looked
    up for the window's papers by key: a window is a few hundred papers, a profile's scores
    every paper of the database."""
    ids = [e.id for e in select(db, start, end).entries]
    rows = _rows(db, ids)
    scored = scores_for(db.conn, profile, ids) if ranked else {}
    newest = sorted(ids, key=lambda pid: (rows[pid]["published"] or "", pid), reverse=True)
    best = sorted(newest, key=lambda pid: -scored[pid][0] if pid in scored else math.inf)  # stable: newest first on ties
    papers = []
    for pid in best[: MAX_CANDIDATES + 1]:
        paper = _paper(rows[pid])
        if pid in scored:
            paper.score, paper.why = scored[pid]
        papers.append(paper)
    return papers


def _rows(db: sqlite_utils.Database, ids: list[str]) -> dict[str, dict[str, Any]]:
    return {
        r["id"]: r
        for r in db.query(
            "select p.id, p.title, p.published, p.venue, p.url, p.abstract, p.summary, p.code_url, "
            "(select json_group_array(name) from (select t.name from papers_tags pt join tags t on t.id = pt.tags_id "
            " where pt.papers_id = p.id order by t.name)) as tags "
            "from papers p where p.id in (select value from json_each(?))",
            [ids_json(ids)],
        )
    }


def _paper(row: dict[str, Any]) -> Paper:
    tags = json.loads(row["tags"] or "[]")
    return Paper(
        row["id"], row["title"] or "", (row["published"] or "")[:10], row["venue"], row["url"] or abs_url(row["id"]), tags
    )


def _groups(papers: list[Paper], tag_order: list[str]) -> list[Group]:
    """Each paper once, under its group (`digest.tag_group`), groups in the tag order."""
    rank = {t: i for i, t in enumerate(tag_order)}
    groups: dict[tuple[int, str], Group] = {}
    for p in papers:
        key = tag_group(p.tags, rank)
        tag = key[1] or (tag_order[key[0]] if key[0] < len(tag_order) else None)
        group = groups.setdefault(key, Group(tag))
        (group.featured if p.featured else group.papers).append(p)
    return [groups[k] for k in sorted(groups)]


def _picks(db: sqlite_utils.Database, ids: list[str], lang: str, before: dict[str, list[str]]) -> list[Pick]:
    rows = _rows(db, ids)
    notes = {
        r["papers_id"]: r
        for r in db.query("select * from notes where papers_id in (select value from json_each(?))", [ids_json(ids)])
    }
    drafts = paper_drafts(db, ids, lang)
    out = []
    for n, pid in enumerate(ids, 1):
        row, note = rows[pid], notes.get(pid, {})
        accepted = drafts[pid].accepted if pid in drafts else None
        derived = row["summary"] if not note.get("summary") else summarize(row["abstract"] or "")
        fallback = {
            "headline": (accepted and accepted.headline) or row["title"] or "",
            "summary": (accepted and accepted.summary) or derived or "",
            "code": "" if note.get("code_url") else row["code_url"] or "",
        }
        out.append(
            Pick(
                n, pid, row["title"] or "", row["url"] or abs_url(pid), row["venue"],
                {k: note.get(k) for k in NOTE_FIELDS}, fallback, drafts.get(pid), before.get(pid, []),
            )
        )  # fmt: skip
    return out
