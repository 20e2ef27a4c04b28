"""The schema is described once: creating, migrating and documenting it read the same table."""

from __future__ import annotations

import sqlite_utils

from papertrack.store.schema import FTS, TABLES, ensure_schema
from papertrack.store.schema_docs import schema_markdown
from tests.helpers import ROOT


def test_every_table_and_column_is_created(db):
    for name, spec in TABLES.items():
        assert set(spec["columns"]) <= set(db[name].columns_dict), name
    assert db["papers"].detect_fts() == "papers_fts"
    assert [c.name for c in db["papers_fts"].columns] == FTS["papers"]
    assert db["papers_tags"].pks == ["papers_id", "tags_id"]
    fks = {(fk.column, fk.other_table) for fk in db["papers_tags"].foreign_keys}
    assert fks == {("papers_id", "papers"), ("tags_id", "tags")}


def test_migration_adds_missing_columns_and_keeps_rows(tmp_path):
    db = sqlite_utils.Database(tmp_path / "old.db")
    db["papers"].insert({"id": "1909.04977", "title": "CARS"}, pk="id")
    ensure_schema(db)
    assert db["papers"].get("1909.04977")["title"] == "CARS"
    assert "venue" in db["papers"].columns_dict
    assert db.execute("select count(*) from papers_fts where papers_fts match 'cars'").fetchone()[0] == 1


def test_docs_document_the_schema():
    text = (ROOT / "docs" / "schema.md").read_text(encoding="utf-8")
    assert schema_markdown() in text, "docs/schema.md is stale: run `cog -r docs/schema.md`"


def test_a_listing_stored_with_a_column_that_went_still_resumes(db):
    """oai_listings lost its `records` column (written, never read): a listing an older
    papertrack stored, column and all, loads and saves as before."""
    from papertrack.store.listings import load_listing, save_listing

    db.execute("alter table oai_listings add column records integer")
    db.execute(
        "insert into oai_listings (set_spec, start, queries, token, newest, pages, records) "
        "values ('cs', '2024-05-27', '[\"binarization\"]', 'tok', '2024-05-30', 2, 7)"
    )
    listing = load_listing(db, "cs")
    assert listing is not None
    assert (listing.start, listing.queries, listing.token, listing.newest, listing.pages) == (
        "2024-05-27",
        {"binarization": None},  # names only: no text to compare, so no run resumes it
        "tok",
        "2024-05-30",
        2,
    )
    listing.pages, listing.token = 3, "tok2"
    save_listing(db, listing)
    assert db.execute("select pages, token from oai_listings").fetchone() == (3, "tok2")
