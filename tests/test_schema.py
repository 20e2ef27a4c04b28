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
