"""Reading profile scores back: a window's candidates best first, scores of given papers,
papers ordered by a profile (also as the browse page's `sort=like:TAG`). Plain SQL on `scores` (no numpy): for commands, digests and
Datasette pages alike; every function takes a sqlite3 connection (`db.conn` of a
sqlite-utils database).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from papertrack.errors import UsageError
from papertrack.models import window_params, window_sql
from papertrack.store.browse import Cursor, Sort
from papertrack.store.browse_search import Selection

PICKS = "picks"  # the profile of every paper ever picked for an issue


@dataclass
class Candidate:
    id: str
    title: str
    published: str | None
    venue: str | None
    url: str | None
    score: float
    why: list[str]
    tags: list[str]

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("id", "title", "published", "venue", "tags", "score", "why", "url")}


def require_model(conn: sqlite3.Connection, profile: str) -> None:
    """UsageError unless the profile has been ranked (its scores exist)."""
    if conn.execute("select 1 from rank_models where profile = ?", [profile]).fetchone():
        return
    if profile != PICKS and not conn.execute("select 1 from tags where name = ?", [profile]).fetchone():
        raise UsageError(f"no tag {profile!r} in the database (a profile is a tag, or {PICKS})")
    raise UsageError(f"profile {profile!r} has not been ranked yet: no model, no scores")


def candidates(
    conn: sqlite3.Connection,
    profile: str,
    date_from: str | dt.date | None = None,
    date_to: str | dt.date | None = None,
    tags: Sequence[str] = (),
    limit: int | None = 30,
) -> list[Candidate]:
    """The papers first submitted in the window (both days included; open-ended when a
    day is missing), with one of `tags` if given, best first for `profile`."""
    require_model(conn, profile)
    rows = conn.execute(
        f"""select p.id, p.title, p.published, p.venue, p.url, s.score, s.why,
             (select json_group_array(name) from (select t.name from papers_tags pt join tags t on t.id = pt.tags_id
              where pt.papers_id = p.id order by t.name)) as tags
           from scores s join papers p on p.id = s.papers_id
           where s.profile = :profile
             and {window_sql("p.published") if date_from or date_to else "1"}
             and (:tags = '[]' or p.id in (select pt.papers_id from papers_tags pt join tags t on t.id = pt.tags_id
                                          where t.name in (select value from json_each(:tags))))
           order by s.score desc, p.published desc, p.id desc
           limit :limit""",
        {
            "profile": profile,
            **window_params(date_from, date_to),
            "tags": json.dumps(list(tags)),
            "limit": -1 if limit is None else limit,
        },
    )
    return [Candidate(r[0], r[1] or "", r[2], r[3], r[4], r[5], json.loads(r[6] or "[]"), json.loads(r[7])) for r in rows]


def scores_for(conn: sqlite3.Connection, profile: str, ids: Sequence[str]) -> dict[str, tuple[float, list[str]]]:
    """{paper id: (score, why)} for those of `ids` the profile has scored."""
    return {
        r[0]: (r[1], json.loads(r[2] or "[]"))
        for r in conn.execute(
            "select papers_id, score, why from scores where profile = ? and papers_id in (select value from json_each(?))",
            [profile, json.dumps(list(ids))],
        )
    }


def ranked_ids(conn: sqlite3.Connection, profile: str, ids: Sequence[str]) -> list[str]:
    """`ids` best first for `profile`; papers without a score keep their order, last."""
    scores = scores_for(conn, profile, ids)
    return sorted(ids, key=lambda pid: (pid not in scores, -scores[pid][0] if pid in scores else 0.0))


def ranked_profiles(conn: sqlite3.Connection) -> list[str]:
    """The profiles that have a model (and so scores), by name."""
    return [r[0] for r in conn.execute("select profile from rank_models order by profile")]


def _like_keys(conn: sqlite3.Connection, sel: Selection, profile: str | None, after: Cursor | None, limit: int) -> list:
    """The browse page's keys best first for `profile` (sort value: minus the score);
    papers the profile has not scored are left out."""
    if not profile:
        raise UsageError("sort 'like' needs a profile: like:TAG")
    require_model(conn, profile)
    if sel.search.fts is None and sel.search.cond is None and not sel.filters.conditions()[0]:
        # nothing selected: walk the scores index (profile, score) best first
        sql = (
            "select p.rowid, -s.score from scores s join papers p on p.id = s.papers_id where s.profile = ?"
            + (" and (s.score < ? or (s.score = ? and p.rowid > ?))" if after is not None else "")
            + " order by s.score desc, p.rowid limit ?"
        )
        cursor = [-after[0], -after[0], after[1]] if after is not None else []
        return conn.execute(sql, [profile, *cursor, limit]).fetchall()
    frm, params, alias, _ = sel.source()
    sql = (
        f"select x.k, -s.score as v from (select {alias}.k as k {frm}) x "
        "join papers p on p.rowid = x.k join scores s on s.papers_id = p.id and s.profile = ?"
    )
    params = [*params, profile]
    if after is not None:
        sql += " where (-s.score, x.k) > (?, ?)"
        params += [after[0], after[1]]
    return conn.execute(sql + " order by v, x.k limit ?", [*params, limit]).fetchall()


LIKE = Sort("like", "like a profile", _like_keys)  # the browse page registers it (`web.browse`)
