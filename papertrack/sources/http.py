"""A polite HTTP session shared by every source: one request at a time, spaced, retried.

Transport faults (connection errors, 429, 5xx, arXiv's sporadic 406) are retried by
urllib3's `Retry` mounted on a requests `Session`, honouring `Retry-After`. The only
addition is a floor on every retry pause, so a retry never comes sooner than the
politeness delay the service asked for.

The pacing holds across processes when the session is given the endpoint's
machine-wide `locks.Lock`: the first request takes it (held until `close`), continues
from the last request the previous holder noted in it, and notes each of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from requests import Response
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from papertrack import __version__
from papertrack.sources.locks import Lock

T = TypeVar("T")
USER_AGENT = f"papertrack/{__version__} (+https://github.com/papertrack/papertrack)"
RETRY_STATUSES = (406, 429, 500, 502, 503, 504)
DEFAULT_DELAY = 3.0  # seconds between requests: arXiv's rule, and DBLP's guidance


class BadContent(Exception):
    """Raised by a `fetch` reader: the body is incomplete or wrong, fetch it again."""


class PoliteRetry(Retry):
    """`Retry` whose pause is never shorter than `min_sleep` seconds."""

    def __init__(self, *args: Any, min_sleep: float = 0.0, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.min_sleep = min_sleep

    def new(self, **kw: Any) -> PoliteRetry:
        retry = super().new(**kw)
        retry.min_sleep = self.min_sleep
        return retry

    def sleep(self, response: Any = None) -> None:
        started = time.monotonic()
        super().sleep(response)
        remaining = self.min_sleep - (time.monotonic() - started)
        if remaining > 0:
            time.sleep(remaining)


class PoliteSession:
    """A requests session that waits `delay` seconds between requests and retries faults.

    The wait is measured from the end of the previous response, so whatever the caller
    does between two calls (parsing, storing) overlaps the wait instead of adding to it.
    With a `lock`, the endpoint is this session's alone from its first request on.
    """

    def __init__(
        self, delay: float, retries: int = 5, backoff: float = 2.0, timeout: float = 60.0, lock: Lock | None = None
    ):
        self.delay = delay
        self.timeout = timeout
        self.requests = 0
        self.lock = lock
        self._last: float | None = None
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        retry = PoliteRetry(
            total=retries,
            backoff_factor=backoff,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET"}),
            respect_retry_after_header=True,
            raise_on_status=False,  # the caller reads the final status and body
            min_sleep=delay,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def hold(self) -> None:
        """Take the endpoint's lock now (else the first request takes it), and count the
        delay from the last request its previous holder made."""
        if self.lock is None or self.lock.held:
            return
        self.lock.acquire()
        last = self.lock.previous.get("last_request")
        if isinstance(last, int | float):
            ago = max(0.0, time.time() - last)  # a clock set back counts as "just now"
            then = time.monotonic() - ago
            self._last = then if self._last is None else max(self._last, then)

    def close(self) -> None:
        """Let go of the endpoint (and the connection pool)."""
        if self.lock is not None:
            self.lock.release()
        self.session.close()

    def wait(self) -> None:
        """Sleep until `delay` seconds have passed since the last response."""
        if self._last is not None:
            remaining = self.delay - (time.monotonic() - self._last)
            if remaining > 0:
                time.sleep(remaining)

    def get(self, url: str, params: dict | None = None) -> requests.Response:
        """One paced GET (with transport retries inside). Raises requests' own errors."""
        self.hold()
        self.wait()
        try:
            response = self.session.get(url, params=params, timeout=self.timeout)
        except requests.RequestException:
            self.requests += 1
            raise
        finally:
            self._last = time.monotonic()
            if self.lock is not None:
                self.lock.note(last_request=time.time())
        # count the attempts urllib3 retried inside this call too
        self.requests += 1 + len(getattr(response.raw.retries, "history", ()) or ())
        return response

    def fetch(self, service: str, url: str, params: dict, read: Callable[[requests.Response], T], content_retries: int) -> T:
        """GET `url` and return `read(response)`, retrying content faults.

        Transport faults are retried inside `get`. `read` raises `BadContent` for a body
        worth fetching again (truncated, unparseable, an unexpectedly empty page), or a
        `PapertrackError` to stop; those retries back off from the politeness delay.
        """
        from papertrack.errors import SourceError

        shown = requests.Request("GET", url, params=params).prepare().url or url
        problem = ""
        for attempt in range(content_retries + 1):
            if attempt:
                time.sleep(min(self.delay * 2**attempt, 60))
            try:
                response = self.get(url, params)
            except requests.RequestException as e:
                raise SourceError(f"{service} unreachable after retries: {_reason(e)}", shown) from None
            try:
                return read(response)
            except BadContent as e:
                problem = str(e)
        raise SourceError(f"{service} kept sending {problem}", shown)


class ServiceClient:
    """Base of the source clients: an endpoint (the real service by default) and one
    polite session. Subclasses name the `service` and its `default_url`. `lock`: the
    endpoint's machine-wide lock (`locks.endpoint_lock`), taken by the first request or
    by `hold`, released by `close`."""

    service = ""
    default_url = ""

    def __init__(
        self,
        base_url: str | None = None,
        delay: float = DEFAULT_DELAY,
        retries: int = 5,
        content_retries: int = 6,
        lock: Lock | None = None,
    ):
        self.base_url = base_url or self.default_url
        self.http = PoliteSession(delay, retries=retries, backoff=max(delay, 0.1), lock=lock)
        self.content_retries = content_retries

    def hold(self) -> None:
        """Take the endpoint's lock before the first request (see `PoliteSession.hold`)."""
        self.http.hold()

    def close(self) -> None:
        self.http.close()

    @property
    def requests(self) -> int:
        """HTTP requests made so far, retries included."""
        return self.http.requests

    def fetch(self, params: dict, read: Callable[[Response], T]) -> T:
        return self.http.fetch(self.service, self.base_url, params, read, self.content_retries)


def _reason(error: Exception) -> str:
    """The innermost readable cause of a requests error ("Connection refused")."""
    reason = getattr(error, "args", [None])[0]
    inner = getattr(reason, "reason", None)
    return str(inner or reason or error.__class__.__name__).split(":")[-1].strip() or error.__class__.__name__
