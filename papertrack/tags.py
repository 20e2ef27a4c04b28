"""Tag editing: manual tags (`tag`, `untag`) and re-applying the taxonomy (`retag`).

A paper's tags come from three sources (store.refresh_tags): the saved queries that found
it, the taxonomy, and the editor's decisions in `tag_edits`, which are applied last and so
survive every harvest and retag.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlite_utils

from .config import Config
from .enrich.tags import Taxonomy
from .errors import UsageError
from .models import arxiv_id, now_iso
from .schema import transaction
from .store import refresh_tags, sync_queries

RETAG_BATCH = 2000


def paper_id(db: sqlite_utils.Database, text: str) -> str:
    """The stored paper a command-line id names (`1909.04977`, `arXiv:1909.04977v2`, an abs
    URL, `dblp:...`); UsageError when there is none."""
    candidate = arxiv_id(text) or text.strip()
    if not db.execute("select 1 from papers where id = ?", [candidate]).fetchone():
        raise UsageError(f"no paper {text!r} in the database")
    return candidate


def paper_ids(db: sqlite_utils.Database, texts: Iterable[str]) -> list[str]:
    """`paper_id` for each, all checked before anything is written."""
    return list(dict.fromkeys(paper_id(db, t) for t in texts))


def tag(db: sqlite_utils.Database, paper: str, tags: Iterable[str]) -> list[str]:
    """Add manual tags to a paper; returns its tags afterwards."""
    return _edit(db, paper, tags, "add")


def untag(db: sqlite_utils.Database, paper: str, tags: Iterable[str]) -> list[str]:
    """Remove tags from a paper for good: queries and taxonomy will not give them back."""
    return _edit(db, paper, tags, "remove")


def _edit(db: sqlite_utils.Database, paper: str, tags: Iterable[str], action: str) -> list[str]:
    names = [t.strip() for t in tags if t.strip()]
    if not names:
        raise UsageError("give at least one tag")
    pid = paper_id(db, paper)
    with transaction(db):
        record_edits(db, [pid], names, action)
    return paper_tags(db, pid)


def record_edits(db: sqlite_utils.Database, ids: Iterable[str], names: Iterable[str], action: str) -> None:
    """Record the editor's decision (`add` or `remove`) on these tags of these papers in
    `tag_edits`, where every later harvest and retag applies it, and apply it now."""
    ids, names, at = list(dict.fromkeys(ids)), list(names), now_iso()
    db.conn.executemany(
        "insert into tag_edits (papers_id, tag, action, at) values (?, ?, ?, ?) "
        "on conflict (papers_id, tag) do update set action = excluded.action, at = excluded.at",
        [(pid, name, action, at) for pid in ids for name in names],
    )
    refresh_tags(db, ids)


def paper_tags(db: sqlite_utils.Database, pid: str) -> list[str]:
    return [
        r[0]
        for r in db.execute(
            "select t.name from papers_tags pt join tags t on t.id = pt.tags_id where pt.papers_id = ? order by t.name",
            [pid],
        )
    ]


@dataclass
class RetagReport:
    papers: int
    added: int  # (paper, tag) links that appeared
    removed: int  # and those that went away
    per_tag: dict[str, int]  # tag -> papers now carrying it


def retag(db: sqlite_utils.Database, config: Config, batch: int = RETAG_BATCH) -> RetagReport:
    """Re-apply the saved queries' tags and the taxonomy to every stored paper (manual
    decisions stay), one transaction per batch of papers."""
    sync_queries(db, config.queries)
    taxonomy = Taxonomy(config.taxonomy)
    before = _links(db)
    last, papers = "", 0
    while True:
        rows = db.execute(
            "select id, title, abstract from papers where id > ? order by id limit ?", [last, batch]
        ).fetchall()
        if not rows:
            break
        with transaction(db):
            refresh_tags(db, [r[0] for r in rows], {r[0]: taxonomy.match(r[1] or "", r[2] or "") for r in rows})
        papers += len(rows)
        last = rows[-1][0]
    after = _links(db)
    per_tag: dict[str, int] = {}
    for _, name in after:
        per_tag[name] = per_tag.get(name, 0) + 1
    return RetagReport(papers, len(after - before), len(before - after), dict(sorted(per_tag.items())))


def _links(db: sqlite_utils.Database) -> set[tuple[str, str]]:
    return set(db.execute("select pt.papers_id, t.name from papers_tags pt join tags t on t.id = pt.tags_id"))
