"""Options shared by several commands, written once (sqlite-utils' habit), and the
click types that turn text into the library's values.

Nothing heavy is imported here: `papertrack --help` loads every command module.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    import sqlite3

    import sqlite_utils

    from papertrack.config import Config
    from papertrack.sources.locks import Lock

DEFAULT_DB = "db/papers.db"
DEFAULT_QUERIES = "queries.yaml"
# What commands leave in the click context (shared by nested contexts) for the group and the decorators
DB_KEY = "papertrack.db"  # the database a command opened: storage errors name it
_WAIT, _LOCK_DIR = "papertrack.wait", "papertrack.lock_dir"  # set by `lock_options`
_SETTINGS = "papertrack.settings"  # the sources' settings, by option (`SourceCommand`)


class Day(click.ParamType):
    """A day written YYYY-MM-DD (`models.parse_day`), as a `datetime.date`."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dt.date:
        from papertrack.errors import UsageError
        from papertrack.models import parse_day

        try:
            return parse_day(value)
        except UsageError:
            self.fail(f"{value!r} is not a date (YYYY-MM-DD)", param, ctx)


DAY = Day()


class Url(click.ParamType):
    """An http(s) URL with a host (the endpoints)."""

    name = "URL"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(str(value))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.fail(f"{value!r} is not an http(s) URL", param, ctx)
        return str(value)


URL = Url()


def stored_db(db_path: str) -> sqlite_utils.Database:
    """The database of a command that reads or edits stored papers: it must exist."""
    return _opened(db_path, create=False)


def locked_db(db_path: str, create: bool = True) -> sqlite_utils.Database:
    """The database a harvest or an import writes, created when missing (unless `create` is
    false: then it must exist, checked before the lock is taken), once this process holds its
    lock (until the command ends; `--wait` says how long to wait for it)."""
    from pathlib import Path

    from papertrack.sources.locks import database_lock
    from papertrack.store.files import check_papertrack_file

    if not create:
        check_papertrack_file(Path(uses_db(db_path)))
    _context().with_resource(database_lock(db_path, **_lock_settings()))
    return _opened(db_path, create=create)


def status_lock(db_path: str) -> Lock:
    """The database's lock as `status` probes it: shared, never waited for."""
    from papertrack.sources.locks import database_lock

    return database_lock(db_path, shared=True)


def uses_db(db_path: str) -> str:
    """Remember the command's database: the file a storage error names (`cli.ErrorsInOneLine`)."""
    _context().meta[DB_KEY] = db_path
    return db_path


def readonly_db(db_path: str) -> sqlite3.Connection:
    """A plain read-only connection to a stored database, for look-ups that must start fast
    (no sqlite-utils, no schema check)."""
    import sqlite3
    from pathlib import Path
    from urllib.parse import quote

    from papertrack.store.files import check_papertrack_file

    check_papertrack_file(Path(uses_db(db_path)))
    conn = sqlite3.connect(f"file:{quote(str(Path(db_path).resolve()))}?mode=ro", uri=True)
    _context().call_on_close(conn.close)
    return conn


def _opened(db_path: str, create: bool) -> sqlite_utils.Database:
    from papertrack.store.schema import open_db

    db = open_db(uses_db(db_path), create=create)
    _context().call_on_close(db.close)
    return db


def _context() -> click.Context:
    return click.get_current_context()


# ------------------------------------------------------------------ locks


def lock_options(fn: Callable) -> Callable:
    """--wait and the lock directory, for the commands that take the database's or an
    endpoint's lock (`locked_db`, `source_clients` read them from the context)."""

    def remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        ctx.meta[f"papertrack.{param.name}"] = value
        return value

    fn = click.option(
        "--lock-dir", envvar="PAPERTRACK_LOCK_DIR", show_envvar=True, type=click.Path(file_okay=False), hidden=True,
        expose_value=False, callback=remember,
        help="Directory of the arXiv and dblp locks every papertrack process on the machine shares "
        "[default: papertrack-locks in the system's temporary directory]",
    )(fn)  # fmt: skip
    return click.option(
        "--wait", type=click.FloatRange(min=0), default=0, is_flag=False, flag_value=math.inf, metavar="[SECONDS]",
        expose_value=False, callback=remember,
        help="When another papertrack process holds the database or an arXiv or dblp endpoint, wait this long for it "
        "(--wait alone: as long as it takes) instead of exiting with code 75 at once",
    )(fn)  # fmt: skip


def _lock_settings() -> dict[str, Any]:
    ctx = _context()
    return {
        "wait": ctx.meta.get(_WAIT) or 0.0,
        "owner": f"papertrack {ctx.info_name}",
        "on_wait": lambda line: click.echo(line, err=True),
    }


def _endpoint_lock(service: str, url: str) -> Lock | None:
    """The endpoint's machine-wide lock for a command with `lock_options`, else None."""
    from papertrack.sources.locks import default_lock_dir, endpoint_lock

    ctx = _context()
    if _WAIT not in ctx.meta:
        return None
    return endpoint_lock(ctx.meta.get(_LOCK_DIR) or default_lock_dir(), service, url, **_lock_settings())


def db_option(fn: Callable) -> Callable:
    return click.option(
        "--db",
        "db_path",
        default=DEFAULT_DB,
        show_default=True,
        type=click.Path(dir_okay=False),
        help="SQLite database file",
    )(fn)


