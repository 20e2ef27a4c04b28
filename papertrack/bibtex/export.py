"""BibTeX export through bibtexparser v2: one `Library` per export, written by its writer.

`export_ids` is the single entry point shared by `papertrack bibtex` (through `export`,
which sorts by key) and the Datasette `.bib` renderer; `select_ids` picks papers by tag,
saved query, id and date.

Entry types follow the venue columns, whoever set them (arXiv comment, BibTeX import,
DBLP): a journal gives `@article` (journal, volume, pages), a conference or workshop
`@inproceedings` (booktitle, pages); a paper with no known venue is `@misc`. The venue is
written by its full name (`enrich.venue.citation_name`: `CVPR 2020` -> `Proceedings of the
IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)`), the year in `year` only. Every paper
on arXiv carries `eprint`, `archivePrefix = {arXiv}`, `primaryClass` and `url`, as
arXiv's own BibTeX does, so a later import finds it again by its arXiv id.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import date

import bibtexparser
import sqlite_utils
from bibtexparser.middlewares import default_unparse_stack
from bibtexparser.model import Entry, Field
from bibtexparser.writer import BibtexFormat

from papertrack.enrich.venue import citation_name
from papertrack.errors import UsageError
from papertrack.models import abs_url, arxiv_id, window_params, window_sql
from papertrack.store.citekeys import ensure_keys
from papertrack.store.identity import resolve_ids
from papertrack.text import latex
from papertrack.text.names import is_person, last_first

COLUMNS = (
    "id",
    "title",
    "authors",
    "year",
    "published",
    "primary_category",
    "doi",
    "url",
    "venue",
    "venue_type",
    "volume",
    "pages",
    "citation_key",
)
ENTRY_TYPES = {"journal": "article", "conference": "inproceedings", "workshop": "inproceedings"}


def export_ids(db: sqlite_utils.Database, ids: Iterable[str]) -> str:
    """BibTeX for the papers with these ids, in the order given (unknown ids are left out)."""
    return write(_rows(db, list(dict.fromkeys(ids))))


def export(db: sqlite_utils.Database, ids: Iterable[str] | None = None) -> tuple[str, int]:
    """BibTeX for these papers (default: all, see `select_ids`), sorted by citation key;
    returns (text, number of entries)."""
    rows = sorted(
        _rows(db, list(dict.fromkeys(select_ids(db) if ids is None else ids))),
        key=lambda r: (r["citation_key"].lower(), r["id"]),
    )
    return write(rows), len(rows)


def write(rows: Iterable[dict]) -> str:
    """Paper rows (with keys) as BibTeX text, one entry each, UTF-8 throughout."""
    library = bibtexparser.Library([entry(row) for row in rows])
    fmt = BibtexFormat()
    fmt.indent, fmt.value_column, fmt.block_separator = "  ", "auto", "\n"
    # in-place stack: the library is thrown away afterwards, so the writer need not copy it
    return bibtexparser.write_string(
        library, unparse_stack=default_unparse_stack(allow_inplace_modification=True), bibtex_format=fmt
    )


def select_ids(
    db: sqlite_utils.Database,
    *,
    tags: Sequence[str] = (),
    queries: Sequence[str] = (),
    ids: Sequence[str] = (),
    date_from: str | date | None = None,
    date_to: str | date | None = None,
) -> list[str]:
    """Ids of the papers selected by all the given filters (each filter matches any of its
    values); no filters selects every paper. Dates (YYYY-MM-DD, both inclusive) apply to
    the v1 submission date, so papers without one fall outside any date window. Unknown
    tags, query names and ids are errors, so a typo does not export an empty file; ids may
    be written as users write them (`arXiv:1909.04977v2`)."""
    ids = resolve_ids(db, ids)
    where, params = ["1"], window_params(date_from, date_to)
    if date_from or date_to:
        where.append(window_sql("published"))
    for label, values, table, sql in (
        (
            "tag",
            tags,
            "tags",
            "select pt.papers_id from papers_tags pt join tags t on t.id = pt.tags_id "
            "where t.name in (select value from json_each(:tags))",
        ),
        (
            "query",
            queries,
            "queries",
            "select pq.papers_id from papers_queries pq join queries q on q.id = pq.queries_id "
            "where q.name in (select value from json_each(:queries))",
        ),
        ("paper id", ids, "papers", "select value from json_each(:papers)"),
    ):
        if not values:
            continue
        column = "id" if table == "papers" else "name"
        known = {
            r[0]
            for r in db.execute(
                f"select {column} from {table} where {column} in (select value from json_each(?))",
                [json.dumps(list(values))],
            )
        }
        unknown = [v for v in values if v not in known]
        if unknown:
            raise UsageError(f"unknown {label} {unknown[0]!r}")
        where.append(f"id in ({sql})")
        params[table] = json.dumps(list(values))
    sql = "select id from papers where " + " and ".join(where) + " order by id"
    return [r[0] for r in db.execute(sql, params)]


def _rows(db: sqlite_utils.Database, ids: list[str]) -> list[dict]:
    """Rows to export, in the order of `ids`, each with a citation key."""
    found = {
        r["id"]: r
        for r in db.query(
            f"select {', '.join(COLUMNS)} from papers where id in (select value from json_each(?))", [json.dumps(ids)]
        )
    }
    keys = ensure_keys(db, [i for i, r in found.items() if not r["citation_key"]])
    return [dict(found[i], citation_key=found[i]["citation_key"] or keys[i]) for i in ids if i in found]


def entry(row: dict) -> Entry:
    """One paper row (with its `citation_key`) as a BibTeX entry."""
    eprint = row["id"] if arxiv_id(row["id"]) == row["id"] else None
    entry_type = ENTRY_TYPES.get(row["venue_type"] or "", "misc") if row["venue"] else "misc"
    # a venue of unknown type still says where the paper appeared
    venue_field = {"article": "journal", "inproceedings": "booktitle"}.get(entry_type, "howpublished")
    fields = {
        "title": latex.title(row["title"]),
        "author": " and ".join(latex.escape(last_first(a)) for a in json.loads(row["authors"] or "[]") if is_person(a)),
        venue_field: latex.escape(citation_name(row["venue"])),
        "volume": latex.escape(row["volume"]) if entry_type == "article" else None,
        "pages": latex.escape(_pages(row["pages"])) if entry_type != "misc" else None,
        "year": str(row["year"] or (row["published"] or "")[:4]),
        "eprint": eprint,
        "archivePrefix": "arXiv" if eprint else None,
        "primaryClass": row["primary_category"] if eprint else None,
        "doi": _verbatim(row["doi"]),
        "url": abs_url(eprint) if eprint else _verbatim(row["url"]),
    }
    return Entry(entry_type, row["citation_key"], [Field(k, v) for k, v in fields.items() if v])


def _verbatim(value: str | None) -> str | None:
    """A URL or DOI as written, but with braces percent-encoded (as URLs want them anyway),
    since an unpaired brace would end the BibTeX value."""
    return value.replace("{", "%7B").replace("}", "%7D") if value else None


def _pages(pages: str | None) -> str | None:
    """`'265-283'` and `'265–283'` -> `'265--283'` (BibTeX's page range)."""
    return re.sub(r"(?<=\w)\s*(?:-+|–|—)\s*(?=\w)", "--", pages) if pages else None
