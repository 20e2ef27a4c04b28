"""The browse page's derived tables (store/derived.py): every write path keeps them equal
to a rebuild from papers and papers_tags, migrations fill them, bulk imports fill them
set-based and atomically, and tag links are written only when they change."""

from __future__ import annotations

import sqlite3

import pytest
import sqlite_utils

from papertrack.config import parse_config
from papertrack.ingest.snapshot import import_snapshot
from papertrack.models import Paper
from papertrack.store import derived
from papertrack.store.merge import merge_row
from papertrack.store.papers import save_papers
from papertrack.store.runs import sync_queries
from papertrack.store.schema import ensure_schema, open_db, transaction
from papertrack.store.tags import refresh_tags, retag, tag, untag
from tests.helpers import BASIC_QUERIES, assert_derived_consistent, derived_state, make_paper
from tests.test_snapshot_import import record, write_snapshot

TAXONOMY = """
taxonomy:
  binary-nets: ['binary neural networks?']
"""


def harvested(db, n: int = 40) -> dict[str, int]:
    ids = sync_queries(db, parse_config(BASIC_QUERIES).queries)
    papers = [make_paper(i, comment="Accepted at CVPR 2021" if i % 3 == 0 else None) for i in range(1, n)]
    with transaction(db):
        save_papers(db, papers, query_id=ids["binarization"])
        save_papers(db, papers[::2], query_id=ids["quantization"])
    return ids


def test_every_write_path_keeps_the_tables_equal_to_a_rebuild(db):
    harvested(db)
    assert_derived_consistent(db)
    tag(db, "2001.00003", ["must-read", "survey"])
    untag(db, "2001.00004", ["binarization"])
    with transaction(db):  # a new version moves the paper: date, category, venue
        save_papers(
            db,
            [
                make_paper(
                    5, version=2, published="2019-03-03T00:00:00Z", updated="2021-05-05T00:00:00Z",
                    primary_category="cs.AI", categories=["cs.AI", "stat.ML"], comment="Accepted at ICML 2019",
                )
            ],
        )  # fmt: skip
    assert_derived_consistent(db)
    with transaction(db):  # plain SQL, as an editor might run it
        db.execute("delete from papers_tags where papers_id = '2001.00007'")
        db.execute("delete from papers where id = '2001.00009'")
        db.execute("update papers set venue = 'NeurIPS 2020', year = 2020 where id = '2001.00010'")
        db.execute("update papers set categories = '[\"q-bio.NC\"]' where id = '2001.00012'")
        db.execute("update papers set published = null where id = '2001.00013'")
        db.execute(
            "update papers_tags set tags_id = (select id from tags where name = 'survey') "
            "where papers_id = '2001.00011' and tags_id = (select id from tags where name = 'binarization')"
        )
    assert_derived_consistent(db)
    with transaction(db):  # a dblp: row folded into its preprint
        save_papers(db, [Paper(id="dblp:conf/x/Y20", title="Another title", authors=["Z"], venue="ICLR 2020", year=2020)])
    tag(db, "dblp:conf/x/Y20", ["from-dblp"])
    assert_derived_consistent(db)
    with transaction(db):
        merge_row(db, "dblp:conf/x/Y20", "2001.00014")
        refresh_tags(db, ["2001.00014"])
    assert_derived_consistent(db)
    config = parse_config(BASIC_QUERIES + TAXONOMY)
    retag(db, config)
    assert_derived_consistent(db)
    assert derived_state(db.conn)["browse_tags"]


def test_a_paper_whose_categories_are_not_json_is_still_browsed(db):
    with transaction(db):
        save_papers(db, [make_paper(1)])
        db.execute("update papers set categories = 'cs.LG cs.CV' where id = '2001.00001'")
    assert_derived_consistent(db)
    assert db.execute("select count(*) from browse_cats").fetchone()[0] == 0


