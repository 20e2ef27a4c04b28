"""The browse benchmark's workload, drawn from the database itself and seeded (the same
database gives the same workload), with no input repeated within a scenario:

* searches: 1-3 words of one random title (words that occur together in a title), a fifth
  of them the most common title words, a fifth rare words (in at most 3 of 30,000 sampled
  titles), a tenth of the multi-word ones quoted as phrases;
* filters: a tag (half the cases, sometimes two), a category (drawn by paper, so weighted
  like the data), a venue (1 in 6), a year (1 in 4), combined at random;
* arXiv-syntax searches (ti:, abs:, AND / OR / ANDNOT, cat:) for the translator's path.
"""

from __future__ import annotations

import random
import re
import sqlite3
from collections import Counter

WORD = re.compile(r"[^\W\d_]{3,}")
STOP = {
    "the", "and", "for", "with", "from", "via", "its", "are", "that", "this", "into", "using", "over", "under",
    "towards", "toward", "between", "through", "non", "based", "new", "two", "one", "our",
}  # fmt: skip


def title_words(conn: sqlite3.Connection, sample: int = 30_000, seed: int = 11) -> tuple[list[list[str]], Counter]:
    rng = random.Random(seed)
    top = conn.execute("select max(rowid) from papers").fetchone()[0]
    titles = []
    for k in rng.sample(range(1, top + 1), min(sample, top)):
        row = conn.execute("select title from papers where rowid = ?", [k]).fetchone()
        if row and row[0]:
            titles.append([w.lower() for w in WORD.findall(row[0])])
    return [t for t in titles if t], Counter(w for t in titles for w in set(t))


def searches(conn: sqlite3.Connection, n: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    titles, freq = title_words(conn)
    common = [w for w, _ in freq.most_common(400) if w not in STOP][:300]
    rare = [w for w, c in freq.items() if c <= 3 and w not in STOP]
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        r = rng.random()
        if r < 0.2:
            q = rng.choice(common)
        elif r < 0.4:
            q = rng.choice(rare)
        else:
            words = [w for w in rng.choice(titles) if w not in STOP]
            if not words:
                continue
            size = rng.choice((2, 2, 3)) if len(words) >= 2 else 1
            start = rng.randrange(0, max(1, len(words) - size + 1))
            q = " ".join(words[start : start + size])
            if size > 1 and rng.random() < 0.1:
                q = f'"{q}"'
        if q not in seen:
            seen.add(q)
            out.append(q)
    return out


def arxiv_searches(conn: sqlite3.Connection, n: int, seed: int = 9) -> list[str]:
    rng = random.Random(seed)
    _, freq = title_words(conn)
    common = [w for w, _ in freq.most_common(300) if w not in STOP]
    cats = [r[0] for r in conn.execute("select primary_category from papers group by 1 order by count(*) desc limit 12")]
    out: list[str] = []
    while len(out) < n:
        a, b = rng.sample(common, 2)
        q = rng.choice(
            [f"ti:{a}", f'abs:"{a} {b}"', f"ti:{a} AND abs:{b}", f"(ti:{a} OR ti:{b}) ANDNOT abs:quantum",
             f"ti:{a} AND cat:{rng.choice(cats)}"]
        )  # fmt: skip
        if q not in out:
            out.append(q)
    return out


def filters(conn: sqlite3.Connection, n: int, seed: int = 3) -> list[dict]:
    """Random filter combinations, by name as the page takes them (no two alike)."""
    rng = random.Random(seed)
    tags = [r[0] for r in conn.execute("select name from tags order by id")]
    top = conn.execute("select max(rowid) from papers").fetchone()[0]
    venues = [
        r[0]
        for r in conn.execute("select venue from papers where venue is not null group by 1 order by count(*) desc limit 60")
    ]
    out: list[dict] = []
    seen: set[str] = set()
    while len(out) < n:
        row = conn.execute(
            "select primary_category, year from papers where rowid >= ? limit 1", [rng.randint(1, top)]
        ).fetchone()
        f: dict = {"tags": [], "category": None, "venue": None, "year": None}
        if tags and rng.random() < 0.5:
            f["tags"] = rng.sample(tags, min(len(tags), rng.choice((1, 1, 1, 2))))
        if rng.random() < 0.6:
            f["category"] = row[0]
        if venues and rng.random() < 1 / 6:
            f["venue"] = rng.choice(venues)
        if rng.random() < 0.25:
            f["year"] = row[1]
        if not any(f.values()):
            f["category"] = row[0]
        if repr(f) not in seen:
            seen.add(repr(f))
            out.append(f)
    return out
