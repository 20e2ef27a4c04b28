"""Is this record a paper we already have? Title + author matching shared by the DBLP
linker and the BibTeX importer.

A candidate must have a normalised title within `TITLE_THRESHOLD` (rapidfuzz `ratio`,
order-sensitive, so "Network Slimming: Learning Efficient ..." and "Learning Efficient
... Network Slimming" do not match) AND share at least one author surname: the same words
by other people are another paper.
"""
from __future__ import annotations

import json
import re
import unicodedata
from typing import Iterable

import sqlite_utils
from rapidfuzz import fuzz

from .models import normalize_title

TITLE_THRESHOLD = 92.0  # rapidfuzz ratio on normalised titles, 0-100
CANDIDATES = 20  # FTS hits scored per record


def surname(name: str) -> str:
    """`'Song Han'` -> `'han'`, `'Han, Song'` -> `'han'`; accents and case folded."""
    name = name.strip()
    last = name.split(",")[0] if "," in name else (name.split() or [""])[-1]
    last = unicodedata.normalize("NFKD", last).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z]", "", last)


def authors_overlap(a: Iterable[str], b: Iterable[str]) -> bool:
    """True when the two author lists share a surname (either list empty: False)."""
    left = {surname(n) for n in a} - {""}
    return bool(left & ({surname(n) for n in b} - {""}))


def title_score(a: str, b: str) -> float:
    return fuzz.ratio(normalize_title(a), normalize_title(b))


def find_by_title(
    db: sqlite_utils.Database,
    title: str,
    authors: Iterable[str],
    threshold: float = TITLE_THRESHOLD,
    exclude: Iterable[str] = (),
) -> str | None:
    """The id of the stored paper this title and author list denote, or None."""
    words = [w for w in normalize_title(title).split() if len(w) > 2]
    if not words:
        return None
    match = "title: (" + " OR ".join(f'"{w}"' for w in dict.fromkeys(words)) + ")"
    authors, skip = list(authors), set(exclude)
    best, best_score = None, threshold
    for row in db.query(
        "select p.id, p.title, p.authors from papers_fts join papers p on p.rowid = papers_fts.rowid "
        "where papers_fts match ? order by rank limit ?",
        [match, CANDIDATES],
    ):
        if row["id"] in skip:
            continue
        score = title_score(title, row["title"])
        if score >= best_score and authors_overlap(authors, json.loads(row["authors"] or "[]")):
            best, best_score = row["id"], score
    return best
