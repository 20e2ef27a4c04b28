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
from papertrack.newsletter.editorial import featured, issue_date, picked_ids, web_url
from papertrack.rank.scores import ranked_ids, require_model
from papertrack.store.drafts import Draft, PaperDrafts, paper_drafts

LANGS = ("zh", "en")
DRAFT_MARK = {"zh": "【草稿】", "en": "(draft) "}  # an unaccepted draft in `digest --drafts`
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
    drafts_shown: int = 0  # entries with an unaccepted draft in them, marked


def md_escape(text: str | None) -> str:
    """Text from papers (titles, abstracts) made inert in markdown: one line, and the
    characters that open links, emphasis, code, HTML or tables backslash-escaped."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join((text or "").split()))


def md_url(url: str) -> str:
    """A URL safe inside `(...)` of a markdown link."""
    return re.sub(r"[\s()<>]", lambda m: f"%{ord(m.group(0)):02X}", url.strip())


def _editor_text(text: str) -> list[str]:
    """The editor's own markdown, kept, one list item per line (the template ends each
    with two spaces); only what would break the entry (blank lines, a line starting a
    block of its own: `_BLOCK_START`) or lead anywhere but an http(s) URL (`_http_only`)
    is neutralised."""
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    return [_http_only(_inert_bullet(line)) for line in lines] or [""]


# `](` of a link or image whose destination is not an http(s) URL; `<` opening raw HTML or an
# autolink to anything else (`<4bit`, `a < b` stay); each after an even run of backslashes
_NOT_HTTP_LINK = re.compile(r"(?<!\\)((?:\\\\)*)\]\((?!\s*<?https?://)", re.IGNORECASE)
_NOT_HTTP_TAG = re.compile(r"(?<!\\)((?:\\\\)*)<(?=[a-z/!?])(?!https?://)", re.IGNORECASE)


def _http_only(line: str) -> str:
    """The editor's markdown with its links to anything but http(s) URLs (`javascript:`,
    `data:`) and its raw HTML made plain text, by a backslash."""
    return _NOT_HTTP_TAG.sub(r"\1\\<", _NOT_HTTP_LINK.sub(r"\1]\\(", line))


# where a backslash goes in a line that would start a block of its own, ending the entry's list
# item: before a bullet, a heading, a quote, a code fence or a rule; after an ordered list's
# number, before its `.` or `)` (a backslash before a digit is no escape: it would show)
_BLOCK_START = re.compile(
    r"^\s*(?:\d{1,9}(?=[.)](?:\s|$))|(?=[-*+](?:\s|$)|#{1,6}(?:\s|$)|>|```|~~~|([-*_])(?:\s*\1){2,}\s*$))"
)


def _inert_bullet(line: str) -> str:
    return _BLOCK_START.sub(lambda m: m.group(0) + "\\", line, count=1)


def _draft_text(text: str) -> list[str]:
    """A model's text: escaped like a title, but its paragraphs kept as lines."""
    return [_inert_bullet(md_escape(line)) for line in text.splitlines() if line.strip()]


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
    lang: str = "zh",
    drafts: bool = False,
) -> Digest:
    """The papers of a digest: exactly the picks of `issue` when it has any; otherwise the
    papers published (or, with `first_seen`, first harvested) from `date_from` to `date_to`
    inclusive, optionally only those with one of `tags`, grouped by tag in `tag_order`.
    With a profile (`like`) the window's papers go best first (within their tag) and
    `top` keeps the best so many. Where the editor's note has no headline or summary, an
    accepted draft in `lang` gives it; with `drafts`, else the newest draft, marked."""
    _check_lang(lang)
    if top is not None and not like:
        raise UsageError("a number of best papers needs a profile to rank them")
    issue = issue_date(issue) if issue else None
    picked = picked_ids(db, issue) if issue else []
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
    entries, shown = _entries(db, ids, lang, drafts)
    if mode == "window":
        entries = _grouped(entries, tag_order)
    earlier = featured(db, [e.id for e in entries], before=issue)
    warnings = [f"{e.id} was already featured in {', '.join(earlier[e.id])}" for e in entries if e.id in earlier]
    if like and mode == "picks":
        warnings.insert(0, f"the picks for {issue} are the digest: not ranked for profile {like!r}")
    return Digest(entries, mode, warnings, shown)


