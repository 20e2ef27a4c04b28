"""The `papertrack` command: each command parses options, calls one library function, prints."""
from __future__ import annotations

import functools
import sys
from typing import Callable

import click
from tabulate import tabulate

from . import __version__
from .config import Config, load_config
from .errors import PapertrackError
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
    from .demo import build_demo_digest

    click.echo(f"Digest example: {build_demo_digest(db_path)}  (papertrack digest --db {db_path} --issue 2020-03-19)")


# ---------------------------------------------------------------- tags, notes, picks, digest (issue 4)


def paper_tags_arguments(fn: Callable) -> Callable:
    """--db, a paper id and one or more tags."""
    fn = click.argument("tags", nargs=-1, required=True)(fn)
    return db_option(click.argument("paper")(fn))


@cli.command(name="tag")
@paper_tags_arguments
def tag_command(db_path: str, paper: str, tags: tuple[str, ...]) -> None:
    """Add manual tags to a paper (kept through harvests and retags)."""
    from .tags import tag

    click.echo(f"{paper}: {', '.join(tag(open_db(db_path), paper, tags))}")


@cli.command(name="untag")
@paper_tags_arguments
def untag_command(db_path: str, paper: str, tags: tuple[str, ...]) -> None:
    """Remove tags from a paper for good: queries and taxonomy will not add them back."""
    from .tags import untag

    click.echo(f"{paper}: {', '.join(untag(open_db(db_path), paper, tags)) or '(no tags)'}")


@cli.command()
@db_option
@with_config
def retag(db_path: str, config: Config) -> None:
    """Re-apply saved-query tags and the taxonomy to every paper (manual tags stay)."""
    from .tags import retag as run_retag

    report = run_retag(open_db(db_path), config)
    click.echo(f"{report.papers} papers: {report.added} tag links added, {report.removed} removed")
    click.echo(tabulate(list(report.per_tag.items()), headers=["tag", "papers"], disable_numparse=True))


@cli.command()
@db_option
@click.argument("paper")
@click.option("--headline", help="Headline for the digest, instead of the title")
@click.option("--summary", help="Summary, instead of the automatic one ('' clears)")
@click.option("--source", help="Name of the commentary source (a blog, a WeChat account)")
@click.option("--source-url", help="Link to the commentary")
@click.option("--code-url", help="Code repository, instead of the detected one")
def note(db_path: str, paper: str, **fields: str | None) -> None:
    """Store the editor's text for a paper; it wins over derived values everywhere."""
    from .editorial import Note, set_note

    stored = set_note(open_db(db_path), paper, Note(**fields))
    for key in ("headline", "summary", "source", "source_url", "code_url"):
        if stored.get(key):
            click.echo(f"{key}: {stored[key]}")


def picks_arguments(fn: Callable) -> Callable:
    """--db, paper ids and --issue."""
    fn = click.option("--issue", required=True, metavar="YYYY-MM-DD", help="Newsletter issue date")(fn)
    return db_option(click.argument("papers", nargs=-1, required=True)(fn))


@cli.command()
@picks_arguments
def pick(db_path: str, papers: tuple[str, ...], issue: str) -> None:
    """Pick papers for a newsletter issue."""
    from .editorial import pick as run_pick

    fresh = run_pick(open_db(db_path), papers, issue)
    click.echo(f"picked for {issue}: {', '.join(fresh) if fresh else 'nothing new'}")


@cli.command()
@picks_arguments
def unpick(db_path: str, papers: tuple[str, ...], issue: str) -> None:
    """Take papers out of a newsletter issue."""
    from .editorial import unpick as run_unpick

    removed = run_unpick(open_db(db_path), papers, issue)
    click.echo(f"unpicked from {issue}: {', '.join(removed) if removed else 'none of them was picked'}")


@cli.command()
@db_option
@with_config
@click.option("--from", "date_from", metavar="DATE", help="First day of the window (YYYY-MM-DD)")
@click.option("--to", "date_to", metavar="DATE", help="Last day of the window (YYYY-MM-DD)")
@click.option("--issue", metavar="YYYY-MM-DD", help="Issue date: its picks, if any, are the digest")
@click.option("--tag", "tags", multiple=True, help="Only papers with this tag (repeatable)")
@click.option("--first-seen", is_flag=True, help="Select by when papertrack first saw a paper, not by publication")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write to FILE, not stdout")
def digest(db_path: str, config: Config, date_from: str | None, date_to: str | None, issue: str | None,
           tags: tuple[str, ...], first_seen: bool, lang: str, output: str | None) -> None:
    """Write the newsletter's papers section (markdown) for a date window or an issue's picks."""
    from .digest import render, select

    result = select(open_db(db_path), date_from, date_to, issue, tags, first_seen, config.tag_order())
    for warning in result.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    text = render(result, lang)
    if output:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        click.echo(text, nl=False)
    what = f"the picks for {issue}" if result.mode == "picks" else "papers in the window"
    click.echo(f"{len(result.entries)} entries ({what}){f' -> {output}' if output else ''}", err=True)


@cli.command(name="import-digest")
@db_option
@with_config
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def import_digest(db_path: str, config: Config, files: tuple[str, ...]) -> None:
    """Import past issues (markdown): featured papers become picks, the editor's text notes."""
    from .enrich.tags import Taxonomy
    from .history import import_issues

    reports = import_issues(open_db(db_path), files, taxonomy=Taxonomy(config.taxonomy))
    click.echo(tabulate([(r.path, r.issue, len(r.featured), len(r.skipped)) for r in reports],
                        headers=["file", "issue", "featured", "skipped"], disable_numparse=True))
    for r in reports:
        for reason in r.skipped:
            click.echo(f"skipped {r.path}: {reason}")


# ---------------------------------------------------------------- bibtex (issue 5)


# ---------------------------------------------------------------- datasette: serve (issue 3)


# ---------------------------------------------------------------- snapshot import, match (issue 7)


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
