"""The editor's commands: pick, unpick, digest, import-digest."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from papertrack.cli.options import (
    DAY,
    SourceCommand,
    db_option,
    lock_options,
    locked_db,
    source_clients,
    stored_db,
    window_options,
    with_config,
)
from papertrack.cli.output import plural, table, write_text
from papertrack.cli.ranking import keep_ranked

if TYPE_CHECKING:
    from papertrack.config import Config


def picks_arguments(fn: Callable) -> Callable:
    """--db, paper ids and --issue."""
    fn = click.option("--issue", required=True, type=DAY, help="Newsletter issue date")(fn)
    return db_option(click.argument("papers", nargs=-1, required=True)(fn))


@click.command()
@picks_arguments
def pick(db_path: str, papers: tuple[str, ...], issue: dt.date) -> None:
    """Pick papers for a newsletter issue."""
    from papertrack.newsletter.editorial import pick as add_picks

    fresh = add_picks(stored_db(db_path), papers, issue)
    click.echo(f"picked for {issue}: {', '.join(fresh) if fresh else 'nothing new'}")


@click.command()
@picks_arguments
def unpick(db_path: str, papers: tuple[str, ...], issue: dt.date) -> None:
    """Take papers out of a newsletter issue."""
    from papertrack.newsletter.editorial import unpick as remove_picks

    removed = remove_picks(stored_db(db_path), papers, issue)
    click.echo(f"unpicked from {issue}: {', '.join(removed) if removed else 'none of them was picked'}")


@click.command()
@db_option
@with_config
@window_options
@click.option("--issue", type=DAY, help="Issue date: its picks, if any, are the digest")
@click.option("--tag", "tags", multiple=True, help="Only papers with this tag (repeatable)")
@click.option("--first-seen", is_flag=True, help="Select by when papertrack first saw a paper, not by publication")
@click.option(
    "--like", "like", metavar="TAG", help="Order the window's papers best first for this profile (a tag, or picks)"
)
@click.option("--top", type=click.IntRange(min=1), metavar="N", help="Only the N best papers for the --like profile")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="Labels of the entries")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write to FILE, not stdout")
def digest(
    db_path: str,
    config: Config,
    date_from: dt.date | None,
    date_to: dt.date | None,
    issue: dt.date | None,
    tags: tuple[str, ...],
    first_seen: bool,
    like: str | None,
    top: int | None,
    lang: str,
    output: str | None,
) -> None:
    """Write the newsletter's papers section (markdown) for a date window or an issue's picks.

    With nothing picked for the issue, --like TAG --top N holds the window's N best papers
    for that profile (grouped by tag, best first within a tag)."""
    from papertrack.newsletter.digest import render, select

    if top and not like:
        raise click.UsageError("--top needs --like TAG: the profile that orders the papers")
    result = select(
        stored_db(db_path), date_from, date_to, issue=issue, tags=tags, first_seen=first_seen,
        tag_order=config.tag_order(), like=like, top=top,
    )  # fmt: skip
    for warning in result.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    write_text(render(result, lang), output)
    what = f"the picks for {issue}" if result.mode == "picks" else "papers in the window"
    click.echo(f"{plural(len(result.entries), 'entry', 'entries')} ({what}){f' -> {output}' if output else ''}", err=True)


@click.command(name="import-digest", cls=SourceCommand, sources=("arxiv-api",))
@db_option
@with_config
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@lock_options
def import_digest(db_path: str, config: Config, files: tuple[str, ...]) -> None:
    """Import past issues (markdown): featured papers become picks, the editor's text notes."""
    from papertrack.enrich.taxonomy import Taxonomy
    from papertrack.newsletter.past_issues import import_issues

    arxiv = source_clients("arxiv-api")["arxiv-api"]
    db = locked_db(db_path)
    reports = import_issues(db, files, client=arxiv, taxonomy=Taxonomy(config.taxonomy))
    table([(r.path, r.issue, len(r.featured), len(r.skipped)) for r in reports], ["file", "issue", "featured", "skipped"])
    for r in reports:
        for reason in r.skipped:
            click.echo(f"skipped {r.path}: {reason}")
    keep_ranked(db, config)


COMMANDS = [pick, unpick, digest, import_digest]
