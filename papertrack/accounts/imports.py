"""A user's own BibTeX or Zotero library, brought in as saved papers (`users import-bibtex`)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import sqlite_utils

from papertrack.accounts.entries import save_all
from papertrack.accounts.schema import transaction
from papertrack.accounts.users import require_user
from papertrack.bibtex.importer import BibImportReport, import_bibtex
from papertrack.bibtex.parse import BibFile
from papertrack.sources.arxiv import ArxivClient


@dataclass
class LibraryImport:
    user: str
    bib: BibImportReport
    saved: int  # papers newly saved (the others were saved already)


def import_library(
    papers: sqlite_utils.Database, library: sqlite3.Connection, name: str, bib: BibFile, client: ArxivClient | None = None
) -> LibraryImport:
    """Match the file's entries to stored papers with the BibTeX importer (which fetches
    unknown arXiv papers and adds the rest, as `import-bibtex` does), then save every
    paper it names to the user's library."""
    user = require_user(library, name)  # before anything is written
    report = import_bibtex(papers, bib, client=client)
    with transaction(library):
        saved = save_all(library, user.id, report.paper_ids)
    return LibraryImport(user.name, report, saved)
