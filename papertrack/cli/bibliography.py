"""BibTeX commands: bibtex (export), import-bibtex."""

from __future__ import annotations

import datetime as dt
import sys

import click

from papertrack.cli.options import (
    SourceCommand,
    db_option,
    lock_options,
    locked_db,
    optional_config,
    queries_option,
    source_clients,
    stored_db,
    window_options,
)
from papertrack.cli.output import plural, write_text
from papertrack.cli.ranking import keep_ranked


@click.command()
@db_option
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Papers with this tag (repeatable: any of them)")
@click.option("--query", "names", multiple=True, metavar="NAME", help="Papers found by this saved query (repeatable)")
@click.option("--id", "ids", multiple=True, metavar="ID", help="This paper (repeatable)")
@window_options
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file instead of stdout")
def bibtex(
    db_path: str,
    tags: tuple[str, ...],
    names: tuple[str, ...],
    ids: tuple[str, ...],
    date_from: dt.date | None,
    date_to: dt.date | None,
    output: str | None,
) -> None:
    """Export papers as BibTeX (UTF-8): all of them, or those matching every filter given
    (--from and --to select by the v1 submission day)."""
    from papertrack.bibtex.export import export, select_ids

    db = stored_db(db_path)
    text, count = export(db, select_ids(db, tags=tags, queries=names, ids=ids, date_from=date_from, date_to=date_to))
    write_text(text, output)
    if output:
        click.echo(f"{plural(count, 'entry', 'entries')} written to {output}", err=True)


@click.command(name="import-bibtex", cls=SourceCommand, sources=("arxiv-api",))
@db_option
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Tag every imported or matched paper (repeatable)")
@queries_option
@lock_options
def import_bibtex(db_path: str, file: str, tags: tuple[str, ...], queries_path: str) -> None:
    """Import a .bib file: match entries to stored papers, fetch new arXiv ones, add the rest.

    Exits 0 when every entry that describes a paper was imported or matched (a @proceedings
    volume or a @string is no paper), 1 when one had to be skipped. The profiles under
    rank: in queries.yaml are kept scored afterwards."""
    from papertrack.bibtex.importer import import_bibtex as run_import
    from papertrack.bibtex.parse import read_bibtex

    bib = read_bibtex(file)  # before opening the database: a missing file creates nothing
    config = optional_config(queries_path)
    arxiv = source_clients("arxiv-api")["arxiv-api"]
    db = locked_db(db_path)
    report = run_import(db, bib, tags, client=arxiv)
    for problem in report.problems:
        click.echo(problem, err=True)
    click.echo(report.summary())
    keep_ranked(db, config)
    if report.skipped:
        sys.exit(1)


COMMANDS = [bibtex, import_bibtex]
