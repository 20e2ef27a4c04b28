"""Source `arxiv-api`: saved arXiv queries through arXiv's query API, one query at a time.

The backfill of every arXiv query, and its daily run when OAI-PMH cannot serve it
(`--via api`, `--full`, a query not confined to arXiv's sets). Queries are incremental by
a watermark: results come newest-updated first, and paging stops at the first paper
updated before the previous complete run's newest one, so a run with nothing new costs
one request. New versions move a paper to the top of that order, so they are picked up
too. The state of an unfinished run (which date window, which offset) is committed with
every page: a killed run resumes where it stopped. A complete run records the day arXiv
answered it (its Date header) as the day the query is complete up to: OAI-PMH takes over
from there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial

from papertrack.ingest.runs import LOOKBACK, Run, recorded
from papertrack.models import iso_utc
from papertrack.sources.arxiv import ARXIV_URL, PAGE_SIZE, ArxivClient, Page
from papertrack.sources.arxiv_query import PAGING_LIMIT, arxiv_form, first_window, parse, split_window, windowed
from papertrack.sources.http import DEFAULT_DELAY, ServiceClient
from papertrack.sources.registry import Setting, Source
from papertrack.store.papers import save_papers
from papertrack.store.runs import query_state, set_progress
from papertrack.store.schema import transaction

ARXIV_DELAY = Setting(
    "delay", "--arxiv-delay", "PAPERTRACK_ARXIV_DELAY", DEFAULT_DELAY, "seconds",
    "Pause between arXiv requests, query API and OAI-PMH alike (arXiv asks for 3)",
)  # fmt: skip


class ArxivApi(Source):
    name, via, serves, service = "arxiv-api", "api", "arxiv", "arXiv"
    describes = "arXiv's query API"
    priority = 20  # after OAI-PMH: the API takes what OAI-PMH does not
    client_class = ArxivClient
    settings = (
        Setting("url", "--arxiv-url", "PAPERTRACK_ARXIV_URL", ARXIV_URL, "url", "arXiv API endpoint"),
        ARXIV_DELAY,
        Setting(
            "page_size",
            "--arxiv-page-size",
            "PAPERTRACK_ARXIV_PAGE_SIZE",
            PAGE_SIZE,
            "count",
            "Results per arXiv request (for tests)",
            hidden=True,
            most=PAGE_SIZE,
        ),  # fmt: skip
    )

    def validate(self, query: str) -> None:
        parse(query)

    def harvest(self, runs: Sequence[Run], clients: Mapping[str, ServiceClient]) -> None:
        client = clients[self.name]
        assert isinstance(client, ArxivClient)
        for run in runs:
            with recorded([run]):
                harvest_arxiv(run, client, run.options.lookback)


SOURCE = ArxivApi()


def harvest_arxiv(run: Run, client: ArxivClient, lookback: timedelta = LOOKBACK) -> None:
    """Page one arXiv query into the database, resuming any unfinished run."""
    db, query, query_id, full = run.db, run.query, run.query_id, run.full
    watermark, state = query_state(db, query_id)
    if state is None or (full and not state.get("full")):
        floor = None if full or not watermark else _shift(watermark, -lookback)
        state = {"full": full, "floor": floor, "windows": [first_window(query.since)], "start": 0, "newest": None}
    floor, sent = state["floor"], arxiv_form(query.query)
    while state["windows"]:
        window, start = state["windows"][0], state["start"]
        page = client.page(windowed(sent, window), start)
        state.setdefault("served", client.server_day)  # the day arXiv answered the run's first page
        if start == 0 and page.total > PAGING_LIMIT and not _reaches(page, floor):
            # more than arXiv will page through: split by submission date and start over
            newest = max((p.updated or "" for p in page.papers), default="") or client.server_day or ""
            state["windows"][0:1] = split_window(window, page.total, newest)
            with transaction(db):
                set_progress(db, query_id, state)
            continue
        keep = [p for p in page.papers if floor is None or (p.updated or "") >= floor]
        end = start + len(page.papers)
        if len(keep) < len(page.papers) or end >= min(page.total, PAGING_LIMIT) or not page.papers:
            state["windows"].pop(0)
            state["start"] = 0
        else:
            state["start"] = end
        state["newest"] = max([state["newest"] or "", *(p.updated or "" for p in keep)]) or None
        mark = max(state["newest"] or "", watermark or "") or None
        served = state.get("served") or (mark or "")[:10] or None
        # storing happens inside the politeness delay: the session waits from the last response
        run.store(
            page,
            partial(save_papers, db, keep, query_id=query_id, taxonomy=run.taxonomy),
            state if state["windows"] else None,
            watermark=mark,
            covered=(served, "api") if served else None,
        )


def _shift(iso: str, delta: timedelta) -> str:
    return iso_utc(datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ") + delta)  # type: ignore[return-value]


def _reaches(page: Page, floor: str | None) -> bool:
    """Whether this page already holds a paper older than the watermark (paging ends here)."""
    return floor is not None and any((p.updated or "") < floor for p in page.papers)
