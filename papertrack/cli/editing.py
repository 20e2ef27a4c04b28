"""Commands that edit stored papers: tag, untag, retag, note, key."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from papertrack.cli.options import db_option, stored_db, with_config
from papertrack.cli.output import table

if TYPE_CHECKING:
    from papertrack.config import Config


def paper_tags_arguments(fn: Callable) -> Callable:
    """--db, a paper id and one or more tags."""
    fn = click.argument("tags", nargs=-1, required=True)(fn)
    return db_option(click.argument("paper")(fn))


@click.command()
@paper_tags_arguments
def tag(db_path: str, paper: str, tags: tuple[str, ...]) -> None:
    """Add manual tags to a paper (kept through harvests and retags)."""
    from papertrack.store.tags import tag as add_tags

    click.echo(f"{paper}: {', '.join(add_tags(stored_db(db_path), paper, tags))}")


@click.command()
@paper_tags_arguments
def untag(db_path: str, paper: str, tags: tuple[str, ...]) -> None:
    """Remove tags from a paper for good: queries and taxonomy will not add them back."""
    from papertrack.store.tags import untag as remove_tags

    click.echo(f"{paper}: {', '.join(remove_tags(stored_db(db_path), paper, tags)) or '(no tags)'}")


@click.command()
@db_option
@with_config
def retag(db_path: str, config: Config) -> None:
    """Re-apply saved-query tags and the taxonomy to every paper (manual tags stay)."""
    from papertrack.store.tags import retag as run_retag

    report = run_retag(stored_db(db_path), config)
    click.echo(f"{report.papers} papers: {report.added} tag links added, {report.removed} removed")
    table(report.per_tag.items(), ["tag", "papers"])


@click.command()
@db_option
@click.argument("paper")
@click.option("--headline", help="Headline for the digest, instead of the title")
@click.option("--summary", help="Summary, instead of the automatic one ('' clears)")
@click.option("--source", help="Name of the commentary source (a blog, a WeChat account)")
@click.option("--source-url", help="Link to the commentary")
@click.option("--code-url", help="Code repository, instead of the detected one")
def note(db_path: str, paper: str, **fields: str | None) -> None:
    """Store the editor's text for a paper; it wins over derived values everywhere."""
    from papertrack.newsletter.editorial import Note, set_note

    stored = set_note(stored_db(db_path), paper, Note(**fields))
    for key in ("headline", "summary", "source", "source_url", "code_url"):
        if stored.get(key):
            click.echo(f"{key}: {stored[key]}")


@click.command()
@db_option
@click.argument("paper")
@click.argument("new_key")
def key(db_path: str, paper: str, new_key: str) -> None:
    """Set a paper's citation key; exports use it from then on."""
    from papertrack.store.citekeys import set_key
    from papertrack.store.schema import transaction

    db = stored_db(db_path)
    with transaction(db):
        old = set_key(db, paper, new_key)
    click.echo(f"{paper}: {old or '(none)'} -> {new_key}")


COMMANDS = [tag, untag, retag, note, key]
