"""Citation keys: `{firstauthorsurname}{year}{firstmeaningfultitleword}`, assigned once.

A key is stored in `papers.citation_key` the first time a paper is saved, so it never
changes when other papers arrive. When the base key is taken (case-insensitively, as
BibTeX compares keys) the paper gets the first free suffix `a`, `b`, ... `z`, `aa`, ...;
the paper that had the base key keeps it. `set_key` is the user's override.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Iterator
from itertools import count, product
from string import ascii_lowercase

import sqlite_utils

from papertrack.errors import UsageError
from papertrack.store.identity import resolve_id
from papertrack.store.schema import transaction
from papertrack.text.latex import plain
from papertrack.text.names import ascii_fold, is_person, surname_key

# Words a title may start with that say nothing about the paper.
KEY_STOPWORDS = frozenset(
    """
a an the on of in for to and or with without via from by at as into onto over under
towards toward beyond through using about is are be being do does can could should
what when where which who why how we our you your it its this that these those not no
""".split()
)
# What BibTeX and LaTeX accept in a key (no spaces, braces, commas, quotes, #, %, ~, \).
_TEX_START = re.compile(r"[\\${}]")
_VALID_KEY = re.compile(r"^[^\s,{}()\"#%'=\\~]+$")


def base_key(authors: list[str], year: int | str | None, title: str | None) -> str:
    """`(['Zhaohui Yang', ...], 2020, 'CARS: Continuous Evolution ...')` -> `'yang2020cars'`."""
    people = [a for a in authors if is_person(a)]
    surname = surname_key(people[0]) if people else ""
    return f"{surname or 'anon'}{year or ''}{title_word(title)}"


def title_word(title: str | None) -> str:
    """The first title word that is not a stopword or a single character, ASCII lowercase."""
    text = title or ""
    # Decoding TeX takes a millisecond a title: skip it when the word comes before any TeX
    tex = _TEX_START.search(text)
    head = text[: tex.start()] if tex else text
    words = re.findall(r"[a-z0-9]+", ascii_fold(head))
    if tex and words and head[-1:].isalnum():
        words.pop()  # cut in the middle by the TeX that follows
    found = _meaningful(words)
    return found if found or not tex else _meaningful(re.findall(r"[a-z0-9]+", ascii_fold(plain(text))))


def _meaningful(words: list[str]) -> str:
    return next((w for w in words if len(w) > 1 and w not in KEY_STOPWORDS), "")


def suffixes() -> Iterator[str]:
    """'', 'a', ..., 'z', 'aa', 'ab', ..."""
    yield ""
    for n in count(1):
        for letters in product(ascii_lowercase, repeat=n):
            yield "".join(letters)


def valid_key(key: str) -> bool:
    return bool(_VALID_KEY.match(key))


def assign_keys(db: sqlite_utils.Database, ids: Iterable[str]) -> dict[str, str]:
    """Give the papers among `ids` that have no key one, and store it; returns {id: new key}."""
    keys = compute_keys(db, ids)
    if keys:
        # one UPDATE statement: the FTS triggers then flush once, not once per row
        db.execute(
            "update papers set citation_key = k.value from json_each(?) k where papers.id = k.key", [json.dumps(keys)]
        )
    return keys


def compute_keys(db: sqlite_utils.Database, ids: Iterable[str]) -> dict[str, str]:
    """The keys `assign_keys` would store, without storing them."""
    rows = list(
        db.query(
            "select id, title, authors, year, published from papers where citation_key is null "
            "and id in (select value from json_each(?))",
            [json.dumps(list(ids))],
        )
    )
    return keys_for(db, rows)


def keys_for(
    db: sqlite_utils.Database, rows: list[dict], preferred: dict[str, str] | None = None, bases: dict[str, str] | None = None
) -> dict[str, str]:
    """New keys for papers given as rows (`id`, `title`, `authors` as JSON, `year`,
    `published`), unique against the stored keys and each other.

    `preferred` keys (an imported entry's own key) are used when free and valid. Older
    papers (by v1 date) are served first, so within one batch the earliest gets the bare key.
    `bases` (id -> `base_key`) may be computed beforehand, e.g. in an import's parsing processes.
    """
    if not rows:
        return {}
    bases = bases or {row["id"]: base_key(json.loads(row["authors"] or "[]"), row["year"], row["title"]) for row in rows}
    taken = _taken(db, [*bases.values(), *(preferred or {}).values()])
    keys: dict[str, str] = {}
    rest = []
    for row in sorted(rows, key=lambda r: (r["published"] or "", r["id"])):
        wish = (preferred or {}).get(row["id"])
        if wish and valid_key(wish) and wish.lower() not in taken:
            keys[row["id"]] = wish
            taken.add(wish.lower())
        else:
            rest.append(row)
    for row in rest:
        base = bases[row["id"]]
        key = next(base + s for s in suffixes() if base + s not in taken)
        keys[row["id"]] = key
        taken.add(key)
    return keys


def _taken(db: sqlite_utils.Database, prefixes: Iterable[str]) -> set[str]:
    """Stored keys (lower-cased) that start with any of `prefixes`: all a batch can collide
    with, read through the case-insensitive key index instead of loading every key."""
    wanted = sorted({p.lower() for p in prefixes if p})
    return {
        k.lower()
        for (k,) in db.execute(
            "select p.citation_key from json_each(?) j cross join papers p "
            "where p.citation_key >= j.value collate nocase and p.citation_key < j.value || char(65535) collate nocase",
            [json.dumps(wanted)],
        )
    }


def ensure_keys(db: sqlite_utils.Database, ids: Iterable[str]) -> dict[str, str]:
    """Keys for papers saved before keys were assigned at save time: stored when the
    database is writable, computed only (and so not yet final) when it is read-only."""
    ids = list(ids)
    try:
        if db.conn.in_transaction:
            return assign_keys(db, ids)
        with transaction(db):
            return assign_keys(db, ids)
    except sqlite3.OperationalError as e:
        if "readonly" not in str(e):
            raise
        return compute_keys(db, ids)


def set_key(db: sqlite_utils.Database, paper: str, key: str) -> str | None:
    """The user's own key for a paper (its id as users write it); returns the key it replaces."""
    if not valid_key(key):
        raise UsageError(f"invalid citation key {key!r}: no spaces or any of , {{ }} ( ) \" # % ' = \\ ~")
    paper_id = resolve_id(db, paper)
    row = db.execute("select citation_key from papers where id = ?", [paper_id]).fetchone()
    holder = db.execute("select id from papers where lower(citation_key) = lower(?) and id != ?", [key, paper_id]).fetchone()
    if holder:
        raise UsageError(f"citation key {key!r} is already used by paper {holder[0]}")
    db.execute("update papers set citation_key = ? where id = ?", [key, paper_id])
    return row[0]
