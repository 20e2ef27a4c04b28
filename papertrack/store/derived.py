"""Tables the browse page reads, derived from `papers` and `papers_tags` and kept current
by triggers (described here as data; `schema.ensure_schema` creates and migrates them).

* `browse`: one narrow row per paper keyed by `papers.rowid` (= `papers_fts.rowid`): the
  sort key and every facet key as small integers (about 25 bytes, where a `papers` row
  is 2-3 KB), so lists, filters and counts never read `papers`.
* `browse_tags` (a tag's papers, newest first), `browse_cats` (every listed category,
  for arXiv's `cat:`), `browse_values` (ids of category and venue strings),
  `facet_counts` (whole-database counts) and `tag_months` (the landing page's chart).

The triggers make every write path (harvests, imports, merges, tag edits, plain SQL)
keep them right. The definitions are checked on every open: when any table, index or
trigger is missing or differs from this module, `rebuild` drops and refills them all
(1.4 s for 100,000 papers, 24 s for 1,000,000). A bulk load of new papers may instead run inside
`new_papers_only`, which drops the triggers for the rest of its transaction and fills
the new rows in a few set-based statements: a killed load rolls back with its papers.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import sqlite_utils

MASK_BITS = 62  # tag ids 1..62 are bits of browse.tags; larger ids are found through browse_tags
_TIME = "coalesce(cast(strftime('%s', {0}) as integer), 0)"  # an ISO date as Unix seconds, 0 when unknown

TABLES: dict[str, dict] = {
    "browse": {
        "doc": "Browse page: one narrow row per paper, keyed like the search index.",
        "pk": "k",
        "columns": {
            "k": (int, "papers.rowid (also papers_fts.rowid)"),
            "t": (int, "Submission date (published) in Unix seconds, 0 when unknown"),
            "cat": (int, "Primary category (browse_values id)"),
            "venue": (int, "Venue (browse_values id)"),
            "year": (int, "Year, as papers.year"),
            "tags": (int, f"Bit mask of the paper's tags: 1 << tags.id for tag ids 1 to {MASK_BITS}"),
        },
        "not_null": ("t", "tags"),
    },
    "browse_tags": {
        "doc": "Browse page: tag links by tag and date (a tag's papers newest first).",
        "pk": ("tag", "t", "k"),
        "columns": {"tag": (int, "tags.id"), "t": (int, "browse.t of the paper"), "k": (int, "browse.k")},
        "not_null": ("tag", "t", "k"),
        "without_rowid": True,
    },
    "browse_cats": {
        "doc": "Browse page: every category a paper lists, for arXiv's cat: searches.",
        "pk": ("cat", "k"),
        "columns": {"cat": (int, "Category (browse_values id)"), "k": (int, "browse.k")},
        "not_null": ("cat", "k"),
        "without_rowid": True,
    },
    "browse_values": {
        "doc": "Browse page: ids of category and venue names.",
        "pk": "id",
        "columns": {"id": (int, "Id"), "facet": (str, "cat or venue"), "value": (str, "The name")},
        "not_null": ("facet", "value"),
        "unique": ("facet", "value"),
    },
    "facet_counts": {
        "doc": "Browse page: papers per tag, category, venue and year in the whole database.",
        "pk": ("facet", "value"),
        "columns": {
            "facet": (str, "tag, cat, venue or year"),
            "value": (int, "tags.id, browse_values id or year; -1 for none"),
            "n": (int, "Papers"),
        },
        "not_null": ("facet", "value", "n"),
        "without_rowid": True,
    },
    "tag_months": {
        "doc": "Browse page: papers per tag per month of submission (the landing page's chart).",
        "pk": ("tag", "month"),
        "columns": {"tag": (int, "tags.id"), "month": (str, "YYYY-MM"), "n": (int, "Papers")},
        "not_null": ("tag", "month", "n"),
        "without_rowid": True,
    },
}

INDEXES = [
    ("browse", ("t",)),  # (t, k): newest first, keyset paging
    ("browse", ("cat", "t")),
    ("browse", ("venue", "t")),
    ("browse", ("year", "t")),
    ("browse_tags", ("k", "tag")),  # a paper's tags; deletes
]

_VALUES = """
  INSERT OR IGNORE INTO browse_values (facet, value) SELECT 'cat', new.primary_category WHERE new.primary_category IS NOT NULL;
  INSERT OR IGNORE INTO browse_values (facet, value) SELECT 'venue', new.venue WHERE new.venue IS NOT NULL;"""
_KEYS = (
    _TIME.format("new.published"),
    "(SELECT id FROM browse_values WHERE facet = 'cat' AND value = new.primary_category)",
    "(SELECT id FROM browse_values WHERE facet = 'venue' AND value = new.venue)",
    "new.year",
)
_CATS = """
  INSERT OR IGNORE INTO browse_values (facet, value) SELECT 'cat', value FROM json_each({0});
  INSERT OR IGNORE INTO browse_cats (cat, k)
    SELECT v.id, new.rowid FROM json_each({0}) j CROSS JOIN browse_values v ON v.facet = 'cat' AND v.value = j.value;""".format(
    "CASE WHEN json_valid(new.categories) THEN new.categories ELSE '[]' END"
)
# a paper's browse_cats rows, found through the primary key (cat, k) for each category id
_DELETE_CATS = "DELETE FROM browse_cats WHERE k = old.rowid AND cat IN (SELECT id FROM browse_values WHERE facet = 'cat');"
_PAPER_K = "(SELECT rowid FROM papers WHERE id = {0}.papers_id)"


def _counts(row: str, sign: int) -> str:
    # an upsert: decrementing with a row-value IN (...) would make SQLite scan the table
    return (
        "INSERT INTO facet_counts (facet, value, n) VALUES "
        + ", ".join(f"('{f}', coalesce({row}.{f}, -1), {sign})" for f in ("cat", "venue", "year"))
        + " ON CONFLICT (facet, value) DO UPDATE SET n = n + excluded.n;"
    )


def _month(row: str) -> str:
    return f"strftime('%Y-%m', {row}.t, 'unixepoch')"


TRIGGERS: dict[str, str] = {
    "browse_papers_ai": f"""AFTER INSERT ON papers BEGIN{_VALUES}
  INSERT INTO browse (k, t, cat, venue, year, tags) VALUES (new.rowid, {", ".join(_KEYS)}, 0);{_CATS}
