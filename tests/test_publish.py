"""metadata.json is generated from the schema, committed current, and uses only what
Datasette 0.65 reads from metadata."""

from __future__ import annotations

import json
from pathlib import Path

from papertrack.store import derived
from papertrack.store.schema import TABLES
from papertrack.store.schema_docs import describe
from papertrack.web.metadata import CANNED_QUERIES, metadata, metadata_json

METADATA = Path(__file__).resolve().parents[1] / "metadata.json"

# Keys Datasette 0.65 reads from metadata (docs: metadata.rst, facets.rst, full_text_search.rst,
# sql_queries.rst); settings such as default_page_size are not among them.
TOP_KEYS = {
    "title",
    "description",
    "description_html",
    "license",
    "license_url",
    "source",
    "source_url",
    "about",
    "about_url",
    "databases",
    "plugins",
    "allow_sql",  # docs: authentication.rst, "Controlling the ability to execute arbitrary SQL"
}
TABLE_KEYS = {
    "title",
    "description",
    "description_html",
    "columns",
    "sort",
    "sort_desc",
    "facets",
    "facet_size",
    "size",
    "fts_table",
    "fts_pk",
    "searchmode",
    "hidden",
    "label_column",
    "units",
    "sortable_columns",
    "plugins",
    "source",
    "source_url",
    "license",
    "license_url",
    "allow",
}
QUERY_KEYS = {
    "sql",
    "title",
    "description",
    "description_html",
    "params",
    "hide_sql",
    "fragment",
    "write",
    "on_success_message",
    "on_success_redirect",
    "on_error_message",
    "on_error_redirect",
    "allow",
}


def test_committed_metadata_json_is_current():
    assert METADATA.read_text(encoding="utf-8") == metadata_json(), (
        "metadata.json is stale: run `python -m papertrack.web.metadata > metadata.json`"
    )


def test_descriptions_come_from_the_schema():
    tables = metadata()["databases"]["papers"]["tables"]
    every = {**TABLES, **derived.TABLES}
    assert set(describe()) == set(every)
    for name, columns in describe().items():
        assert tables[name]["columns"] == columns
        assert tables[name]["description"] == every[name]["doc"]
    assert all(tables[name]["hidden"] for name in derived.TABLES)


def test_only_keys_datasette_065_reads():
    data = json.loads(METADATA.read_text(encoding="utf-8"))
    assert set(data) <= TOP_KEYS
    [database] = data["databases"].values()
    assert set(database) <= {"title", "description", "tables", "queries", "source", "license"}
    for name, table in database["tables"].items():
        assert set(table) <= TABLE_KEYS, name
    for name, query in database["queries"].items():
        assert set(query) <= QUERY_KEYS, name
        assert not query.get("write"), name
    assert set(CANNED_QUERIES) == {"latest", "by_tag", "window", "candidates", "stale_queries", "authors"}


def test_papers_table_settings():
    papers = metadata()["databases"]["papers"]["tables"]["papers"]
    assert papers["sort_desc"] == "published" and papers["fts_table"] == "papers_fts"
    assert papers["facets"] == [{"m2m": "tags"}, "primary_category", "venue", "year"]
    order = papers["plugins"]["papertrack"]["column_order"]
    assert set(order) <= set(TABLES["papers"]["columns"])
