"""arXiv's query API: pages of `Paper` records, politely.

Requests are built from the `arxiv` package's nouns (`SortCriterion`, `SortOrder`) and
its lxml Atom parser (`arxiv._feed.parse`, public since arxiv 4.0, which we pin); the
transport is our `PoliteSession`. We page ourselves rather than through
`arxiv.Client.results` because a harvest must see page boundaries: each page is
stored in one transaction with the query's progress, and paging stops early.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import arxiv
import requests
from arxiv import _feed
from lxml import etree

from papertrack.errors import QueryRejected, SourceError
from papertrack.models import Paper, abs_url, clean_text, iso_utc, pdf_url, split_arxiv_id
from papertrack.sources.http import DEFAULT_DELAY, BadContent, ServiceClient

ARXIV_URL = "https://export.arxiv.org/api/query"
PAGE_SIZE = 2000  # the most arXiv serves per request
ID_BATCH = 200  # ids per id_list request (keeps URLs short)
_ATOM = {"atom": "http://www.w3.org/2005/Atom"}

logging.getLogger("arxiv._feed").setLevel(logging.ERROR)


@dataclass
class Page:
    """One response: `papers` starting at result `start` of `total`."""

    start: int
    total: int
    papers: list[Paper]
    url: str


class ArxivClient(ServiceClient):
    """The arXiv API (export.arxiv.org unless `base_url` says otherwise), one request per
    `delay` seconds, pages of `page_size` results (arXiv's maximum by default).

    Transport faults are retried inside the session; content faults (a truncated or
    unparseable body, an empty page in the middle of a result set) are retried here,
    because only the body tells them apart. arXiv's error feed is never retried.
    """

    service, default_url = "arXiv", ARXIV_URL
    bot_check_advice = (
        "arXiv is refusing scripts from this address: wait before trying again, and set PAPERTRACK_CONTACT "
        "so arXiv can tell who is asking."
    )

    def __init__(self, base_url: str | None = None, delay: float = DEFAULT_DELAY, page_size: int = PAGE_SIZE, **kw: Any):
        super().__init__(base_url, delay, **kw)  # retries, content_retries, lock, agent: see ServiceClient
        self.page_size = min(page_size, PAGE_SIZE)

    def page(
        self,
        query: str,
        start: int = 0,
        size: int | None = None,
        sort_by: arxiv.SortCriterion = arxiv.SortCriterion.LastUpdatedDate,
        id_list: Iterable[str] = (),
    ) -> Page:
        """Fetch one page of results, newest first by `sort_by`."""
        params = {
            "search_query": query,
            "id_list": ",".join(id_list),
            "sortBy": sort_by.value,
            "sortOrder": arxiv.SortOrder.Descending.value,
            "start": str(start),
            "max_results": str(size or self.page_size),
        }

        def read(response: requests.Response) -> Page:
            body = response.content
            rejection = _error_feed_message(response.status_code, body)
            if rejection:
                raise QueryRejected(f"arXiv rejected the query: {rejection}", response.url)
            if response.status_code != 200:
                raise SourceError(f"arXiv answered HTTP {response.status_code} after retries", response.url)
            feed = _parse(body)
            total = feed.header.total_results
            if not feed.results and start > 0 and total > start:
                raise BadContent(f"an empty page at start={start} of {total}")
            return Page(start, total, [to_paper(r) for r in feed.results], response.url)

        return self.fetch(params, read)

    def fetch_ids(self, ids: Iterable[str], batch: int = ID_BATCH) -> Iterator[Paper]:
        """Look papers up by arXiv id, `batch` ids per request; unknown ids are skipped."""
        ids = list(dict.fromkeys(ids))
        for i in range(0, len(ids), batch):
            chunk = ids[i : i + batch]
            page = self.page("", 0, len(chunk), arxiv.SortCriterion.Relevance, id_list=chunk)
            yield from page.papers


def to_paper(result: arxiv.Result) -> Paper:
    """An `arxiv.Result` as a `Paper` (versionless id, version number, ISO dates)."""
    found = split_arxiv_id(result.entry_id)
    paper_id, version = found if found else (result.get_short_id(), None)
    return Paper(
        id=paper_id,
        title=clean_text(result.title),
        abstract=clean_text(result.summary),
        authors=[clean_text(a.name) for a in result.authors],
        published=iso_utc(result.published),
        updated=iso_utc(result.updated),
        version=version or 1,
        primary_category=result.primary_category or (result.categories[0] if result.categories else None),
        categories=list(result.categories),
        doi=result.doi or None,
        journal_ref=clean_text(result.journal_ref) or None,
        comment=clean_text(result.comment) or None,
        url=abs_url(paper_id),
        pdf_url=pdf_url(paper_id),
        year=result.published.year if result.published else None,
    )


def _parse(body: bytes) -> _feed.ParsedFeed:
    # The parser runs in lxml's recover mode, so a cut-off body parses "fine" into a
    # short page: the closing tag is the only reliable sign that the page is whole.
    if not body.rstrip().endswith(b"</feed>"):
        raise BadContent("a truncated page")
    try:
        feed = _feed.parse(body)
    except ValueError as e:
        raise BadContent(f"an unparseable page ({e})") from None
    if feed.malformed:
        raise BadContent(f"an unparseable page ({feed.error})")
    return feed


def _error_feed_message(status: int, body: bytes) -> str | None:
    """arXiv's message if `body` is its error feed (HTTP 400, one entry titled Error)."""
    if b"/api/errors" not in body and status != 400:
        return None
    try:
        root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return f"HTTP {status}" if status == 400 else None
    entry = root.find("atom:entry", _ATOM)
    if entry is None or (entry.findtext("atom:title", "", _ATOM) or "").strip() != "Error":
        return f"HTTP {status}" if status == 400 else None
    return clean_text(entry.findtext("atom:summary", "", _ATOM)) or "unknown error"
