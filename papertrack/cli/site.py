"""Commands that serve the site: serve, demo."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from papertrack.cli.options import db_option, library_option, uses_db, with_config
from papertrack.cli.output import ProgressBars, print_reports

if TYPE_CHECKING:
    from papertrack.config import Config


@click.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (loopback by default)")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535), help="Port; 0 picks a free one")
@click.option(
    "--metadata", "metadata_path", type=click.Path(dir_okay=False),
    help="Datasette metadata [default: ./metadata.json, else the built-in copy]",
)  # fmt: skip
@click.option(
    "--immutable", is_flag=True,
    help="A published copy nothing writes: open it immutable and let caches keep pages an hour",
)  # fmt: skip
@library_option
@click.option(
    "--profile", type=click.Choice(["public", "private"]),
    help="public: no arbitrary SQL for anonymous visitors, bounded responses, no local paths (for any site others "
    "can reach); private: Datasette as it comes, for your own machine  [default: public with --immutable or "
    "accounts, else private]",
)  # fmt: skip
def serve(
    db_path: str, host: str, port: int, metadata_path: str | None, immutable: bool, library: str | None, profile: str | None
) -> None:
    """Browse the database in Datasette (read-only), with papertrack's metadata and plugin.

    When the library exists (papertrack users add makes it), readers sign in at /-/login
    to keep a library and get their own ranking; an --immutable copy stays anonymous."""
    from papertrack.web.serve import serve as run_server

    with _stopped_quietly():
        run_server(
            uses_db(db_path), host, port, metadata_path, announce=click.echo, immutable=immutable, library=library,
            profile=profile,
        )  # fmt: skip


@click.command()
@with_config
@click.option(
    "--db", "db_path", default="db/demo.db", show_default=True, type=click.Path(dir_okay=False), help="Demo database"
)
@click.option("--no-serve", is_flag=True, help="Build the database and stop (do not start Datasette)")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535), help="Port to serve on")
def demo(config: Config, db_path: str, no_serve: bool, port: int) -> None:
    """Offline demo: harvest the bundled sample papers from a local arXiv stand-in, then serve them."""
    from papertrack.demo import DEMO_ISSUE, build_demo, build_demo_digest
    from papertrack.web.serve import serve as run_server

    with ProgressBars() as bars:
        reports = build_demo(config, uses_db(db_path), on_page=bars.update)
    print_reports(reports)
    click.echo(f"\nDemo database: {db_path}")
    click.echo(f"Digest example: {build_demo_digest(db_path)}  (papertrack digest --db {db_path} --issue {DEMO_ISSUE})")
    if not no_serve:
        with _stopped_quietly():
            run_server(db_path, port=port, announce=click.echo)


@contextmanager
def _stopped_quietly() -> Iterator[None]:
    """Ctrl+C (or SIGTERM) is how a server is stopped, not a failure: no error line, exit 0."""
    try:
        yield
    except KeyboardInterrupt:
        pass


COMMANDS = [serve, demo]
