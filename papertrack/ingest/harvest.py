"""Harvest saved queries: each query goes to the registered source that takes it
(`sources.registry`), and each source harvests its queries, recording every run the same
way (`runs`).

Which source takes a query: those serving its `source:` are asked in their order; for
arXiv, OAI-PMH takes the daily run of a query that has been backfilled and is confined to
arXiv's sets (unless a query API run of it is unfinished), and the query API takes the rest
(`--via` restricts the choice to one).
Queries deferred by the last run (their service was throttling this machine) go first.
Every endpoint the harvest may use is taken before the first run starts, always in the
registry's order: two harvests can then never each hold one and wait for the other's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta

import sqlite_utils

from papertrack.config import Config, SavedQuery
from papertrack.enrich.taxonomy import Taxonomy
from papertrack.errors import UsageError
from papertrack.ingest.runs import LOOKBACK, OnPage, Options, Run, RunReport, State, recorded, stored_state
from papertrack.sources import registry
from papertrack.sources.http import ServiceClient
from papertrack.sources.registry import Source
from papertrack.store.runs import last_statuses, sync_queries

__all__ = ["LOOKBACK", "OnPage", "RunReport", "check_options", "harvest", "route"]


def harvest(
    db: sqlite_utils.Database,
    config: Config,
    names: Iterable[str] = (),
    *,
    full: bool = False,
    via: str = "auto",
    keep_all: bool = False,
    clients: Mapping[str, ServiceClient] | None = None,
    on_page: OnPage | None = None,
    lookback: timedelta = LOOKBACK,
) -> list[RunReport]:
    """Run the named saved queries (all by default); a failed query does not stop the rest.

    `clients`: the sources' clients by source name (`arxiv-api`, `arxiv-oai`,
    `dblp-sparql`); a source without one talks to its real service with default settings.
    Returns one report per query, in the file's order."""
    check_options(full=full, via=via, keep_all=keep_all)
    queries = config.select(list(names))
    ids = sync_queries(db, queries)
    options = Options(full, via, keep_all, lookback)
    last = last_statuses(db, [q.name for q in queries])
    plan: dict[str, list[tuple[SavedQuery, str | None]]] = {}
    refused: list[tuple[SavedQuery, str]] = []
    for q in sorted(queries, key=lambda q: last.get(q.name) != "deferred"):
        source, notes = route(q, stored_state(db, ids[q.name]), options)
        if source is None:
            refused.append((q, "; ".join(notes) or f"no source runs {q.source} queries with --via {via}"))
        else:
            plan.setdefault(source.name, []).append((q, "; ".join(notes) or None))
    known = registry.sources()
    used = sorted((s for name, s in known.items() if name in plan), key=lambda s: s.priority)
    needed = [name for name in known if any(name == s.name or name in s.needs for s in used)]
    own = {name: known[name].client({}) for name in needed if name not in (clients or {})}
    ready = {**(clients or {}), **own}
    taxonomy = Taxonomy(config.taxonomy)
    reports: dict[str, RunReport] = {}

    def run_of(q: SavedQuery, source: Source | None, note: str | None) -> Run:
        count = [ready[n] for n in (source.name, *source.needs)] if source else []
        report = reports[q.name] = RunReport(q.name, via=source.via if source else "", note=note)
        return Run(db, q, ids[q.name], report, taxonomy, options, lambda: sum(c.requests for c in count), on_page)

    try:
        for name in needed:
            ready[name].hold()
        for q, why in refused:
            with recorded([run_of(q, None, None)]):
                raise UsageError(why)
        for source in used:
            source.harvest([run_of(q, source, note) for q, note in plan[source.name]], ready)
    finally:
        for client in own.values():
            client.close()
    return [reports[q.name] for q in queries if q.name in reports]


def check_options(*, full: bool, via: str, keep_all: bool) -> None:
    """Refuse the options no harvest can honour together (`UsageError`, before anything runs)."""
    if full and via == "oai":
        raise UsageError("--full re-reads through arXiv's query API: it does not go with --via oai")
    if keep_all and (full or via == "api"):
        raise UsageError(f"--keep-all keeps what OAI-PMH lists: it does not go with {'--full' if full else '--via api'}")


def route(query: SavedQuery, state: State, options: Options) -> tuple[Source | None, list[str]]:
    """The source that runs `query` in this harvest, and what the others said against it."""
    candidates = registry.serving(query.source)
    if options.via != "auto" and any(s.via == options.via for s in candidates):
        candidates = [s for s in candidates if s.via == options.via]
    notes: list[str] = []
    for source in candidates:
        took = source.takes(query, state, options.via, options.full)
        if took is True:
            return source, notes
        if isinstance(took, str):
            notes.append(took)
    return None, notes