END""",
    "browse_papers_au": f"""AFTER UPDATE OF published, primary_category, venue, year ON papers BEGIN{_VALUES}
  UPDATE browse SET (t, cat, venue, year) = ({", ".join(_KEYS)})
    WHERE k = new.rowid AND (t, cat, venue, year) IS NOT ({", ".join(_KEYS)});
END""",
    "browse_papers_cats_au": f"""AFTER UPDATE OF categories ON papers WHEN new.categories IS NOT old.categories BEGIN
  {_DELETE_CATS}{_CATS}
END""",
    "browse_papers_ad": f"""AFTER DELETE ON papers BEGIN
  DELETE FROM browse WHERE k = old.rowid;
  {_DELETE_CATS}
END""",
    "browse_links_ai": f"""AFTER INSERT ON papers_tags BEGIN
  INSERT OR IGNORE INTO browse_tags (tag, t, k) SELECT new.tags_id, t, k FROM browse WHERE k = {_PAPER_K.format("new")};
END""",
    "browse_links_ad": f"""AFTER DELETE ON papers_tags BEGIN
  DELETE FROM browse_tags WHERE k = {_PAPER_K.format("old")} AND tag = old.tags_id;
END""",
    "browse_links_au": f"""AFTER UPDATE OF papers_id, tags_id ON papers_tags BEGIN
  DELETE FROM browse_tags WHERE k = {_PAPER_K.format("old")} AND tag = old.tags_id;
  INSERT OR IGNORE INTO browse_tags (tag, t, k) SELECT new.tags_id, t, k FROM browse WHERE k = {_PAPER_K.format("new")};
END""",
    "browse_tags_ai": f"""AFTER INSERT ON browse_tags BEGIN
  UPDATE browse SET tags = tags | (1 << new.tag) WHERE k = new.k AND new.tag BETWEEN 1 AND {MASK_BITS};
  INSERT INTO facet_counts (facet, value, n) VALUES ('tag', new.tag, 1) ON CONFLICT (facet, value) DO UPDATE SET n = n + 1;
  INSERT INTO tag_months (tag, month, n) SELECT new.tag, {_month("new")}, 1 WHERE new.t > 0
    ON CONFLICT (tag, month) DO UPDATE SET n = n + 1;
