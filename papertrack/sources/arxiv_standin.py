"""A local stand-in for arXiv's query API, on 127.0.0.1, for the offline demo and tests.

It answers `/api/query` in the API's current Atom format (namespaces, element order and
links as recorded from the live service), evaluating `search_query` with
`sources.arxiv_query` (rewritten as arXiv rewrites it; 400 for what arXiv refuses), paging with start/max_results (capped at 2000), sorting by
relevance, lastUpdatedDate or submittedDate. Faults can be injected by request number.
"""

from __future__ import annotations

import re
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

from papertrack.errors import UsageError
from papertrack.models import Paper
from papertrack.sources.arxiv_query import Record, evaluate, parse, record_of

ATOM = "http://www.w3.org/2005/Atom"
ARXIV = "http://arxiv.org/schemas/atom"
OPENSEARCH = "http://a9.com/-/spec/opensearch/1.1/"
for _prefix, _uri in (("", ATOM), ("arxiv", ARXIV), ("opensearch", OPENSEARCH)):
    ET.register_namespace(_prefix, _uri)


def _sub(parent: ET.Element, tag: str, text: str | None = None, ns: str = ATOM, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{ns}}}{tag}", attrs)
    el.text = text
    return el


def entry_element(p: Paper) -> ET.Element:
    """One `<entry>` as the live API writes it (2026 layout)."""
    vid = f"{p.id}v{p.version}"
    entry = ET.Element(f"{{{ATOM}}}entry")
    _sub(entry, "id", f"http://arxiv.org/abs/{vid}")
    _sub(entry, "title", p.title)
    _sub(entry, "updated", p.updated)
    _sub(entry, "link", href=f"https://arxiv.org/abs/{vid}", rel="alternate", type="text/html")
    _sub(entry, "link", href=f"https://arxiv.org/pdf/{vid}", rel="related", type="application/pdf", title="pdf")
    _sub(entry, "summary", p.abstract)
    for cat in p.categories:
        _sub(entry, "category", term=cat, scheme="http://arxiv.org/schemas/atom")
    _sub(entry, "published", p.published)
    if p.comment:
        _sub(entry, "comment", p.comment, ARXIV)
    if p.journal_ref:
        _sub(entry, "journal_ref", p.journal_ref, ARXIV)
    _sub(entry, "primary_category", ns=ARXIV, term=p.primary_category or (p.categories or ["cs.LG"])[0])
    for name in p.authors:
        _sub(_sub(entry, "author"), "name", name)
    if p.doi:
        _sub(entry, "doi", p.doi, ARXIV)
        _sub(entry, "link", rel="related", href=f"https://doi.org/{p.doi}", title="doi")
    return entry


def feed_xml(args: dict, total: int, start: int, entries: Iterable[bytes]) -> bytes:
    """A whole feed: header elements built with ElementTree, then pre-serialised entries."""
    feed = ET.Element(f"{{{ATOM}}}feed")
    _sub(feed, "id", "https://arxiv.org/api/papertrack-replay")
    _sub(feed, "title", "arXiv Query: " + "&".join(f"{k}={v}" for k, v in args.items()))
    _sub(feed, "updated", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    _sub(feed, "link", href="https://arxiv.org/api/query?" + urlencode(args), type="application/atom+xml")
    entries = list(entries)
    _sub(feed, "itemsPerPage", str(len(entries)), OPENSEARCH)
    _sub(feed, "totalResults", str(total), OPENSEARCH)
    _sub(feed, "startIndex", str(start), OPENSEARCH)
    head = ET.tostring(feed, encoding="unicode", xml_declaration=False).replace("</feed>", "").encode()
    return b"<?xml version='1.0' encoding='UTF-8'?>\n" + head + b"".join(entries) + b"</feed>\n"


def error_feed(message: str) -> bytes:
    """The feed arXiv answers (with HTTP 400) for a malformed query."""
    feed = ET.Element(f"{{{ATOM}}}feed")
    _sub(feed, "id", "https://arxiv.org/")
    _sub(feed, "title", "arXiv Search Results")
    for tag, value in (("itemsPerPage", "1"), ("totalResults", "1"), ("startIndex", "0")):
        _sub(feed, tag, value, OPENSEARCH)
    entry = _sub(feed, "entry")
    _sub(entry, "id", "https://arxiv.org/api/errors#malformed_query")
    _sub(entry, "title", "Error")
    _sub(entry, "summary", message)
    _sub(_sub(entry, "author"), "name", "arXiv api core")
    return b"<?xml version='1.0' encoding='UTF-8'?>\n" + ET.tostring(feed)


@dataclass
class Faults:
    """Every Nth request misbehaves in the given way (0 = never)."""

    fail_every: int = 0  # 503 with Retry-After
    status_429_every: int = 0
    empty_every: int = 0  # an empty page, only for start > 0
    truncate_every: int = 0  # body cut in half
    retry_after: str = "1"


@dataclass
class Log:
    requests: list[dict] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.requests)


