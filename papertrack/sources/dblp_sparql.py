"""dblp's SPARQL endpoint (https://sparql.dblp.org/sparql, QLever): pages of venue records.

Since September 2026 dblp answers scripts on its search API and XML exports with a bot
check; the SPARQL endpoint is the programmatic access it still offers. A saved dblp query
(`dblp_query`) becomes one SELECT over dblp's RDF schema (https://dblp.org/rdf/schema#):
`toc:db/conf/cvpr/cvpr2020.bht:` is `dblp:listedOnTocPage <https://dblp.org/db/conf/cvpr/cvpr2020>`,
`venue:` is `dblp:publishedIn`, `year:` is `dblp:yearOfPublication`, title words are
regular expressions on `dblp:title`. It pages the publications with LIMIT/OFFSET under
ORDER BY ?publ (stable), one row a publication: its title, year, venue, volume, pages,
DOI, links (`dblp:documentPage`) and authors in signature order (`dblp:hasSignature`,
`signatureOrdinal`, `signatureDblpName`), plus the count of all matches, so the first
page tells whether anything changed. Answers are SPARQL 1.1 Query Results JSON; QLever
answers a query it cannot run with HTTP 400 and a JSON `exception`, shown in one line.
Rows become dblp's JSON `info` shape for `dblp.page_of`.
"""

from __future__ import annotations

import json
from typing import Any

import requests

from papertrack.errors import QueryRejected, SourceError
from papertrack.sources.dblp import DblpPage, page_of
from papertrack.sources.dblp_query import DblpQuery, parse_dblp, word_pattern
from papertrack.sources.http import DEFAULT_DELAY, BadContent, ServiceClient

SPARQL_URL = "https://sparql.dblp.org/sparql"
PAGE_SIZE = 2000  # publications a request; a large toc (CVPR 2023: 2,353) takes two
REC = "https://dblp.org/rec/"
SCHEMA = "https://dblp.org/rdf/schema#"
# dblp's RDF classes under the type names of its JSON, which `dblp.venue_label` reads
TYPE_NAMES = {
    "Inproceedings": "Conference and Workshop Papers",
    "Article": "Journal Articles",
    "Informal": "Informal and Other Publications",
    "Editorship": "Editorship",
    "Book": "Books and Theses",
    "Incollection": "Parts in Books or Collections",
    "Reference": "Reference Works",
    "Data": "Data and Artifacts",
    "Withdrawn": "Withdrawn Items",
}
_SELECT = """PREFIX dblp: <https://dblp.org/rdf/schema#>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
SELECT ?publ ?total (SAMPLE(?t) AS ?title) (SAMPLE(?y) AS ?year) (SAMPLE(?vol) AS ?volume)
  (SAMPLE(?pg) AS ?pages) (SAMPLE(?d) AS ?doi) (GROUP_CONCAT(DISTINCT STR(?ty); SEPARATOR=" ") AS ?types)
  (GROUP_CONCAT(DISTINCT ?v; SEPARATOR="\\n") AS ?venues) (GROUP_CONCAT(DISTINCT STR(?ee); SEPARATOR=" ") AS ?ees)
  (GROUP_CONCAT(DISTINCT CONCAT(STR(?ord), "\\t", ?name); SEPARATOR="\\n") AS ?authors)
WHERE {{
  {{ SELECT (COUNT(DISTINCT ?p) AS ?total) WHERE {{ {count} }} }}
  {{ SELECT DISTINCT ?publ WHERE {{ {select} }} ORDER BY ?publ LIMIT {limit} OFFSET {offset} }}
  ?publ dblp:title ?t ; rdf:type ?ty .
  OPTIONAL {{ ?publ dblp:yearOfPublication ?y }}
  OPTIONAL {{ ?publ dblp:publishedIn ?v }}
  OPTIONAL {{ ?publ dblp:publishedInJournalVolume ?vol }}
  OPTIONAL {{ ?publ dblp:pagination ?pg }}
  OPTIONAL {{ ?publ dblp:doi ?d }}
  OPTIONAL {{ ?publ dblp:documentPage ?ee }}
  OPTIONAL {{ ?publ dblp:hasSignature ?sig . ?sig dblp:signatureOrdinal ?ord ; dblp:signatureDblpName ?name }}
}}
GROUP BY ?publ ?total
ORDER BY ?publ"""


