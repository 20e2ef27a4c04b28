"""The `papertrack` command: each command parses options, calls one library function, prints."""
from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Callable

import click
from tabulate import tabulate

from . import __version__
from .config import Config, load_config
from .errors import PapertrackError, UsageError
from .harvest import RunReport, harvest, query_status
from .schema import open_db
from .sources.arxiv import Page

DEFAULT_DB = "db/papers.db"
DEFAULT_QUERIES = "queries.yaml"


class Group(click.Group):
    """Turns papertrack's typed errors into one line on stderr and the error's exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except PapertrackError as e:
            click.secho(f"Error: {e}", fg="red", err=True)
            sys.exit(e.exit_code)


def db_option(fn: Callable) -> Callable:
    return click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, type=click.Path(dir_okay=False),
                        help="SQLite database file")(fn)


def queries_option(fn: Callable) -> Callable:
    return click.option("--queries", "queries_path", default=DEFAULT_QUERIES, show_default=True,
                        type=click.Path(dir_okay=False), help="Saved queries and taxonomy (YAML)")(fn)


def with_config(fn: Callable) -> Callable:
    """Load --queries into a `config` argument (exit 2 with file:line on a bad file)."""

    @queries_option
    @functools.wraps(fn)
    def wrapper(queries_path: str, **kwargs):
        return fn(config=load_config(queries_path), **kwargs)

    return wrapper


@click.group(cls=Group)
@click.version_option(__version__, prog_name="papertrack")
def cli() -> None:
    """Track model-compression papers: harvest arXiv and venues into SQLite, browse them in
    Datasette, export BibTeX, and write the newsletter's papers section."""


@cli.command()
@with_config
def queries(config: Config) -> None:
    """Validate queries.yaml and list the saved queries."""
    rows = [(q.name, q.source, ", ".join(q.tags), q.since or "", _shorten(q.query, 70)) for q in config.queries]
    click.echo(tabulate(disable_numparse=True, tabular_data=rows, headers=["name", "source", "tags", "since", "query"]))
    if config.taxonomy:
        click.echo(f"\ntaxonomy: {len(config.taxonomy)} tags ({', '.join(r.tag for r in config.taxonomy)})")


@cli.command(name="harvest")
@db_option
@with_config
@click.option("--query", "names", multiple=True, help="Only this saved query (repeatable)")
@click.option("--full", is_flag=True, help="Ignore the watermark and fetch everything the query matches")
def harvest_command(db_path: str, config: Config, names: tuple[str, ...], full: bool) -> None:
    """Harvest the saved queries into the database (incremental, resumable)."""
    db = open_db(db_path)
    with ProgressBars() as bars:
        reports = harvest(db, config, names, full=full, on_page=bars.update)
    _print_reports(reports)
    if any(r.status != "ok" for r in reports):
        sys.exit(1)


@cli.command()
@db_option
@with_config
@click.option("--stale-days", default=14.0, show_default=True, help="Flag queries not harvested for this long")
def status(db_path: str, config: Config, stale_days: float) -> None:
    """Each query's last successful harvest and paper count; failed or stale ones flagged."""
    rows = query_status(open_db(db_path), config, stale_days)
    click.echo(tabulate(disable_numparse=True, tabular_data=
        [(s.query, s.source, s.papers, s.last_success or "never", s.flag.upper() if s.flag != "ok" else "ok",
          (s.last_error or "")[:80]) for s in rows],
        headers=["query", "source", "papers", "last success", "flag", "last error"],
    ))


@cli.command()
@with_config
@click.option("--db", "db_path", default="db/demo.db", show_default=True, type=click.Path(dir_okay=False))
def demo(config: Config, db_path: str) -> None:
    """Offline demo: harvest the bundled sample papers from a local arXiv stand-in."""
    from .demo import build_demo

    with ProgressBars() as bars:
        reports = build_demo(config, db_path, on_page=bars.update)
    _print_reports(reports)
    click.echo(f"\nDemo database: {db_path}. Browse it with:  datasette {db_path}")


# ---------------------------------------------------------------- tags, notes, picks, digest (issue 4)


# ---------------------------------------------------------------- bibtex (issue 5)


# ---------------------------------------------------------------- datasette: serve (issue 3)


# ---------------------------------------------------------------- snapshot import, match (issue 7)


@cli.command(name="import-snapshot")
@click.argument("file", type=click.Path(dir_okay=False))
@db_option
@queries_option
@click.option("--category", "categories", multiple=True, metavar="PREFIX",
              help="Keep records with a category starting with PREFIX (cs. or cs.LG; repeatable). Default: all")
