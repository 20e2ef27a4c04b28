"""arXiv's OAI-PMH interface (https://oaipmh.arxiv.org/oai): ListRecords pages as `Paper`s.

It follows arXiv's own implementation (arXiv/arxiv-oaipmh): `ListRecords` with
metadataPrefix `arXiv` (id, created and updated days, authors as keyname/forenames,
title, categories, comments, journal-ref, DOI, abstract), a `set` (`cs`, `stat`,
`cs:cs:LG`), and `from` (YYYY-MM-DD) over each record's datestamp, the day it was last
modified. Up to 2,000 records a page; the next page is asked for by the page's
`resumptionToken` alone (absent on the last page; it expires the next midnight).
Errors are `<error code=...>` elements with HTTP 200: `noRecordsMatch` means nothing new
(an empty page, a success), `badResumptionToken` an expired token (`TokenExpired`: list
the window again), anything else a rejected request. Flow control is HTTP 503 with
Retry-After, which the session honours. `responseDate` is the server's clock: the next
window starts from what the server said, never from this machine's clock.

The `arXiv` format carries days, not times, and no version number: records become
`Paper`s dated to the day, version 1 (`store.precedence.keep_precise` keeps what a stored
paper knows better).
"""

from __future__ import annotations

from dataclasses import dataclass

import requests
from lxml import etree

from papertrack.errors import QueryRejected, SourceError
from papertrack.models import Paper, abs_url, clean_text, pdf_url
from papertrack.sources.arxiv import ArxivClient
from papertrack.sources.http import BadContent, ServiceClient
from papertrack.sources.snapshot import author_names

OAI_URL = "https://oaipmh.arxiv.org/oai"
PREFIX = "arXiv"
EARLIEST = "2007-05-23"  # arXiv's earliestDatestamp: an earlier `from` is a badArgument
OAI = "{http://www.openarchives.org/OAI/2.0/}"
ARXIV = "{http://arxiv.org/OAI/arXiv/}"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


class TokenExpired(SourceError):
    """The server no longer knows the resumption token (`badResumptionToken`)."""


@dataclass
class OaiPage:
    """One ListRecords answer: its records as papers, the newest datestamp among them, the
    token of the next page (None on the last), and the server's date."""

    papers: list[Paper]
    newest: str | None
    token: str | None
    response_day: str
    url: str


class OaiClient(ServiceClient):
    """arXiv's OAI-PMH endpoint (oaipmh.arxiv.org unless `base_url` says otherwise), one
    request per `delay` seconds, with the query API's politeness and retries."""

    service, default_url = "arXiv", OAI_URL
    bot_check_advice = ArxivClient.bot_check_advice

    def list_records(self, set_spec: str, start: str | None = None, token: str | None = None) -> OaiPage:
        """The first page of a set's records modified from day `start` on, or the page `token` names."""
        if token:
            params = {"verb": "ListRecords", "resumptionToken": token}
        else:
            params = {"verb": "ListRecords", "metadataPrefix": PREFIX, "set": set_spec}
            if start:
                params["from"] = max(start, EARLIEST)
        return self.fetch(params, read_page)


def read_page(response: requests.Response) -> OaiPage:
    """A ListRecords answer as an `OaiPage` (see the module docstring for errors)."""
    if response.status_code != 200:
        raise SourceError(f"arXiv's OAI-PMH answered HTTP {response.status_code} after retries", response.url)
    body = response.content
    if not body.rstrip().endswith(b"</OAI-PMH>"):
        raise BadContent("a truncated page")
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as e:
        raise BadContent(f"an unparseable page ({e})") from None
    if root.tag != f"{OAI}OAI-PMH":
        raise BadContent(f"a page that is not OAI-PMH (<{etree.QName(root).localname}>)")
    day = (root.findtext(f"{OAI}responseDate") or "")[:10]
    error = root.find(f"{OAI}error")
    if error is not None:
        code, text = error.get("code") or "", clean_text(error.text)
        if code == "noRecordsMatch":
            return OaiPage([], None, None, day, response.url)
        if code == "badResumptionToken":
            raise TokenExpired(f"arXiv's OAI-PMH no longer knows the resumption token: {text}", response.url)
        raise QueryRejected(f"arXiv's OAI-PMH refused the request: {code}: {text}", response.url)
    listing = root.find(f"{OAI}ListRecords")
    if listing is None:
        raise BadContent("a page without ListRecords")
    papers, newest = [], None
    for record in listing.iterfind(f"{OAI}record"):
        header = record.find(f"{OAI}header")
        stamp = header.findtext(f"{OAI}datestamp") if header is not None else None
        if stamp and (newest is None or stamp > newest):
            newest = stamp
        meta = record.find(f"{OAI}metadata/{ARXIV}arXiv")
        if header is None or header.get("status") == "deleted" or meta is None:
            continue
        paper = record_to_paper(meta)
        if paper.id and paper.title:
            papers.append(paper)
    token = (listing.findtext(f"{OAI}resumptionToken") or "").strip() or None
    return OaiPage(papers, newest, token, day, response.url)


def record_to_paper(meta: etree._Element) -> Paper:
    """One `<arXiv>` metadata element as a `Paper`, dated to the day."""

    def text(tag: str) -> str:
        return clean_text(meta.findtext(f"{ARXIV}{tag}"))

    paper_id = text("id")
    created, updated = text("created")[:10], text("updated")[:10]
    parsed = [
        [a.findtext(f"{ARXIV}keyname") or "", a.findtext(f"{ARXIV}forenames") or "", a.findtext(f"{ARXIV}suffix") or ""]
        for a in meta.iterfind(f"{ARXIV}authors/{ARXIV}author")
    ]
    categories = text("categories").split()
    published = f"{created}T00:00:00Z" if created else None
    return Paper(
        id=paper_id,
        title=text("title"),
        abstract=text("abstract"),
        authors=author_names({"authors_parsed": [[clean_text(p) for p in a] for a in parsed]}),
        published=published,
        updated=f"{updated}T00:00:00Z" if updated else published,
        version=1,
        primary_category=categories[0] if categories else None,
        categories=categories,
        doi=text("doi") or None,
        journal_ref=text("journal-ref") or None,
        comment=text("comments") or None,
        url=abs_url(paper_id),
        pdf_url=pdf_url(paper_id),
        year=int(created[:4]) if created[:4].isdigit() else None,
    )
