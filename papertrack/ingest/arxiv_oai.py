"""Source `arxiv-oai`: the daily run of saved arXiv queries through arXiv's OAI-PMH.

Once a query has been backfilled (by the query API, or from a snapshot import), its daily
run no longer asks arXiv's search. Instead one listing per set (`oai_sets`: the subject
groups its `cat:` restrictions confine it to; `cs` and `stat` for the shipped queries)
brings every record modified since the last run, for all queries together: one request
when nothing changed, one per 2,000 modified records otherwise, however many queries
there are. Each page is matched locally against every query listed in that set
(`store.page_match`, the matcher of `papertrack match`); what any query matches, and new
versions of papers already stored, are saved as a harvest saves them, in one transaction
with the listing's progress (`store.listings`): a killed run resumes at its resumption
token; an expired token (badResumptionToken) restarts the window at the newest day already
listed, as arXiv's own tokens do (ids are keys: the records listed twice are not duplicated).

Windows start from what the server said, never from this machine's clock: a query is
complete up to the newest datestamp listed (or, when nothing was, the responseDate), and
its next window starts a day (`OVERLAP`) before that. After a query API backfill, the
first window starts a week (`LOOKBACK`) before the day arXiv answered it, because arXiv
lists papers only days after the date they carry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from functools import partial
from typing import Any

from papertrack.errors import PapertrackError, Throttled
from papertrack.ingest.arxiv_api import ARXIV_DELAY
from papertrack.ingest.local_match import saved_query_text
from papertrack.ingest.runs import LOOKBACK, Run, State, recorded, stored_state
from papertrack.models import Paper
from papertrack.sources.arxiv_query import parse
from papertrack.sources.http import ServiceClient
from papertrack.sources.oai import EARLIEST, OAI_URL, OaiClient, TokenExpired
from papertrack.sources.oai_sets import query_sets
from papertrack.sources.registry import Setting, Source
from papertrack.store.listings import Listing, end_listing, load_listing, save_listing
from papertrack.store.page_match import match_records
from papertrack.store.papers import SaveResult, link_query, save_papers, stored_rows
from papertrack.store.precedence import keep_precise
from papertrack.store.runs import query_state
from papertrack.store.schema import transaction
from papertrack.store.tags import refresh_tags

OVERLAP = timedelta(days=1)  # re-list the last day listed: records can still arrive with its datestamp


class ArxivOai(Source):
    name, via, serves, service = "arxiv-oai", "oai", "arxiv", "arXiv"
    describes = "arXiv's OAI-PMH interface"
    priority = 10  # asked first: it takes the daily runs of backfilled queries
    client_class = OaiClient
    settings = (
        Setting("url", "--arxiv-oai-url", "PAPERTRACK_ARXIV_OAI_URL", OAI_URL, "url", "arXiv OAI-PMH endpoint"),
        ARXIV_DELAY,
    )

    def validate(self, query: str) -> None:
        parse(query)

    def takes(self, query: Any, state: State, via: str, full: bool) -> bool | str:
        forced = via == "oai"
        if full:
            return False  # a full re-read is the query API's (with --via oai it is refused before the run)
        if state.progress is not None:  # OAI-PMH would end that run, and drop what it has not read yet
            return (
                "an unfinished run through arXiv's query API finishes there first (--via api or auto)" if forced else False
            )
        if not forced and state.covered is None:
            return False  # not backfilled yet: the query API does that
        if query_sets(query.query) is None:
            unconfined = "not confined to arXiv categories (no cat: restriction that every match satisfies)"
            if forced:
                return f"{unconfined}: OAI-PMH cannot serve it (--via api or auto)"
            return f"{unconfined}, so it keeps using arXiv's query API"
        return True

    def harvest(self, runs: Sequence[Run], clients: Mapping[str, ServiceClient]) -> None:
        client = clients[self.name]
        assert isinstance(client, OaiClient)
        with recorded(runs):
            daily_run(runs, client)


SOURCE = ArxivOai()


def window_start(state: State, since: date | None) -> str | None:
    """The first day of a query's next window (None: from arXiv's first datestamp on)."""
    if state.covered is None:
        return since.isoformat() if since else None
    back = OVERLAP if state.covered_via == "oai" else LOOKBACK
    return max((date.fromisoformat(state.covered[:10]) - back).isoformat(), EARLIEST)


def daily_run(runs: Sequence[Run], client: OaiClient) -> None:
    """List every set these queries live in once, match and store its pages, and complete
    each query when all its sets are listed. A set that fails fails its queries only;
    a throttled endpoint ends the run (the caller defers what is left)."""
    db = runs[0].db
    sets = {run.query.name: query_sets(run.query.query) or [] for run in runs}
    starts = {run.query.name: window_start(stored_state(db, run.query_id), run.query.since) for run in runs}
    listed: dict[str, str] = {}  # set -> the day it is listed up to
    newest: dict[str, str] = {}  # query -> the newest 'updated' among the papers it matched
    for set_spec in sorted({s for names in sets.values() for s in names}):
        members = [r for r in runs if set_spec in sets[r.query.name] and r.report.status == "ok"]
        if not members:
            continue
        start = min((starts[r.query.name] or "" for r in members), default="") or None
        complete = partial(complete_set, set_spec, members, sets, listed, newest)
        try:
            list_set(set_spec, start, members, client, newest, complete)
        except Throttled:
            raise  # ask arXiv's OAI-PMH nothing more: the caller defers every query left
        except PapertrackError as e:  # this set's queries fail; the other sets still run
            for run in members:
                run.end("failed", f"set {set_spec}: {e}")


def complete_set(
    set_spec: str,
    members: Sequence[Run],
    sets: dict[str, list[str]],
    listed: dict[str, str],
    newest: dict[str, str],
    day: str,
) -> None:
    """A set is listed up to `day`: complete the queries whose sets are all listed now
    (inside the transaction of the set's last page)."""
    listed[set_spec] = day
    for run in members:
        names = sets[run.query.name]
        if all(s in listed for s in names):
            finish(run, min(listed[s] for s in names), newest.get(run.query.name))


def list_set(
    set_spec: str,
    start: str | None,
    members: Sequence[Run],
    client: OaiClient,
    newest: dict[str, str],
    complete: Callable[[str], None],
) -> None:
    """Page through one set's listing (resuming a stored one that serves these queries)."""
    db = members[0].db
    texts = {r.query.name: saved_query_text(r.query) for r in members}
    keep_all = members[0].options.keep_all
    listing = load_listing(db, set_spec)
    if listing is None or not listing.covers(start or "", texts, keep_all):
        listing = Listing(set_spec, start or "")
    listing.queries = dict(texts)  # its pages from here on are matched for these queries only
    listing.keep_all = keep_all  # ... and keep every record only if this run does
    restarted_at: str | None = None
    while True:
        # a listing without a token but with pages behind it lost its token: it goes on from the
        # newest day it listed (records come in datestamp order: every earlier one is stored)
        day = listing.newest if listing.token is None and listing.pages else listing.start
        try:
            page = client.list_records(set_spec, day or None, listing.token)
        except TokenExpired:
            if listing.token is None or listing.newest == restarted_at:
                raise  # expired again before a new day was listed: no way forward
            restarted_at, listing.token = listing.newest, None
            continue
        listing.response_day = listing.response_day or page.response_day
        matched = match_records(page.papers, {n: t for n, t in texts.items()})
        with transaction(db):
            store_page(members, page.papers, matched, newest)
            listing.token = page.token
            listing.newest = max(listing.newest or "", page.newest or "") or None
            listing.pages += 1
            if page.token:
                save_listing(db, listing)
            else:
                end_listing(db, set_spec)
                complete(listing.newest or listing.response_day or page.response_day)
        for run in members:
            run.page(page)
        if not page.token:
            return


def store_page(members: Sequence[Run], papers: list[Paper], matched: dict[str, list[str]], newest: dict[str, str]) -> None:
    """Save what any query matched and new versions of stored papers (the caller's transaction);
    link each query's matches and count them in its run."""
    db = members[0].db
    keep_all = members[0].options.keep_all
    wanted = {i for ids in matched.values() for i in ids}
    stored = stored_rows(db, [p.id for p in papers])
    keep = [
        keep_precise(stored[p.id], p) if p.id in stored else p
        for p in papers
        if keep_all or p.id in wanted or p.id in stored
    ]
    saved = save_papers(db, keep, taxonomy=members[0].taxonomy)
    dates = {p.id: p.updated or "" for p in keep}
    new, updated = set(saved.new), set(saved.updated)
    for run in members:
        ids = matched.get(run.query.name, [])
        refresh_tags(db, link_query(db, run.query_id, ids))
        if ids:
            newest[run.query.name] = max([newest.get(run.query.name, ""), *(dates[i] for i in ids)])
        run.count(SaveResult(new=[i for i in ids if i in new], updated=[i for i in ids if i in updated]))


def finish(run: Run, day: str, newest: str | None) -> None:
    """The query is complete up to `day` (the server's): clear its progress, move its
    watermark to the newest paper it matched, and mark it done."""
    watermark, _ = query_state(run.db, run.query_id)
    run.finish(max(watermark or "", newest or "") or None, covered=(day, "oai"))