@click.option("--since", metavar="DATE", help="Keep papers first submitted on or after DATE (YYYY-MM-DD)")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Parsing processes [default: one per core, at most 4; 0 parses in this process]")
def import_snapshot_command(file: str, db_path: str, queries_path: str, categories: tuple[str, ...],
                            since: str | None, workers: int | None) -> None:
    """Import arXiv's metadata snapshot (JSON lines, optionally .gz); rerun to resume."""
    from .snapshot import import_snapshot, parse_filter

    keep = parse_filter(categories, since)
    # the taxonomy tags imported papers like harvested ones; without a queries file there is none
    taxonomy = load_config(queries_path).taxonomy if queries_path != DEFAULT_QUERIES or Path(queries_path).exists() else ()
    db = open_db(db_path)
    with ImportProgress(file) as progress:
        report = import_snapshot(db, file, keep, taxonomy, workers=workers, on_chunk=progress.update, on_bad=progress.bad)
    if report.already_done:
        click.echo(f"{file} was imported already ({report.kept:,} records kept); nothing to do.")
        return
    if report.resumed_after:
        click.echo(f"resumed after line {report.resumed_after:,}")
    click.echo(tabulate(disable_numparse=True, tabular_data=[[f"{getattr(report, c):,}" for c in report.counts]],
                        headers=list(report.counts), colalign=["right"] * len(report.counts)))
    rate = report.read_now / report.seconds if report.seconds else 0
    click.echo(f"{report.seconds:.1f} s, {rate:,.0f} records/s")


@cli.command(name="match")
@db_option
@queries_option
@click.option("--query", "names", multiple=True, help="Only this saved query (repeatable)")
@click.option("--try", "try_text", metavar="QUERY", help="Count and show the newest papers QUERY matches; stores nothing")
@click.option("--limit", default=10, show_default=True, help="Papers --try shows")
def match_command(db_path: str, queries_path: str, names: tuple[str, ...], try_text: str | None, limit: int) -> None:
    """Run saved arXiv queries on the local database (no network): link and tag matches."""
    from .match import match_saved, try_query

    if try_text is not None:
        if names:
            raise UsageError("--try and --query do not go together")
        count, rows = try_query(open_db(db_path), try_text, limit)
        click.echo(f"{count:,} papers match")
        if rows:
            click.echo(tabulate(disable_numparse=True, headers=["id", "submitted", "title"],
                                tabular_data=[(r["id"], (r["published"] or "")[:10], _shorten(r["title"], 80)) for r in rows]))
        return
    reports = match_saved(open_db(db_path), load_config(queries_path), names)
    click.echo(tabulate(disable_numparse=True, headers=["query", "matched", "new links", "seconds", "status"],
                        colalign=["left", "right", "right", "right", "left"],
                        tabular_data=[(r.query, f"{r.matched:,}", f"{r.linked:,}", f"{r.seconds:.2f}", r.status)
                                      for r in reports]))


class ImportProgress:
    """A progress bar of bytes and records (on a terminal), and warnings for bad lines."""

    MAX_WARNINGS = 20

    def __init__(self, path: str) -> None:
        self.path, self.warned, self.midline = path, 0, False
        self.bar = None
        if sys.stderr.isatty() and Path(path).is_file():
            self.bar = click.progressbar(length=Path(path).stat().st_size, label="importing", file=sys.stderr,
                                         item_show_func=lambda text: text)

    def __enter__(self) -> "ImportProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.render_finish()
        if self.warned > self.MAX_WARNINGS:
            click.echo(f"... and {self.warned - self.MAX_WARNINGS:,} more bad lines", err=True)

    def update(self, report, chunk) -> None:
        if self.bar is not None:
            self.bar.update(chunk.position - self.bar.pos,
                            f"{report.read:,} records, {_bytes(chunk.position)} of {_bytes(self.bar.length)}")
            self.midline = True

    def bad(self, line: int, message: str) -> None:
        self.warned += 1
        if self.warned <= self.MAX_WARNINGS:
            click.echo(("\n" if self.midline else "") + f"{self.path}:{line}: skipped: {message}", err=True)
            self.midline = False


def _bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit in ("bytes", "KB") else f"{n:,.1f} {unit}"
        n /= 1024
    return ""



# ---------------------------------------------------------------- output helpers


class ProgressBars:
    """One click progress bar per query, on a terminal only."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.bar = None
        self.query: str | None = None

    def __enter__(self) -> "ProgressBars":
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.render_finish()
            self.bar = None

    def update(self, report: RunReport, page: Page) -> None:
        if not self.enabled:
            return
        if report.query != self.query:
            self._close()
            self.query = report.query
            self.bar = click.progressbar(length=max(page.total, 1), label=f"{report.query:<24}", file=sys.stderr,
                                         show_pos=True)
            self.bar.render_progress()
        self.bar.update(len(page.papers))


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _print_reports(reports: list[RunReport]) -> None:
    click.echo(tabulate(disable_numparse=True, tabular_data=
        [(r.query, r.requests, r.new, r.updated, r.total, r.status if r.status == "ok" else f"{r.status}: {r.error}")
         for r in reports],
        headers=["query", "requests", "new", "updated", "total", "status"],
    ))
