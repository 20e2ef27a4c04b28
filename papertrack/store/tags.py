"""Tags: what a paper carries, manual tags (`tag`, `untag`) and re-applying the taxonomy (`retag`).

A paper's tags come from three sources (`refresh_tags`): the saved queries that found it,
the taxonomy, and the editor's decisions in `tag_edits`, which are applied last and so
survive every harvest and retag.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlite_utils

from papertrack.config import Config
from papertrack.enrich.taxonomy import Taxonomy
from papertrack.errors import UsageError
from papertrack.models import now_iso
from papertrack.store.identity import resolve_id
from papertrack.store.runs import sync_queries
from papertrack.store.schema import ids_json, transaction

RETAG_BATCH = 2000


def refresh_tags(
    db: sqlite_utils.Database, ids: Sequence[str], taxonomy_hits: dict[str, dict[str, str]] | None = None
) -> None:
    """Rewrite the tags of `ids` as: query tags + taxonomy tags + manual adds - manual removes.

    `taxonomy_hits` gives freshly computed taxonomy tags ({id: {tag: evidence}}); for ids
    not in it the taxonomy tags already stored are kept.
    """
    if not ids:
        return
    taxonomy_hits = taxonomy_hits or {}
    links: dict[str, dict[str, list]] = defaultdict(dict)  # id -> tag -> [origins, evidence]

    def add(pid: str, tag: str, origin: str, evidence: str | None = None) -> None:
        entry = links[pid].setdefault(tag, [[], None])
        if origin not in entry[0]:
            entry[0].append(origin)
        entry[1] = evidence or entry[1]

    ids_param = ids_json(ids)
    for pid, tags in db.execute(
        "select pq.papers_id, q.tags from papers_queries pq join queries q on q.id = pq.queries_id "
        "where pq.papers_id in (select value from json_each(?))",
        [ids_param],
    ):
        for tag in json.loads(tags or "[]"):
            add(pid, tag, "query")
    for pid, tag, evidence in db.execute(
        "select pt.papers_id, t.name, pt.evidence from papers_tags pt join tags t on t.id = pt.tags_id "
        "where pt.papers_id in (select value from json_each(?)) and pt.origin like '%taxonomy%'",
        [ids_param],
    ):
        if pid not in taxonomy_hits:
            add(pid, tag, "taxonomy", evidence)
    for pid, hits in taxonomy_hits.items():
        for tag, evidence in hits.items():
            add(pid, tag, "taxonomy", evidence)
    for pid, tag, action in db.execute(
        "select papers_id, tag, action from tag_edits where papers_id in (select value from json_each(?))", [ids_param]
    ):
        if action == "remove":
            links[pid].pop(tag, None)
        else:
            add(pid, tag, "manual")
    names = sorted({t for tags in links.values() for t in tags})
    db.conn.executemany("insert or ignore into tags (name) values (?)", [(n,) for n in names])
    tag_ids = dict(db.execute("select name, id from tags where name in (select value from json_each(?))", [ids_json(names)]))
    order = ("query", "taxonomy", "manual")
    wanted = {
        (pid, tag_ids[tag]): (",".join(sorted(origins, key=order.index)), evidence)
        for pid, tags in links.items()
        for tag, (origins, evidence) in tags.items()
    }
    # write only the links that change: every write fires the browse tables' triggers
    stored = {
        (pid, tid): (origin, evidence)
        for pid, tid, origin, evidence in db.execute(
            "select papers_id, tags_id, origin, evidence from papers_tags where papers_id in (select value from json_each(?))",
            [ids_param],
        )
    }
    db.conn.executemany(
        "delete from papers_tags where papers_id = ? and tags_id = ?", [key for key in stored if key not in wanted]
    )
    db.conn.executemany(
        "update papers_tags set origin = ?, evidence = ? where papers_id = ? and tags_id = ?",
        [(*value, *key) for key, value in wanted.items() if key in stored and stored[key] != value],
    )
    db.conn.executemany(
        "insert into papers_tags (papers_id, tags_id, origin, evidence) values (?, ?, ?, ?)",
        [(*key, *value) for key, value in wanted.items() if key not in stored],
    )


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
    pid = resolve_id(db, paper)
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


def taxonomy_tags(db: sqlite_utils.Database) -> list[str]:
    """The tags the taxonomy gave some paper: the topics (read from the database, so that
    what `rank` computes does not depend on which queries.yaml is at hand)."""
    return [
        r[0]
        for r in db.execute(
            "select t.name from tags t where exists (select 1 from papers_tags pt "
            "where pt.tags_id = t.id and instr(pt.origin, 'taxonomy')) order by t.name"
        )
    ]


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
