"""A polite HTTP session shared by every source: one request at a time, spaced, retried.

Transport faults (connection errors, 429, 5xx, arXiv's sporadic 406) are retried by
urllib3's `Retry` mounted on a requests `Session`, honouring `Retry-After`. Additions:
a floor on every retry pause, so a retry never comes sooner than the politeness delay
the service asked for; a look at the body of a retried HTML answer, so a bot-check page
(`botcheck`) is reported at once instead of retried; and what a client does once a
service has refused it:

* **throttled**: the final answer after every retry is still 429/503/406. `Throttled`
  says when to try again (from `Retry-After` when given), and the client asks that
  endpoint nothing more in this process: the caller defers what is left for it.
* **bot check**: HTML with a bot check's markers where data was expected (`BotCheck`),
  status 200 or 500 alike. Never retried, never read as an empty result.

The pacing holds across processes when the session is given the endpoint's
machine-wide `locks.Lock`: the first request takes it (held until `close`), continues
from the last request the previous holder noted in it, and notes each of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import requests
from requests import Response
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader, MaxRetryError
from urllib3.util.retry import Retry

from papertrack import __version__
from papertrack.errors import BotCheck, SourceError, Throttled
from papertrack.sources.botcheck import HEAD, bot_check, looks_like_html
from papertrack.sources.locks import Lock

T = TypeVar("T")
HOME = "https://github.com/papertrack/papertrack"
USER_AGENT = f"papertrack/{__version__} (+{HOME})"
RETRY_STATUSES = (406, 429, 500, 502, 503, 504)
LONGEST_WAIT = 120.0  # a Retry-After longer than this is not waited out in the run: the service is throttling us
THROTTLE_STATUSES = (406, 429, 503)  # still these after every retry: the service is throttling us
DEFAULT_DELAY = 3.0  # seconds between requests: arXiv's rule, and DBLP's guidance


def user_agent(contact: str | None = None) -> str:
    """`papertrack/0.1.0 (+https://github.com/papertrack/papertrack; mailto:ada@example.org)`:
    arXiv and dblp ask bulk clients to name themselves and a way to reach their operator."""
    if not contact:
        return USER_AGENT
    reach = contact if contact.startswith(("http://", "https://")) else f"mailto:{contact}"
    return f"papertrack/{__version__} (+{HOME}; {reach})"


class BadContent(Exception):
    """Raised by a `fetch` reader: the body is incomplete or wrong, fetch it again."""


class BotCheckPage(Exception):
    """A retried answer was a bot-check page (raised from inside urllib3's retry loop)."""

    def __init__(self, status: int, kind: str):
        super().__init__(f"{kind}, HTTP {status}")
        self.status, self.kind = status, kind


class PoliteRetry(Retry):
    """`Retry` whose pause is never shorter than `min_sleep` seconds, that does not retry
    when the service asks for more than `LONGEST_WAIT` seconds (a cron run should not sleep
    for an hour: the caller defers instead), and that stops at a bot-check page (reading
    the body of a retried HTML answer, which is small)."""

    def __init__(self, *args: Any, min_sleep: float = 0.0, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.min_sleep = min_sleep

    def new(self, **kw: Any) -> PoliteRetry:
        retry = super().new(**kw)
        retry.min_sleep = self.min_sleep
        return retry

    def increment(self, *args: Any, **kwargs: Any) -> PoliteRetry:
        response = kwargs.get("response", args[2] if len(args) > 2 else None)
        if response is not None and "html" in (response.headers.get("Content-Type") or "").lower():
            kind = bot_check(response.data or b"", response.headers.get("Content-Type"))
            if kind:
                raise BotCheckPage(response.status, kind)
        if response is not None and (self.get_retry_after(response) or 0) > LONGEST_WAIT:
            url = kwargs.get("url", args[1] if len(args) > 1 else "")
            raise MaxRetryError(kwargs.get("_pool"), url, None)  # type: ignore[arg-type]  # urlopen passes its pool
        return super().increment(*args, **kwargs)

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
        self,
        delay: float,
        retries: int = 5,
        backoff: float = 2.0,
        timeout: float = 60.0,
        lock: Lock | None = None,
        agent: str = USER_AGENT,
    ):
        self.delay = delay
        self.timeout = timeout
        self.requests = 0
        self.lock = lock
        self.server_date: datetime | None = None  # the Date header of the last answer: the service's clock
        self._last: float | None = None
        self.session = requests.Session()
        self.session.headers["User-Agent"] = agent
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
        """One paced GET (with transport retries inside). Raises requests' own errors, and
        `BotCheckPage` when a retried answer was a bot check."""
        self.hold()
        self.wait()
        try:
            response = self.session.get(url, params=params, timeout=self.timeout)
        except (requests.RequestException, BotCheckPage):
            self.requests += 1
            raise
        finally:
            self._last = time.monotonic()
            if self.lock is not None:
                self.lock.note(last_request=time.time())
        # count the attempts urllib3 retried inside this call too
        self.requests += 1 + len(getattr(response.raw.retries, "history", ()) or ())
        self.server_date = _date_header(response.headers.get("Date")) or self.server_date
        return response

    def fetch(
        self,
        service: str,
        url: str,
        params: dict,
        read: Callable[[requests.Response], T],
        content_retries: int,
        advice: str = "",
    ) -> T:
        """GET `url` and return `read(response)`, retrying content faults.

        Transport faults are retried inside `get`. `read` raises `BadContent` for a body
        worth fetching again (truncated, unparseable, an unexpectedly empty page), or a
        `PapertrackError` to stop; those retries back off from the politeness delay. A bot
        check raises `BotCheck` (with `advice`: what to do), a service still refusing after
        every retry `Throttled`.
        """
        shown = requests.Request("GET", url, params=params).prepare().url or url
        problem: BadContent | None = None
        for attempt in range(content_retries + 1):
            if attempt:
                time.sleep(min(self.delay * 2**attempt, 60))
            before = self.requests
            try:
                response = self.get(url, params)
            except BotCheckPage as e:
                raise bot_check_error(service, str(e), advice, shown) from None
            except requests.RequestException as e:
                raise SourceError(f"{service} unreachable after retries: {_reason(e)}", shown) from None
            kind = bot_check(response.content, response.headers.get("Content-Type"))
            if kind:
                raise bot_check_error(service, f"{kind}, HTTP {response.status_code}", advice, shown)
            if response.status_code in THROTTLE_STATUSES:
                raise throttled(service, response, self.requests - before, shown)
            if response.status_code == 200 and looks_like_html(response.content[:HEAD]):
                problem = BadContent("an HTML page where data was expected")  # a proxy's or portal's page
                continue
            try:
                return read(response)
            except BadContent as e:
                problem = e
        raise SourceError(f"{service} kept sending {problem}", shown) from problem  # the cause tells what was wrong


def bot_check_error(service: str, what: str, advice: str, url: str) -> BotCheck:
    """The one line for a bot-check page: what happened, that nothing stored was touched, what to do."""
    error = BotCheck(
        f"{service} answered with a bot-check page ({what}) instead of data; nothing stored was touched. {advice}"
    )
    error.url = url
    return error


def throttled(service: str, response: Response, attempts: int, url: str) -> Throttled:
    """`Throttled` for a final 429/503/406, saying when to try again."""
    wait = _retry_after(response.headers.get("Retry-After"))
    if wait is None:
        until, when = None, "try again later (it gave no Retry-After; an hour is a safe wait)"
    else:
        until = (datetime.now(UTC) + timedelta(seconds=wait)).strftime("%Y-%m-%d %H:%M UTC")
        when = f"try again after {until} (it asked for {_duration(wait)})"
    error = Throttled(
        f"{service} is throttling this machine (HTTP {response.status_code} on {attempts} "
        f"request{'' if attempts == 1 else 's'}); {when}",
        service,
        wait,
        until,
    )
    error.url = url
    return error


class ServiceClient:
    """Base of the source clients: an endpoint (the real service by default) and one
    polite session. Subclasses name the `service` and its `default_url`. `lock`: the
    endpoint's machine-wide lock (`locks.endpoint_lock`), taken by the first request or
    by `hold`, released by `close`. Once the service throttles this client or shows it a
    bot check, every later request raises the same error without reaching the service."""

    service = ""
    default_url = ""
    bot_check_advice = "Try again later; if it persists, the service blocks scripts from this address."

    def __init__(
        self,
        base_url: str | None = None,
        delay: float = DEFAULT_DELAY,
        retries: int = 5,
        content_retries: int = 6,
        lock: Lock | None = None,
        agent: str = USER_AGENT,
    ):
        self.base_url = base_url or self.default_url
        self.http = PoliteSession(delay, retries=retries, backoff=max(delay, 0.1), lock=lock, agent=agent)
        self.content_retries = content_retries
        self.refused: Throttled | BotCheck | None = None

    def hold(self) -> None:
        """Take the endpoint's lock before the first request (see `PoliteSession.hold`)."""
        self.http.hold()

    def close(self) -> None:
        self.http.close()

    @property
    def requests(self) -> int:
        """HTTP requests made so far, retries included."""
        return self.http.requests

    @property
    def server_day(self) -> str | None:
        """The service's date (its Date header) at the last answer, YYYY-MM-DD."""
        return self.http.server_date.date().isoformat() if self.http.server_date else None

    def fetch(self, params: dict, read: Callable[[Response], T]) -> T:
        if self.refused is not None:
            raise self.refused
        try:
            return self.http.fetch(self.service, self.base_url, params, read, self.content_retries, self.bot_check_advice)
        except (Throttled, BotCheck) as e:
            self.refused = e
            raise


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, Retry().parse_retry_after(value))
    except InvalidHeader:
        return None


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _date_header(value: str | None) -> datetime | None:
    try:
        return parsedate_to_datetime(value).astimezone(UTC) if value else None
    except (TypeError, ValueError):
        return None


def _reason(error: Exception) -> str:
    """The innermost readable cause of a requests error ("Connection refused")."""
    reason = getattr(error, "args", [None])[0]
    inner = getattr(reason, "reason", None)
    return str(inner or reason or error.__class__.__name__).split(":")[-1].strip() or error.__class__.__name__
