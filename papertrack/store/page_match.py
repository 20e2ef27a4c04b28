"""Saved arXiv queries run over a page of records that is not stored (yet): which of them
each query matches, with the matcher `papertrack match` uses (`search`), on a scratch
in-memory database holding just those records and their full-text index. An OAI-PMH
daily run asks this of every page before deciding what to store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlite_utils

from papertrack.models import Paper
from papertrack.store.papers import paper_row
from papertrack.store.schema import FTS
from papertrack.store.search import Translator, match_ids


def match_records(papers: Sequence[Paper], queries: Mapping[str, str]) -> dict[str, list[str]]:
    """{query name: ids of `papers` it matches} for `queries` ({name: arXiv query text})."""
    if not papers:
        return {name: [] for name in queries}
    scratch = sqlite_utils.Database(memory=True)
    rows = [{**paper_row(p), "summary": ""} for p in {p.id: p for p in papers}.values()]
    scratch["papers"].insert_all(rows, pk="id")  # type: ignore[union-attr]
    scratch["papers"].enable_fts(FTS["papers"], fts_version="FTS5")  # type: ignore[union-attr]
    translator = Translator(scratch)
    try:
        return {name: match_ids(scratch, text, translator) for name, text in queries.items()}
    finally:
        scratch.close()
