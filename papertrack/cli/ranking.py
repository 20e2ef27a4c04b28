"""Ranking commands: rank, candidates, related; and `keep_ranked`, which harvests and
imports call after their own work."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

import click

from papertrack.cli.options import (
    db_option,
    lock_options,
    locked_db,
    optional_config,
    queries_option,
    readonly_db,
    stored_db,
    window_options,
)
from papertrack.cli.output import plural, shorten, table

if TYPE_CHECKING:
    import sqlite_utils

    from papertrack.config import Config
    from papertrack.rank.profiles import RankReport

DEFAULT_WORKERS = 2


def keep_ranked(db: sqlite_utils.Database, config: Config | None) -> None:
    """After a harvest or an import: the profiles listed under `rank:` in the queries
    file score the new papers (and refit when their positives changed)."""
    if config is None or not config.rank:
        return  # nothing to do: scikit-learn is not even imported
    from papertrack.rank.profiles import update
    from papertrack.store.tags import taxonomy_tags

    print_rank(update(db, config.rank, taxonomy_tags(db), n_jobs=DEFAULT_WORKERS))


def print_rank(report: RankReport) -> None:
    """One line per profile."""
    for p in report.profiles:
        if p.note:
            click.echo(f"rank {p.profile}: {plural(p.positives, 'positive', 'positives')}; {p.note}")
        elif p.refitted:
            click.echo(
                f"rank {p.profile}: fitted on {plural(p.positives, 'positive', 'positives')}, "
                f"{plural(p.scored, 'paper', 'papers')} scored ({p.seconds:.1f} s)"
            )
        else:
            click.echo(f"rank {p.profile}: {plural(p.scored, 'new paper', 'new papers')} scored ({p.seconds:.1f} s)")


@click.command()
@db_option
@queries_option
@click.option("--like", "profiles", multiple=True, metavar="TAG",
              help="Rank this profile: a tag, or picks (repeatable) [default: the profiles under rank: in queries.yaml]")  # fmt: skip
@click.option("--update", is_flag=True,
              help="Only refit profiles whose positives changed and score papers without a score (what harvests and imports do)")  # fmt: skip
@click.option("--workers", type=click.IntRange(min=1), default=DEFAULT_WORKERS, show_default=True,
              help="Processes that read the papers' text when fitting")  # fmt: skip
@lock_options
def rank(db_path: str, queries_path: str, profiles: tuple[str, ...], update: bool, workers: int) -> None:
    """Fit a model per profile and score every paper (table scores).

    A profile is a tag, whose papers are its positives (from any origin: a query, the
    taxonomy, a manual tag, a library imported with import-bibtex --tag), or picks: every
    paper ever picked for an issue. Profiles with fewer than 3 positives score nothing.
    Also computes every paper's related papers (table related_papers), with or without
    profiles."""
    from papertrack.rank import profiles as ranking
    from papertrack.store.tags import taxonomy_tags

    config = optional_config(queries_path)
    chosen = list(profiles) or list(config.rank if config else ())
    db = locked_db(db_path, create=False)
    ranking.check_profiles(db, profiles)
    run = ranking.update if update else ranking.rank
    report = run(db, chosen, taxonomy_tags(db), n_jobs=workers)
    if not chosen:
        click.echo("no profiles: list them under rank: in queries.yaml or give --like TAG")
    if report.profiles:
        table(
            [(p.profile, f"{p.positives:,}", f"{p.scored:,}", f"{p.seconds:.1f}", p.note or "") for p in report.profiles],
            ["profile", "positives", "papers scored", "seconds", "note"],
            right=["positives", "papers scored", "seconds"],
        )
    if report.papers:
        click.echo(f"features of {plural(report.papers, 'paper', 'papers')}: {report.features_seconds:.1f} s")
    if report.related:
        click.echo(f"related papers of {plural(report.related, 'paper', 'papers')}: {report.related_seconds:.1f} s")
    if report.terms:
        click.echo(f"words for related papers: {report.terms:,} ({report.terms_seconds:.1f} s)")


@click.command()
@db_option
@click.option("--like", "profile", required=True, metavar="TAG", help="The profile: a tag, or picks")
@window_options
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Only papers with this tag (repeatable: any of them)")
@click.option("--limit", type=click.IntRange(min=1), default=30, show_default=True, help="Papers shown")
@click.option("--json", "as_json", is_flag=True, help="A JSON array of objects, for scripts")
def candidates(
    db_path: str,
    profile: str,
    date_from: dt.date | None,
    date_to: dt.date | None,
    tags: tuple[str, ...],
    limit: int,
    as_json: bool,
) -> None:
    """A window's papers best first for a profile, with score, venue, tags and why
    (--from and --to select by the v1 submission day)."""
    from papertrack.rank.scores import candidates as best

    found = best(stored_db(db_path).conn, profile, date_from, date_to, tags, limit)
    if as_json:
        click.echo(json.dumps([c.as_dict() for c in found], ensure_ascii=False, indent=1))
        return
    table(
        [
            (
                f"{c.score:.2f}",
                c.id,
                (c.published or "")[:10],
                shorten(c.venue or "", 20),
                shorten(c.title, 60),
                shorten(", ".join(c.tags), 30),
                shorten(", ".join(c.why), 50),
            )
            for c in found
        ],  # fmt: skip
        ["score", "id", "submitted", "venue", "title", "tags", "why"],
        right=["score"],
    )


@click.command()
@db_option
@click.argument("paper")
@click.option(
    "--limit", type=click.IntRange(1, 10), default=10, show_default=True, help="Papers shown (rank stores 10 a paper)"
)
def related(db_path: str, paper: str, limit: int) -> None:
    """The papers closest to PAPER (any form of its id), one per line: id, score, title.

    The list `papertrack rank` computed: the score is the cosine similarity of title and
    abstract words, topic tags and categories (1.0: the same). A paper stored since the
    last rank is looked up in the full-text index by its most telling words instead (the
    score: the match relative to the paper's own)."""
    from papertrack.rank.related import related as closest
    from papertrack.store.ids import resolve_id  # store.identity's, without its fuzzy matching: a fast start

    conn = readonly_db(db_path)
    for r in closest(conn, resolve_id(conn, paper), limit):
        click.echo(f"{r.id:<16} {r.score:5.3f}  {r.title}")


COMMANDS = [rank, candidates, related]
