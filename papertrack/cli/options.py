"""Options shared by several commands, written once (sqlite-utils' habit), and the
click types that turn text into the library's values.

Nothing heavy is imported here: `papertrack --help` loads every command module.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    import sqlite_utils

DEFAULT_DB = "db/papers.db"
DEFAULT_QUERIES = "queries.yaml"
ARXIV_URL = "https://export.arxiv.org/api/query"  # sources.arxiv.ARXIV_URL (not imported: keeps --help fast)
DBLP_URL = "https://dblp.org/search/publ/api"  # sources.dblp.DBLP_URL


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


def stored_db(db_path: str) -> sqlite_utils.Database:
    """The database of a command that reads or edits stored papers: it must exist."""
    from papertrack.store.schema import open_db

    return open_db(db_path, create=False)


def new_or_stored_db(db_path: str) -> sqlite_utils.Database:
    """The database a command writes papers into, created when missing."""
    from papertrack.store.schema import open_db

    return open_db(db_path)


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


def window_options(fn: Callable) -> Callable:
    """--from and --to, a window of days (both included)."""
    fn = click.option("--to", "date_to", type=DAY, help="Last day of the window")(fn)
    return click.option("--from", "date_from", type=DAY, help="First day of the window")(fn)


def arxiv_client(fn: Callable) -> Callable:
    """The arXiv endpoint and pacing (environment variables for tests and mirrors), as an
    `arxiv` argument: a ready `sources.arxiv.ArxivClient`."""

    @click.option(
        "--arxiv-url", envvar="PAPERTRACK_ARXIV_URL", show_envvar=True, default=ARXIV_URL, metavar="URL",
        help="arXiv API endpoint",
    )  # fmt: skip
    @click.option(
        "--arxiv-delay", envvar="PAPERTRACK_ARXIV_DELAY", show_envvar=True, default=3.0, show_default=True,
        type=click.FloatRange(min=0), metavar="SECONDS", help="Pause between arXiv requests (arXiv asks for 3)",
    )  # fmt: skip
    @click.option(
        "--arxiv-page-size", envvar="PAPERTRACK_ARXIV_PAGE_SIZE", default=2000, type=click.IntRange(1, 2000),
        hidden=True, help="Results per arXiv request (for tests)",
    )  # fmt: skip
    @functools.wraps(fn)
    def wrapper(arxiv_url: str, arxiv_delay: float, arxiv_page_size: int, **kwargs: Any) -> Any:
        from papertrack.sources.arxiv import ArxivClient

        return fn(arxiv=ArxivClient(arxiv_url, delay=arxiv_delay, page_size=arxiv_page_size), **kwargs)

    return wrapper


def dblp_client(fn: Callable) -> Callable:
    """The DBLP endpoint and pacing, as a `dblp` argument (`sources.dblp.DblpClient`)."""

    @click.option(
        "--dblp-url", envvar="PAPERTRACK_DBLP_URL", show_envvar=True, default=DBLP_URL, metavar="URL",
        help="DBLP publication search endpoint",
    )  # fmt: skip
    @click.option(
        "--dblp-delay", envvar="PAPERTRACK_DBLP_DELAY", show_envvar=True, default=3.0, show_default=True,
        type=click.FloatRange(min=0), metavar="SECONDS", help="Pause between DBLP requests",
    )  # fmt: skip
    @functools.wraps(fn)
    def wrapper(dblp_url: str, dblp_delay: float, **kwargs: Any) -> Any:
        from papertrack.sources.dblp import DblpClient

        return fn(dblp=DblpClient(dblp_url, delay=dblp_delay), **kwargs)

    return wrapper
