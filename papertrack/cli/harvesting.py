"""Commands that fill the database: queries, harvest, status, import-snapshot, import-dblp, match."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from papertrack.cli.options import (
    DAY,
    SourceCommand,
    db_option,
    lock_options,
    locked_db,
    optional_config,
    queries_option,
    source_clients,
    status_lock,
    stored_db,
    with_config,
)
from papertrack.cli.output import ImportProgress, ProgressBars, plural, print_reports, shorten, table
from papertrack.cli.ranking import keep_ranked

if TYPE_CHECKING:
    import datetime as dt

    from papertrack.config import Config


@click.command()
@with_config
@click.option("--explain", is_flag=True, help="Show each arXiv query in full, as written and as arXiv reads it")
def queries(config: Config, explain: bool) -> None:
    """Validate queries.yaml and list the saved queries."""
    from papertrack.sources.arxiv_query import arxiv_form, reads_differently

    if explain:
        for q in config.queries:
            click.echo(f"{q.name} ({q.source})\n  as written:     {q.query}")
            if q.source == "arxiv":
                click.echo(f"  as arXiv reads: {arxiv_form(q.query)}")
        return
    table(
        [(q.name, q.source, ", ".join(q.tags), q.since or "", shorten(q.query, 70)) for q in config.queries],
        ["name", "source", "tags", "since", "query"],
    )
    differ = [q.name for q in config.queries if q.source == "arxiv" and reads_differently(q.query)]
    if differ:
        click.echo(
            f"\narXiv reads {plural(len(differ), 'query', 'queries')} differently from how "
            f"{'it is' if len(differ) == 1 else 'they are'} written ({', '.join(differ)}): "
            "see papertrack queries --explain"
        )
    if config.taxonomy:
        click.echo(f"\ntaxonomy: {len(config.taxonomy)} tags ({', '.join(r.tag for r in config.taxonomy)})")


@click.command(cls=SourceCommand)
@db_option
@with_config
@click.option("--query", "names", multiple=True, help="Only this saved query (repeatable)")
@click.option("--full", is_flag=True, help="Ignore the watermark and fetch everything the query matches (query API)")
@click.option(
    "--via", type=click.Choice(["auto", "oai", "api"]), default="auto", show_default=True,
    help="How arXiv queries run: auto (OAI-PMH for the daily run of queries already backfilled and confined to "
    "arXiv's sets, the query API for the rest), oai or api (that channel only)",
)  # fmt: skip
@click.option(
    "--keep-all", is_flag=True,
    help="With OAI-PMH: store every record of the listed sets, not only what the saved queries match",
)  # fmt: skip
@lock_options
def harvest(db_path: str, config: Config, names: tuple[str, ...], full: bool, via: str, keep_all: bool) -> None:
    """Harvest the saved queries into the database (incremental, resumable).

    One harvest or import writes a database at a time, and one papertrack process on
    the machine talks to each service's endpoint at a time: a second one exits with code
    75, or waits with --wait. Exits 1 if a query failed, 75 if none failed but a service
    was throttling this machine (its queries are deferred and run first next time)."""
    from papertrack.ingest.harvest import check_options
    from papertrack.ingest.harvest import harvest as run_harvest

    check_options(full=full, via=via, keep_all=keep_all)  # before the database or any endpoint is touched
    clients = source_clients()
    db = locked_db(db_path)
    with ProgressBars() as bars:
        reports = run_harvest(
            db, config, names, full=full, via=via, keep_all=keep_all, clients=clients, on_page=bars.update
        )  # fmt: skip
    print_reports(reports)
    keep_ranked(db, config)
    statuses = {r.status for r in reports}
    if statuses - {"ok", "deferred"}:
        sys.exit(1)
    if "deferred" in statuses:
        sys.exit(75)


@click.command()
@db_option
@with_config
@click.option(
    "--stale-days", default=14.0, show_default=True, type=click.FloatRange(0, 36500),
    help="Flag queries not harvested for this long",
)  # fmt: skip
def status(db_path: str, config: Config, stale_days: float) -> None:
    """Each query's last successful harvest and paper count; failed or stale ones flagged."""
    from papertrack.store.runs import query_status

    table(
        [
            (
                s.query,
                s.source,
                s.papers,
                s.last_success or "never",
                s.flag.upper() if s.flag != "ok" else "ok",
                (s.last_error or "")[:80],
            )
            for s in query_status(stored_db(db_path), config.queries, stale_days, harvest_lock=status_lock(db_path))
        ],  # fmt: skip
        ["query", "source", "papers", "last success", "flag", "last error"],
    )


