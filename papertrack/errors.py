"""Typed errors. Each names its culprit; the CLI prints one line and exits with `exit_code`."""

from __future__ import annotations


class PapertrackError(Exception):
    """Base class: a user-facing failure with a one-line message."""

    exit_code = 1


class ConfigError(PapertrackError):
    """A bad queries.yaml (or other input file): names the file and the line."""

    exit_code = 2

    def __init__(self, path: str, line: int | None, message: str):
        self.path, self.line, self.message = path, line, message
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")


class UsageError(PapertrackError):
    """A bad command-line value (unknown query name, unknown paper id, ...)."""

    exit_code = 2


class SourceError(PapertrackError):
    """A remote source failed after retries; `url` is the request that failed."""

    def __init__(self, message: str, url: str | None = None):
        self.url, self.message = url, message
        super().__init__(message if not url else f"{message} ({url})")


class QueryRejected(SourceError):
    """The service rejected the query itself (arXiv's error feed). Never retried."""


class LockHeld(PapertrackError):
    """Another process holds a lock this one needs, and the wait for it ran out. Exit code
    75 (EX_TEMPFAIL): cron and systemd can tell "try again later" from a failure."""

    exit_code = 75

    def __init__(self, message: str, waited: float = 0.0):
        self.waited = waited
        super().__init__(message)


class Interrupted(KeyboardInterrupt):
    """The process was told to stop (SIGTERM: cron's timeout, systemd stop). It unwinds
    like Ctrl+C (transactions rolled back, runs marked interrupted) and exits with 143."""

    exit_code = 143


def stop_reason(e: BaseException) -> str:
    """What stopped a command, by the exception's type: not its text, which Python rewrites
    when the signal lands inside a codec ("encoding with 'idna' codec failed (...)")."""
    if isinstance(e, Interrupted):
        return "stopped by SIGTERM"
    return "stopped by Ctrl+C" if isinstance(e, KeyboardInterrupt) else str(e) or type(e).__name__


class Throttled(SourceError):
    """A service kept answering 429/503/406 after every retry: it is throttling this
    machine. The run asks it nothing more, and the queries left for it are deferred, not
    failed (exit code 75 when nothing else failed). `retry_after`: the seconds the service
    asked for, when it said; `until`: when that is, on this machine's clock."""

    exit_code = 75

    def __init__(self, message: str, service: str, retry_after: float | None = None, until: str | None = None):
        self.service, self.retry_after, self.until = service, retry_after, until
        super().__init__(message)


class BotCheck(SourceError):
    """A service answered with a bot-check page (HTML, such as Anubis' proof of work) where
    data was expected. Never retried, never read as an empty result."""
