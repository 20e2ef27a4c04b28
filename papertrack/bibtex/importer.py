"""Importing a .bib file: match each entry to a stored paper, fetch unknown arXiv papers,
merge, tag.

An entry denotes a stored paper when (in this order) its arXiv id is a stored paper's
id, its DOI is a stored paper's DOI, its title is the same title with an author in common
(`matching`'s rule, shared with DBLP linking: rapidfuzz ratio >= `TITLE_THRESHOLD` on
normalised titles and every word matched), or its key is the paper's citation key and
the titles match. Entries of the same file
that denote one paper are merged and counted as duplicated. Network first, then one
write transaction, so a failure never leaves half an import.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from papertrack.bibtex.parse import BibFile, BibRecord, read_bibtex
from papertrack.errors import QueryRejected, SourceError
from papertrack.models import Paper, abs_url, arxiv_id, normalize_doi, pdf_url
from papertrack.sources.arxiv import ID_BATCH, ArxivClient
from papertrack.store.identity import TITLE_THRESHOLD, TitleIndex, title_score
from papertrack.store.papers import save_authors, save_papers
from papertrack.store.precedence import VENUE_COLUMNS, set_venue
from papertrack.store.schema import transaction
from papertrack.store.tags import record_edits

MAX_YEAR_GAP = 5  # years between entries of one paper (preprint, venue, journal version)


@dataclass
class BibImportReport:
    """What an import did, entry by entry: every entry is counted exactly once."""

    path: str
    entries: int = 0
    matched: int = 0  # denote a paper stored before the import
    added: int = 0  # new papers made from their BibTeX fields
    fetched: int = 0  # new papers fetched from arXiv by id
    skipped: int = 0  # malformed or untitled: entries that describe a paper but could not be read
    duplicated: int = 0  # denote the same paper as an earlier entry of the file
    not_papers: int = 0  # @proceedings volumes
    problems: list[str] = field(default_factory=list)
    paper_ids: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.path}: {self.entries} entries: {self.matched} matched, {self.added} added, "
            f"{self.fetched} fetched from arXiv, {self.skipped} skipped, {self.duplicated} duplicated"
            + (f", {self.not_papers} not a paper" if self.not_papers == 1 else "")
            + (f", {self.not_papers} not papers" if self.not_papers > 1 else "")
        )


@dataclass
class EntryGroup:
    """The entries of one file that denote one paper; `paper_id` once it is known."""

    records: list[BibRecord]
    paper_id: str | None = None
    source: str = "stored"  # stored (matched), arxiv (fetched) or bibtex (made from the entries)

    def first(self, attr: str):
        return next((getattr(r, attr) for r in self.records if getattr(r, attr)), None)

    @property
    def venue_record(self) -> BibRecord | None:
        return next((r for r in self.records if r.venue), None)


class Matcher:
    """Sorts a file's records into groups, each a stored paper or a new one.

    Stored titles are matched in memory (`matching.TitleIndex`, built on the first title
    lookup): one query per entry would rank every title sharing a common word."""

    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        self.groups: list[EntryGroup] = []
        self._stored: TitleIndex | None = None
        self._facts: dict[str, tuple[str | None, str | None, int | None]] = {}  # id -> (arXiv id, DOI, year)
        self._pending = TitleIndex(())  # new papers of this file, by group number
        self._by_paper: dict[str, EntryGroup] = {}
        self._by_arxiv: dict[str, EntryGroup] = {}
        self._by_doi: dict[str, EntryGroup] = {}
        self.stored_dois = {
            normalize_doi(d): pid for pid, d in db.execute("select id, doi from papers where doi is not null")
        }
        self.stored_dois.pop(None, None)
        self.stored_keys = {
            k.lower(): pid for pid, k in db.execute("select id, citation_key from papers where citation_key is not null")
        }

    def add(self, record: BibRecord) -> bool:
        """File the record in its group; True when an earlier record already denoted that paper."""
        paper_id = self.stored(record)
        group = self._by_paper.get(paper_id) if paper_id else self.pending(record)
        duplicate = group is not None
        if group is None:
            group = EntryGroup([], paper_id)
            self.groups.append(group)
            if paper_id:
                self._by_paper[paper_id] = group
            else:
                self._pending.add(str(len(self.groups) - 1), record.title, record.authors)
        group.records.append(record)
        if record.arxiv_id:
            self._by_arxiv.setdefault(record.arxiv_id, group)
        doi = normalize_doi(record.doi)
        if doi:
            self._by_doi.setdefault(doi, group)
        return duplicate

    def stored(self, record: BibRecord) -> str | None:
        """The id of the stored paper the record denotes, or None."""
        db = self.db
        if record.arxiv_id and db.execute("select 1 from papers where id = ?", [record.arxiv_id]).fetchone():
            return record.arxiv_id
        if normalize_doi(record.doi) in self.stored_dois:
            return self.stored_dois[normalize_doi(record.doi)]
        found = self.stored_titles().find(
            record.title, record.authors, accept=lambda pid: _compatible(record, *self._facts[pid])
        )
        if found:
            return found
        # exported or imported before under this key (also catches entries without authors)
        keyed = self.stored_keys.get(record.key.lower())
        if keyed:
            title = db.execute("select title from papers where id = ?", [keyed]).fetchone()[0]
            if title_score(record.title, title) >= TITLE_THRESHOLD:
                return keyed
        return None

    def stored_titles(self) -> TitleIndex:
        if self._stored is None:
            self._stored = TitleIndex(())
            for pid, title, authors, doi, year in self.db.execute("select id, title, authors, doi, year from papers"):
                self._stored.add(pid, title or "", json.loads(authors or "[]"))
                self._facts[pid] = (pid if arxiv_id(pid) == pid else None, normalize_doi(doi), year)
        return self._stored

    def pending(self, record: BibRecord) -> EntryGroup | None:
        """The group of an earlier record of this file that denotes the same new paper."""
        group = self._by_arxiv.get(record.arxiv_id or "") or self._by_doi.get(normalize_doi(record.doi) or "")
        if group is not None:
            return group
        found = self._pending.find(
            record.title,
            record.authors,
            accept=lambda n: _compatible(
                record,
                self.groups[int(n)].first("arxiv_id"),
                normalize_doi(self.groups[int(n)].first("doi")),
                self.groups[int(n)].first("year"),
            ),
        )
        return self.groups[int(found)] if found else None


def _compatible(record: BibRecord, arxiv: str | None, doi: str | None, year: int | None) -> bool:
    """Can a title match be right? Not when the arXiv ids or DOIs differ, nor when the
    years are far apart: same title and authors years apart is another work (Bellman's
    1957 book and 1966 article are both "Dynamic Programming"), while a preprint and its
    venue are rarely more than `MAX_YEAR_GAP` years apart."""
    if record.arxiv_id and arxiv and record.arxiv_id != arxiv:
        return False
    if record.doi and doi and normalize_doi(record.doi) != doi:
        return False
    return record.year is None or year is None or abs(record.year - year) <= MAX_YEAR_GAP


def import_bibtex(
    db: sqlite_utils.Database,
    source: BibFile | str | Path,
    tags: Sequence[str] = (),
    client: ArxivClient | None = None,
) -> BibImportReport:
    """Import a .bib file, or one already read (see the module docstring); `tags` are
    added to every paper it names, as manual tags that survive retagging."""
    bib = source if isinstance(source, BibFile) else read_bibtex(source)
    report = BibImportReport(
        bib.path,
        entries=len(bib.records) + bib.skipped + bib.not_papers,
        skipped=bib.skipped,
        not_papers=bib.not_papers,
        problems=bib.problems,
    )
    matcher = Matcher(db)
    report.duplicated = sum(matcher.add(r) for r in bib.records)
    groups = matcher.groups
    new = [g for g in groups if g.paper_id is None]
    report.matched = len(groups) - len(new)
    # stored papers on arXiv that an earlier import had to keep from BibTeX (never fetched)
    incomplete = [
        r[0]
        for r in db.execute(
            "select id from papers where updated is null and id in (select value from json_each(?))",
            [json.dumps([g.paper_id for g in groups if g.paper_id])],
        )
        if arxiv_id(r[0]) == r[0]
    ]
    wanted = list(dict.fromkeys([*(g.first("arxiv_id") for g in new if g.first("arxiv_id")), *incomplete]))
    fetched, unreachable = fetch(client, wanted, report) if wanted else ({}, False)
    with transaction(db):
        used: set[str] = set()
        keys: dict[str, str] = {}
        from_arxiv: list[Paper] = []
        for g in new:
            arxiv = g.first("arxiv_id")
            if arxiv in fetched:
                pid, g.source = arxiv, "arxiv"
                from_arxiv.append(fetched[arxiv])
            else:
                pid, g.source = _new_id(db, g, arxiv if unreachable else None, used), "bibtex"
            g.paper_id = pid
            used.add(pid)
            keys[pid] = g.records[0].key
        save_papers(
            db,
            from_arxiv + [fetched[pid] for pid in incomplete if pid in fetched],
            citation_keys=keys,
        )
        save_papers(db, [to_paper(g) for g in new if g.source == "bibtex"], venue_source="bibtex", citation_keys=keys)
        for g in groups:
            if g.source != "bibtex":
                merge(db, g.paper_id, g.records)  # type: ignore[arg-type]
        report.paper_ids = [g.paper_id for g in groups]  # type: ignore[misc]
        if tags:
            record_edits(db, report.paper_ids, tags, "add")  # manual tags: retags keep them
    report.fetched = sum(g.source == "arxiv" for g in new)
    report.added = len(new) - report.fetched
    return report


def fetch(client: ArxivClient | None, ids: list[str], report: BibImportReport) -> tuple[dict[str, Paper], bool]:
    """Papers for these arXiv ids, by `id_list` in batches; (found, True if arXiv was unreachable).

    A batch arXiv rejects is kept from BibTeX; when arXiv cannot be reached the remaining
    batches are not tried."""
    client = client or ArxivClient()
    found: dict[str, Paper] = {}
    rejected: set[str] = set()
    for i in range(0, len(ids), ID_BATCH):
        chunk = ids[i : i + ID_BATCH]
        try:
            found.update((p.id, p) for p in client.fetch_ids(chunk))
        except QueryRejected as e:
            rejected.update(chunk)
            report.problems.append(f"{e.message}: {len(chunk)} entries kept from their BibTeX fields")
        except SourceError as e:
            left = len(ids) - i
            report.problems.append(f"{e.message}: {left} entries with arXiv ids kept from their BibTeX fields")
            return found, True
    missing = [pid for pid in ids if pid not in found and pid not in rejected]
    if missing:
        report.problems.append(
            f"arXiv has no paper {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}: kept from BibTeX fields"
        )
    return found, False


def _new_id(db: sqlite_utils.Database, group: EntryGroup, arxiv: str | None, used: set[str]) -> str:
    """arXiv id (arXiv unreachable), else `doi:<doi>`, else `bib:<key>`; `-2`, `-3`, ... if taken."""
    doi = group.first("doi")
    base = arxiv or (f"doi:{normalize_doi(doi)}" if doi else f"bib:{group.records[0].key}")
    candidate, n = base, 1
    while candidate in used or db.execute("select 1 from papers where id = ?", [candidate]).fetchone():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def to_paper(group: EntryGroup) -> Paper:
    """A new paper from its entries' BibTeX fields (the first entry that has a field wins)."""
    arxiv, venue = group.first("arxiv_id"), group.venue_record
    primary = group.first("primary_class")
    return Paper(
        id=group.paper_id or "",
        title=group.records[0].title,
        abstract=group.first("abstract") or "",
        authors=group.first("authors") or [],
        primary_category=primary,
        categories=[primary] if primary else [],
        doi=group.first("doi"),
        url=abs_url(arxiv) if group.paper_id == arxiv else group.first("url"),
        pdf_url=pdf_url(arxiv) if group.paper_id == arxiv else None,
        venue=venue.venue if venue else None,
        venue_type=venue.venue_type if venue else None,
        volume=venue.volume if venue else None,
        pages=venue.pages if venue else None,
        year=(venue.year if venue else None) or group.first("year"),
    )


def merge(db: sqlite_utils.Database, paper_id: str, records: Sequence[BibRecord]) -> None:
    """Fill a stored paper from BibTeX: the venue unless a higher-ranked source (DBLP) set
    it, the DOI, abstract and authors only where missing. Notes are never touched."""
    row = db.execute("select doi, abstract, authors from papers where id = ?", [paper_id]).fetchone()
    group = EntryGroup(list(records))
    venue, updates = group.venue_record, {}
    if venue:
        set_venue(db, paper_id, {c: getattr(venue, c) for c in VENUE_COLUMNS}, "bibtex", venue.year)
    if not row[0] and group.first("doi"):
        updates["doi"] = group.first("doi")
    if not row[1] and group.first("abstract"):
        updates["abstract"] = group.first("abstract")
    if json.loads(row[2] or "[]") == [] and group.first("authors"):
        updates["authors"] = json.dumps(group.first("authors"), ensure_ascii=False)
        save_authors(db, {paper_id: group.first("authors")})
    if updates:
        db.execute(f"update papers set {', '.join(f'{k} = ?' for k in updates)} where id = ?", [*updates.values(), paper_id])
