"""What a user keeps: library entries (save, like, dislike), muted phrases and saved
searches. Plain sqlite3 connections to the library database; writers expect the caller's
transaction, and each bumps the user's `library_version` (the ranking refits when it moves).

A like and a dislike of one paper exclude each other, and a dislike takes a paper out of
the saved ones: the profile's positives (saved or liked) and negatives (disliked) never
overlap. Paper ids are stored as the papers database holds them (`store.ids` resolves
what a user typed before it gets here).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from papertrack.errors import UsageError
from papertrack.models import now_iso
from papertrack.store.schema import ids_json

ACTIONS = ("save", "unsave", "like", "dislike", "clear")
KINDS = ("save", "like", "dislike")  # what a stored entry says
# action -> (kinds it removes, kind it adds)
_EFFECT: dict[str, tuple[tuple[str, ...], str | None]] = {
    "save": (("dislike",), "save"),
    "unsave": (("save",), None),
    "like": (("dislike",), "like"),
    "dislike": (("like", "save"), "dislike"),
    "clear": (KINDS, None),
}
MAX_MUTED = 50
MAX_SEARCHES = 50
MAX_PHRASE = 80  # characters of a muted phrase
MAX_SEARCH_NAME = 100
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Entry:
    paper: str
    action: str
    at: str

    def as_dict(self) -> dict:
        return {"paper": self.paper, "action": self.action, "when": self.at}


def check_action(action: str) -> str:
    if action not in ACTIONS:
        raise UsageError(f"action {action[:40]!r} is not one of {', '.join(ACTIONS)}")
    return action


def apply(conn: sqlite3.Connection, user_id: int, paper: str, action: str) -> None:
    """Record `action` on a paper for the user (see the module docstring)."""
    removes, adds = _EFFECT[check_action(action)]
    conn.execute(
        f"delete from library where user_id = ? and paper = ? and action in ({', '.join('?' * len(removes))})",
        [user_id, paper, *removes],
    )
    if adds:
        conn.execute(
            "insert into library (user_id, paper, action, at) values (?, ?, ?, ?) "
            "on conflict (user_id, paper, action) do nothing",
            [user_id, paper, adds, now_iso()],
        )
    touch(conn, user_id)


def save_all(conn: sqlite3.Connection, user_id: int, papers: Sequence[str]) -> int:
    """Save these papers (an imported library); how many were not saved before."""
    before = conn.total_changes
    now = now_iso()
    conn.executemany(
        "insert into library (user_id, paper, action, at) values (?, ?, 'save', ?) on conflict do nothing",
        [(user_id, p, now) for p in dict.fromkeys(papers)],
    )
    added = conn.total_changes - before
    conn.execute(
        "delete from library where user_id = ? and action = 'dislike' and paper in "
        "(select paper from library where user_id = ? and action = 'save')",
        [user_id, user_id],
    )
    touch(conn, user_id)
    return added


def touch(conn: sqlite3.Connection, user_id: int) -> None:
    conn.execute("update users set library_version = library_version + 1 where id = ?", [user_id])


def entries(conn: sqlite3.Connection, user_id: int) -> list[Entry]:
    """The user's entries, newest first."""
    rows = conn.execute("select paper, action, at from library where user_id = ? order by at desc, paper, action", [user_id])
    return [Entry(*r) for r in rows]


def states(conn: sqlite3.Connection, user_id: int, papers: Sequence[str]) -> dict[str, set[str]]:
    """{paper: the kinds recorded} for those of `papers` the user has entries for."""
    out: dict[str, set[str]] = {}
    for paper, action in conn.execute(
        "select paper, action from library where user_id = ? and paper in (select value from json_each(?))",
        [user_id, ids_json(papers)],
    ):
        out.setdefault(paper, set()).add(action)
    return out


def profile(conn: sqlite3.Connection, user_id: int) -> tuple[list[str], list[str]]:
    """(positives: saved or liked, negatives: disliked), sorted."""
    pos: set[str] = set()
    neg: set[str] = set()
    for paper, action in conn.execute("select paper, action from library where user_id = ?", [user_id]):
        (neg if action == "dislike" else pos).add(paper)
    return sorted(pos), sorted(neg - pos)


