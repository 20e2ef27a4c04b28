"""Related papers: the lists `papertrack rank` precomputed (`neighbours`: nearest papers by
cosine similarity, table related_papers), read in one query; for a paper stored since the
last `rank`, a look-up in the full-text index ("more like this").

That look-up: a paper's telling words are its title and abstract words weighted by tf-idf
(title words count twice; document frequencies from `related_terms`, refreshed by
`papertrack rank`). The strongest ones form one FTS5 query, ranked by bm25 over title (x2)
and abstract. To bound the cost on a large database, the words are taken strongest first
while the papers they occur in stay within `POSTINGS` (a word too common for what is left
is matched in titles only, or skipped). Its score is the bm25 of that query relative to
the paper's own (1.0: as strongly as the paper itself).

No numpy, no sqlite-utils: `papertrack related` answers from its own start in under
100 ms at 1M papers (bench/related_bench.py).
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import unicodedata
from collections import Counter
from dataclasses import dataclass

from papertrack.errors import UsageError

TERMS = 20  # words in the query
POSTINGS = 15_000  # papers the query's words may occur in, together
MAX_SHARE = 0.25  # words in more than this share of papers say little about a paper
TITLE_TF = 2  # a title word counts as this many abstract words
_WORD = re.compile(r"[^\W_]+")  # FTS5's unicode61 tokens: runs of letters and digits


@dataclass
class Related:
    id: str
    title: str
    score: float


def refresh_terms(conn: sqlite3.Connection) -> int:
    """Recount the document frequency of every title and abstract word (the full-text
    index's own vocabulary, read in one pass); returns the number of words kept."""
    conn.execute("create virtual table if not exists temp.papertrack_vocab using fts5vocab(main, papers_fts, 'col')")
    conn.execute("delete from related_terms")
    conn.execute(
        "insert into related_terms (term, df, title_df) "
        "select term, sum(doc), coalesce(sum(doc) filter (where col = 'title'), 0) from temp.papertrack_vocab "
        "where col in ('title', 'abstract') group by term having sum(doc) >= 2"
    )
    return conn.execute("select count(*) from related_terms").fetchone()[0]


def words(text: str) -> list[str]:
    """Words as the full-text index stores them: lower case, accents removed; numbers
    and single letters left out."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
    return [w for w in _WORD.findall(folded) if len(w) > 1 and not w.isdigit()]


def query_terms(conn: sqlite3.Connection, title: str, abstract: str) -> tuple[list[str], list[str]]:
    """The words to look for: (in title or abstract, in titles only), strongest first."""
    tf = Counter(words(abstract))
    for w in words(title):
        tf[w] += TITLE_TF
    n = conn.execute("select max(rowid) from papers").fetchone()[0] or 0
    stats = {
        r[0]: (r[1], r[2])
        for r in conn.execute(
            "select term, df, title_df from related_terms where term in (select value from json_each(?))",
            [json.dumps(list(tf))],
        )
    }
    weight = {t: (1 + math.log(tf[t])) * math.log(n / stats[t][0]) for t in stats if 2 <= stats[t][0] <= MAX_SHARE * n}
    anywhere: list[str] = []
    in_titles: list[str] = []
    used = 0
    for term in sorted(weight, key=lambda t: (-weight[t], t)):
        df, title_df = stats[term]
        if used + df <= POSTINGS:
            anywhere.append(term)
            used += df
        elif title_df and used + title_df <= POSTINGS:
            in_titles.append(term)
            used += title_df
        if len(anywhere) + len(in_titles) == TERMS:
            break
    return anywhere, in_titles


def related(conn: sqlite3.Connection, paper_id: str, limit: int = 10) -> list[Related]:
    """The papers closest to `paper_id` (a stored id), best first: its precomputed list (at
    most `neighbours.KEEP`), else the full-text look-up. UsageError when the database was
    never ranked."""
    try:
        ready = conn.execute("select 1 from related_terms limit 1").fetchone()
    except sqlite3.OperationalError:  # a database from before ranking existed
        ready = None
    if not ready:
        raise UsageError("related papers are computed by papertrack rank: rank the database once")
    row = conn.execute("select rowid, title, abstract from papers where id = ?", [paper_id]).fetchone()
    if row is None:
        raise UsageError(f"no paper {paper_id!r} in the database")
    stored = precomputed(conn, paper_id, limit)
    if stored:  # none, or empty: a database too small for word statistics to tell papers apart
        return stored
    anywhere, in_titles = query_terms(conn, row[1] or "", row[2] or "")
    parts = [f"{{title abstract}} : ({_any(anywhere)})"] if anywhere else []
    parts += [f"title : ({_any(in_titles)})"] if in_titles else []
    if not parts:
        return []
    match, rank = " OR ".join(parts), _bm25(conn)
    hits = conn.execute(
        f"select p.id, p.title, f.s from (select rowid, {rank} as s from papers_fts where papers_fts match ? "
        "order by s limit ?) f join papers p on p.rowid = f.rowid order by f.s, p.id",
        [match, limit + 1],
    ).fetchall()
    own = next((h[2] for h in hits if h[0] == paper_id), None)
    if own is None:  # the paper is not among its own closest: score it alone
        own = conn.execute(
            f"select {rank} from papers_fts where papers_fts match ? and rowid = ?", [match, row[0]]
        ).fetchone()
        own = own[0] if own else None
    hits = [h for h in hits if h[0] != paper_id][:limit]
    top = own or min((h[2] for h in hits), default=-1.0)
    return [Related(pid, title or "", round(s / top, 3)) for pid, title, s in hits]


def precomputed(conn: sqlite3.Connection, paper_id: str, limit: int = 10) -> list[Related] | None:
    """The paper's list as `papertrack rank` stored it (papers deleted since left out), or
    None when it has none (stored since the last rank)."""
    try:
        row = conn.execute("select related from related_papers where papers_id = ?", [paper_id]).fetchone()
    except sqlite3.OperationalError:  # a database from before the lists were stored
        return None
    if row is None:
        return None
    pairs = [(str(pid), float(score)) for pid, score in json.loads(row[0])]
    titles = dict(
        conn.execute(
            "select id, title from papers where id in (select value from json_each(?))", [json.dumps([p for p, _ in pairs])]
        ).fetchall()
    )
    return [Related(pid, titles[pid] or "", score) for pid, score in pairs if pid in titles][:limit]


def related_ids(conn: sqlite3.Connection, paper_id: str, limit: int = 10) -> list[tuple[str, float]]:
    """(id, score) of the papers closest to `paper_id`; empty when it cannot be computed
    (no word statistics yet, unknown paper): for pages that show related papers if any."""
    try:
        return [(r.id, r.score) for r in related(conn, paper_id, limit)]
    except UsageError:
        return []


def _any(terms: list[str]) -> str:
    return " OR ".join(f'"{t}"' for t in terms)  # words are letters and digits only: quoting is enough


def _bm25(conn: sqlite3.Connection) -> str:
    """bm25 over the index's columns: title x2, abstract x1, the others not at all."""
    columns = [r[0] for r in conn.execute("select name from pragma_table_info('papers_fts')")]
    weights = ", ".join({"title": "2.0", "abstract": "1.0"}.get(c, "0.0") for c in columns)
    return f"bm25(papers_fts, {weights})"
