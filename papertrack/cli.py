"""The `papertrack` command: each command parses options, calls one library function, prints."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path

import click
from tabulate import tabulate

from . import __version__
from .config import Config, load_config
from .errors import PapertrackError, UsageError
from .harvest import harvest, query_status
from .output import ImportProgress, ProgressBars, plural, print_reports, shorten
from .schema import open_db, transaction

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


def _stored_db(db_path: str):
    """The database of a command that reads or edits stored papers: it must exist."""
    return open_db(db_path, create=False)


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
    rows = [(q.name, q.source, ", ".join(q.tags), q.since or "", shorten(q.query, 70)) for q in config.queries]
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
    print_reports(reports)
    if any(r.status != "ok" for r in reports):
        sys.exit(1)


@cli.command()
@db_option
@with_config
@click.option(
    "--stale-days",
    default=14.0,
    show_default=True,
    type=click.FloatRange(0, 36500),
    help="Flag queries not harvested for this long",
)
def status(db_path: str, config: Config, stale_days: float) -> None:
    """Each query's last successful harvest and paper count; failed or stale ones flagged."""
    rows = query_status(_stored_db(db_path), config, stale_days)
    click.echo(
        tabulate(
            disable_numparse=True,
            tabular_data=[
                (
                    s.query,
                    s.source,
                    s.papers,
                    s.last_success or "never",
                    s.flag.upper() if s.flag != "ok" else "ok",
                    (s.last_error or "")[:80],
                )
                for s in rows
            ],
            headers=["query", "source", "papers", "last success", "flag", "last error"],
        )
    )


@cli.command()
@with_config
@click.option("--db", "db_path", default="db/demo.db", show_default=True, type=click.Path(dir_okay=False))
@click.option("--no-serve", is_flag=True, help="Build the database and stop (do not start Datasette)")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535), help="Port to serve on")
def demo(config: Config, db_path: str, no_serve: bool, port: int) -> None:
    """Offline demo: harvest the bundled sample papers from a local arXiv stand-in, then serve them."""
    from .demo import build_demo, build_demo_digest
    from .serve import serve

    with ProgressBars() as bars:
        reports = build_demo(config, db_path, on_page=bars.update)
    print_reports(reports)
    click.echo(f"\nDemo database: {db_path}")
    click.echo(f"Digest example: {build_demo_digest(db_path)}  (papertrack digest --db {db_path} --issue 2020-03-19)")
    if not no_serve:
        serve(db_path, port=port, announce=click.echo)


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

    click.echo(f"{paper}: {', '.join(tag(_stored_db(db_path), paper, tags))}")


@cli.command(name="untag")
@paper_tags_arguments
def untag_command(db_path: str, paper: str, tags: tuple[str, ...]) -> None:
    """Remove tags from a paper for good: queries and taxonomy will not add them back."""
    from .tags import untag

    click.echo(f"{paper}: {', '.join(untag(_stored_db(db_path), paper, tags)) or '(no tags)'}")


@cli.command()
@db_option
@with_config
def retag(db_path: str, config: Config) -> None:
    """Re-apply saved-query tags and the taxonomy to every paper (manual tags stay)."""
    from .tags import retag as run_retag

    report = run_retag(_stored_db(db_path), config)
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

    stored = set_note(_stored_db(db_path), paper, Note(**fields))
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

    fresh = run_pick(_stored_db(db_path), papers, issue)
    click.echo(f"picked for {issue}: {', '.join(fresh) if fresh else 'nothing new'}")


@cli.command()
@picks_arguments
def unpick(db_path: str, papers: tuple[str, ...], issue: str) -> None:
    """Take papers out of a newsletter issue."""
    from .editorial import unpick as run_unpick

    removed = run_unpick(_stored_db(db_path), papers, issue)
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
def digest(
    db_path: str,
    config: Config,
    date_from: str | None,
    date_to: str | None,
    issue: str | None,
    tags: tuple[str, ...],
    first_seen: bool,
    lang: str,
    output: str | None,
) -> None:
    """Write the newsletter's papers section (markdown) for a date window or an issue's picks."""
    from .digest import render, select

    result = select(_stored_db(db_path), date_from, date_to, issue, tags, first_seen, config.tag_order())
    for warning in result.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    text = render(result, lang)
    if output:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        click.echo(text, nl=False)
    what = f"the picks for {issue}" if result.mode == "picks" else "papers in the window"
    click.echo(f"{plural(len(result.entries), 'entry', 'entries')} ({what}){f' -> {output}' if output else ''}", err=True)


@cli.command(name="import-digest")
@db_option
@with_config
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def import_digest(db_path: str, config: Config, files: tuple[str, ...]) -> None:
    """Import past issues (markdown): featured papers become picks, the editor's text notes."""
    from .enrich.tags import Taxonomy
    from .history import import_issues

    reports = import_issues(open_db(db_path), files, taxonomy=Taxonomy(config.taxonomy))
    click.echo(
        tabulate(
            [(r.path, r.issue, len(r.featured), len(r.skipped)) for r in reports],
            headers=["file", "issue", "featured", "skipped"],
            disable_numparse=True,
        )
    )
    for r in reports:
        for reason in r.skipped:
            click.echo(f"skipped {r.path}: {reason}")


