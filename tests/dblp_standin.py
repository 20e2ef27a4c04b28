"""A local stand-in for DBLP's publication search API, answering in DBLP's real JSON shape.

The shape follows the live service (see ../shared/data/dblp/): every number a string, a
single author as an object, `ee` a string or a list, titles ending in ".", no `hit` key
for an empty result, and rate limiting as HTTP 429 with an HTML page and Retry-After.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

RATE_LIMIT_PAGE = b"""<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">
<html><head>
<title>429 Too Many Requests</title>
</head><body>
<h1>Too Many Requests</h1>
<p>The vast number of requests from your side has led to a temporary block.</p>
</body></html>
"""


def info(
    key: str,
    title: str,
    authors: list[str],
    venue: str | list | None = "CVPR",
    year: int = 2020,
    type: str = "Conference and Workshop Papers",
    ee: str | list | None = None,
    doi: str | None = None,
    volume: str | None = None,
    pages: str | None = "1-10",
    pids: bool = True,
) -> dict:
    """One hit's `info` as DBLP writes it. `authors` of one name becomes a single object
    (or a bare string with `pids=False`, the pre-2020 shape)."""
    people: list = [{"@pid": f"{100 + i}/{len(n)}", "text": n} for i, n in enumerate(authors)] if pids else list(authors)
    record: dict = {"authors": {"author": people[0] if len(people) == 1 else people}, "title": title + "."}
    for name, value in (("venue", venue), ("volume", volume), ("pages", pages)):
        if value is not None:
            record[name] = value
    record.update(year=str(year), type=type, access="closed", key=key)
    if doi:
        record["doi"] = doi
    record["ee"] = ee if ee is not None else (f"https://doi.org/{doi}" if doi else f"https://example.org/{key}")
    record["url"] = f"https://dblp.org/rec/{key}"
    return record


def response(query: str, hits: list[dict], first: int, total: int) -> bytes:
    """The whole JSON body for a page of hits."""
    block: dict = {"@total": str(total), "@computed": str(min(total, 10000)), "@sent": str(len(hits)), "@first": str(first)}
    if hits:  # an empty result has no "hit" key at all
        block["hit"] = [
            {"@score": "1", "@id": str(1000 + first + i), "info": h, "url": f"URL#{1000 + first + i}"}
            for i, h in enumerate(hits)
        ]
    return json.dumps(
        {
            "result": {
                "query": query,
                "status": {"@code": "200", "text": "OK"},
                "time": {"@unit": "msecs", "text": "3.14"},
                "completions": {"@total": "0", "@computed": "0", "@sent": "0"},
                "hits": block,
            }
        }
    ).encode()


class DblpStandIn:
    """Serve `records` ({query: [info, ...]}) at `url`; `faults` maps a request number
    (1-based) to (status, body, headers) to answer instead. `log` holds each request's args."""

    def __init__(self, records: dict[str, list[dict]], faults: dict[int, tuple[int, bytes, dict]] | None = None):
        self.records, self.faults, self.log = records, faults or {}, []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/search/publ/api"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, args: dict[str, str]) -> tuple[int, bytes, dict]:
        with self._lock:
            self.log.append(args)
            n = len(self.log)
        if n in self.faults:
            return self.faults[n]
        hits = self.records.get(args.get("q", ""), [])
        first, size = int(args.get("f", 0)), min(int(args.get("h", 30)), 1000)
        return 200, response(args.get("q", ""), hits[first : first + size], first, len(hits)), {}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                args = {k: v[-1] for k, v in parse_qs(urlparse(self.path).query, keep_blank_values=True).items()}
                status, body, headers = standin.answer(args)
                self.send_response(status)
                kind = "application/json" if status == 200 else "text/html; charset=iso-8859-1"
                for k, v in {"Content-Type": kind, **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
