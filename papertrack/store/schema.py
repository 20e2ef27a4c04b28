"""The database schema, described once as data.

`ensure_schema` creates and migrates from `TABLES`, `FTS` and `INDEXES`, and from
`derived` (the browse page's tables, kept by triggers); `metadata.json` descriptions and
docs/schema.md are checked against the same tables (`tests/test_schema.py`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from papertrack.errors import UsageError
from papertrack.store import derived
from papertrack.store.drafts import TABLES as DRAFT_TABLES
from papertrack.store.files import NOT_A_DATABASE, check_papertrack_file
from papertrack.store.listings import TABLES as LISTING_TABLES

# table -> {"columns": {name: (type, description)}, "pk": ..., "foreign_keys": [...], "doc": ...}
TABLES: dict[str, dict] = {
    "papers": {
        "doc": "One row per paper: arXiv metadata plus what papertrack derives and editors add.",
        "pk": "id",
        "columns": {
            "id": (
                str,
                "arXiv id without version (1909.04977, hep-th/9901001); dblp:KEY, doi:DOI or bib:KEY for papers not on arXiv",
            ),
            "title": (str, "Title, whitespace collapsed"),
            "abstract": (str, "Abstract, whitespace collapsed"),
            "authors": (str, "JSON array of author names, in order"),
            "published": (str, "Submission date of v1, ISO-8601 UTC"),
            "updated": (str, "Date of the latest version, ISO-8601 UTC"),
            "version": (int, "Latest version number"),
            "primary_category": (str, "arXiv primary category"),
            "categories": (str, "JSON array of arXiv categories"),
            "doi": (str, "DOI, when known"),
            "journal_ref": (str, "arXiv journal reference"),
            "comment": (str, "arXiv author comment"),
            "url": (str, "Abstract page"),
            "pdf_url": (str, "PDF"),
            "venue": (str, "Where it was published or accepted (CVPR 2020), null until known"),
            "venue_source": (str, "Where the venue came from: arxiv (comment/journal-ref), bibtex or dblp"),
            "venue_type": (str, "conference, journal or workshop, when the venue is known"),
            "volume": (str, "Journal volume, when known"),
            "pages": (str, "Pages or article number, when known"),
            "year": (int, "Year of publication (venue year when known, else year of v1)"),
            "summary": (str, "One- or two-sentence TL;DR: the editor's if given, else extracted from the abstract"),
            "code_url": (
                str,
                "Code repository: the editor's if given, else the first GitHub/GitLab link in abstract or comment",
            ),
            "citation_key": (str, "BibTeX citation key, assigned once and stable"),
            "dblp_key": (str, "DBLP record key, when linked"),
            "first_seen": (str, "When papertrack first stored it"),
            "last_seen": (str, "When a harvest last saw it"),
        },
    },
    "authors": {
        "doc": "Author names, for faceting through papers_authors.",
        "pk": "id",
        "columns": {"id": (int, "Author id"), "name": (str, "Name as arXiv gives it")},
    },
    "papers_authors": {
        "doc": "Which author wrote which paper, and in which position.",
        "pk": ("papers_id", "authors_id"),
        "columns": {
            "papers_id": (str, "Paper"),
            "authors_id": (int, "Author"),
            "position": (int, "1 for the first author"),
        },
        "foreign_keys": [("papers_id", "papers", "id"), ("authors_id", "authors", "id")],
    },
    "tags": {
        "doc": "Tag names.",
        "pk": "id",
        "columns": {"id": (int, "Tag id"), "name": (str, "Tag")},
    },
    "papers_tags": {
        "doc": "Tags of papers (sqlite-utils m2m layout) with where each came from.",
        "pk": ("papers_id", "tags_id"),
        "columns": {
            "papers_id": (str, "Paper"),
            "tags_id": (int, "Tag"),
            "origin": (str, "Comma-separated origins of the tag: query, taxonomy, manual"),
            "evidence": (str, "For taxonomy tags, the phrase in title or abstract that matched"),
        },
        "foreign_keys": [("papers_id", "papers", "id"), ("tags_id", "tags", "id")],
    },
    "tag_edits": {
        "doc": "Manual tag decisions (papertrack tag / untag); applied after every retag.",
        "pk": ("papers_id", "tag"),
        "columns": {
            "papers_id": (str, "Paper"),
            "tag": (str, "Tag name"),
            "action": (str, "add or remove"),
            "at": (str, "When the decision was made"),
        },
        "foreign_keys": [("papers_id", "papers", "id")],
    },
    "notes": {
        "doc": "The editor's text for a paper (papertrack note); it wins over derived values everywhere.",
        "pk": "papers_id",
        "columns": {
            "papers_id": (str, "Paper"),
            "headline": (str, "Headline for the digest, instead of the title"),
            "summary": (str, "Summary, instead of the automatic one"),
            "source": (str, "Name of the commentary source (a blog, a WeChat account)"),
            "source_url": (str, "Link to the commentary"),
            "code_url": (str, "Code repository, instead of the detected one"),
            "updated": (str, "When the note last changed"),
        },
        "foreign_keys": [("papers_id", "papers", "id")],
    },
    "picks": {
        "doc": "Papers picked for (or featured in) a newsletter issue.",
        "pk": ("papers_id", "issue"),
        "columns": {
            "papers_id": (str, "Paper"),
            "issue": (str, "Issue date, YYYY-MM-DD"),
            "picked": (str, "When it was picked or imported"),
            "position": (int, "Place in the issue's papers section, 1 first (the editor's order; null: as picked)"),
        },
        "foreign_keys": [("papers_id", "papers", "id")],
    },
    **DRAFT_TABLES,
    "queries": {
        "doc": "Saved queries from queries.yaml and their harvest state.",
        "pk": "id",
        "columns": {
            "id": (int, "Query id"),
            "name": (str, "Query name"),
            "source": (str, "arxiv or dblp"),
            "query": (str, "Query text"),
            "tags": (str, "JSON array of the tags the query gives"),
            "position": (int, "Its place in queries.yaml, 1 first: digests and the desk group papers by tag in this order"),
            "since": (str, "Oldest submission date a backfill reaches"),
            "watermark": (
                str,
                "Where the next harvest stops: arXiv, the newest 'updated' date of the last complete harvest; DBLP, its hit count and title filter (JSON)",
            ),
            "progress": (str, "JSON state of an unfinished harvest, so a rerun resumes it"),
            "last_success": (str, "When the last harvest finished without error"),
            "covered": (str, "arXiv: the day (the service's) it is complete up to; its next OAI-PMH window starts there"),
            "covered_via": (str, "What completed it up to that day: api (a query API harvest), oai or snapshot"),
        },
    },
    "papers_queries": {
        "doc": "Which saved query found which paper.",
        "pk": ("papers_id", "queries_id"),
        "columns": {"papers_id": (str, "Paper"), "queries_id": (int, "Query")},
        "foreign_keys": [("papers_id", "papers", "id"), ("queries_id", "queries", "id")],
    },
    "harvest_runs": {
        "doc": "One row per query per harvest run.",
        "pk": "id",
        "columns": {
            "id": (int, "Run id"),
            "query": (str, "Query name"),
            "started": (str, "Start, ISO-8601 UTC"),
            "finished": (str, "End, ISO-8601 UTC (null while running or if killed)"),
            "status": (str, "running, ok, failed, deferred (the service was throttling this machine) or interrupted"),
            "requests": (int, "HTTP requests made, retries included"),
            "new": (int, "Papers added"),
            "updated": (int, "Known papers that changed (new version or metadata)"),
            "error": (str, "Why it failed"),
            "heartbeat": (
                str,
                "While running, the last sign of life (every 20 s); a running row silent for 2 minutes reads as interrupted",
            ),
            "via": (str, "Which source ran it: api (arXiv's query API), oai (arXiv's OAI-PMH), sparql (dblp)"),
        },
    },
    "imports": {
        "doc": "Snapshot imports (papertrack import-snapshot): each file's progress, so a killed import resumes.",
        "pk": "id",
        "columns": {
            "id": (str, "The file's identity: its size and the SHA-1 of its first MiB"),
            "path": (str, "The file's name as last given (not its directory: the site may be public)"),
            "filter": (str, "JSON: the categories and since date the import keeps"),
            "status": (str, "running (or killed: rerun to resume) or done"),
            "started": (str, "Start of the first run, ISO-8601 UTC"),
            "finished": (str, "End, ISO-8601 UTC"),
            "line": (int, "Lines committed so far; a rerun continues after this line"),
            "byte_offset": (int, "Byte offset (in the decompressed stream) just after that line"),
            "read": (int, "Records read"),
            "kept": (int, "Records matching the filter"),
            "new": (int, "Papers added"),
            "updated": (int, "Known papers that changed"),
            "unchanged": (int, "Known papers already current"),
            "bad": (int, "Malformed lines skipped"),
            "newest": (str, "Newest 'updated' date among the kept records"),
        },
    },
    "scores": {
        "doc": "How well each paper fits each ranking profile (papertrack rank): higher is more relevant, "
        "comparable within a profile and one fit of it.",
        "pk": ("papers_id", "profile"),
        "columns": {
            "papers_id": (str, "Paper"),
            "profile": (str, "Profile: a tag whose papers are its positives, or picks (every paper ever picked)"),
            "score": (float, "The profile model's margin for the paper (higher: more like the positives)"),
            "why": (str, "JSON array of the terms and signals that raise the score most, strongest first"),
        },
        "foreign_keys": [("papers_id", "papers", "id")],
    },
    "rank_models": {
        "doc": "Each profile's fitted model (papertrack rank), kept to score new papers without refitting.",
        "pk": "profile",
        "columns": {
            "profile": (str, "Profile"),
            "fitted": (str, "When it was fitted, ISO-8601 UTC"),
            "positives": (int, "Papers the profile had when fitted"),
            "positives_digest": (str, "SHA-1 of the sorted ids of those papers: a change means a refit"),
            "papers": (int, "Papers in the database when fitted"),
            "settings": (str, "JSON: the feature settings and tags the model was fitted with"),
            "model": (bytes, "The model's arrays (numpy .npz): idf weights, coefficients, names of the terms"),
        },
    },
    "related_terms": {
        "doc": "Document frequency of each word of titles and abstracts (refreshed by papertrack rank), "
        "for choosing a paper's telling words when looking up related papers.",
        "pk": "term",
        "columns": {
            "term": (str, "A word as the full-text index stores it (lower case, accents removed)"),
            "df": (int, "Papers with the word in the title plus papers with it in the abstract"),
            "title_df": (int, "Papers with the word in the title"),
        },
    },
    **LISTING_TABLES,
    "related_papers": {
        "doc": "Each paper's related papers (papertrack rank): nearest by cosine of words, topic tags, categories.",
        "pk": "papers_id",
        "columns": {"papers_id": (str, "Paper"), "related": (str, "JSON: [[paper id, cosine], ...], best first (10)")},
        "foreign_keys": [("papers_id", "papers", "id")],
    },
}

# Full-text search: one FTS5 index over papers, kept in sync by sqlite-utils triggers.
FTS = {"papers": ["title", "abstract", "summary", "authors", "comment", "journal_ref"]}

INDEXES = [
    ("papers", ["published"]),
    ("papers", ["updated"]),
    ("papers", ["primary_category"]),
    ("papers", ["venue"]),
    ("papers", ["year"]),
    ("papers", ["doi"]),
    ("papers", ["dblp_key"]),
    ("papers_authors", ["authors_id"]),
    ("papers_tags", ["tags_id"]),
    ("papers_queries", ["queries_id"]),
    ("picks", ["issue"]),
    ("drafts", ["papers_id", "lang"]),
    ("harvest_runs", ["query", "started"]),
    ("scores", ["profile", "score"]),
]
UNIQUE_INDEXES = [("authors", ["name"]), ("tags", ["name"]), ("queries", ["name"])]
# BibTeX compares keys case-insensitively, so the key index does too (and serves the
# prefix look-ups that find a free suffix): sqlite-utils' create_index has no COLLATE.
INDEX_SQL = [
    "create unique index if not exists idx_papers_citation_key_nocase on papers (citation_key collate nocase)",
]


def open_db(path: str | Path, create: bool = True) -> sqlite_utils.Database:
    """Open (and create or migrate) a papertrack database in WAL mode. With `create=False`
    a missing file is a `UsageError` (no empty database behind a typo), as is a file that is
    not a database; SQLite's other errors and the file system's are the caller's to report."""
    path = Path(path)
    if path.exists() or not create:
        check_papertrack_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return open_wal(path, ensure_schema, "a papertrack database")