END""",
    "browse_tags_ad": f"""AFTER DELETE ON browse_tags BEGIN
  UPDATE browse SET tags = tags & ~(1 << old.tag) WHERE k = old.k AND old.tag BETWEEN 1 AND {MASK_BITS};
  UPDATE facet_counts SET n = n - 1 WHERE facet = 'tag' AND value = old.tag;
  UPDATE tag_months SET n = n - 1 WHERE old.t > 0 AND tag = old.tag AND month = {_month("old")};
END""",
    "browse_tags_au": f"""AFTER UPDATE OF t ON browse_tags BEGIN
  UPDATE tag_months SET n = n - 1 WHERE old.t > 0 AND tag = old.tag AND month = {_month("old")};
  INSERT INTO tag_months (tag, month, n) SELECT new.tag, {_month("new")}, 1 WHERE new.t > 0
    ON CONFLICT (tag, month) DO UPDATE SET n = n + 1;
END""",
    "browse_ai": f"""AFTER INSERT ON browse BEGIN
  {_counts("new", 1)}
END""",
    "browse_au": f"""AFTER UPDATE OF t, cat, venue, year ON browse BEGIN
  {_counts("old", -1)}
  {_counts("new", 1)}
  UPDATE browse_tags SET t = new.t WHERE k = new.k AND new.t IS NOT old.t;
END""",
    "browse_ad": f"""AFTER DELETE ON browse BEGIN
  {_counts("old", -1)}
  DELETE FROM browse_tags WHERE k = old.k;
