"""BibTeX export through bibtexparser v2: one `Library` per export, written by its writer.

`export_ids` is the single entry point shared by `papertrack bibtex` and the Datasette
`.bib` renderer.
"""
from __future__ import annotations

import json
from typing import Iterable

import bibtexparser
import sqlite_utils
from bibtexparser.model import Entry, Field


def export_ids(db: sqlite_utils.Database, ids: Iterable[str]) -> str:
    """BibTeX for the papers with these ids, in the order given."""
    ids = list(dict.fromkeys(ids))
    rows = {r["id"]: r for r in db.query("select * from papers where id in (select value from json_each(?))", [json.dumps(ids)])}
    library = bibtexparser.Library([entry(rows[i]) for i in ids if i in rows])
    return bibtexparser.write_string(library)


def entry(row: dict) -> Entry:
    """One paper row as an arXiv-style @misc entry."""
    authors = json.loads(row["authors"] or "[]")
    fields = {
        "title": row["title"],
        "author": " and ".join(authors),
        "year": str(row["year"] or (row["published"] or "")[:4]),
        "eprint": row["id"],
        "archivePrefix": "arXiv",
        "primaryClass": row["primary_category"],
        "url": row["url"],
        "doi": row["doi"],
    }
    key = row["citation_key"] or row["id"].replace("/", "-")
    return Entry("misc", key, [Field(k, v) for k, v in fields.items() if v])
