"""Which stored paper is this? By the id a user types (`resolve_id`, from `store.ids`), or,
for records from other sources, by title and authors (shared by the DBLP linker, the
BibTeX importer and merging `dblp:` rows into their preprints).

Two records are the same paper when
  * their normalised titles score at least `TITLE_THRESHOLD` (rapidfuzz `ratio`,
    order-sensitive, so "Network Slimming: Learning Efficient ..." and "Learning Efficient
    ... Network Slimming" do not match),
  * every word of one title has a counterpart in the other: the same word or a spelling
    variant of it (plural, British spelling, a typo), with the same digits. One changed
    word is otherwise enough to stay above the threshold ("Pruning Binary Neural Networks
    for Efficient Inference" vs "Pruning Ternary ..." scores 95; "MobileNetV2 ..." vs
    "MobileNetV3 ..." scores 98),
  * and they share at least one author surname: the same words by other people are
    another paper.
`bench/dblp_matching.py` measures false and missed matches on real titles.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterable, Sequence

import sqlite_utils
from rapidfuzz import fuzz

from papertrack.models import normalize_title
from papertrack.store.ids import paper_key as paper_key  # re-exported: the id part lives in store.ids
from papertrack.store.ids import resolve_id as resolve_id
from papertrack.store.ids import resolve_ids as resolve_ids
from papertrack.text.names import ascii_fold

TITLE_THRESHOLD = 92.0  # rapidfuzz ratio on normalised titles, 0-100
WORD_THRESHOLD = 80.0  # a differing word needs a counterpart this close (network/networks: 93)
CANDIDATES = 20  # FTS hits scored per record
MAX_POOL = 64  # rows of a TitleIndex scored per record
MAX_SCAN = 5000  # rows of a common word's list scanned for rows holding every word
# Words whose presence or absence never makes another paper ("X using Y" / "X with Y").
FILLER_WORDS = frozenset("a an the of for on in and to with via by from at as is are its using towards toward".split())
_DIGITS = re.compile(r"\d+")

Candidate = tuple[str, str, Sequence[str]]  # (id, title, authors)


def surname(name: str) -> str:
    """`'Song Han'` -> `'han'`, `'Han, Song'` -> `'han'`; accents and case folded."""
    name = name.strip()
    last = name.split(",")[0] if "," in name else (name.split() or [""])[-1]
    return re.sub(r"[^a-z]", "", ascii_fold(last))


def _surnames(names: Iterable[str]) -> set[str]:
    return {surname(n) for n in names} - {""}


def authors_overlap(a: Iterable[str], b: Iterable[str]) -> bool:
    """True when the two author lists share a surname (either list empty: False)."""
    return bool(_surnames(a) & _surnames(b))


def title_score(a: str, b: str) -> float:
    return fuzz.ratio(normalize_title(a), normalize_title(b))


def words_agree(a: str, b: str) -> bool:
    """Every non-stopword of each normalised title has a counterpart in the other."""
    left, right = set(a.split()) - FILLER_WORDS, set(b.split()) - FILLER_WORDS
    only_left, only_right = left - right, right - left
    return all(_has_counterpart(w, only_right) for w in only_left) and all(
        _has_counterpart(w, only_left) for w in only_right
    )


def _has_counterpart(word: str, others: set[str]) -> bool:
    digits = _DIGITS.findall(word)
    return any(_DIGITS.findall(o) == digits and fuzz.ratio(word, o) >= WORD_THRESHOLD for o in others)


def same_title(a: str, b: str, threshold: float = TITLE_THRESHOLD) -> float | None:
    """The score of two normalised titles if they name the same paper, else None."""
    score = fuzz.ratio(a, b, score_cutoff=threshold)
    return score if score and words_agree(a, b) else None


def best_match(
    title: str, authors: Iterable[str], candidates: Iterable[Candidate], threshold: float = TITLE_THRESHOLD
) -> str | None:
    """The id of the candidate this title and author list denote (best title score), or None."""
    key, authors = normalize_title(title), list(authors)
    best, best_score = None, 0.0
    for pid, other_title, other_authors in candidates:
        score = same_title(key, normalize_title(other_title), threshold)
        if score and score > best_score and authors_overlap(authors, other_authors):
            best, best_score = pid, score
    return best


def find_by_title(
    db: sqlite_utils.Database,
    title: str,
    authors: Iterable[str],
    threshold: float = TITLE_THRESHOLD,
    exclude: Iterable[str] = (),
    exclude_prefix: str | None = None,
) -> str | None:
    """The id of the stored paper this title and author list denote, or None.

    `exclude` skips these ids, `exclude_prefix` every id starting with it (`'dblp:'`).
    """
    skip = set(exclude)
    return best_match(
        title,
        authors,
        (
            c
            for c in fts_candidates(db, title)
            if c[0] not in skip and not (exclude_prefix and c[0].startswith(exclude_prefix))
        ),
        threshold,
    )


def fts_candidates(db: sqlite_utils.Database, title: str, limit: int = CANDIDATES) -> list[Candidate]:
    """The stored papers whose titles share the most words with `title` (full-text rank)."""
    words = [w for w in normalize_title(title).split() if len(w) > 2]
    if not words:
        return []
    match = "title: (" + " OR ".join(f'"{w}"' for w in dict.fromkeys(words)) + ")"
    return [
        (r["id"], r["title"], json.loads(r["authors"] or "[]"))
        for r in db.query(
            "select p.id, p.title, p.authors from papers_fts join papers p on p.rowid = papers_fts.rowid "
            "where papers_fts match ? order by rank limit ?",
            [match, limit],
        )
    ]


class TitleIndex:
    """Candidates held in memory, for matching many records against many rows without a
    query each. Each record is scored only against the rows sharing one of its two rarest
    words (a row that is the same paper shares nearly all of them), so a page of 2,000
    arXiv papers checks against thousands of rows in milliseconds.

    When even those words are common (a file of "Junk title N" entries), the rows with the
    same normalised title and an author in common come first, and at most `MAX_POOL` rows
    are scored: the rows that
    hold every word of the title (none when a word is in no row), found by scanning at most
    `MAX_SCAN` of the rarest word's rows. Each record then costs a bounded amount of work, so importing n records is linear."""

    def __init__(self, candidates: Iterable[Candidate], threshold: float = TITLE_THRESHOLD):
        self.threshold = threshold
        self.titles: dict[str, str] = {}
        self.authors: dict[str, list[str]] = {}
        self.by_word: dict[str, set[str]] = {}
        self.by_title: dict[tuple[str, str], set[str]] = {}  # (title, an author's surname) -> rows
        for pid, title, authors in candidates:
            self.add(pid, title, authors)

    def add(self, pid: str, title: str, authors: Sequence[str]) -> None:
        self.titles[pid], self.authors[pid] = normalize_title(title), list(authors)
        for name in _surnames(authors):
            self.by_title.setdefault((self.titles[pid], name), set()).add(pid)
        for word in set(self.titles[pid].split()) - FILLER_WORDS:
            self.by_word.setdefault(word, set()).add(pid)

    def __len__(self) -> int:
        return len(self.titles)

    def remove(self, pid: str) -> None:
        title = self.titles.pop(pid, "")
        for name in _surnames(self.authors.pop(pid, [])):
            self.by_title.get((title, name), set()).discard(pid)
        for word in set(title.split()) - FILLER_WORDS:
            self.by_word.get(word, set()).discard(pid)

    def pool(self, key: str, authors: Sequence[str] = ()) -> set[str]:
        """The rows worth scoring against a normalised title and its authors (at most MAX_POOL)."""
        words = set(key.split()) - FILLER_WORDS
        postings = sorted((self.by_word[w] for w in words if self.by_word.get(w)), key=len)
        if sum(len(p) for p in postings[:2]) <= MAX_POOL:
            return set().union(*postings[:2])
        found = {
            pid for name in _surnames(authors) for pid in itertools.islice(self.by_title.get((key, name), ()), MAX_POOL)
        }
        if len(postings) < len(words) or len(found) >= MAX_POOL:  # a word no row has: no row holds them all
            return found
        rest = postings[1:]
        for pid in itertools.islice(postings[0], MAX_SCAN):
            if all(pid in p for p in rest):
                found.add(pid)
                if len(found) >= MAX_POOL:
                    break
        return found

    def find(self, title: str, authors: Sequence[str], accept: Callable[[str], bool] | None = None) -> str | None:
        """The best candidate for this title and author list, or None; `accept` can veto
        candidates (the BibTeX importer refuses one with another arXiv id or DOI)."""
        pool = self.pool(normalize_title(title), authors)
        if accept:
            pool = {pid for pid in pool if accept(pid)}
        return (
            best_match(title, authors, ((pid, self.titles[pid], self.authors[pid]) for pid in pool), self.threshold)
            if pool
            else None
        )
