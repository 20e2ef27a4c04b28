"""Counts for the browse page: the total and the facet counts (tags, categories, venues,
years) of a selection, and the landing page's papers per tag per month.

With nothing selected the counts are read from `facet_counts` (kept by triggers). Else
the selected papers' `browse` rows are read once and grouped four ways; when more than
`FACET_CAP` papers could match, only the rows with k % S = 0 are read (a systematic
sample; S = candidates / cap), the counts are scaled and marked as estimates. A click
on a value narrows the selection, and under the cap its counts are exact again.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from dataclasses import dataclass, field

from papertrack.store.browse_search import Filters, Search, Selection, papers_count
from papertrack.store.derived import MASK_BITS

FACET_CAP = 20_000
FACETS = ("tag", "cat", "venue", "year")
TAG_VALUES = 20  # the tag facet lists more: the shipped taxonomy alone has 17 topics


@dataclass
class Counts:
    """`values[facet]`: (value, label, n), most papers first; `exact`: counted, not estimated."""

    total: int
    exact_total: bool = True
    exact: bool = True
    values: dict[str, list[tuple[int, str, int]]] = field(default_factory=dict)


def facet_counts(conn: sqlite3.Connection, sel: Selection, cap: int | None = None, size: int = 12) -> Counts:
    """Total and top-`size` facet counts of a selection (`TAG_VALUES` tags; sampled above `cap`,
    default FACET_CAP)."""
    cap = cap or FACET_CAP
    s, f = sel.search, sel.filters
    if s.nothing:
        return Counts(0, values={facet: [] for facet in FACETS})
    if not s.active and f.empty:
        return _labelled(conn, _global(conn, size))
    if not s.active and f.exclude and not f.values():
        less = _all_but(conn, f.exclude, cap, size)
        if less is not None:
            return _labelled(conn, less)
    frm, params, _, key = sel.source()
    # candidates: the FTS matches, or the smallest filter value's papers (a SQL search is counted whole)
    upper = (sel.matches or 0) if s.fts is not None else 0 if s.active else sel.driver[1]
    step = -(-upper // cap) if upper > cap else 1
    source = f"select b.k, b.cat, b.venue, b.year, b.tags {frm}" + (f" and {key} % {step} = 0" if step > 1 else "")
    many_tags = conn.execute("select coalesce(max(id), 0) > ? from tags", [MASK_BITS]).fetchone()[0]
    sql = f"""with m as materialized ({source})
      select 'cat', cat, count(*) from m group by cat
      union all select 'venue', venue, count(*) from m where venue is not null group by venue
      union all select 'year', year, count(*) from m group by year
      union all select 'mask', tags, count(*) from m group by tags"""
    if many_tags:
        sql += f" union all select 'tag', bt.tag, count(*) from m join browse_tags bt on bt.k = m.k and bt.tag > {MASK_BITS} group by bt.tag"
    counted: dict[str, Counter] = {facet: Counter() for facet in FACETS}
    seen = 0
    for facet, value, n in conn.execute(sql, params):
        if facet == "mask":
            seen += n
            for bit in range(1, MASK_BITS + 1):
                if value >> bit & 1:
                    counted["tag"][bit] += n
        elif value is not None:
            counted[facet][value] += n
    if step == 1:
        return _labelled(conn, _top(counted, seen, size))
    # an estimate: exact total when known without counting (a plain search, one filter value)
    known = sel.matches if s.fts is not None and f.empty else None
    if known is None and not s.active and len(f.values()) == 1:
        known = upper
    total = known if known is not None else seen * step
    counts = _top(counted, total, size, scale=total / seen if seen else step)
    counts.exact, counts.exact_total = False, known is not None
    return _labelled(conn, counts)


def _top(counted: dict[str, Counter], total: int, size: int, scale: float = 1.0) -> Counts:
    values = {
        facet: [(v, "", round(n * scale)) for v, n in c.most_common(_size(facet, size))] for facet, c in counted.items()
    }
    return Counts(total, values=values)


def _all_but(conn: sqlite3.Connection, exclude: str, cap: int, size: int) -> Counts | None:
    """Every paper's counts less those of the excluded papers (muted words): exact, and
    cheap while the excluded are few; None when they are more than `cap`."""
    n = conn.execute("select count(*) from papers_fts where papers_fts match ?", [exclude]).fetchone()[0]
    if n > cap:
        return None
    every = 10**6  # every value of every facet
    whole, less = (
        _global(conn, every),
        facet_counts(conn, Selection(Search(fts=exclude), Filters(), n, ("t", papers_count(conn), 0)), cap, size=every),
    )
    values = {}
    for facet in FACETS:
        minus = {v: k for v, _, k in less.values.get(facet, [])}
        kept = [(v, "", k - minus.get(v, 0)) for v, _, k in whole.values.get(facet, [])]
        values[facet] = sorted((x for x in kept if x[2] > 0), key=lambda x: -x[2])[:size]
    return Counts(whole.total - less.total, values=values)


def _size(facet: str, size: int) -> int:
    return max(size, TAG_VALUES) if facet == "tag" else size


def _global(conn: sqlite3.Connection, size: int) -> Counts:
    values = {
        facet: [
            (v, "", n)
            for v, n in conn.execute(
                "select value, n from facet_counts where facet = ? and value != -1 and n > 0 order by n desc limit ?",
                [facet, _size(facet, size)],
            )
        ]
        for facet in FACETS
    }
    return Counts(papers_count(conn), values=values)


def _labelled(conn: sqlite3.Connection, counts: Counts) -> Counts:
    """Names for the ids: tag names, category and venue strings."""
    ids = sorted({v for facet in ("cat", "venue") for v, _, _ in counts.values.get(facet, [])})
    names = dict(
        conn.execute("select id, value from browse_values where id in (select value from json_each(?))", [json.dumps(ids)])
    )
    tags = sorted(v for v, _, _ in counts.values.get("tag", []))
    tag_names = dict(
        conn.execute("select id, name from tags where id in (select value from json_each(?))", [json.dumps(tags)])
    )
    for facet, labels in (("tag", tag_names), ("cat", names), ("venue", names)):
        counts.values[facet] = [(v, labels.get(v, str(v)), n) for v, _, n in counts.values.get(facet, []) if v in labels]
    counts.values["year"] = [(v, str(v), n) for v, _, n in counts.values.get("year", [])]
    return counts


def tag_months(conn: sqlite3.Connection, months: int = 24) -> tuple[list[str], dict[str, list[int]]]:
    """Papers per tag per month for the `months` months up to the newest submission
    (from `tag_months`: tags x months rows, whatever the database's size): the months
    ('YYYY-MM', oldest first) and each tag's counts in that order."""
    newest = conn.execute("select max(t) from browse").fetchone()[0]
    if not newest:
        return [], {}
    first = conn.execute(
        f"select strftime('%Y-%m', ?, 'unixepoch', 'start of month', '-{months - 1} months')", [newest]
    ).fetchone()[0]
    axis = [
        r[0]
        for r in conn.execute(
            "with recursive m(d, i) as (select date(? || '-01'), 0 union all select date(d, '+1 month'), i + 1 from m "
            "where i < ?) select strftime('%Y-%m', d) from m",
            [first, months - 1],
        )
    ]
    series: dict[str, list[int]] = {}
    for name, month, n in conn.execute(
        "select t.name, tm.month, tm.n from tag_months tm join tags t on t.id = tm.tag where tm.month between ? and ? and tm.n > 0",
        [axis[0], axis[-1]],
    ):
        series.setdefault(name, [0] * len(axis))[axis.index(month)] = n
    return axis, series