def test_refresh_tags_writes_only_the_links_that_change(db):
    harvested(db, 10)
    ids = [r[0] for r in db.execute("select id from papers")]
    before = db.conn.total_changes
    with transaction(db):
        refresh_tags(db, ids)
    assert db.conn.total_changes == before  # nothing changed, nothing written (no trigger fired)
    with transaction(db):
        db.execute("insert into tag_edits (papers_id, tag, action, at) values ('2001.00002', 'quantization', 'remove', '')")
        refresh_tags(db, ids)
    links = set(db.execute("select papers_id, t.name, origin from papers_tags join tags t on t.id = tags_id"))
    assert ("2001.00002", "quantization", "query") not in links and ("2001.00002", "binarization", "query") in links
    assert_derived_consistent(db)


def test_opening_an_older_database_builds_the_tables(tmp_path):
    path = tmp_path / "old.db"
    db = open_db(path)
    harvested(db)
    expected = derived_state(db.conn)
    with transaction(db):  # as a database written before the browse page existed
        for name in derived.TRIGGERS:
            db.execute(f"drop trigger {name}")
        for name in derived.TABLES:
            db.execute(f"drop table {name}")
    db.close()
    db = open_db(path)
    assert derived.is_current(db) and derived_state(db.conn) == expected
    # an older definition (here: one trigger changed by hand) is rebuilt too
    db.execute("drop trigger browse_ad")
    db.execute("create trigger browse_ad after delete on browse begin select 1; end")
    db.conn.commit()
    assert not derived.is_current(db)
    ensure_schema(db)
    assert derived.is_current(db) and derived_state(db.conn) == expected


def test_a_snapshot_import_fills_the_tables_in_bulk_and_atomically(tmp_path):
    db = open_db(tmp_path / "p.db")
    config = parse_config(BASIC_QUERIES + TAXONOMY)
    path = write_snapshot(tmp_path / "snap.jsonl", [record(n) for n in range(1, 30)])

    def stop(report, chunk):
        assert derived.is_current(db)  # triggers back after every chunk
        if chunk.first_line == 9:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_snapshot(db, path, taxonomy=config.taxonomy, batch=4, on_chunk=stop)
    assert_derived_consistent(db)
    assert db["papers"].count == 12

    import papertrack.ingest.snapshot as snapshot

    def failing(*args, **kw):
        raise RuntimeError("killed while writing")

    original = snapshot.refresh_tags
    snapshot.refresh_tags = failing  # a failure inside the bulk block: the chunk rolls back, triggers too
    try:
        with pytest.raises(RuntimeError):
            import_snapshot(db, path, taxonomy=config.taxonomy, batch=4)
    finally:
        snapshot.refresh_tags = original
    assert db["papers"].count == 12
    assert_derived_consistent(db)
    import_snapshot(db, path, taxonomy=config.taxonomy, batch=4)
    assert db["papers"].count == 29
    assert db.execute("select count(*) from browse_tags").fetchone()[0] == db["papers_tags"].count > 0
    assert_derived_consistent(db)


def test_tags_beyond_the_mask_filter_and_count(db):
    """Tag ids above 62 are not bits of browse.tags: they filter and count through browse_tags."""
    from papertrack.store.browse import BrowseQuery, browse_page

    with transaction(db):
        save_papers(db, [make_paper(i) for i in range(1, 21)])
        db.conn.executemany("insert into tags (id, name) values (?, ?)", [(i, f"t{i}") for i in range(1, 71)])
    tag(db, "2001.00001", ["t70", "t5"])
    for i in range(2, 8):
        tag(db, f"2001.{i:05d}", ["t70", "t63"] if i % 2 else ["t70"])
    tag(db, "2001.00010", ["t63"])
    assert_derived_consistent(db)
    assert db.execute("select max(tags_id) from papers_tags").fetchone()[0] == 70
    conn = db.conn
    page = browse_page(conn, BrowseQuery(tags=("t70",)))
    assert {c.id for c in page.cards} == {f"2001.{i:05d}" for i in range(1, 8)}
    assert page.counts.total == 7
    counts = {label: n for _, label, n in page.counts.values["tag"]}
    assert counts == {"t70": 7, "t63": 3, "t5": 1}
    both = browse_page(conn, BrowseQuery(tags=("t70", "t63")))
    assert {c.id for c in both.cards} == {"2001.00003", "2001.00005", "2001.00007"}
    low_and_high = browse_page(conn, BrowseQuery(tags=("t5", "t70")))
    assert [c.id for c in low_and_high.cards] == ["2001.00001"]
    everything = {label: n for _, label, n in browse_page(conn, BrowseQuery()).counts.values["tag"]}
    assert everything["t70"] == 7 and everything["t63"] == 4


