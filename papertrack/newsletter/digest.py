"""The newsletter's papers section: select papers (an issue's picks, or a date window
grouped by tag) and render them with the Jinja2 template in papertrack/templates/."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import jinja2
import sqlite_utils

from papertrack.enrich.venue import compact
from papertrack.errors import UsageError
from papertrack.models import abs_url, window_params, window_sql
from papertrack.newsletter.editorial import featured, issue_date
from papertrack.rank.scores import ranked_ids, require_model

LANGS = ("zh", "en")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|&~])")


@dataclass
class Entry:
    """One paper as the template shows it; all text already escaped for markdown."""

    id: str
    label: str | None
    headline: str
    source: str
    link: str
    title: str
    url: str
    code: str | None
    summary_lines: list[str]
    tags: list[str] = field(default_factory=list)


@dataclass
class Digest:
    entries: list[Entry]
    mode: str  # "picks" or "window"
    warnings: list[str] = field(default_factory=list)


def md_escape(text: str | None) -> str:
    """Text from papers (titles, abstracts) made inert in markdown: one line, and the
    characters that open links, emphasis, code, HTML or tables backslash-escaped."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join((text or "").split()))


def md_url(url: str) -> str:
    """A URL safe inside `(...)` of a markdown link."""
    return re.sub(r"[\s()<>]", lambda m: f"%{ord(m.group(0)):02X}", url.strip())


def _editor_text(text: str) -> list[str]:
    """The editor's own markdown, kept, one list item per line (the template ends each
    with two spaces); only what would break the entry (blank lines, list bullets at the
    start of a line) is neutralised."""
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    return [re.sub(r"^(\s*)([-*+]|\d+\.)(\s)", r"\1\\\2\3", line) for line in lines] or [""]


def select(
    db: sqlite_utils.Database,
    date_from: str | dt.date | None = None,
    date_to: str | dt.date | None = None,
    *,
    issue: str | dt.date | None = None,
    tags: Sequence[str] = (),
    first_seen: bool = False,
    tag_order: Sequence[str] = (),
    like: str | None = None,
    top: int | None = None,
) -> Digest:
    """The papers of a digest: exactly the picks of `issue` when it has any; otherwise the
    papers published (or, with `first_seen`, first harvested) from `date_from` to `date_to`
    inclusive, optionally only those with one of `tags`, grouped by tag in `tag_order`.
    With a profile (`like`) the window's papers go best first (within their tag) and
    `top` keeps the best so many."""
    if top is not None and not like:
        raise UsageError("a number of best papers needs a profile to rank them")
    issue = issue_date(issue) if issue else None
    picked = (
        [r[0] for r in db.execute("select papers_id from picks where issue = ? order by picked, rowid", [issue])]
        if issue
        else []
    )
    if picked:
        ids, mode = picked, "picks"
    else:
        if not date_from or not date_to:
            raise UsageError(f"nothing is picked for {issue}: give a date window" if issue else "give a date window")
        column = "first_seen" if first_seen else "published"
        ids = [
            r[0]
            for r in db.execute(
                f"select id from papers where {window_sql(column)} "
                "and (:tags = '[]' or id in (select pt.papers_id from papers_tags pt join tags t on t.id = pt.tags_id "
                "where t.name in (select value from json_each(:tags)))) order by published desc, id",
                {**window_params(date_from, date_to), "tags": json.dumps(list(tags))},
            )
        ]
        mode = "window"
        if like:
            require_model(db.conn, like)
            ids = ranked_ids(db.conn, like, ids)[:top]
    entries = _entries(db, ids)
    if mode == "window":
        entries = _grouped(entries, tag_order)
    earlier = featured(db, [e.id for e in entries], before=issue)
    warnings = [f"{e.id} was already featured in {', '.join(earlier[e.id])}" for e in entries if e.id in earlier]
    if like and mode == "picks":
        warnings.insert(0, f"the picks for {issue} are the digest: not ranked for profile {like!r}")
    return Digest(entries, mode, warnings)


def render(digest: Digest, lang: str = "zh") -> str:
    """The markdown of the papers section, from templates/digest.md.j2."""
    if lang not in LANGS:
        raise UsageError(f"language {lang!r}: use {' or '.join(LANGS)}")
    return _environment().get_template("digest.md.j2").render(entries=digest.entries, lang=lang)


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("papertrack.newsletter", "templates"),
        autoescape=False,  # markdown, escaped by md_escape; HTML autoescaping would garble it
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )


def _entries(db: sqlite_utils.Database, ids: list[str]) -> list[Entry]:
    rows = {
        r["id"]: r
        for r in db.query(
            "select p.id, p.title, p.url, p.venue, p.summary, p.code_url, n.headline, n.summary as note_summary, "
            "n.source, n.source_url, n.code_url as note_code, "
            "(select json_group_array(t.name) from papers_tags pt join tags t on t.id = pt.tags_id "
            " where pt.papers_id = p.id) as tags "
            "from papers p left join notes n on n.papers_id = p.id where p.id in (select value from json_each(?))",
            [json.dumps(ids)],
        )
    }
    entries = []
    for pid in ids:
        r = rows[pid]
        url = r["url"] or abs_url(pid)
        code = r["note_code"] or r["code_url"]
        entries.append(
            Entry(
                id=pid,
                label=md_escape(compact(r["venue"])) or None,
                headline=md_escape(r["headline"] or r["title"]),
                source=md_escape(r["source"]) if r["source"] else "arXiv",
                link=md_url(r["source_url"] or url),
                title=md_escape(r["title"]),
                url=md_url(url),
                code=md_url(code) if code else None,
                summary_lines=_editor_text(r["note_summary"]) if r["note_summary"] else [md_escape(r["summary"])],
                tags=json.loads(r["tags"] or "[]"),
            )
        )
    return entries


def _grouped(entries: list[Entry], tag_order: Sequence[str]) -> list[Entry]:
    """Each paper once, under the first of its tags in `tag_order` (other tags after, by
    name; untagged papers last), keeping the given order inside a group."""
    rank = {t: i for i, t in enumerate(tag_order)}

    def group(e: Entry) -> tuple[int, str]:
        known = [rank[t] for t in e.tags if t in rank]
        if known:
            return min(known), ""
        return (len(rank), min(e.tags)) if e.tags else (len(rank) + 1, "")

    return sorted(entries, key=group)  # stable: the selection order stays within a group
