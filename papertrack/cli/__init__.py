"""The `papertrack` command: each command parses options, calls one library function, prints.

One module per command family; options shared by several commands live in `options.py`,
terminal output in `output.py`. Command modules import the library inside each command,
so `papertrack --help` stays fast. Every way a command can end badly is turned into one
line and an exit code here, in `ErrorsInOneLine`.
"""

from __future__ import annotations

import errno
import signal
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import click

from papertrack import __version__
from papertrack.cli import bibliography, editing, harvesting, newsletter, ranking, site, users
from papertrack.cli.options import DB_KEY
from papertrack.errors import Interrupted, LockHeld, PapertrackError, stop_reason

# What a command stopped half-way (disk full, Ctrl+C, SIGTERM) leaves, and what to do next.
AFTERMATH = {
    "harvest": ("the last complete page is kept", "run the harvest again"),
    "import-snapshot": ("the last complete batch is kept", "run the import again to resume"),
    "import-bibtex": ("nothing of this import was stored", "run the import again"),
    "import-digest": ("nothing of this import was stored", "run the import again"),
    "retag": ("the batches already retagged are kept", "run retag again"),
    "rank": ("the profiles already ranked keep their new scores, the others their old ones", "run rank again"),
}
DEFAULT_AFTERMATH = ("what was committed before is kept", "run the command again")


class ErrorsInOneLine(click.Group):
    """Turns papertrack's typed errors, a command's bad options, an argument not in the
    terminal's encoding, the database's and the file system's errors, Ctrl+C and SIGTERM
    into one line on stderr and an exit code: the error's own (2 for bad input, 75 for a
    lock held by another process), 1 for storage faults, 130 for Ctrl+C, 143 for SIGTERM.
    A plugin source that could not be loaded is one line too, a warning."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with _sigterm_interrupts():
                return super().invoke(ctx)
        except LockHeld as e:
            hint = "" if e.waited else "; pass --wait [SECONDS] to wait for it"
            _fail(f"{e}{hint}", e.exit_code)
        except PapertrackError as e:
            _fail(str(e), e.exit_code)
        except click.UsageError as e:
            _fail(e.format_message(), e.exit_code)
        except KeyboardInterrupt as e:  # Ctrl+C, or SIGTERM (`Interrupted`)
            kept, again = _aftermath(ctx)
            _fail(f"{stop_reason(e)}: {kept}; {again}", getattr(e, "exit_code", 130))
        except sqlite3.Error as e:
            _fail(storage_error(e, ctx.meta.get(DB_KEY), _aftermath(ctx)), 1)
        except UnicodeEncodeError as e:  # an argument's bytes not in the locale's encoding: surrogates
            if e.reason != "surrogates not allowed" or not isinstance(e.object, str):
                raise
            _fail(f"{e.object[:80]!r} is not text in the terminal's encoding: convert it to UTF-8 (iconv -f GBK, say)", 2)
        except OSError as e:
            if e.errno == errno.EPIPE:
                raise  # click closes a broken pipe quietly
            _fail(file_error(e, ctx.meta.get(DB_KEY)), 1)
        finally:
            _warn_broken_plugins()


def _warn_broken_plugins() -> None:
    """One line per plugin source that could not be loaded, if the command loaded the sources."""
    registry = sys.modules.get("papertrack.sources.registry")  # not imported here: --help stays fast
    for line in registry.broken() if registry else ():
        click.secho(f"Warning: {line}", fg="yellow", err=True)


def storage_error(e: sqlite3.Error, db_path: str | None, aftermath: tuple[str, str]) -> str:
    """One line for an SQLite error, naming the database file and what to do."""
    db = db_path or "the database"
    name = getattr(e, "sqlite_errorname", "") or ""
    if name == "SQLITE_FULL":
        kept, again = aftermath
        return f"{e} writing {db}: {kept}; free space and {again}"
    if name.startswith("SQLITE_READONLY"):
        return f"cannot write {db}: {e} (the file, its directory or the file system is read-only)"
    if name.startswith("SQLITE_CANTOPEN"):
        return f"cannot open {db}: {e} (SQLite needs to read it and to create files beside it)"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return f"{db} is locked by another program ({e}); try again when it has finished"
    return f"{db}: {e}"


def file_error(e: OSError, db_path: str | None) -> str:
    """One line for a file system error, naming the file."""
    if e.filename is None:
        return f"{db_path}: {e}" if db_path else str(e)
    target = f"{e.filename} -> {e.filename2}" if e.filename2 else str(e.filename)
    return f"{target}: {e.strerror or e}"


def _aftermath(ctx: click.Context) -> tuple[str, str]:
    return AFTERMATH.get(ctx.invoked_subcommand or "", DEFAULT_AFTERMATH)


def _fail(message: str, code: int) -> NoReturn:
    click.secho(f"Error: {message}", fg="red", err=True)
    sys.exit(code)


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM stops the command the way Ctrl+C does (`Interrupted`), so runs are recorded
    as interrupted and transactions rolled back; the previous handler comes back after."""

    def stop(signum: int, frame: object) -> None:
        raise Interrupted("stopped by SIGTERM")

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@click.group(cls=ErrorsInOneLine)
@click.version_option(__version__, prog_name="papertrack")
def cli() -> None:
    """Track model-compression papers: harvest arXiv and venues into SQLite, browse them in
    Datasette, export BibTeX, and write the newsletter's papers section."""


for _module in (harvesting, editing, newsletter, bibliography, ranking, site, users):
    for _command in _module.COMMANDS:
        cli.add_command(_command)
