"""The `papertrack` command: each command parses options, calls one library function, prints.

One module per command family; options shared by several commands live in `options.py`,
terminal output in `output.py`. Command modules import the library inside each command,
so `papertrack --help` stays fast.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from papertrack import __version__
from papertrack.cli import bibliography, editing, harvesting, newsletter, site
from papertrack.errors import PapertrackError


class ErrorsInOneLine(click.Group):
    """Turns papertrack's typed errors, and a command's bad options, into one line on
    stderr and the error's exit code (2 for bad input)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PapertrackError as e:
            click.secho(f"Error: {e}", fg="red", err=True)
            sys.exit(e.exit_code)
        except click.UsageError as e:
            click.secho(f"Error: {e.format_message()}", fg="red", err=True)
            sys.exit(e.exit_code)


@click.group(cls=ErrorsInOneLine)
@click.version_option(__version__, prog_name="papertrack")
def cli() -> None:
    """Track model-compression papers: harvest arXiv and venues into SQLite, browse them in
    Datasette, export BibTeX, and write the newsletter's papers section."""


for _module in (harvesting, editing, newsletter, bibliography, site):
    for _command in _module.COMMANDS:
        cli.add_command(_command)