def test_the_bulk_fill_refuses_nothing_but_needs_a_transaction(tmp_path):
    """new_papers_only drops the triggers only inside the caller's transaction: a rollback
    brings them back with everything else."""
    db = sqlite_utils.Database(tmp_path / "x.db")
    ensure_schema(db)
    with pytest.raises(sqlite3.IntegrityError), transaction(db), derived.new_papers_only(db):
        save_papers(db, [make_paper(1)])
        db.execute("insert into papers (id) values ('2001.00001')")  # a duplicate: the transaction fails
    assert derived.is_current(db) and db["papers"].count == 0
    with transaction(db), derived.new_papers_only(db):
        db.execute("insert into papers (id, title, published, primary_category, categories) values (?, ?, ?, ?, ?)",
                   ["2001.00002", "T", "2020-01-01T00:00:00Z", "cs.LG", '["cs.LG"]'])  # fmt: skip
    assert_derived_consistent(db)


@pytest.mark.parametrize(
    "knobs",
    [
        {"browse.SMALL_MATCH": 1, "browse.PROBE_SHARE": 0.9},  # the matches, then the date index
        {"browse.SMALL_MATCH": 1, "browse.PROBE_SHARE": 0.0},  # the date index, probing the FTS index
        {"browse_search.PROBE_RATIO": 10**9},  # filters drive, probing the FTS index
        {"browse_counts.FACET_CAP": 7},  # counts sampled
    ],
)
def test_every_plan_gives_the_same_pages(db, monkeypatch, knobs):
    """The planner's choices (from match counts SQLite cannot see) change speed, not results."""
    from papertrack.store import browse, browse_counts, browse_search
    from papertrack.store.browse import BrowseQuery, browse_page

    harvested(db, 60)
    tag(db, "2001.00004", ["survey"])
    queries = [
        BrowseQuery(q="binary", sort="newest"),
        BrowseQuery(q="binary networks", sort="oldest"),
        BrowseQuery(q="binary", tags=("quantization",), sort="newest"),
        BrowseQuery(q="method", category="cs.LG", year=2020, sort="newest"),
        BrowseQuery(q="binary", tags=("quantization",)),
        BrowseQuery(tags=("quantization",), category="cs.LG"),
    ]

    def pages(query):
        out, after = [], None
        while True:
            page = browse_page(db.conn, BrowseQuery(**{**query.__dict__, "after": after}), size=7)
            out.append(([c.id for c in page.cards], page.counts.total))
            if page.next is None:
                return out
            after = page.next

    expected = [pages(q) for q in queries]
    assert all(len(p) > 1 for p in expected[:3])  # several pages each
    modules = {"browse": browse, "browse_search": browse_search, "browse_counts": browse_counts}
    for name, value in knobs.items():
        module, attr = name.split(".")
        monkeypatch.setattr(modules[module], attr, value)
    got = [pages(q) for q in queries]
    if "browse_counts.FACET_CAP" in knobs:  # estimated totals: the cards are the same
        assert [[ids for ids, _ in p] for p in got] == [[ids for ids, _ in p] for p in expected]
        sampled = browse_page(db.conn, queries[0]).counts
        assert sampled.exact is False and sampled.exact_total  # a plain search's total is the FTS count
        assert abs(sum(n for _, _, n in sampled.values["year"]) - sampled.total) <= sampled.total * 0.5
    else:
        assert got == expected