def render(digest: Digest, lang: str = "zh") -> str:
    """The markdown of the papers section, from templates/digest.md.j2."""
    _check_lang(lang)
    return _environment().get_template("digest.md.j2").render(entries=digest.entries, lang=lang)


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("papertrack.newsletter", "templates"),
        autoescape=False,  # markdown, escaped by md_escape; HTML autoescaping would garble it
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise UsageError(f"language {lang!r}: use {' or '.join(LANGS)}")


def _entries(db: sqlite_utils.Database, ids: list[str], lang: str, unaccepted: bool) -> tuple[list[Entry], int]:
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
    found = paper_drafts(db, ids, lang)
    entries, shown = [], 0
    for pid in ids:
        r = rows[pid]
        url = r["url"] or abs_url(pid)
        code = web_url(r["note_code"]) or web_url(r["code_url"])
        headline, summary, marked = _texts(r, *_draft_for(found.get(pid), unaccepted, lang))
        shown += marked
        entries.append(
            Entry(
                id=pid,
                label=md_escape(compact(r["venue"])) or None,
                headline=headline,
                source=md_escape(r["source"]) if r["source"] else "arXiv",
                link=md_url(web_url(r["source_url"]) or url),
                title=md_escape(r["title"]),
                url=md_url(url),
                code=md_url(code) if code else None,
                summary_lines=summary,
                tags=json.loads(r["tags"] or "[]"),
            )
        )
    return entries, shown


def _texts(r: dict, draft: Draft | None, mark: str) -> tuple[str, list[str], bool]:
    """An entry's headline and summary lines, each the editor's, else the draft's (with
    `mark`), else the paper's; and whether a mark was used."""
    marked = False
    if r["headline"]:
        headline = md_escape(r["headline"])
    elif draft and draft.headline:
        headline, marked = mark + md_escape(draft.headline), bool(mark)
    else:
        headline = md_escape(r["title"])
    if r["note_summary"]:
        summary = _editor_text(r["note_summary"])
    elif draft and draft.summary:
        summary = _draft_text(draft.summary) or [""]
        summary[0], marked = mark + summary[0], marked or bool(mark)
    else:
        summary = [md_escape(r["summary"])]
    return headline, summary, marked


def _draft_for(drafts: PaperDrafts | None, unaccepted: bool, lang: str) -> tuple[Draft | None, str]:
    """The draft an entry uses and its mark: the accepted one (no mark), else with
    `unaccepted` the newest (marked)."""
    if drafts is None:
        return None, ""
    if drafts.accepted is not None:
        return drafts.accepted, ""
    return (drafts.newest, DRAFT_MARK[lang]) if unaccepted else (None, "")


def _grouped(entries: list[Entry], tag_order: Sequence[str]) -> list[Entry]:
    """Each paper once, under its group (`tag_group`), keeping the given order inside a group."""
    rank = {t: i for i, t in enumerate(tag_order)}
    return sorted(entries, key=lambda e: tag_group(e.tags, rank))  # stable: the order stays within a group


def tag_group(tags: Sequence[str], rank: dict[str, int]) -> tuple[int, str]:
    """Where a paper with `tags` is grouped, as a sort key: under the first of its tags in
    the tag order (`rank`: tag -> place), else under the first of its other tags by name
    (after the ordered ones), else last (untagged: "")."""
    known = [rank[t] for t in tags if t in rank]
    if known:
        return min(known), ""
    return (len(rank), min(tags)) if tags else (len(rank) + 1, "")