class ReplayArxiv:
    """Serve `papers` as arXiv would. Use as a context manager; `url` is the endpoint."""

    def __init__(self, papers: Iterable[Paper], faults: Faults | None = None, port: int = 0):
        self.faults = faults or Faults()
        self.log = Log()
        self.today: date | None = None  # the date its answers carry (the Date header); None: the real one
        self.papers: dict[str, Paper] = {}
        self.records: dict[str, Record] = {}
        self._xml: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.set_papers(papers)
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/query"
        self._thread: threading.Thread | None = None

    def set_papers(self, papers: Iterable[Paper]) -> None:
        """Replace the corpus (e.g. to publish a new version) and forget cached answers."""
        with self._lock:
            old = self.papers
            self.papers = {p.id: p for p in papers}
            same = {pid for pid, p in self.papers.items() if old.get(pid) == p}  # a paper unchanged keeps its entry
            self.records = {pid: self.records[pid] if pid in same else record_of(p) for pid, p in self.papers.items()}
            self._xml = {
                pid: self._xml[pid] if pid in same else ET.tostring(entry_element(p)) for pid, p in self.papers.items()
            }
            self._hits = lru_cache(maxsize=64)(self._search)

    def __enter__(self) -> ReplayArxiv:
        # a short poll: shutdown() waits for the loop to notice, 0.5 s by default
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def serve_forever(self) -> None:
        self.server.serve_forever()

    def _search(self, query: str, id_list: str, sort_by: str, ascending: bool) -> list[str]:
        ids = [i.strip() for i in id_list.split(",") if i.strip()]
        if ids:
            found = [re.sub(r"v\d+$", "", i) for i in ids]
            candidates = [self.records[i] for i in found if i in self.records]
        else:
            candidates = list(self.records.values())
        if query:
            tree = parse(query)
            candidates = [r for r in candidates if evaluate(tree, r)]
        elif not ids:
            candidates = []
        if sort_by in ("lastUpdatedDate", "submittedDate"):
            key = (lambda r: (r.updated, r.id)) if sort_by == "lastUpdatedDate" else (lambda r: (r.published, r.id))
            candidates.sort(key=key, reverse=not ascending)
        return [r.id for r in candidates]

    def answer(self, qs: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        """(status, body, headers) for one request; faults applied by request number."""
        with self._lock:
            n = len(self.log) + 1
            self.log.requests.append({"n": n, "t": time.monotonic(), "args": qs})
        f, start = self.faults, int(qs.get("start") or 0)
        if f.fail_every and n % f.fail_every == 0:
            return 503, b"Service Unavailable", {"Retry-After": f.retry_after}
        if f.status_429_every and n % f.status_429_every == 0:
            return 429, b"Too Many Requests", {"Retry-After": f.retry_after}
        size = min(int(qs.get("max_results") or 10), 2000)
        try:
            hits = self._hits(
                qs.get("search_query", ""),
                qs.get("id_list", ""),
                qs.get("sortBy", "relevance"),
                qs.get("sortOrder") == "ascending",
            )
        except UsageError as e:
            return 400, error_feed(f"malformed query: {e}"), {}
        page = hits[start : start + size]
        if f.empty_every and start > 0 and n % f.empty_every == 0:
            page = []
        body = feed_xml(qs, len(hits), start, (self._xml[i] for i in page))
        if f.truncate_every and n % f.truncate_every == 0:
            body = body[: len(body) // 2]
        return 200, body, {}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def date_time_string(self, timestamp: float | None = None) -> str:
                if replay.today is None:
                    return super().date_time_string(timestamp)
                return datetime.combine(replay.today, datetime.now(UTC).time(), UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if not url.path.rstrip("/").endswith("/api/query"):
                    status, body, headers = 404, b"not found", dict[str, str]()
                else:
                    qs = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
                    status, body, headers = replay.answer(qs)
                self.send_response(status)
                self.send_header("Content-Type", "application/atom+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

        return Handler
