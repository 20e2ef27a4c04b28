"""The Datasette publication in-process (datasette.client): metadata, facets, search, canned
queries, the .bib renderer, the paper page, read-only SQL and escaping."""

from __future__ import annotations

import json
import re
import shutil
import urllib.parse

import bibtexparser
import pytest

from papertrack.web import bib
from papertrack.web.serve import datasette_for
from tests import papers_db
from tests.helpers import DatasetteClient as Client
from tests.papers_db import ABSTRACT_WORD, HOSTILE_ID, RECENT, TITLE_WORD, N


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    return papers_db.build(tmp_path_factory.mktemp("ds") / "papers.db")


@pytest.fixture(scope="module")
def client(db_path):
    c = Client(datasette_for(db_path))
    yield c
    c.close()


def through(tag_id) -> str:
    return urllib.parse.quote(json.dumps({"table": "papers_tags", "column": "tags_id", "value": str(tag_id)}))


def tag_id(client, name: str) -> int:
    return client.json(f"/papers/tags.json?name={name}&_shape=array")[0]["id"]


def bib_entries(text: str):
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks, library.failed_blocks
    return library.entries


# ---------------------------------------------------------------- table, facets, search


def test_papers_table_is_sorted_newest_first_with_the_configured_facets(client):
    data = client.json("/papers/papers.json?_shape=objects")
    assert data["filtered_table_rows_count"] == N + 1
    published = [r["published"] for r in data["rows"]]
    assert published == sorted(published, reverse=True) and len(published) == 50
    assert set(data["facet_results"]) == {"tags", "primary_category", "venue", "year"}
    tags = {v["label"]: v for v in data["facet_results"]["tags"]["results"]}
    assert tags["binarization"]["count"] == N + 1
    assert tags["pruning"]["count"] == papers_db.pruning_count()
    cats = {v["value"]: v["count"] for v in data["facet_results"]["primary_category"]["results"]}
    assert cats == {"cs.CV": N // 2, "cs.LG": N - N // 2 + 1}
    assert {v["value"] for v in data["facet_results"]["venue"]["results"]} >= {"CVPR 2010", "CVPR 2020"}
    assert data["facet_results"]["year"]["results"]


def test_tag_facet_links_with_through_and_toggles_off(client):
    data = client.json("/papers/papers.json")
    pruning = next(v for v in data["facet_results"]["tags"]["results"] if v["label"] == "pruning")
    query = urllib.parse.urlsplit(pruning["toggle_url"]).query
    [raw] = urllib.parse.parse_qs(query)["_through"]
    assert json.loads(raw) == {"table": "papers_tags", "column": "tags_id", "value": str(tag_id(client, "pruning"))}
    filtered = client.json(f"/papers/papers.json?{query}")
    assert filtered["filtered_table_rows_count"] == papers_db.pruning_count()
    selected = next(v for v in filtered["facet_results"]["tags"]["results"] if v["label"] == "pruning")
    assert selected["selected"] and "_through" not in selected["toggle_url"]
    # the facet counts within the filter: every pruning paper is also a binarization paper
    assert {v["label"]: v["count"] for v in filtered["facet_results"]["tags"]["results"]} == {
        "pruning": papers_db.pruning_count(),
        "binarization": papers_db.pruning_count(),
    }


def test_m2m_facet_on_request_for_authors(client):
    data = client.json("/papers/papers.json?_facet_m2m=authors&_facet_size=3")
    authors = data["facet_results"]["authors"]
    assert authors["results"][0]["label"] == "Ada Lovelace" and authors["results"][0]["count"] == N + 1
    assert authors["truncated"] and authors["hideable"]


@pytest.mark.parametrize("word, expected", [(TITLE_WORD, "2001.00007"), (ABSTRACT_WORD, "2001.00011")])
def test_search_finds_by_title_and_abstract_words(client, word, expected):
    rows = client.json(f"/papers/papers.json?_search={word}&_shape=array")
    assert [r["id"] for r in rows] == [expected]


def test_search_with_punctuation_does_not_error(client):
    rows = client.json('/papers/papers.json?_search=post-training "binary&_shape=array')
    assert rows == []


# ---------------------------------------------------------------- canned queries


def test_latest(client):
    rows = client.json("/papers/latest.json?days=30&_shape=array")
    assert len(rows) == RECENT
    assert rows[0]["tags"] == "binarization, pruning"  # paper 0 was found by both queries
    assert len(client.json("/papers/latest.json?days=&_shape=array")) == RECENT  # empty: 14 days


def test_by_tag(client):
    rows = client.json("/papers/by_tag.json?tag=pruning&_shape=array")
    assert len(rows) == papers_db.pruning_count()
    assert client.json("/papers/by_tag.json?tag=nothing&_shape=array") == []


def test_window_includes_both_ends_with_tags_and_summary(client):
    dates = sorted({papers_db.paper(i).published[:10] for i in range(RECENT, N)})
    start, end = dates[3], dates[9]
    rows = client.json(f"/papers/window.json?from={start}&to={end}&_shape=array")
    expected = {p.id for p in map(papers_db.paper, range(N)) if start <= p.published[:10] <= end}
    assert {r["id"] for r in rows} == expected
    assert {r["published"][:10] for r in rows} >= {start, end}
    assert all(r["tags"] and r["summary"] for r in rows)


def test_stale_queries_flags_failed_and_never_first(client):
    rows = client.json("/papers/stale_queries.json?_shape=array")
    assert [(r["query"], r["flag"]) for r in rows] == [("binarization", "never"), ("pruning", "failed")]
    assert rows[1]["error"] == "arXiv said no"


def test_authors(client):
    rows = client.json("/papers/authors.json?_shape=array")
    assert rows[0] == {**rows[0], "author": "Ada Lovelace", "papers": N + 1}
    assert sum(r["papers"] == 1 for r in rows) == N + 1  # "Author n" and Mallory


def test_canned_queries_are_read_only(client):
    queries = client.json("/papers.json")["queries"]
    assert {q["name"] for q in queries} == {"latest", "by_tag", "window", "candidates", "stale_queries", "authors"}
    assert not any(q.get("write") for q in queries)


# ---------------------------------------------------------------- .bib


def test_bib_has_every_matching_row_beyond_the_first_page(client):
    entries = bib_entries(client.get("/papers/papers.bib").text)
    assert len(entries) == N + 1 > 100
    assert len({e.key for e in entries}) == N + 1
    published = {r["id"]: r["published"] for r in client.json("/papers/papers.json?_shape=array&_size=max")}
    assert [published[e["eprint"]] for e in entries] == sorted(published.values(), reverse=True)  # the view's order
    # from a later page, with a filter: still the whole filter, from the start
    first = client.json(f"/papers/papers.json?_through={through(tag_id(client, 'pruning'))}&_size=10")
    page2 = client.get(f"/papers/papers.bib?_through={through(tag_id(client, 'pruning'))}&_size=10&_next={first['next']}")
    assert len(bib_entries(page2.text)) == papers_db.pruning_count()


def test_bib_follows_search_and_column_filters(client):
    assert [e["eprint"] for e in bib_entries(client.get(f"/papers/papers.bib?_search={TITLE_WORD}").text)] == ["2001.00007"]
    entries = bib_entries(client.get("/papers/papers.bib?primary_category=cs.CV").text)
    assert len(entries) == N // 2
    entry = entries[0]
    # the entry type follows the venue columns (issue 5); every arXiv paper carries its eprint
    assert entry.entry_type == "misc"  # no venue
    assert entry["archivePrefix"] == "arXiv" and entry["eprint"].startswith("2001.")


def test_bib_of_queries_ignores_the_row_limit(db_path):
    small = Client(datasette_for(db_path, settings={"max_returned_rows": 60}))
    try:
        assert small.json("/papers/by_tag.json?tag=binarization")["truncated"]
        assert len(bib_entries(small.get("/papers/by_tag.bib?tag=binarization").text)) == N + 1
        sql = urllib.parse.quote("select id from papers where primary_category = 'cs.CV'")
        assert len(bib_entries(small.get(f"/papers.bib?sql={sql}").text)) == N // 2
        # the table view pages through _size=max (60 rows) internally
        assert len(bib_entries(small.get("/papers/papers.bib").text)) == N + 1
    finally:
        small.close()


def test_bib_stops_at_the_cap_and_says_so(client, monkeypatch):
    monkeypatch.setattr(bib, "BIB_CAP", 25)
    response = client.get("/papers/papers.bib")
    assert response.headers["x-papertrack-truncated"] == "25"
    assert "more than 25 rows match" in response.text
    assert len(bib_entries(response.text)) == 25
    assert len(bib_entries(client.get("/papers/by_tag.bib?tag=binarization").text)) == 25


def test_bib_offered_only_where_there_are_paper_ids(client):
    assert "papers.bib" in client.get("/papers/papers").text
    assert ".bib" in client.get("/papers/by_tag?tag=pruning").text
    assert ".bib" in client.get("/papers/picks").text  # papers_id column
    assert ".bib" not in client.get("/papers/tags").text
    assert ".bib" not in client.get("/papers/authors").text  # the canned query
    assert "needs a paper id column" in client.get("/papers/tags.bib", status=400).text


def test_bib_of_a_link_table_exports_its_papers(client):
    entries = bib_entries(client.get(f"/papers/papers_tags.bib?tags_id={tag_id(client, 'pruning')}").text)
    assert len(entries) == papers_db.pruning_count()


# ---------------------------------------------------------------- pages


def test_paper_page_shows_abstract_summary_tags_authors_and_links(client):
    html = client.get("/papers/papers/2001~2E00011").text
    row = client.json("/papers/papers/2001~2E00011.json?_shape=objects")["rows"][0]
    assert ABSTRACT_WORD in html and row["summary"] and row["summary"] in html
    assert 'href="https://arxiv.org/abs/2001.00011"' in html and 'href="https://arxiv.org/pdf/2001.00011"' in html
    for tag in ("binarization",):
        assert re.search(rf'<a href="[^"]*_through=[^"]*">{tag}</a>', html)
    assert re.search(r'<a href="[^"]*papers_authors[^"]*">Ada Lovelace</a>', html)
    assert "papers.bib" not in html and "2001~2E00011.bib" in html


def test_other_row_pages_are_datasette_defaults(client):
    html = client.get(f"/papers/tags/{tag_id(client, 'pruning')}").text
    assert "Links from other tables" in html and 'class="paper"' not in html


def test_table_cells_are_readable(client):
    html = client.get(f"/papers/papers?_search={TITLE_WORD}").text
    assert "Ada Lovelace, Author 7" in html and "[&#34;Ada" not in html and '["Ada' not in html
    assert ">abs</a>" in html and ">pdf</a>" in html
    assert html.index('data-column="title"') < html.index('data-column="abstract"') < html.index('data-column="updated"')


def test_hostile_text_is_escaped_everywhere(client):
    pages = [
        "/papers/papers",
        "/papers/papers?_search=binarization",
        "/papers/papers/2001~2E09999",
        "/papers/latest?days=100000",
        "/papers/authors",
        f"/papers?sql={urllib.parse.quote('select title, abstract from papers where id = ' + repr(HOSTILE_ID))}",
    ]
    for path in pages:
        html = client.get(path).text
        assert '<script>alert("pwned")' not in html and "<b>Bold</b>" not in html, path
        assert "<img src=x" not in html and "<i>Mallory</i>" not in html, path
    row_page = client.get("/papers/papers/2001~2E09999").text
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in row_page
    assert "&lt;i&gt;Mallory&lt;/i&gt;" in row_page


# ---------------------------------------------------------------- no SQL can write


@pytest.mark.parametrize(
    "sql",
    [
        "delete from papers",
        "update papers set title = 'x'",
        "insert into tags (name) values ('x')",
        "drop table papers",
        "pragma journal_mode = delete",
        "attach database ':memory:' as other",
        "with t as (select 1) delete from papers",
        "select 1; delete from papers",
    ],
)
def test_write_sql_is_refused(client, db_path, sql):
    data = client.json(f"/papers.json?sql={urllib.parse.quote(sql)}", status=400)
    assert not data["ok"]
    assert client.json("/papers/papers.json?_size=1")["filtered_table_rows_count"] == N + 1


def test_connections_are_read_only_not_immutable(client):
    db = client.ds.get_database("papers")
    assert db.is_mutable

    def write(conn):
        conn.execute("delete from papers")

    with pytest.raises(Exception, match="readonly"):
        client.loop.run_until_complete(db.execute_fn(write))


# ---------------------------------------------------------------- one metadata block, any database name


def test_metadata_applies_to_any_database_with_a_papers_table(db_path, tmp_path):
    demo = tmp_path / "demo.db"
    shutil.copy(db_path, demo)
    other = tmp_path / "other.db"
    import sqlite3

    sqlite3.connect(other).execute("create table things (id integer primary key)").connection.commit()
    from datasette.app import Datasette

    from papertrack.web.serve import load_metadata

    c = Client(Datasette([str(demo), str(other)], metadata=load_metadata()))
    try:
        data = c.json("/demo/papers.json")
        assert set(data["facet_results"]) == {"tags", "primary_category", "venue", "year"}
        assert len(c.json("/demo/by_tag.json?tag=pruning&_shape=array")) == papers_db.pruning_count()
        assert c.json("/other.json")["queries"] == []
        assert "papers.bib" in c.get("/demo/papers").text
    finally:
        c.close()
