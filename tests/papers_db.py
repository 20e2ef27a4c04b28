"""A small papertrack database for the Datasette tests, written by the real store code.

130 binarization papers (more than a table page of 50 and than Datasette's default 100),
every third also found by the pruning query, 5 submitted in the last days, one with
hostile markup in its title, abstract and authors, and a failed harvest run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from papertrack.config import parse_config
from papertrack.models import abs_url, iso_utc, pdf_url
from papertrack.store.papers import save_papers
from papertrack.store.runs import record_run, start_run, sync_queries
from papertrack.store.schema import open_db, transaction
from tests.helpers import make_paper

QUERIES = parse_config("""\
queries:
  - name: binarization
    source: arxiv
    query: 'abs:"binary neural network"'
    tags: [binarization]
  - name: pruning
    source: arxiv
    query: 'ti:pruning'
    tags: [pruning]
""")
N = 130
RECENT = 5
HOSTILE_ID = "2001.09999"
HOSTILE_TITLE = '<script>alert("pwned")</script> <b>Bold</b> binarization'
HOSTILE_ABSTRACT = "An <img src=x onerror=alert(1)> abstract about <b>binary</b> weights."
TITLE_WORD = "zebrafinch"  # only in paper 7's title
ABSTRACT_WORD = "quokkanet"  # only in paper 11's abstract


def paper(i: int):
    now = datetime.now(UTC)
    published = iso_utc(now - timedelta(days=i + 1)) if i < RECENT else f"20{10 + i % 12:02d}-0{1 + i % 9}-15T10:00:00Z"
    kw = {"published": published, "updated": published}
    if i == 7:
        kw["title"] = f"The {TITLE_WORD} binary network"
    if i == 11:
        kw["abstract"] = f"We propose {ABSTRACT_WORD}, a binary neural network for phones. It is small."
    if i % 10 == 0:
        kw["comment"] = f"Accepted at CVPR 20{10 + i % 12:02d}"
    if i % 2:
        kw["primary_category"], kw["categories"] = "cs.CV", ["cs.CV", "cs.LG"]
    pid = f"2001.{i:05d}"
    return make_paper(i, url=abs_url(pid), pdf_url=pdf_url(pid), **kw)


def build(path: str | Path) -> Path:
    """Write the database at `path` (a file: Datasette serves files)."""
    db = open_db(path)
    ids = sync_queries(db, QUERIES.queries)
    papers = [paper(i) for i in range(N)]
    hostile = make_paper(
        9999, id=HOSTILE_ID, title=HOSTILE_TITLE, abstract=HOSTILE_ABSTRACT, authors=["<i>Mallory</i>", "Ada Lovelace"]
    )
    with transaction(db):
        save_papers(db, papers + [hostile], query_id=ids["binarization"])
        save_papers(db, papers[::3], query_id=ids["pruning"])
    run = start_run(db, "pruning")
    record_run(db, run, status="failed", error="arXiv said no", finished=iso_utc(datetime.now(UTC)))
    db.close()
    return Path(path)


def pruning_count() -> int:
    return len(range(0, N, 3))