END""",
}

# Fill the tables for the papers with rowid > ?1 (all of them for 0), set-based: what the
# triggers do row by row. Upserts, so counts add to what is already there. CROSS JOIN
# keeps the papers outermost (SQLite would otherwise scan browse_values for each paper).
_FILL = [
    """INSERT OR IGNORE INTO browse_values (facet, value)
  SELECT DISTINCT 'cat', primary_category FROM papers WHERE rowid > ?1 AND primary_category IS NOT NULL""",
    """INSERT OR IGNORE INTO browse_values (facet, value)
  SELECT DISTINCT 'venue', venue FROM papers WHERE rowid > ?1 AND venue IS NOT NULL""",
    """INSERT OR IGNORE INTO browse_values (facet, value)
  SELECT DISTINCT 'cat', j.value FROM papers p, json_each(p.categories) j WHERE p.rowid > ?1 AND json_valid(p.categories)""",
    f"""INSERT INTO browse (k, t, cat, venue, year, tags)
  SELECT p.rowid, {_TIME.format("p.published")}, c.id, v.id, p.year, 0 FROM papers p
  LEFT JOIN browse_values c ON c.facet = 'cat' AND c.value = p.primary_category
  LEFT JOIN browse_values v ON v.facet = 'venue' AND v.value = p.venue
  WHERE p.rowid > ?1 ORDER BY p.rowid""",
    """INSERT OR IGNORE INTO browse_cats (cat, k)
  SELECT v.id, p.rowid FROM papers p CROSS JOIN json_each(p.categories) j CROSS JOIN browse_values v
    ON v.facet = 'cat' AND v.value = j.value
  WHERE p.rowid > ?1 AND json_valid(p.categories)""",
    """INSERT OR IGNORE INTO browse_tags (tag, t, k)
  SELECT pt.tags_id, b.t, b.k FROM papers p CROSS JOIN papers_tags pt ON pt.papers_id = p.id CROSS JOIN browse b ON b.k = p.rowid
  WHERE p.rowid > ?1""",
    f"""UPDATE browse SET tags = m.mask FROM (SELECT k, sum(1 << tag) AS mask FROM browse_tags
  WHERE k > ?1 AND tag BETWEEN 1 AND {MASK_BITS} GROUP BY k) AS m WHERE m.k = browse.k""",
    *(
        f"""INSERT INTO facet_counts (facet, value, n) SELECT '{f}', coalesce({f}, -1), count(*) FROM browse
  WHERE k > ?1 GROUP BY 2 ON CONFLICT (facet, value) DO UPDATE SET n = n + excluded.n"""
        for f in ("cat", "venue", "year")
    ),
    """INSERT INTO facet_counts (facet, value, n) SELECT 'tag', tag, count(*) FROM browse_tags
  WHERE k > ?1 GROUP BY tag ON CONFLICT (facet, value) DO UPDATE SET n = n + excluded.n""",
    f"""INSERT INTO tag_months (tag, month, n) SELECT tag, {_month("browse_tags")} AS m, count(*) FROM browse_tags
  WHERE k > ?1 AND t > 0 GROUP BY tag, m ON CONFLICT (tag, month) DO UPDATE SET n = n + excluded.n""",
]


def _table_sql(name: str, spec: dict) -> str:
    not_null = spec.get("not_null", ())
    pk = spec["pk"]
    lines = []
    for col, (kind, _) in spec["columns"].items():
        sql = f"{col} {'INTEGER' if kind is int else 'TEXT'}"
        if col == pk:
            sql += " PRIMARY KEY"
        elif col in not_null:
            sql += " NOT NULL"
        lines.append(sql)
    if isinstance(pk, tuple):
        lines.append(f"PRIMARY KEY ({', '.join(pk)})")
    if spec.get("unique"):
        lines.append(f"UNIQUE ({', '.join(spec['unique'])})")
    return (
        f"CREATE TABLE {name} (\n  " + ",\n  ".join(lines) + "\n)" + (" WITHOUT ROWID" if spec.get("without_rowid") else "")
    )


def _index_name(table: str, cols: tuple[str, ...]) -> str:
    return "_".join((table, *cols))


def definitions() -> dict[str, str]:
    """Every table, index and trigger by name, as SQLite stores its definition."""
    out = {name: _table_sql(name, spec) for name, spec in TABLES.items()}
    out.update({_index_name(t, c): f"CREATE INDEX {_index_name(t, c)} ON {t} ({', '.join(c)})" for t, c in INDEXES})
    out.update(_trigger_sql())
    return out


def _trigger_sql() -> dict[str, str]:
    return {name: f"CREATE TRIGGER {name} {body}" for name, body in TRIGGERS.items()}


def is_current(db: sqlite_utils.Database | sqlite3.Connection) -> bool:
    """Whether every derived table, index and trigger exists exactly as defined here (and
    no trigger of an older definition is left)."""
    expected = definitions()
    found = dict(
        db.execute(
            "select name, sql from sqlite_master where name in (select value from json_each(?)) "
            "or (type = 'trigger' and name like 'browse%')",
            [json.dumps(sorted(expected))],
        ).fetchall()
    )
    return found == expected


def rebuild(db: sqlite_utils.Database) -> None:
    """Drop and recreate every derived table and trigger, filled from papers and papers_tags.
    Runs inside the caller's transaction."""
    for (name,) in db.execute("select name from sqlite_master where type = 'trigger' and name like 'browse%'").fetchall():
        db.execute(f"DROP TRIGGER [{name}]")
    for name in TABLES:
        db.execute(f"DROP TABLE IF EXISTS [{name}]")
    for name, sql in definitions().items():
        if name not in TRIGGERS:
            db.execute(sql)
    fill(db, since=0)
    for sql in _trigger_sql().values():
        db.execute(sql)


def fill(db: sqlite_utils.Database, since: int) -> None:
    """Add the rows of the papers with rowid > `since` (and their tag links) to the derived
    tables, set-based; they must not be there yet."""
    for sql in _FILL:
        db.execute(sql, [since])


@contextmanager
def new_papers_only(db: sqlite_utils.Database) -> Iterator[None]:
    """Inside the caller's transaction: drop the triggers, let the caller insert new papers
    and the tag links of those new papers only (nothing else may change), then fill their
    rows set-based and restore the triggers. An exception leaves it to the caller's
    rollback, which restores the triggers with everything else."""
    since = db.execute("select coalesce(max(rowid), 0) from papers").fetchone()[0]
    for name in TRIGGERS:
        db.execute(f"DROP TRIGGER [{name}]")
    yield
    fill(db, since)
    for sql in _trigger_sql().values():
        db.execute(sql)
