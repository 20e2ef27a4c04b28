"""A local stand-in for dblp's SPARQL endpoint: real SPARQL 1.1 (rdflib) over records laid
out in dblp's RDF schema (https://dblp.org/rdf/schema#), answering as QLever does.

Publications are https://dblp.org/rec/<key> with rdf:type dblp:Publication and their class
(Inproceedings, Article, Informal for CoRR, Editorship for a volume), dblp:title with
dblp's trailing period, dblp:yearOfPublication (xsd:gYear), dblp:publishedIn,
dblp:publishedInJournalVolume, dblp:listedOnTocPage (https://dblp.org/db/conf/cvpr/cvpr2020
for toc key db/conf/cvpr/cvpr2020.bht), dblp:doi (a https://doi.org/ IRI),
dblp:documentPage per link, dblp:pagination, and one dblp:hasSignature blank node per
author (signatureDblpName, signatureOrdinal, signatureCreator). Answers are SPARQL 1.1
Query Results JSON; a query rdflib cannot parse or run gets HTTP 400 with QLever's
`{"exception": ..., "query": ...}`. `faults` maps a request number to (status, body,
headers) to answer instead; `anubis` answers everything with dblp's bot-check page.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF, XSD

DBLP = Namespace("https://dblp.org/rdf/schema#")
ANUBIS_PAGE = (
    b'<!doctype html><html lang="en"><head><title>Making sure you&#39;re not a bot!</title>'
    b'<link rel="stylesheet" href="/.within.website/x/xess/xess.min.css?cachebuster=1.25.0"></head>'
    b'<body id="top"><main><h1 id="title" class="centered-div">Making sure you&#39;re not a bot!</h1>'
    b'<script id="anubis_challenge" type="application/json">{"rules":{"algorithm":"fast","difficulty":4},'
    b'"challenge":"0f0e0d0c0b0a09080706050403020100"}</script><p>Protected by Anubis.</p></main></body></html>'
)
CLASSES = {
    "Conference and Workshop Papers": "Inproceedings",
    "Journal Articles": "Article",
    "Informal and Other Publications": "Informal",
    "Editorship": "Editorship",
}


def record(
    key: str,
    title: str,
    authors: list[str],
    venue: str | None = "CVPR",
    year: int = 2020,
    type: str = "Conference and Workshop Papers",
    ee: str | list | None = None,
    doi: str | None = None,
    volume: str | None = None,
    pages: str | None = "1-10",
    toc: str | None = None,
) -> dict:
    """One dblp record (the arguments `tests/dblp_records` and the tests use)."""
    links = [ee] if isinstance(ee, str) else list(ee or [])
    if not links:
        links = [f"https://doi.org/{doi}"] if doi else [f"https://example.org/{key}"]
    return dict(
        key=key, title=title, authors=authors, venue=venue, year=year, type=type,
        ee=links, doi=doi, volume=volume, pages=pages, toc=toc,
    )  # fmt: skip


def graph(records: list[dict]) -> Graph:
    g = Graph()
    people: dict[str, URIRef] = {}
    for rec in records:
        pub = URIRef("https://dblp.org/rec/" + rec["key"])
        g.add((pub, RDF.type, DBLP.Publication))
        g.add((pub, RDF.type, DBLP[CLASSES.get(rec["type"], "Inproceedings")]))
        title = rec["title"] if rec["title"].endswith((".", "?", "!")) else rec["title"] + "."
        g.add((pub, DBLP.title, Literal(title)))
        g.add((pub, DBLP.yearOfPublication, Literal(str(rec["year"]), datatype=XSD.gYear)))
        if rec.get("venue"):
            g.add((pub, DBLP.publishedIn, Literal(rec["venue"])))
        if rec.get("volume"):
            g.add((pub, DBLP.publishedInJournalVolume, Literal(rec["volume"])))
        if rec.get("toc"):
            g.add((pub, DBLP.listedOnTocPage, URIRef("https://dblp.org/" + rec["toc"].removesuffix(".bht"))))
        if rec.get("doi"):
            g.add((pub, DBLP.doi, URIRef("https://doi.org/" + rec["doi"])))
        for link in rec.get("ee") or []:
            g.add((pub, DBLP.documentPage, URIRef(link)))
        if rec.get("pages"):
            g.add((pub, DBLP.pagination, Literal(rec["pages"])))
        for i, name in enumerate(rec["authors"], 1):
            person = people.setdefault(name, URIRef(f"https://dblp.org/pid/00/{len(people)}"))
            sig = BNode()
            g.add((pub, DBLP.authoredBy, person))
            g.add((pub, DBLP.hasSignature, sig))
            g.add((sig, DBLP.signatureDblpName, Literal(name)))
            g.add((sig, DBLP.signatureOrdinal, Literal(i, datatype=XSD.integer)))
            g.add((sig, DBLP.signatureCreator, person))
    return g


def results_json(result) -> dict:
    names = [str(v) for v in result.vars]
    rows = []
    for row in result:
        cells = {}
        for name in names:
            v = row[name]
            if v is None:
                continue
            if isinstance(v, URIRef):
                cells[name] = {"type": "uri", "value": str(v)}
            elif isinstance(v, BNode):
                cells[name] = {"type": "bnode", "value": str(v)}
            else:
                cells[name] = {"type": "literal", "value": str(v), **({"datatype": str(v.datatype)} if v.datatype else {})}
        rows.append(cells)
    return {"head": {"vars": names}, "results": {"bindings": rows}}


class SparqlStandIn:
    """Serve `records` at `url` (…/sparql). `log` holds each request's SPARQL text."""

    def __init__(self, records: list[dict], faults: dict[int, tuple[int, bytes, dict]] | None = None, anubis: int = 0):
        self.faults, self.anubis, self.log = faults or {}, anubis, []
        self.set_records(records)
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sparql"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def set_records(self, records: list[dict]) -> None:
        self.graph = graph(records)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, query: str | None) -> tuple[int, bytes, dict]:
        with self._lock:
            self.log.append(query or "")
            n = len(self.log)
            if self.anubis:
                return self.anubis, ANUBIS_PAGE, {"Content-Type": "text/html; charset=utf-8"}
            if n in self.faults:
                return self.faults[n]
            if not query:
                return 400, json.dumps({"exception": "No query given", "query": ""}).encode(), {}
            try:
                body = json.dumps(results_json(self.graph.query(query))).encode()
            except Exception as e:  # QLever answers any failure with 400 and its message
                message = f"Invalid SPARQL query: {type(e).__name__}: {e}"
                return 400, json.dumps({"exception": message, "query": query}).encode(), {}
        return 200, body, {"Content-Type": "application/sparql-results+json"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path != "/sparql" and not standin.anubis:
                    self.reply(404, b"not found", {"Content-Type": "text/plain"})
                    return
                self.reply(*standin.answer(parse_qs(url.query).get("query", [None])[0]))

            def reply(self, status: int, body: bytes, headers: dict) -> None:
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
