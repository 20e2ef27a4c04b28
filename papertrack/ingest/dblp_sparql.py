"""Source `dblp-sparql`: saved dblp venue queries through dblp's SPARQL endpoint.

Each page of records is linked to the papers already stored, or to their arXiv preprints
(`link_dblp`, which may ask arXiv's query API: the `arxiv-api` client), and stored in one
transaction with the query's progress. dblp can neither sort nor filter by date, but a
venue's table of contents is a closed set that only grows: the watermark is the match
count of the last complete run and the title filter it ran with. A run reads the first
page; if neither changed it stops there (one request), else it reads every page again,
where records already stored cost no look-ups. `--full` reads every page and looks up
unlinked preprints again. While arXiv throttles this machine, dblp is not asked: the
queries are deferred with arXiv's.

Pages are read by OFFSET in the order of the publications' IRIs, so a record added to the
table of contents moves the ones after it: a listing keeps the count its first page gave,
and a later page (a resumed run's first) that counts otherwise starts it again at offset 0.
An empty page after the first is not the end: it is fetched again, then fails the query,
whose next run starts the listing over.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import partial

from papertrack.errors import SourceError, Throttled
from papertrack.ingest.link_dblp import plan_page, save_plan
from papertrack.ingest.runs import Run, recorded
from papertrack.sources.arxiv import ArxivClient
from papertrack.sources.dblp_query import parse_dblp
from papertrack.sources.dblp_sparql import PAGE_SIZE, SPARQL_URL, DblpSparqlClient, EmptyPage
from papertrack.sources.http import DEFAULT_DELAY, ServiceClient
from papertrack.sources.registry import Setting, Source
from papertrack.store.runs import query_state, set_progress
from papertrack.store.schema import transaction


class DblpSparql(Source):
    name, via, serves, service = "dblp-sparql", "sparql", "dblp", "dblp"
    describes = "dblp's SPARQL endpoint"
    needs = ("arxiv-api",)  # preprints are looked up on arXiv
    client_class = DblpSparqlClient
    settings = (
        Setting("url", "--dblp-sparql-url", "PAPERTRACK_DBLP_SPARQL_URL", SPARQL_URL, "url", "dblp SPARQL endpoint"),
        Setting("delay", "--dblp-delay", "PAPERTRACK_DBLP_DELAY", DEFAULT_DELAY, "seconds", "Pause between dblp requests"),
        Setting(
            "page_size",
            "--dblp-page-size",
            "PAPERTRACK_DBLP_PAGE_SIZE",
            PAGE_SIZE,
            "count",
            "Publications per dblp request (for tests)",
            hidden=True,
            most=10_000,
        ),  # fmt: skip
    )

    def validate(self, query: str) -> None:
        parse_dblp(query)

    def harvest(self, runs: Sequence[Run], clients: Mapping[str, ServiceClient]) -> None:
        dblp, arxiv = clients[self.name], clients["arxiv-api"]
        assert isinstance(dblp, DblpSparqlClient) and isinstance(arxiv, ArxivClient)
        for run in runs:
            with recorded([run]):
                if isinstance(arxiv.refused, Throttled):
                    raise arxiv.refused  # linking may need arXiv: a page read now could not be stored
                harvest_dblp(run, dblp, arxiv)


SOURCE = DblpSparql()


def harvest_dblp(run: Run, dblp: DblpSparqlClient, arxiv_client: ArxivClient) -> None:
    """Page one dblp query into the database, linking each record to its arXiv paper."""
    db, query, query_id, full = run.db, run.query, run.query_id, run.full
    watermark, state = query_state(db, query_id)
    if state is None or (full and not state.get("full")) or "total" not in state:
        state = {"full": full, "first": 0, "total": None}
    parsed, fresh, restarted = parse_dblp(query.query), state["first"] == 0, False
    while True:
        try:
            page = dblp.page(parsed, state["first"])
        except SourceError as e:
            if isinstance(e.__cause__, EmptyPage):  # the listing is not what its offset says: start over next time
                with transaction(db):
                    set_progress(db, query_id, {**state, "first": 0, "total": None})
            raise
        if state["total"] not in (None, page.total):
            # the table of contents changed since the listing began: ORDER BY ?publ puts new
            # records anywhere, so the pages read so far may have missed some. Start over.
            if restarted:
                raise SourceError("dblp's count for this query changed twice while it was read; run the harvest again")
            state, fresh, restarted = {**state, "first": 0, "total": None}, True, True
            continue
        state["total"] = page.total
        # a changed title_filter changes the mark too: the records it now admits are read
        mark = json.dumps({"hits": page.total, "title_filter": query.title_filter})
        done = page.first + page.sent >= page.total or (fresh and not full and watermark == mark)
        plan = plan_page(db, page, query, arxiv_client, lookup_known=state["full"])
        state["first"] = page.first + page.sent
        run.store(page, partial(save_plan, db, plan, query_id, run.taxonomy), None if done else state, watermark=mark)
        if done:
            return