def queries_option(fn: Callable) -> Callable:
    return click.option(
        "--queries",
        "queries_path",
        default=DEFAULT_QUERIES,
        show_default=True,
        type=click.Path(dir_okay=False),
        help="Saved queries and taxonomy (YAML)",
    )(fn)


def with_config(fn: Callable) -> Callable:
    """Load --queries into a `config` argument (exit 2 with file:line on a bad file)."""

    @queries_option
    @functools.wraps(fn)
    def wrapper(queries_path: str, **kwargs: Any) -> Any:
        from papertrack.config import load_config

        return fn(config=load_config(queries_path), **kwargs)

    return wrapper


def optional_config(queries_path: str) -> Config | None:
    """The queries file of a command that can do without one: None when the default
    queries.yaml is absent (a file named explicitly must exist)."""
    from pathlib import Path

    from papertrack.config import load_config

    if queries_path == DEFAULT_QUERIES and not Path(queries_path).exists():
        return None
    return load_config(queries_path)


def window_options(fn: Callable) -> Callable:
    """--from and --to, a window of days (both included)."""
    fn = click.option("--to", "date_to", type=DAY, help="Last day of the window")(fn)
    return click.option("--from", "date_from", type=DAY, help="First day of the window")(fn)


class Contact(click.ParamType):
    """An e-mail address or an http(s) URL, for the User-Agent (nothing that could break a
    header: ASCII only, as HTTP headers are)."""

    name = "EMAIL|URL"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        import re

        text = str(value).strip()
        if not text.isascii():
            self.fail(f"{value!r} is not ASCII: it goes in an HTTP header (write the address in ASCII)", param, ctx)
        if re.fullmatch(r"[^@\s<>()\\;,\x00-\x1f\x7f]+@[^@\s<>()\\;,\x00-\x1f\x7f]+\.[a-zA-Z]{2,}", text):
            return text
        if re.fullmatch(r"https?://[^\s<>()\\;,\x00-\x1f\x7f]+\.[^\s<>()\\;,\x00-\x1f\x7f]+", text):
            return text
        self.fail(f"{value!r} is not an e-mail address or an http(s) URL", param, ctx)


class SourceCommand(click.Command):
    """A command that talks to registered sources (`sources.registry`): all of them, or
    those named in `sources=`. Each source's settings become options (with their
    environment variables), added when the command itself is parsed or its help shown,
    so `papertrack --help` loads no source; `source_clients` builds the clients."""

    def __init__(self, *args: Any, sources: tuple[str, ...] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.source_names = sources
        self._added: list[click.Parameter] | None = None

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params = super().get_params(ctx)
        if self._added is None:
            self._added = _source_options(self.source_names)
        help_option = self.get_help_option(ctx)
        own = [p for p in params if p is not help_option]
        return [*own, *self._added, *([help_option] if help_option else [])]


def _source_options(names: tuple[str, ...] | None) -> list[click.Parameter]:
    from papertrack.sources import registry

    kinds = {"url": URL, "seconds": click.FloatRange(min=0)}
    chosen = [registry.get(n) for n in names] if names else list(registry.sources().values())
    seen: dict[str, click.Parameter] = {}
    for source in chosen:
        for s in source.settings:
            if s.option in seen:
                continue
            kind = kinds.get(s.kind) or click.IntRange(1, s.most)
            seen[s.option] = click.Option(
                [s.option], envvar=s.env, show_envvar=True, default=s.default, show_default=s.kind != "url",
                type=kind, hidden=s.hidden, help=s.help, expose_value=False, callback=_remember_setting,
                metavar="SECONDS" if s.kind == "seconds" else None,
            )  # fmt: skip
    contact = click.Option(
        ["--contact"], envvar="PAPERTRACK_CONTACT", show_envvar=True, type=Contact(), expose_value=False,
        callback=_remember_setting,
        help="Your e-mail address (or a URL), sent in the User-Agent so arXiv and dblp can reach you instead of blocking you",
    )  # fmt: skip
    return [*seen.values(), contact]


def _remember_setting(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    ctx.meta.setdefault(_SETTINGS, {})[param.opts[0]] = value
    return value


def source_clients(*names: str) -> dict[str, Any]:
    """The clients of the command's sources by name (all registered, or these), built from
    its options, each with its machine-wide endpoint lock, closed when the command ends."""
    from papertrack.sources import registry
    from papertrack.sources.http import user_agent

    ctx = _context()
    values = ctx.meta.get(_SETTINGS, {})
    agent = user_agent(values.get("--contact"))
    clients = {}
    for source in [registry.get(n) for n in names] if names else list(registry.sources().values()):
        settings = {s.key: values.get(s.option, s.default) for s in source.settings}
        url = str(settings.get("url") or "")
        client = source.client(settings, lock=_endpoint_lock(source.service, url) if url else None, agent=agent)
        ctx.call_on_close(client.close)
        clients[source.name] = client
    return clients


def library_option(fn: Callable) -> Callable:
    """--library: the library database (accounts and what users keep), by default
    `library.db` beside --db (`library_file` resolves it)."""
    return click.option(
        "--library", "library", type=click.Path(dir_okay=False),
        help="Library database: accounts, libraries, muted words, saved searches [default: library.db beside --db]",
    )(fn)  # fmt: skip


def library_file(db_path: str, library: str | None) -> str:
    """The library file of a command: --library, else library.db beside --db."""
    from papertrack.accounts.schema import library_path

    return str(library_path(db_path, library))