# ---------------------------------------------------------------- bibtex (issue 5)


@cli.command(name="bibtex")
@db_option
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Papers with this tag (repeatable: any of them)")
@click.option("--query", "names", multiple=True, metavar="NAME", help="Papers found by this saved query (repeatable)")
@click.option("--id", "ids", multiple=True, metavar="ID", help="This paper (repeatable)")
@click.option(
    "--from",
    "date_from",
    type=click.DateTime(["%Y-%m-%d"]),
    metavar="DATE",
    help="Submitted (v1) on or after this day, YYYY-MM-DD",
)
@click.option(
    "--to",
    "date_to",
    type=click.DateTime(["%Y-%m-%d"]),
    metavar="DATE",
    help="Submitted (v1) on or before this day, YYYY-MM-DD",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file instead of stdout")
def bibtex_command(
    db_path: str, tags: tuple[str, ...], names: tuple[str, ...], ids: tuple[str, ...], date_from, date_to, output: str | None
) -> None:
    """Export papers as BibTeX (UTF-8): all of them, or those matching every filter given."""
    from .bibtex import export, select_ids

    db = _stored_db(db_path)
    day = lambda d: d.date().isoformat() if d else None  # noqa: E731
    text, count = export(db, select_ids(db, tags, names, ids, day(date_from), day(date_to)))
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"{plural(count, 'entry', 'entries')} written to {output}", err=True)
    else:
        click.echo(text.encode("utf-8"), nl=False)  # bytes: UTF-8 whatever the terminal's locale


@cli.command(name="import-bibtex")
@db_option
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Tag every imported or matched paper (repeatable)")
def import_bibtex_command(db_path: str, file: str, tags: tuple[str, ...]) -> None:
    """Import a .bib file: match entries to stored papers, fetch new arXiv ones, add the rest."""
    from .bibimport import import_bibtex
    from .bibread import read_bibtex

    bib = read_bibtex(file)  # before opening the database: a missing file creates nothing
    report = import_bibtex(open_db(db_path), bib, tags)
    for problem in report.problems:
        click.echo(problem, err=True)
    click.echo(report.summary())
    if report.skipped:
        sys.exit(1)


@cli.command(name="key")
@db_option
@click.argument("paper_id")
@click.argument("new_key")
def key_command(db_path: str, paper_id: str, new_key: str) -> None:
    """Set a paper's citation key; exports use it from then on."""
    from .citekeys import set_key

    db = _stored_db(db_path)
    with transaction(db):
        old = set_key(db, paper_id, new_key)
    click.echo(f"{paper_id}: {old or '(none)'} -> {new_key}")


# ---------------------------------------------------------------- datasette: serve (issue 3)


@cli.command(name="serve")
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (loopback by default)")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535), help="Port; 0 picks a free one")
@click.option(
    "--metadata",
    "metadata_path",
    type=click.Path(dir_okay=False),
    help="Datasette metadata [default: ./metadata.json, else the built-in copy]",
)
def serve_command(db_path: str, host: str, port: int, metadata_path: str | None) -> None:
    """Browse the database in Datasette (read-only), with papertrack's metadata and plugin."""
    from .serve import serve

    serve(db_path, host, port, metadata_path, announce=click.echo)


# ---------------------------------------------------------------- snapshot import, match (issue 7)


@cli.command(name="import-snapshot")
@click.argument("file", type=click.Path(dir_okay=False))
@db_option
@queries_option
@click.option(
    "--category",
    "categories",
    multiple=True,
    metavar="PREFIX",
    help="Keep records with a category starting with PREFIX (cs. or cs.LG; repeatable). Default: all",
)
@click.option("--since", metavar="DATE", help="Keep papers first submitted on or after DATE (YYYY-MM-DD)")
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=None,
    help="Parsing processes [default: one per core, at most 4; 0 parses in this process]",
)
def import_snapshot_command(
    file: str, db_path: str, queries_path: str, categories: tuple[str, ...], since: str | None, workers: int | None
) -> None:
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
    click.echo(
        tabulate(
            disable_numparse=True,
            tabular_data=[[f"{getattr(report, c):,}" for c in report.counts]],
            headers=list(report.counts),
            colalign=["right"] * len(report.counts),
        )
    )
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
            click.echo(
                tabulate(
                    disable_numparse=True,
                    headers=["id", "submitted", "title"],
                    tabular_data=[(r["id"], (r["published"] or "")[:10], shorten(r["title"], 80)) for r in rows],
                )
            )
        return
    reports = match_saved(open_db(db_path), load_config(queries_path), names)
    click.echo(
        tabulate(
            disable_numparse=True,
            headers=["query", "matched", "new links", "seconds", "status"],
            colalign=["left", "right", "right", "right", "left"],
            tabular_data=[(r.query, f"{r.matched:,}", f"{r.linked:,}", f"{r.seconds:.2f}", r.status) for r in reports],
        )
    )