def sparql(query: DblpQuery, limit: int = PAGE_SIZE, offset: int = 0) -> str:
    """The SELECT for one page of a dblp query's publications (see the module docstring)."""
    return _SELECT.format(count=_where(query, "?p"), select=_where(query, "?publ"), limit=int(limit), offset=int(offset))


def _where(query: DblpQuery, var: str) -> str:
    parts = []
    if query.toc_page:
        parts.append(f"{var} dblp:listedOnTocPage <{query.toc_page}> .")
    if query.venue:
        v = _literal(query.venue)
        parts.append(f"{var} dblp:publishedIn ?sv . FILTER(?sv = {v} || STRSTARTS(?sv, {_literal(query.venue + ' (')}))")
    if query.year:
        parts.append(f'{var} dblp:yearOfPublication ?sy . FILTER(STR(?sy) = "{query.year}")')
    if query.words:
        tests = " && ".join(f'REGEX(?st, {_literal(word_pattern(w, exact))}, "i")' for w, exact in query.words)
        parts.append(f"{var} dblp:title ?st . FILTER({tests})")
    return " ".join(parts)


class EmptyPage(BadContent):
    """A page after the first came back empty: fetched again, then the query fails."""


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class DblpSparqlClient(ServiceClient):
    """dblp's SPARQL endpoint (sparql.dblp.org unless `base_url` says otherwise), one
    request per `delay` seconds, pages of `page_size` publications."""

    service, default_url = "dblp", SPARQL_URL
    bot_check_advice = (
        "dblp shows scripts a bot check here: download dblp.xml.gz and dblp.dtd from https://dblp.org/xml/ "
        "in a browser and run: papertrack import-dblp dblp.xml.gz"
    )

    def __init__(self, base_url: str | None = None, delay: float = DEFAULT_DELAY, page_size: int = PAGE_SIZE, **kw: Any):
        super().__init__(base_url, delay, **{"content_retries": 3, **kw})  # retries, lock, agent: see ServiceClient
        self.http.session.headers["Accept"] = "application/sparql-results+json"
        self.page_size = page_size

    def page(self, query: DblpQuery | str, first: int = 0) -> DblpPage:
        """Publications `first` .. `first + page_size` of a dblp query, in a stable order."""
        parsed = parse_dblp(query) if isinstance(query, str) else query
        params = {"query": sparql(parsed, self.page_size, first)}

        def read(response: requests.Response) -> DblpPage:
            if response.status_code == 400:
                raise QueryRejected(f"dblp's SPARQL endpoint rejected the query: {_exception(response.content)}")
            if response.status_code != 200:
                raise SourceError(f"dblp answered HTTP {response.status_code} after retries")
            try:
                rows = json.loads(response.content)["results"]["bindings"]
            except (ValueError, KeyError, TypeError) as e:
                raise BadContent(f"an unparseable page ({e.__class__.__name__})") from None
            if not rows and first:  # the first page's count said there is more: not the end
                raise EmptyPage(f"an empty page at offset {first}")
            total = int(rows[0]["total"]["value"]) if rows else 0
            return page_of([info_of(row) for row in rows], first, total, response.url)

        return self.fetch(params, read)


def info_of(row: dict) -> dict:
    """One result row as dblp's JSON `info` mapping."""

    def value(name: str) -> str:
        return str((row.get(name) or {}).get("value") or "")

    signatures = [line.partition("\t") for line in value("authors").split("\n") if line]
    authors = [name for _, name in sorted((int(o) if o.isdigit() else 0, n) for o, _, n in signatures)]
    classes = [t.removeprefix(SCHEMA) for t in value("types").split() if t.startswith(SCHEMA)]
    kind = next((TYPE_NAMES[c] for c in classes if c in TYPE_NAMES), None)
    return {
        "key": value("publ").removeprefix(REC),
        "title": value("title"),
        "authors": {"author": authors},
        "venue": sorted(v for v in value("venues").split("\n") if v),
        "year": value("year")[:4],
        "type": kind,
        "ee": value("ees").split(),
        "doi": value("doi").removeprefix("https://doi.org/").removeprefix("http://doi.org/"),
        "volume": value("volume"),
        "pages": value("pages"),
        "url": value("publ"),
    }


def _exception(body: bytes) -> str:
    """QLever's `exception` from a 400 answer, in one line."""
    try:
        message = str(json.loads(body).get("exception") or "no message")
    except (ValueError, AttributeError):
        message = body[:200].decode("utf-8", "replace") or "no message"
    line = " ".join(message.split())
    return line if len(line) <= 300 else line[:299] + "…"
