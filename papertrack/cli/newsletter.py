"""The editor's commands: pick, unpick, digest, draft, import-digest."""

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
@click.option("--at", "position", type=click.IntRange(min=1), metavar="N", help="Put the papers at place N (1: first)")
def pick(db_path: str, papers: tuple[str, ...], issue: dt.date, position: int | None) -> None:
    """Pick papers for a newsletter issue (new picks go last, or at --at N)."""
    from papertrack.newsletter.editorial import move
    from papertrack.newsletter.editorial import pick as add_picks

    db = stored_db(db_path)
    fresh = add_picks(db, papers, issue)
    click.echo(f"picked for {issue}: {', '.join(fresh) if fresh else 'nothing new'}")
    if position is not None:
        order = move(db, papers, issue, position)
        click.echo(f"order: {' '.join(order)}")


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
@click.option("--drafts", is_flag=True, help="Also show the drafts not yet accepted, marked 【草稿】")
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
    drafts: bool,
    output: str | None,
) -> None:
    """Write the newsletter's papers section (markdown) for a date window or an issue's picks.

    With nothing picked for the issue, --like TAG --top N holds the window's N best papers
    for that profile (grouped by tag, best first within a tag). Where a note has no
    headline or summary, an accepted draft gives it (papertrack draft)."""
    from papertrack.newsletter.digest import render, select
    from papertrack.store.runs import sync_queries, tag_order

    if top and not like:
        raise click.UsageError("--top needs --like TAG: the profile that orders the papers")
    db = stored_db(db_path)
    sync_queries(db, config.queries)  # the groups' order is the file's, as the desk reads it from the database
    result = select(
        db, date_from, date_to, issue=issue, tags=tags, first_seen=first_seen,
        tag_order=tag_order(db), like=like, top=top, lang=lang, drafts=drafts,
    )  # fmt: skip
    for warning in result.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    write_text(render(result, lang), output)
    what = f"the picks for {issue}" if result.mode == "picks" else "papers in the window"
    if result.drafts_shown:
        what += f"; {plural(result.drafts_shown, 'unaccepted draft', 'unaccepted drafts')}, marked"
    click.echo(f"{plural(len(result.entries), 'entry', 'entries')} ({what}){f' -> {output}' if output else ''}", err=True)


@click.command()
@db_option
@click.option("--issue", type=DAY, help="Draft the picks of this issue")
@click.option("--paper", "papers", multiple=True, metavar="PAPER", help="Only this picked paper, drafted again (repeatable)")
@click.option("--again", is_flag=True, help="Draft again the picks that have a draft")
@click.option("--accept", metavar="PAPER", help="Accept PAPER's newest draft instead: the digest uses it")
@click.option("--model", "model_name", metavar="NAME", help="An llm model  [default: llm's default model]")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="Language of the drafts")
@click.option(
    "--prompt", "prompt_path", type=click.Path(dir_okay=False), help="Prompt template (Jinja2) instead of the built-in one"
)
def draft(
    db_path: str, issue: dt.date | None, papers: tuple[str, ...], again: bool, accept: str | None,
    model_name: str | None, lang: str, prompt_path: str | None,
) -> None:  # fmt: skip
    """Draft headlines and summaries of an issue's picks with a language model (the llm
    library), or accept a draft.

    Drafts are kept apart from your notes: the digest uses a note's headline and summary,
    else an accepted draft's, else the title and the extracted sentence."""
    from papertrack.newsletter import drafting

    db = stored_db(db_path)
    if accept:
        if issue or papers or again or prompt_path or model_name:
            raise click.UsageError("--accept takes only a paper (and --lang)")
        found = drafting.accept(db, accept, lang)
        what = found.headline or f"(no headline) {(found.summary or '')[:60]}"
        click.echo(f"{found.paper}: accepted the draft by {found.model} of {found.created[:16]}: {what}")
        return
    if issue is None:
        raise click.UsageError("give --issue DATE (the picks to draft) or --accept PAPER")
    prompt = drafting.load_prompt(prompt_path)
    todo = drafting.papers_to_draft(db, issue.isoformat(), list(papers), lang, again=again or bool(papers))
    if not todo:
        click.echo(f"every pick of {issue} has a draft in {lang} (--again drafts them again)")
        return
    model = drafting.get_model(model_name)
    done = 0
    for written in drafting.draft_all(model, prompt, todo, lang, lambda w: drafting.store(db, w, lang, model, prompt)):
        if written.problem:
            click.secho(f"{written.paper}: no draft: {written.problem}", fg="yellow", err=True)
        else:
            done += 1
            click.echo(f"{written.paper}: {written.headline or '(no headline)'}")
    click.echo(f"{plural(done, 'draft', 'drafts')} by {drafting.model_id(model)} ({prompt.version}); accept one with "
               "papertrack draft --accept PAPER, or on the desk", err=True)  # fmt: skip


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


COMMANDS = [pick, unpick, digest, draft, import_digest]