def papers_with(conn: sqlite3.Connection, user_id: int, kinds: Sequence[str] = KINDS) -> list[str]:
    """Papers with an entry of one of `kinds`, newest entry first."""
    rows = conn.execute(
        "select paper from library where user_id = ? and action in (select value from json_each(?)) "
        "group by paper order by max(at) desc, paper",
        [user_id, ids_json(kinds)],
    )
    return [r[0] for r in rows]


# ---------------------------------------------------------------- muted phrases


def mute_phrase(text: str) -> str:
    """A muted phrase as stored and matched: its words, lowercased (`UsageError` when it has none)."""
    words = _WORD.findall((text or "").lower())
    phrase = " ".join(words)
    if not phrase:
        raise UsageError("a muted phrase needs at least one word (letters or digits)")
    if len(phrase) > MAX_PHRASE:
        raise UsageError(f"a muted phrase has at most {MAX_PHRASE} characters")
    return phrase


def mute(conn: sqlite3.Connection, user_id: int, text: str) -> str:
    phrase, kept = mute_phrase(text), muted(conn, user_id)
    if phrase not in kept and len(kept) >= MAX_MUTED:
        raise UsageError(f"at most {MAX_MUTED} muted phrases; unmute one first")
    conn.execute("insert or ignore into muted (user_id, phrase, at) values (?, ?, ?)", [user_id, phrase, now_iso()])
    return phrase


def unmute(conn: sqlite3.Connection, user_id: int, text: str) -> None:
    conn.execute("delete from muted where user_id = ? and phrase = ?", [user_id, mute_phrase(text)])


def muted(conn: sqlite3.Connection, user_id: int) -> list[str]:
    return [r[0] for r in conn.execute("select phrase from muted where user_id = ? order by phrase", [user_id])]


# ---------------------------------------------------------------- saved searches


@dataclass(frozen=True)
class SavedSearch:
    id: int
    name: str
    query: str  # the browse page's query string
    created: str


_SEARCH_COLUMNS = "id, name, query, created"


def save_search(conn: sqlite3.Connection, user_id: int, name: str, query: str) -> SavedSearch:
    """Keep a search under a name (the same name again replaces its query)."""
    name = " ".join((name or "").split())
    if not name:
        raise UsageError("a saved search needs a name")
    if len(name) > MAX_SEARCH_NAME:
        raise UsageError(f"a saved search's name has at most {MAX_SEARCH_NAME} characters")
    kept = searches(conn, user_id)
    if not any(s.name == name for s in kept) and len(kept) >= MAX_SEARCHES:
        raise UsageError(f"at most {MAX_SEARCHES} saved searches; delete one first")
    conn.execute(
        "insert into searches (user_id, name, query, created) values (?, ?, ?, ?) "
        "on conflict (user_id, name) do update set query = excluded.query",
        [user_id, name, query, now_iso()],
    )
    row = conn.execute(f"select {_SEARCH_COLUMNS} from searches where user_id = ? and name = ?", [user_id, name])
    return SavedSearch(*row.fetchone())


def delete_search(conn: sqlite3.Connection, user_id: int, search_id: int) -> bool:
    return conn.execute("delete from searches where user_id = ? and id = ?", [user_id, search_id]).rowcount > 0


def searches(conn: sqlite3.Connection, user_id: int) -> list[SavedSearch]:
    rows = conn.execute(f"select {_SEARCH_COLUMNS} from searches where user_id = ? order by name", [user_id])
    return [SavedSearch(*r) for r in rows]


def get_search(conn: sqlite3.Connection, user_id: int, search_id: int) -> SavedSearch | None:
    row = conn.execute(
        f"select {_SEARCH_COLUMNS} from searches where user_id = ? and id = ?", [user_id, search_id]
    ).fetchone()
    return SavedSearch(*row) if row else None