@click.command(name="import-snapshot")
@click.argument("file", type=click.Path(dir_okay=False))
@db_option
@queries_option
@click.option(
    "--category", "categories", multiple=True, metavar="PREFIX",
    help="Keep records with a category starting with PREFIX (cs. or cs.LG; repeatable). Default: all",
)  # fmt: skip
@click.option("--since", type=DAY, help="Keep papers first submitted on or after this day")
@click.option(
    "--workers", type=click.IntRange(min=0), default=None,
    help="Parsing processes [default: one per core, at most 4; 0 parses in this process]",
)  # fmt: skip
@click.option(
    "--batch", envvar="PAPERTRACK_IMPORT_BATCH", show_envvar=True, type=click.IntRange(min=1), default=10_000,
    hidden=True, help="Lines per transaction (lower only for tests)",
)  # fmt: skip
@lock_options
def import_snapshot(
    file: str,
    db_path: str,
    queries_path: str,
    categories: tuple[str, ...],
    since: dt.date | None,
    workers: int | None,
    batch: int,
) -> None:
    """Import arXiv's metadata snapshot (JSON lines, optionally .gz); rerun to resume."""
    from papertrack.ingest.snapshot import import_snapshot as run_import
    from papertrack.ingest.snapshot import parse_filter

    keep = parse_filter(categories, since)
    # the taxonomy tags imported papers like harvested ones; without a queries file there is none
    config = optional_config(queries_path)
    taxonomy = config.taxonomy if config else ()
    db = locked_db(db_path)
    with ImportProgress(file) as progress:
        report = run_import(
            db, file, keep=keep, taxonomy=taxonomy, workers=workers, batch=batch,
            on_chunk=progress.update, on_bad=progress.bad,
        )  # fmt: skip
    if report.already_done:
        click.echo(f"{file} was imported already ({report.kept:,} records kept); nothing to do.")
        return
    if report.resumed_after:
        click.echo(f"resumed after line {report.resumed_after:,}")
    table([[f"{getattr(report, c):,}" for c in report.counts]], report.counts, right=report.counts)
    rate = report.read_now / report.seconds if report.seconds else 0
    click.echo(f"{report.seconds:.1f} s, {rate:,.0f} records/s")
    keep_ranked(db, config)


@click.command()
@db_option
@queries_option
@click.option("--query", "names", multiple=True, help="Only this saved query (repeatable)")
@click.option("--try", "try_text", metavar="QUERY", help="Count and show the newest papers QUERY matches; stores nothing")
@click.option("--limit", default=10, show_default=True, help="Papers --try shows")
def match(db_path: str, queries_path: str, names: tuple[str, ...], try_text: str | None, limit: int) -> None:
    """Run saved arXiv queries on the local database (no network): link and tag matches."""
    from papertrack.config import load_config
    from papertrack.ingest.local_match import match_saved, try_query

    if try_text is not None:
        if names:
            raise click.UsageError("--try and --query do not go together")
        form, count, rows = try_query(stored_db(db_path), try_text, limit)
        click.echo(f"arXiv reads: {form}\n{count:,} papers match")
        if rows:
            table(
                [(r["id"], (r["published"] or "")[:10], shorten(r["title"], 80)) for r in rows], ["id", "submitted", "title"]
            )
        return
    reports = match_saved(stored_db(db_path), load_config(queries_path), names)
    table(
        [(r.query, f"{r.matched:,}", f"{r.linked:,}", f"{r.seconds:.2f}", r.status) for r in reports],
        ["query", "matched", "new links", "seconds", "status"],
        right=["matched", "new links", "seconds"],
    )


@click.command(name="import-dblp", cls=SourceCommand, sources=("arxiv-api",))
@click.argument("file", type=click.Path(dir_okay=False))
@db_option
@with_config
@click.option("--query", "names", multiple=True, help="Only this saved dblp query (repeatable)")
@click.option("--offline", is_flag=True, help="Link to stored papers only: ask arXiv for no preprint")
@lock_options
def import_dblp(file: str, db_path: str, config: Config, names: tuple[str, ...], offline: bool) -> None:
    """Read dblp's XML dump (dblp.xml.gz, with dblp.dtd beside it) for the saved dblp queries.

    For when dblp shows scripts a bot check: download both files from
    https://dblp.org/xml/ in a browser. The records of the queries' tables of contents,
    venues and years are linked and stored as a harvest stores them; rerun it at will."""
    from papertrack.ingest.import_dblp import import_dblp as run_import

    arxiv = None if offline else source_clients("arxiv-api")["arxiv-api"]
    db = locked_db(db_path)
    report = run_import(db, file, config, names, arxiv_client=arxiv)
    counts = list(report.queries.values())
    table(
        [(c.query, f"{c.records:,}", f"{c.new:,}", f"{c.updated:,}", f"{c.total:,}") for c in counts],
        ["query", "records", "new", "updated", "total"],
        right=["records", "new", "updated", "total"],
    )
    rate = report.read / report.seconds if report.seconds else 0
    click.echo(f"{report.read:,} dblp records read in {report.seconds:.1f} s ({rate:,.0f} records/s)")
    keep_ranked(db, config)


COMMANDS = [queries, harvest, status, import_snapshot, import_dblp, match]