def open_wal(path: Path, ensure: Callable[[sqlite_utils.Database], None], what: str) -> sqlite_utils.Database:
    """Open an existing or new SQLite file in WAL mode and bring its tables up to date
    (`ensure`); a file that is not a database is a `UsageError` saying it is not `what`."""
    db = sqlite_utils.Database(path)
    try:
        db.execute("PRAGMA busy_timeout = 30000")
        if db.journal_mode != "wal":
            db.enable_wal()
        # WAL + NORMAL: a killed process loses nothing committed; only a power cut may lose the last commits
        db.execute("PRAGMA synchronous = NORMAL")
        ensure(db)
    except sqlite3.Error as e:
        db.close()
        if getattr(e, "sqlite_errorname", "") in NOT_A_DATABASE:
            raise UsageError(f"{path}: not {what} ({e})") from None
        raise
    return db


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One write transaction, taken eagerly (BEGIN IMMEDIATE) so concurrent writers queue
    on the busy timeout instead of failing half-way with "database is locked"."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.conn.rollback()
        raise
    db.conn.commit()


def ids_json(ids: Iterable[str]) -> str:
    """Ids as one JSON parameter, for `... in (select value from json_each(?))`."""
    return json.dumps(list(ids))


def memory_db() -> sqlite_utils.Database:
    db = sqlite_utils.Database(memory=True)
    ensure_schema(db)
    return db


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create missing tables, columns, indexes and FTS, and (re)build the derived tables
    when their definition changed; idempotent and cheap when current."""
    existing = set(db.table_names())
    if not (existing.issuperset(TABLES) and _fts_current(db) and _columns_current(db)):
        _ensure_tables(db, existing)
    if not derived.is_current(db):
        with transaction(db):
            if not derived.is_current(db):  # another process may have just done it
                derived.rebuild(db)


def schema_is_current(db: sqlite_utils.Database) -> bool:
    """Whether `ensure_schema` would change nothing (checked without writing)."""
    return set(db.table_names()).issuperset(TABLES) and _fts_current(db) and _columns_current(db) and derived.is_current(db)


def _ensure_tables(db: sqlite_utils.Database, existing: set[str]) -> None:
    for name, spec in TABLES.items():
        columns = {col: kind for col, (kind, _) in spec["columns"].items()}
        table = db[name]
        if name in existing:
            table.add_missing_columns([columns])  # type: ignore[union-attr]
        else:
            table.create(columns, pk=spec["pk"], foreign_keys=spec.get("foreign_keys"))  # type: ignore[union-attr]
    for name, cols in INDEXES:
        db[name].create_index(cols, if_not_exists=True)  # type: ignore[union-attr]
    for name, cols in UNIQUE_INDEXES:
        db[name].create_index(cols, unique=True, if_not_exists=True)  # type: ignore[union-attr]
    for sql in INDEX_SQL:
        db.execute(sql)
    for name, cols in FTS.items():
        db[name].enable_fts(cols, fts_version="FTS5", create_triggers=True, replace=True)  # type: ignore[union-attr]


def _columns_current(db: sqlite_utils.Database) -> bool:
    return all(set(spec["columns"]) <= set(db[name].columns_dict) for name, spec in TABLES.items())


def _fts_current(db: sqlite_utils.Database) -> bool:
    for name, cols in FTS.items():
        fts = db[name].detect_fts()  # type: ignore[union-attr]
        if not fts or [c.name for c in db[fts].columns] != cols:
            return False
    return True
