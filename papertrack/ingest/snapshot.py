"""Bulk backfill from arXiv's metadata snapshot (`papertrack import-snapshot`).

The file is streamed in chunks of lines. Child processes (`workers.OrderedPool`) parse,
filter and derive each chunk with the harvest's own functions (`record_to_paper`,
`enrich.derive`, `store.finish_row`) into finished `papers` rows; this process writes
each chunk in one transaction together with the import's progress (the `imports` row:
line, byte offset, counts). A killed import resumes after its last committed line, and
rows are keyed by arXiv id, so nothing is duplicated.

Papers not yet stored take a fast path: rows staged and moved in one statement (so the
FTS triggers feed the index once per chunk, with a large FTS5 `hashsize`: fewer, larger
index segments), authors linked by one SQL statement from the JSON column. Papers already
stored go through `store.save_papers`, so re-importing a newer snapshot updates them
under exactly a harvest's rules and never loses tags, notes or picks.

The search index is kept by its triggers throughout: a killed import leaves it in step
with what was committed. (Dropping it and building it once at the end was measured: on
two cores it is slower, because the index build then no longer overlaps the parsing.)
The browse page's tables are filled per chunk, set-based, inside the chunk's transaction
(`store.derived.new_papers_only`), so they too commit, or roll back, with its papers.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import ClassVar

import sqlite_utils

from papertrack.enrich import derive
from papertrack.enrich.taxonomy import Taxonomy, TaxonomyRule
from papertrack.errors import UsageError
from papertrack.ingest.pool import OrderedPool
from papertrack.models import Paper, now_iso, parse_day
from papertrack.sources.snapshot import Chunk, file_identity, read_chunks, record_to_paper
from papertrack.store.citekeys import base_key, keys_for
from papertrack.store.derived import new_papers_only
from papertrack.store.merge import has_dblp_rows, merge_preprints
from papertrack.store.papers import INSERT_COLUMNS, SOURCE_FIELDS, finish_row, paper_row, row_values, save_papers, write_rows
from papertrack.store.schema import ids_json, transaction
from papertrack.store.tags import refresh_tags

CHUNK_LINES = 10_000  # lines per chunk and per transaction (the CLI lowers it for tests: PAPERTRACK_IMPORT_BATCH)
MAX_WORKERS = 4  # more parsers than this outpace the single writer
PARALLEL_BYTES = 32 << 20  # smaller files are parsed in this process: spawning costs more than it saves
FTS_HASHSIZE = 64 << 20  # FTS5 pending-term memory: fewer, larger index segments per chunk
FTS5_DEFAULT_HASHSIZE = 1 << 20
_N_SOURCE = 1 + len(SOURCE_FIELDS)  # id + source columns lead every row tuple
_COL = {c: i for i, c in enumerate(INSERT_COLUMNS)}


@dataclass(frozen=True)
class Filter:
    """Which records an import keeps: categories by prefix (`cs.`, `cs.LG`), v1 date."""

    categories: tuple[str, ...] = ()
    since: str | None = None  # YYYY-MM-DD

    def as_json(self) -> str:
        return json.dumps({"categories": sorted(self.categories), "since": self.since})


def parse_filter(categories: Sequence[str] = (), since: str | date | None = None) -> Filter:
    """A filter from category prefixes and a first day, checked."""
    for prefix in categories:
        if not prefix.strip() or any(c.isspace() for c in prefix):
            raise UsageError(f"category {prefix!r}: expected a category or a prefix such as cs. or cs.LG")
    day = parse_day(since, "since").isoformat() if since is not None else None
    return Filter(tuple(dict.fromkeys(categories)), day)


@dataclass
class SnapshotReport:
    """What an import did (cumulative over resumed runs)."""

    path: str
    read: int = 0
    kept: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    bad: int = 0
    newest: str | None = None
    resumed_after: int = 0  # line the run started after (0: from the start)
    already_done: bool = False
    read_now: int = 0  # records read by this run (the others are from the runs it resumes)
    seconds: float = 0.0
    counts: ClassVar[tuple[str, ...]] = ("read", "kept", "new", "updated", "unchanged", "bad")


@dataclass
class Parsed:
    """A chunk as finished rows: `rows[i]` came from line `lines[i]` of the chunk."""

    rows: list[tuple]
    lines: list[int]
    tags: dict[str, dict[str, str]]
    read: int
    bad: list[tuple[int, str]]
    newest: str | None


class Parser:
    """Per-process state for `parse_chunk`: the filter, compiled taxonomy, run timestamp."""

    def __init__(self, keep: Filter, rules: Sequence[TaxonomyRule], now: str):
        self.keep, self.taxonomy, self.now = keep, Taxonomy(rules), now
        self.since = f"{keep.since}T00:00:00Z" if keep.since else None


def parse_chunk(parser: Parser, chunk: Chunk) -> Parsed:
    """Parse, filter and derive one chunk (runs in a child process)."""
    out = Parsed([], [], {}, 0, [], None)
    prefixes = parser.keep.categories
    for i, line in enumerate(chunk.lines):
        if not line.strip():
            continue
        out.read += 1
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
            if prefixes and not any(c.startswith(prefixes) for c in str(record.get("categories") or "").split()):
                continue
            paper = record_to_paper(record)
        except json.JSONDecodeError as e:
            out.bad.append((chunk.first_line + i, f"malformed JSON ({e.msg}, column {e.colno})"))
            continue
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as e:
            out.bad.append((chunk.first_line + i, f"not a snapshot record ({e})"))
            continue
        if parser.since and (paper.published or "") < parser.since:
            continue
        derived = derive(paper, parser.taxonomy or None)
        row = finish_row(paper_row(paper), paper, derived, None, "arxiv", parser.now)
        # the key's base travels in the key's column; the writer makes it unique (`_with_keys`)
        row["citation_key"] = base_key(paper.authors, row["year"], paper.title)
        out.rows.append(row_values(row))
        out.lines.append(i)
        if derived.tags:
            out.tags[paper.id] = derived.tags
        if paper.updated and (out.newest is None or paper.updated > out.newest):
            out.newest = paper.updated
    return out


def import_snapshot(
    db: sqlite_utils.Database,
    path: str | Path,
    *,
    keep: Filter = Filter(),
    taxonomy: Sequence[TaxonomyRule] = (),
    workers: int | None = None,
    batch: int = CHUNK_LINES,
    on_chunk: Callable[[SnapshotReport, Chunk], None] | None = None,
    on_bad: Callable[[int, str], None] | None = None,
) -> SnapshotReport:
    """Import (or resume importing) a snapshot file; see the module docstring.

    `workers`: parsing processes (default: one per core up to `MAX_WORKERS`; none for
    small files or a single core). `batch`: lines per chunk and per transaction.
    Spawned processes import the caller's main module: scripts need the usual
    `if __name__ == "__main__":` guard.
    """
    path = Path(path)
    started = time.perf_counter()
    ident = file_identity(path)
    report = _resume(db, ident, path, keep)
    if report.already_done:
        return report
    size = path.stat().st_size
    line, offset = db.execute("select line, byte_offset from imports where id = ?", [ident]).fetchone()
    remaining = max(size - offset, 0)
    if workers is None:  # this process writes; on two cores two parsers keep it busiest (measured)
        cores = os.cpu_count() or 1
        workers = min(cores, MAX_WORKERS) if cores > 1 and remaining > PARALLEL_BYTES else 0
    now = now_iso()
    rules = tuple(taxonomy)
    compiled = Taxonomy(rules) if rules else None  # for papers already stored, which are saved here
    with _bulk_settings(db):
        with OrderedPool(parse_chunk, workers, Parser, (keep, rules, now)) as pool:
            for chunk, parsed in pool.imap(read_chunks(path, offset, line, batch)):
                if parsed.read and len(parsed.bad) == parsed.read and report.bad == report.read:
                    number, message = parsed.bad[0]
                    raise UsageError(f"{path}:{number}: not an arXiv snapshot: {message}")
                with transaction(db):
                    _write(db, chunk, parsed, compiled, now, report)
                    _save_progress(db, ident, chunk, report)
                for number, message in parsed.bad:
                    if on_bad:
                        on_bad(number, message)
                if on_chunk:
                    on_chunk(report, chunk)
    with transaction(db):
        db.execute("update imports set status = 'done', finished = ? where id = ?", [now_iso(), ident])
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # a bulk import leaves a WAL as large as what it wrote
    report.seconds = time.perf_counter() - started
    return report


def _resume(db: sqlite_utils.Database, ident: str, path: Path, keep: Filter) -> SnapshotReport:
    """The import's cumulative report so far; starts (or restarts) its `imports` row
    unless the same file was already imported with the same filter."""
    report = SnapshotReport(str(path))
    row = db.execute("select * from imports where id = ?", [ident]).fetchone()
    columns = [d[0] for d in db.execute("select * from imports limit 0").description]
    state = dict(zip(columns, row)) if row else None
    if state and state["filter"] == keep.as_json():
        for name in (*report.counts, "newest"):
            setattr(report, name, state[name] or (0 if name != "newest" else None))
        report.already_done = state["status"] == "done"
        report.resumed_after = 0 if report.already_done else state["line"]
        if not report.already_done:
            with transaction(db):
                db.execute("update imports set path = ? where id = ?", [path.name, ident])
        return report
    with transaction(db):
        db.table("imports").upsert(
            {
                "id": ident,
                "path": path.name,
                "filter": keep.as_json(),
                "status": "running",
                "started": now_iso(),
                "finished": None,
                "line": 0,
                "byte_offset": 0,
                "newest": None,
                **{c: 0 for c in report.counts},
            },
            pk="id",
        )
    return report


class _bulk_settings:
    """PRAGMAs for a bulk load and a large FTS5 pending-term buffer; restored afterwards."""

    def __init__(self, db: sqlite_utils.Database):
        self.db = db

    def __enter__(self) -> None:
        # synchronous=OFF: a killed process still loses nothing committed (only a power cut could)
        pragmas = ("synchronous", "cache_size", "wal_autocheckpoint")
        self.saved = {p: self.db.execute(f"PRAGMA {p}").fetchone()[0] for p in pragmas}
        self.db.execute("PRAGMA synchronous = OFF")
        self.db.execute("PRAGMA cache_size = -65536")
        self.db.execute("PRAGMA wal_autocheckpoint = 20000")  # fewer checkpoints: 8% less CPU
        self._hashsize(FTS_HASHSIZE)

    def __exit__(self, *exc: object) -> None:
        self._hashsize(FTS5_DEFAULT_HASHSIZE)
        for pragma, value in self.saved.items():
            self.db.execute(f"PRAGMA {pragma} = {int(value)}")

    def _hashsize(self, value: int) -> None:
        fts = self.db["papers"].detect_fts()  # type: ignore[union-attr]
        if fts:
            with transaction(self.db):
                self.db.execute(f"insert into [{fts}]([{fts}], rank) values ('hashsize', ?)", [value])


def _write(
    db: sqlite_utils.Database, chunk: Chunk, parsed: Parsed, taxonomy: Taxonomy | None, now: str, report: SnapshotReport
) -> None:
    """Store one parsed chunk: new papers on the fast path, known ones through save_papers."""
    rows = {r[0]: (r, i) for r, i in zip(parsed.rows, parsed.lines)}  # a repeated id: the last one wins
    ids = list(rows)
    stored = {
        r[0]: r[1:]
        for r in db.execute(
            f"select id, {', '.join(SOURCE_FIELDS)} from papers where id in (select value from json_each(?))",
            [ids_json(ids)],
        )
    }
    new = [rows[i][0] for i in ids if i not in stored]
    changed = [i for i in ids if i in stored and stored[i] != rows[i][0][1:_N_SOURCE]]
    report.read += parsed.read
    report.read_now += parsed.read
    report.kept += len(ids)
    report.bad += len(parsed.bad)
    report.unchanged += len(ids) - len(new) - len(changed)
    if parsed.newest and (report.newest is None or parsed.newest > report.newest):
        report.newest = parsed.newest
    if new:
        new = _with_keys(db, new)
        merging = has_dblp_rows(db)  # a venue-only dblp: row may be one of these preprints (its tags move over)
        # only new papers and their tags are written here, unless rows merge: the browse tables
        # are then filled for them in a few statements instead of by triggers row by row
        with nullcontext() if merging else new_papers_only(db):
            write_rows(db, new, [])
            new_ids = ids_json([r[0] for r in new])
            db.execute(
                "insert or ignore into authors (name) select j.value from papers p, json_each(p.authors) j "
                "where p.id in (select value from json_each(?))",
                [new_ids],
            )
            db.execute(
                "insert or ignore into papers_authors (papers_id, authors_id, position) "
                "select p.id, a.id, j.key + 1 from papers p, json_each(p.authors) j join authors a on a.name = j.value "
                "where p.id in (select value from json_each(?))",
                [new_ids],
            )
            tagged = [r[0] for r in new if r[0] in parsed.tags]
            if merging:
                merged = merge_preprints(
                    db,
                    [Paper(id=r[_COL["id"]], title=r[_COL["title"]], authors=json.loads(r[_COL["authors"]])) for r in new],
                )
                tagged = list(dict.fromkeys([*tagged, *(target for _, target in merged)]))
            refresh_tags(db, tagged, {i: parsed.tags[i] for i in tagged if i in parsed.tags})
        report.new += len(new)
    if changed:
        papers = [record_to_paper(json.loads(chunk.lines[rows[i][1]])) for i in changed]
        saved = save_papers(db, papers, taxonomy=taxonomy, now=now)
        report.updated += len(saved.updated)
        report.unchanged += saved.unchanged


def _with_keys(db: sqlite_utils.Database, rows: list[tuple]) -> list[tuple]:
    """New rows with their citation keys made unique (against the stored ones and each
    other) from the bases `parse_chunk` put in their place."""
    at = _COL["citation_key"]
    keys = keys_for(db, [{"id": r[0], "published": r[_COL["published"]]} for r in rows], bases={r[0]: r[at] for r in rows})
    return [(*r[:at], keys[r[0]], *r[at + 1 :]) for r in rows]


def _save_progress(db: sqlite_utils.Database, ident: str, chunk: Chunk, report: SnapshotReport) -> None:
    counts = {c: getattr(report, c) for c in report.counts}
    db.execute(
        f"update imports set line = ?, byte_offset = ?, newest = ?, {', '.join(f'[{c}] = ?' for c in counts)} where id = ?",
        [chunk.first_line + len(chunk.lines) - 1, chunk.end_offset, report.newest, *counts.values(), ident],
    )
