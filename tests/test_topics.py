"""The newsletter's topics as the shipped queries.yaml has them (compression, then inference
acceleration, then deployment): the order of a digest's groups and the browse page's tag facet."""

from __future__ import annotations

import re
from html import unescape

from papertrack.config import load_config
from papertrack.newsletter.digest import select
from papertrack.store.papers import save_papers
from papertrack.store.runs import sync_queries, tag_order
from papertrack.store.schema import open_db, transaction
from papertrack.store.tags import record_edits
from papertrack.web.serve import datasette_for
from tests.helpers import ROOT, DatasetteClient, make_paper

SHIPPED = load_config(ROOT / "queries.yaml")
COMPRESSION = ["binarization", "quantization", "pruning", "distillation", "nas", "bert-compression", "sparse-training",
               "efficient-architectures"]  # fmt: skip
ACCELERATION = ["kernels", "compilers", "inference-engines", "accelerators", "speculative-decoding", "llm-serving",
                "efficient-training"]  # fmt: skip
DEPLOYMENT = ["on-device", "tinyml"]


def test_the_shipped_topics_come_compression_first_then_acceleration_then_deployment(db):
    sync_queries(db, SHIPPED.queries)
    assert tag_order(db)[:17] == COMPRESSION + ACCELERATION + DEPLOYMENT
    assert [r.tag for r in SHIPPED.taxonomy] == COMPRESSION + ACCELERATION + DEPLOYMENT


def test_a_digest_groups_papers_by_the_first_of_their_topics(db):
    tagged = {
        1: ["tinyml"], 2: ["llm-serving"], 3: ["llm-serving", "quantization"], 4: ["on-device", "efficient-architectures"],
        5: ["speculative-decoding"], 6: ["kernels"], 7: ["my-own-tag"],
    }  # fmt: skip
    with transaction(db):
        save_papers(db, [make_paper(n) for n in tagged])
        for n, tags in tagged.items():
            record_edits(db, [f"2001.{n:05d}"], tags, "add")
    sync_queries(db, SHIPPED.queries)
    digest = select(db, "2020-01-01", "2020-01-31", tag_order=tag_order(db))
    assert [int(e.id.split(".")[1]) for e in digest.entries] == [3, 4, 6, 5, 2, 1, 7]


def test_the_browse_page_lists_every_topic_most_papers_first(tmp_path):
    db = open_db(tmp_path / "papers.db")
    topics = COMPRESSION + ACCELERATION + DEPLOYMENT
    with transaction(db):
        save_papers(db, [make_paper(n) for n in range(1, 41)])
        for i, tag in enumerate(topics):  # tag i on the first 40 - 2i papers: every count differs
            record_edits(db, [f"2001.{n:05d}" for n in range(1, 41 - 2 * i)], [tag], "add")
    db.close()
    client = DatasetteClient(datasette_for(tmp_path / "papers.db"))
    try:
        html = client.get("/browse").text
    finally:
        client.close()
    section = re.search(r'<section id="facet-tag">(.*?)</section>', html, re.S).group(1)
    listed = [unescape(t) for t in re.findall(r'<a href="[^"]*">([^<]+)</a> <span class="n">', section)]
    assert listed == topics  # all 17, most papers first


def test_the_group_order_follows_the_file_whatever_order_the_queries_were_stored_in(db):
    """The desk reads the order from the database, the CLI syncs the file first: a database
    that stored the queries in another order (new ones added later) still groups as the file says."""
    sync_queries(db, tuple(reversed(SHIPPED.queries)))
    assert tag_order(db)[:2] != COMPRESSION[:2]
    sync_queries(db, SHIPPED.queries)
    assert tag_order(db)[:17] == COMPRESSION + ACCELERATION + DEPLOYMENT
    sync_queries(db, (*SHIPPED.queries[1:], SHIPPED.queries[0]))  # the first query moved to the end of the file
    assert tag_order(db)[0] == SHIPPED.queries[1].tags[0]
