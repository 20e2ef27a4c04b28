"""Accounts for the site: users add, list, remove, password, role, import-bibtex, feed-token."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from papertrack.cli.options import (
    SourceCommand,
    db_option,
    library_file,
    library_option,
    lock_options,
    locked_db,
    optional_config,
    queries_option,
    source_clients,
)
from papertrack.cli.output import plural, table

if TYPE_CHECKING:
    import sqlite_utils

ROLE = click.Choice(["reader", "editor"])


@click.group()
def users() -> None:
    """Accounts of the site: who can sign in, keep a library and get their own ranking.

    They live in the library database (--library, by default library.db beside --db),
    never in the papers database; `papertrack serve` signs users in when it exists."""


def _library(db_path: str, library: str | None, create: bool = False) -> sqlite_utils.Database:
    from papertrack.accounts.schema import open_library

    db = open_library(library_file(db_path, library), create=create)
    click.get_current_context().call_on_close(db.close)
    return db


def _password(prompt: str = "Password") -> str:
    """From a prompt (typed twice, not shown) on a terminal, else the first line of stdin."""
    from papertrack.accounts.users import check_password
    from papertrack.errors import UsageError

    if sys.stdin.isatty():
        text = click.prompt(prompt, hide_input=True, confirmation_prompt=True)
    else:
        text = sys.stdin.readline().rstrip("\r\n")
    if not text:
        raise UsageError("no password given: type it at the prompt or pipe it on standard input")
    return check_password(text)


@users.command(name="add")
@click.argument("name")
@click.option("--role", type=ROLE, default="reader", show_default=True, help="editor: may use the editor's desk")
@db_option
@library_option
def add(name: str, role: str, db_path: str, library: str | None) -> None:
    """Add an account; the password comes from a prompt or standard input."""
    from papertrack.accounts.schema import transaction
    from papertrack.accounts.users import add_user, check_name

    check_name(name)  # a bad name fails before a password is asked for
    password = _password()
    db = _library(db_path, library, create=True)
    with transaction(db.conn):
        user = add_user(db.conn, name, password, role)
    click.echo(f"Added {user.name} ({user.role}) to {library_file(db_path, library)}")


@users.command(name="list")
@db_option
@library_option
def list_(db_path: str, library: str | None) -> None:
    """List the accounts with what each keeps."""
    from papertrack.accounts.users import list_users

    rows = list_users(_library(db_path, library).conn)
    if not rows:
        click.echo("No accounts (papertrack users add NAME adds one)")
        return
    headers = ["name", "role", "created", "saved", "liked", "disliked", "muted", "searches", "sessions"]
    right = headers[3:]
    table([[str(r[h])[:10] if h == "created" else r[h] for h in headers] for r in rows], headers, right=right)


@users.command()
@click.argument("name")
@db_option
@library_option
def remove(name: str, db_path: str, library: str | None) -> None:
    """Remove an account and everything it kept (library, muted words, searches, sessions)."""
    from papertrack.accounts.schema import transaction
    from papertrack.accounts.users import remove_user

    db = _library(db_path, library)
    with transaction(db.conn):
        counts = remove_user(db.conn, name)
    kept = ", ".join(f"{n} {table_name}" for table_name, n in counts.items())
    click.echo(f"Removed {name.lower()} ({kept})")


@users.command()
@click.argument("name")
@db_option
@library_option
def password(name: str, db_path: str, library: str | None) -> None:
    """Set a new password (prompt or standard input); the account's sessions end."""
    from papertrack.accounts.schema import transaction
    from papertrack.accounts.users import require_user, set_password

    db = _library(db_path, library)
    require_user(db.conn, name)
    new = _password("New password")
    with transaction(db.conn):
        ended = set_password(db.conn, name, new)
    click.echo(f"Password of {name.lower()} changed; {plural(ended, 'session', 'sessions')} ended")


@users.command()
@click.argument("name")
@click.argument("role", type=ROLE)
@db_option
@library_option
def role(name: str, role: str, db_path: str, library: str | None) -> None:
    """Make an account a reader or an editor."""
    from papertrack.accounts.schema import transaction
    from papertrack.accounts.users import set_role

    db = _library(db_path, library)
    with transaction(db.conn):
        set_role(db.conn, name, role)
    click.echo(f"{name.lower()} is now {'an' if role == 'editor' else 'a'} {role}")


@users.command(name="feed-token")
@click.argument("name")
@click.option("--rotate", is_flag=True, help="Replace the token: the old feed URLs stop working")
@db_option
@library_option
def feed_token(name: str, rotate: bool, db_path: str, library: str | None) -> None:
    """Print the token of the account's private feeds (/-/feeds/TOKEN/...), or a new one."""
    from papertrack.accounts.schema import transaction
    from papertrack.accounts.users import feed_token as token_of

    db = _library(db_path, library)
    with transaction(db.conn):
        token = token_of(db.conn, name, rotate=rotate)
    click.echo(token)
    click.echo(f"Feeds: /-/feeds/{token}/for-you.atom and /-/feeds/{token}/search/N.atom", err=True)


@users.command(name="import-bibtex", cls=SourceCommand, sources=("arxiv-api",))
@click.argument("name")
@click.argument("file", type=click.Path(dir_okay=False))
@db_option
@library_option
@queries_option
@lock_options
def import_bibtex(name: str, file: str, db_path: str, library: str | None, queries_path: str) -> None:
    """Bring a BibTeX or Zotero library in as the account's saved papers.

    Entries are matched to stored papers by the importer of `import-bibtex` (which
    fetches unknown arXiv papers and adds the rest to the papers database), then saved to
    the account's library: a new account starts with a profile."""
    from papertrack.accounts.imports import import_library
    from papertrack.bibtex.parse import read_bibtex
    from papertrack.cli.ranking import keep_ranked

    bib = read_bibtex(file)
    lib = _library(db_path, library)
    config = optional_config(queries_path)
    arxiv = source_clients("arxiv-api")["arxiv-api"]
    papers = locked_db(db_path)
    result = import_library(papers, lib.conn, name, bib, client=arxiv)
    for problem in result.bib.problems:
        click.echo(problem, err=True)
    click.echo(result.bib.summary())
    click.echo(f"{result.user}: {plural(result.saved, 'paper', 'papers')} newly saved")
    keep_ranked(papers, config)
    if result.bib.skipped:
        sys.exit(1)


COMMANDS = [users]
