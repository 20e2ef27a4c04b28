"""A local stand-in for arXiv's OAI-PMH interface, after arXiv/arxiv-oaipmh (MIT).

What it follows (oaipmh/requests/data_queries.py, processors/fetch_list.py, resume.py,
templates/): `ListRecords` with metadataPrefix `arXiv`; `set` as a group (`cs`), an
archive (`cs:cs`, `physics:hep-th`) or a category (`cs:cs:LG`); `from`/`until` as
YYYY-MM-DD over the record's datestamp (its last modification, here the snapshot's
`update_date`), `until` defaulting to today; records in (datestamp, id) order, `limit`
(2,000) a page; the resumption token is the url-quoted query string plus `skip`, and
when a page spans several days the token restarts `from` at the page's last day with
`skip` counting the records of that day already sent; the token stands alone besides
`verb`, expires the next midnight (`expires=`), and is absent on the last page. Errors are
`<error code='...'>description Reason: ...</error>` with HTTP 200: badArgument (a
repeated, missing or unknown parameter, a bad date, a set that does not exist, `from`
before 2007-05-23 or after `until`), badResumptionToken, cannotDisseminateFormat,
badVerb, noRecordsMatch. `responseDate` comes from the stand-in's clock (`today`):
records dated after it do not exist yet, so a test can play several days.

Records are in the layout of arXiv's metadata snapshot (id, title, abstract, authors_parsed,
categories, comments, journal-ref, doi, versions, update_date). Faults, by request number:
`flow_control` (503 + Retry-After, arXiv's flow control), `throttle` (429), `truncate`
(the body cut in half), `expire` (a resumed request answers badResumptionToken).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlencode, urlparse
from xml.sax.saxutils import escape, quoteattr

from papertrack.sources.oai_sets import ARCHIVES, GROUPS

EARLIEST = date(2007, 5, 23)
ERRORS = {
    "badArgument": "The request includes illegal arguments, is missing required arguments, includes a repeated "
    "argument, or values for arguments have an illegal syntax.",
    "badResumptionToken": "The value of the resumptionToken argument is invalid or expired.",
    "badVerb": "Value of the verb argument is not a legal OAI-PMH verb, the verb argument is missing, or the verb "
    "argument is repeated.",
    "cannotDisseminateFormat": "The metadata format identified by the value given for the metadataPrefix argument is "
    "not supported by the item or by the repository.",
    "noRecordsMatch": "The combination of the values of the from, until, set and metadataPrefix arguments results in "
    "an empty list.",
}
Fault = Callable[[int], bool]  # request number -> misbehave?


class OaiError(Exception):
    def __init__(self, code: str, reason: str = ""):
        super().__init__(reason)
        self.code, self.reason = code, reason


def set_specs(categories: list[str]) -> list[str]:
    """`cs.LG` -> `cs:cs:LG`; `hep-th` -> `physics:hep-th`."""
    out = []
    for cat in categories:
        archive, _, sub = cat.partition(".")
        group = ARCHIVES.get(archive, archive)
        out.append(f"{group}:{archive}:{sub}" if sub else f"{group}:{archive}")
    return out


def in_set(categories: list[str], wanted: str) -> bool:
    return any(s == wanted or s.startswith(wanted + ":") for s in set_specs(categories))


def stamp_of(record: dict) -> date:
    return date.fromisoformat(record["update_date"][:10])


def _day(created: str) -> str:
    return datetime.strptime(created, "%a, %d %b %Y %H:%M:%S %Z").date().isoformat()


def metadata(record: dict) -> str:
    """The `arXiv` metadata format (templates/record_formats.xml, arXiv_record)."""
    versions = record.get("versions") or []
    created = _day(versions[0]["created"]) if versions else record["update_date"][:10]
    updated = _day(versions[-1]["created"]) if len(versions) > 1 else None
    authors = "".join(
        "<author><keyname>" + escape(a[0]) + "</keyname>"
        + (f"<forenames>{escape(a[1])}</forenames>" if len(a) > 1 and a[1] else "")
        + (f"<suffix>{escape(a[2])}</suffix>" if len(a) > 2 and a[2] else "")
        + "</author>"
        for a in record.get("authors_parsed") or []
    )  # fmt: skip
    optional = "".join(
        f"<{tag}>{escape(str(record[key]))}</{tag}>"
        for tag, key in (("comments", "comments"), ("report-no", "report-no"), ("journal-ref", "journal-ref"),
                         ("doi", "doi"), ("license", "license"))
        if record.get(key)
    )  # fmt: skip
    return (
        '<arXiv xmlns="http://arxiv.org/OAI/arXiv/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://arxiv.org/OAI/arXiv/ http://arxiv.org/OAI/arXiv.xsd">'
        f"<id>{escape(record['id'])}</id><created>{created}</created>"
        + (f"<updated>{updated}</updated>" if updated else "")
        + f"<authors>{authors}</authors><title>{escape(record['title'])}</title>"
        f"<categories>{escape(record['categories'])}</categories>{optional}"
        f"<abstract>{escape(record.get('abstract') or '')}</abstract></arXiv>"
    )


def record_xml(record: dict) -> str:
    sets = "".join(f"<setSpec>{escape(s)}</setSpec>" for s in set_specs(record["categories"].split()))
    header = (
        f"<header><identifier>oai:arXiv.org:{escape(record['id'])}</identifier>"
        f"<datestamp>{stamp_of(record).isoformat()}</datestamp>{sets}</header>"
    )
    return f"<record>{header}<metadata>{metadata(record)}</metadata></record>"


class OaiStandIn:
    """Serve `records` (snapshot layout) at `url` (…/oai) as arXiv's OAI-PMH does, `today`
    being the stand-in's date. `log` holds each request's arguments, status and records."""

    def __init__(self, records: list[dict], today: date, limit: int = 2000, **faults: Fault):
        self.today, self.limit, self.faults = today, limit, faults
        self.log: list[dict] = []
        self._lock = threading.Lock()
        self.set_records(records)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/oai"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def set_records(self, records: list[dict]) -> None:
        self.records = sorted(records, key=lambda r: (stamp_of(r), r["id"]))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def requests_on(self, day: date) -> int:
        return sum(1 for entry in self.log if entry["today"] == day.isoformat())

    def answer(self, params: dict[str, list[str]], agent: str = "") -> tuple[int, bytes, dict[str, str]]:
        with self._lock:
            n = len(self.log) + 1
            entry = {"n": n, "args": {k: v[0] for k, v in params.items()}, "status": 200, "records": 0, "agent": agent}
            entry["today"] = self.today.isoformat()
            self.log.append(entry)
        fault = next((name for name, when in self.faults.items() if when(n)), None)
        if fault in ("flow_control", "throttle"):
            entry["status"] = 503 if fault == "flow_control" else 429
            return (
                entry["status"],
                b"<html><body>Retry after 1 second</body></html>",
                {
                    "Retry-After": "1",
                    "Content-Type": "text/html",
                },
            )
        args = {k: v[0] for k, v in params.items()}
        try:
            if any(len(v) > 1 for v in params.values()):
                raise OaiError("badArgument", "Duplicate parameters not allowed")
            if args.get("verb") != "ListRecords":
                raise OaiError("badVerb", "Invalid verb provided")
            if "resumptionToken" in args and fault == "expire":
                raise OaiError("badResumptionToken", "Token expired")
            inner, entry["records"] = self.list_records(args)
        except OaiError as e:
            shown = {k: v for k, v in args.items() if k in ("verb", "metadataPrefix", "from", "until", "set")}
            reason = f" Reason: {escape(e.reason)}" if e.reason else ""
            inner, request = f"<error code='{e.code}'>{ERRORS[e.code]}{reason}</error>", shown
        else:
            request = args
        body = self.envelope(request, inner).encode()
        if fault == "truncate" and entry["records"]:
            body = body[: len(body) // 2]
        return 200, body, {"Content-Type": "application/xml"}

    def envelope(self, request: dict, inner: str) -> str:
        now = datetime.now(UTC).strftime("T%H:%M:%SZ")
        attrs = "".join(f" {k}={quoteattr(v)}" for k, v in request.items())
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.openarchives.org/'
            'OAI/2.0/ http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">'
            f"<responseDate>{self.today.isoformat()}{now}</responseDate><request{attrs}>{escape(self.url)}</request>"
            f"{inner}</OAI-PMH>"
        )

    def list_records(self, args: dict[str, str]) -> tuple[str, int]:
        skip = 0
        if "resumptionToken" in args:
            if set(args) != {"verb", "resumptionToken"}:
                raise OaiError("badArgument", "No other paramters allowed with resumptionToken")
            try:
                decoded = {k: v[0] for k, v in parse_qs(unquote(args["resumptionToken"])).items()}
                skip = int(decoded.pop("skip"))
            except (KeyError, ValueError):
                raise OaiError("badResumptionToken", "Token decoding failed or format is invalid.") from None
            if decoded.get("verb") != args["verb"]:
                raise OaiError("badResumptionToken", "token from different verb")
            args = decoded
        if "metadataPrefix" not in args:
            raise OaiError("badArgument", "metadataPrefix required.")
        if set(args) - {"verb", "metadataPrefix", "from", "until", "set"}:
            raise OaiError("badArgument", "Unallowed parameter.")
        if args["metadataPrefix"] != "arXiv":
            raise OaiError("cannotDisseminateFormat", "Did not recognize requested format")
        start = self._date(args.get("from"), "from") or EARLIEST
        end = self._date(args.get("until"), "until") or self.today
        wanted = args.get("set")
        if wanted is not None and not self._set_exists(wanted):
            raise OaiError("badArgument", "Set does not exist")
        if start > end:
            raise OaiError("badArgument", "until date must be greater than or equal to from date")
        if start < EARLIEST:
            raise OaiError("badArgument", "start date too early")
        if end > self.today + timedelta(days=1):
            raise OaiError("badArgument", "until date too late")
        hits = [
            r for r in self.records
            if start <= stamp_of(r) <= min(end, self.today) and (wanted is None or in_set(r["categories"].split(), wanted))
        ]  # fmt: skip
        page = hits[skip : skip + self.limit + 1]  # one more, to know whether a token is needed
        if not page:
            raise OaiError("noRecordsMatch")
        token = ""
        if len(page) > self.limit:
            last = stamp_of(page[-1])
            if stamp_of(page[0]) == last:  # all one day
                token = self._token(args, skip + self.limit)
            else:  # resume from the last day, skipping its records already sent
                token = self._token({**args, "from": last.isoformat()}, sum(stamp_of(r) == last for r in page) - 1)
            page = page[: self.limit]
        body = "".join(record_xml(r) for r in page)
        if token:
            expires = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z")
            body += f"<resumptionToken expires='{expires}'>{escape(token)}</resumptionToken>"
        return f"<ListRecords>{body}</ListRecords>", len(page)

    @staticmethod
    def _token(args: dict[str, str], skip: int) -> str:
        return quote(urlencode({**args, "skip": skip}))

    @staticmethod
    def _date(value: str | None, what: str) -> date | None:
        if value is None:
            return None
        try:
            if len(value) != 10:
                raise ValueError
            return date.fromisoformat(value)
        except ValueError:
            raise OaiError("badArgument", f"{what} date format must be YYYY-MM-DD") from None

    @staticmethod
    def _set_exists(spec: str) -> bool:
        parts = spec.split(":")
        if len(parts) == 1:
            return spec in GROUPS
        if len(parts) > 3 or ARCHIVES.get(parts[1]) != parts[0]:
            return False
        return len(parts) == 2 or bool(parts[2])

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def date_time_string(self, timestamp: float | None = None) -> str:  # the stand-in's clock
                now = datetime.combine(standin.today, datetime.now(UTC).time(), UTC)
                return now.strftime("%a, %d %b %Y %H:%M:%S GMT")

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path != "/oai":
                    status, body, headers = 404, b"not found", {"Content-Type": "text/plain"}
                else:
                    query = parse_qs(url.query, keep_blank_values=True)
                    status, body, headers = standin.answer(query, self.headers.get("User-Agent", ""))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


def every(n: int) -> Fault:
    """A fault on every `n`th request."""
    return lambda k: n > 0 and k % n == 0
