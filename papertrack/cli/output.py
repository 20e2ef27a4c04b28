"""Terminal output for the CLI: tables, progress bars, short text."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from papertrack.ingest.harvest import RunReport
    from papertrack.ingest.snapshot import SnapshotReport
    from papertrack.sources.arxiv import Page
    from papertrack.sources.dblp import DblpPage
    from papertrack.sources.oai import OaiPage
    from papertrack.sources.snapshot import Chunk


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str], right: Sequence[str] = ()) -> None:
    """Print rows as a plain-text table; columns named in `right` are right-aligned."""
    from tabulate import tabulate

    align = ["right" if h in right else "left" for h in headers]
    click.echo(tabulate(list(rows), headers=list(headers), disable_numparse=True, colalign=align))


def plural(n: int, one: str, many: str) -> str:
    """`1 entry`, `2 entries`."""
    return f"{n:,} {one if n == 1 else many}"


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def write_text(text: str, output: str | None) -> None:
    """`text` to the file `output` (UTF-8), or to stdout as UTF-8 whatever the terminal's locale."""
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text.encode("utf-8"), nl=False)


def print_reports(reports: list[RunReport]) -> None:
    """The closing table of a harvest, then one line per thing to hear: a query kept on
    arXiv's query API, OAI-PMH's shared requests, each error once (with the queries it
    hit), each throttling service once (with the queries it deferred)."""
    table(
        [(r.query, r.requests, r.new, r.updated, r.total, r.status) for r in reports],
        ["query", "requests", "new", "updated", "total", "status"],
    )
    for r in reports:
        if r.note:
            click.echo(f"{r.query}: {r.note}", err=True)
    oai = [r for r in reports if r.via == "oai" and r.status == "ok"]
    if len(oai) > 1:
        most = max(r.requests for r in oai)
        click.echo(f"{len(oai)} queries through arXiv's OAI-PMH shared {plural(most, 'request', 'requests')}", err=True)
    errors: dict[tuple[str, str], list[str]] = {}
    for r in reports:
        if r.error:
            errors.setdefault((r.status, r.error), []).append(r.query)
    for (status, error), names in errors.items():
        if status == "deferred":
            click.secho(f"{error}; deferred: {', '.join(names)} (they run first next time)", fg="yellow", err=True)
        else:
            click.secho(f"{', '.join(names)}: {error}", fg="red", err=True)


class ProgressBars:
    """One click progress bar per query, on a terminal only."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.bar: Any = None
        self.query: str | None = None

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.render_finish()
            self.bar = None

    def update(self, report: RunReport, page: Page | DblpPage | OaiPage) -> None:
        total = getattr(page, "total", None)  # an OAI-PMH listing does not say how long it is
        if not self.enabled or total is None:
            return
        if report.query != self.query:
            self._close()
            self.query = report.query
            self.bar = click.progressbar(length=max(total, 1), label=f"{report.query:<24}", file=sys.stderr, show_pos=True)
            self.bar.render_progress()
        self.bar.update(len(page.papers))


class ImportProgress:
    """A progress bar of bytes and records (on a terminal), and warnings for bad lines."""

    MAX_WARNINGS = 20

    def __init__(self, path: str) -> None:
        self.path, self.warned, self.midline = path, 0, False
        self.bar: Any = None
        if sys.stderr.isatty() and Path(path).is_file():
            self.bar = click.progressbar(
                length=Path(path).stat().st_size, label="importing", file=sys.stderr, item_show_func=lambda text: text
            )

    def __enter__(self) -> ImportProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.render_finish()
        if self.warned > self.MAX_WARNINGS:
            click.echo(f"... and {self.warned - self.MAX_WARNINGS:,} more bad lines", err=True)

    def update(self, report: SnapshotReport, chunk: Chunk) -> None:
        if self.bar is not None:
            self.bar.update(
                chunk.position - self.bar.pos,
                f"{report.read:,} records, {_bytes(chunk.position)} of {_bytes(self.bar.length)}",
            )
            self.midline = True

    def bad(self, line: int, message: str) -> None:
        self.warned += 1
        if self.warned <= self.MAX_WARNINGS:
            click.echo(("\n" if self.midline else "") + f"{self.path}:{line}: skipped: {message}", err=True)
            self.midline = False


def _bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit in ("bytes", "KB") else f"{n:,.1f} {unit}"
        n /= 1024
    return ""
