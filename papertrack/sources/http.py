"""A polite HTTP session shared by every source: one request at a time, spaced, retried.

Transport faults (connection errors, 429, 5xx, arXiv's sporadic 406) are retried by
urllib3's `Retry` mounted on a requests `Session`, honouring `Retry-After`. The only
addition is a floor on every retry pause, so a retry never comes sooner than the
politeness delay the service asked for.
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
    """

    def __init__(self, delay: float, retries: int = 5, backoff: float = 2.0, timeout: float = 60.0):
        self.delay = delay
        self.timeout = timeout
        self.requests = 0
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

    def wait(self) -> None:
        """Sleep until `delay` seconds have passed since the last response."""
        if self._last is not None:
            remaining = self.delay - (time.monotonic() - self._last)
            if remaining > 0:
                time.sleep(remaining)

    def get(self, url: str, params: dict | None = None) -> requests.Response:
        """One paced GET (with transport retries inside). Raises requests' own errors."""
        self.wait()
        try:
            response = self.session.get(url, params=params, timeout=self.timeout)
        except requests.RequestException:
            self.requests += 1
            raise
        finally:
            self._last = time.monotonic()
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
    polite session. Subclasses name the `service` and its `default_url`."""

    service = ""
    default_url = ""

    def __init__(
        self, base_url: str | None = None, delay: float = DEFAULT_DELAY, retries: int = 5, content_retries: int = 6
    ):
        self.base_url = base_url or self.default_url
        self.http = PoliteSession(delay, retries=retries, backoff=max(delay, 0.1))
        self.content_retries = content_retries

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
