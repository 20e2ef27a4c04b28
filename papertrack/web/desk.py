"""The editor's desk on the site, for signed-in editors (`papertrack-edit`); everybody
else gets 403, a site without accounts (a published copy) 404.

* `GET /-/desk?issue=YYYY-MM-DD` (and `from`, `to`, `profile`, `lang`, `drafts`): the
  window's candidates by tag, the picks in order with their notes and drafts, the 论文
  section (`newsletter.desk.read_desk`);
* `GET /-/desk/digest.md?issue=...` (`lang`, `drafts`): that section, as `papertrack digest
  --issue` writes it;
* `POST /-/desk/pick`, `/-/desk/unpick` (`issue`, `paper`), `/-/desk/move` (`issue`,
  `paper`, `position`), `/-/desk/note` (`paper`, any of `headline`, `source`,
  `source_url`, `summary`, `code`), `/-/desk/draft` (`issue`, optional `paper`, `model`,
  `lang`), `/-/desk/accept` (`paper`, `lang`, optional `draft`); each with `csrftoken`.

Writes run the CLI's functions in a thread, on a connection of their own, holding the
database's lock (`newsletter.desk.locked`): while a harvest holds it, 503 and Retry-After.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode
from weakref import WeakKeyDictionary

import sqlite_utils
from datasette.utils import tilde_encode
from datasette.utils.asgi import Response

from papertrack.errors import LockHeld, PapertrackError, SourceError, UsageError
from papertrack.models import ascii_int
from papertrack.newsletter import desk, drafting, editorial
from papertrack.rank.scores import PICKS
from papertrack.web.accounts import Refused, form_bound, refusal
from papertrack.web.databases import first_papertrack
from papertrack.web.library import posted, signed_in_with

EDIT = "papertrack-edit"
DESK = "/-/desk"
RETRY_AFTER = 30  # seconds, when a harvest holds the database
MAX_DRAFTS = 30  # papers drafted per press of the button
LIMITS = {"headline": 500, "source": 200, "source_url": 2000, "summary": 10_000, "code": 2000}  # characters
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_drafting: WeakKeyDictionary = WeakKeyDictionary()  # Datasette -> asyncio.Lock: one draft run at a time


def _day(value: str | None, what: str = "issue") -> str:
    if not value or not _DAY.fullmatch(value):
        raise UsageError(f"{what} {(value or '')[:40]!r} is not a date (YYYY-MM-DD)")
    return editorial.issue_date(value)


def _flag(value: str | None, what: str = "drafts") -> bool:
    if value not in (None, "", "0", "1"):
        raise UsageError(f"{what} {value[:40]!r}: use 1 or 0")
    return value == "1"


def _choice(value: str | None, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise UsageError(f"{what} {(value or '')[:40]!r}: use {' or '.join(allowed)}")
    return value


def _papers(datasette) -> tuple[str, Any]:
    """The papers database's name and its Datasette `Database` (writable: the primary)."""
    name = first_papertrack(datasette)
    db = datasette.get_database(name)
    if not db.is_mutable or not db.path:
        raise Refused(404, "this copy of the database is immutable: the desk is on the primary")
    return name, db


async def _read(datasette, fn: Callable[[sqlite_utils.Database], Any]) -> Any:
    _, db = _papers(datasette)
    return await db.execute_fn(lambda conn: fn(sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)))


async def _write(datasette, fn: Callable[[sqlite_utils.Database], Any]) -> Any:
    """`fn(db)` on a writable connection while holding the database's lock (in a thread)."""
    _, db = _papers(datasette)

    def run() -> Any:
        with desk.locked(db.path) as writable:
            return fn(writable)

    try:
        return await asyncio.to_thread(run)
    except LockHeld as e:
        message = f"{e}: a harvest or an import is writing the database; try again in a minute"
        raise Refused(503, message, {"Retry-After": str(RETRY_AFTER)}) from None


# ---------------------------------------------------------------- pages


async def _page(datasette, request, accounts, user) -> Response:
    args = request.args
    params = {k: args.get(k) for k in ("issue", "from", "to", "profile", "lang", "drafts") if args.get(k)}
    status, error, state = 200, None, None  # a bad parameter: the page, with the reason, and 400
    try:
        issue = _day(args.get("issue") or _today(), "issue")
        start, end = (_day(args[k], k) if args.get(k) else None for k in ("from", "to"))
        lang = _choice(args.get("lang", "zh"), drafting.LANGS, "lang")
        profile, drafts = args.get("profile", PICKS)[:200], _flag(args.get("drafts"))
        state = await _read(
            datasette,
            lambda db: desk.read_desk(db, issue, date_from=start, date_to=end, profile=profile, lang=lang, drafts=drafts),
        )
    except UsageError as e:
        status, error = 400, str(e)
    name, _ = _papers(datasette)
    setup = await asyncio.to_thread(drafting.unavailable, _model_setting(datasette))
    context = {
        "title": f"Editor's desk: {state.issue}" if state else "Editor's desk",
        "desk": state, "error": error, "user": user, "params": params, "draft_setup": setup,
        "model": _model_setting(datasette), "max_drafts": MAX_DRAFTS,
        "here": request.path + (f"?{request.query_string}" if request.query_string else ""),
        "paper_url": lambda pid: datasette.urls.row(name, "papers", tilde_encode(pid)),
        "digest_url": _digest_url(datasette, state) if state else None,
    }  # fmt: skip
    html = await datasette.render_template("papertrack_desk.html", context, request=request)
    return Response.html(html, status=status)


def _digest_url(datasette, state: desk.Desk) -> str:
    query = {"issue": state.issue, "lang": state.lang, **({"drafts": "1"} if state.drafts else {})}
    return datasette.urls.path(f"{DESK}/digest.md") + "?" + urlencode(query)


async def digest_md(datasette, request) -> Response:
    try:
        await signed_in_with(datasette, request, EDIT)
        issue = _day(request.args.get("issue"), "issue")
        lang = _choice(request.args.get("lang", "zh"), drafting.LANGS, "lang")
        drafts = _flag(request.args.get("drafts"))
        text = await _read(datasette, lambda db: desk.issue_markdown(db, issue, lang, drafts))
    except UsageError as e:
        return refusal(request, Refused(404 if isinstance(e, desk.NothingPicked) else 400, str(e)))
    except Refused as e:
        return refusal(request, e)
    headers = {"content-disposition": f'attachment; filename="papers-{issue}.md"'}
    return Response(text, content_type="text/markdown; charset=utf-8", headers=headers)


async def _no_post(datasette, accounts, user, form) -> None:
    raise Refused(405, "the desk itself takes no form: POST to /-/desk/pick, /-/desk/note ...")


# ---------------------------------------------------------------- writes


async def _pick(datasette, accounts, user, form: dict[str, str]) -> dict:
    issue, paper = _day(form.get("issue")), form.get("paper", "")[:300]
    fresh = await _write(datasette, lambda db: editorial.pick(db, [paper], issue))
    return {"ok": True, "picked": fresh, "message": f"Picked {', '.join(fresh) or 'nothing new'} for {issue}."}


async def _unpick(datasette, accounts, user, form: dict[str, str]) -> dict:
    issue, paper = _day(form.get("issue")), form.get("paper", "")[:300]
    gone = await _write(datasette, lambda db: editorial.unpick(db, [paper], issue))
    return {"ok": True, "unpicked": gone, "message": f"Took {', '.join(gone) or 'nothing'} out of {issue}."}


async def _move(datasette, accounts, user, form: dict[str, str]) -> dict:
    issue, paper, position = _day(form.get("issue")), form.get("paper", "")[:300], form.get("position", "")
    place = ascii_int(position, 4)
    if place is None or place < 1:
        raise UsageError(f"position {position[:20]!r} is not a number from 1")
    order = await _write(datasette, lambda db: editorial.move(db, [paper], issue, place))
    return {"ok": True, "order": order}


async def _note(datasette, accounts, user, form: dict[str, str]) -> dict:
    for key, limit in LIMITS.items():
        if len(form.get(key) or "") > limit:
            raise UsageError(f"{key} is longer than {limit:,} characters")
    fields = {k: form.get(k) for k in ("headline", "source", "source_url", "summary")}
    note = editorial.Note(**fields, code_url=form.get("code"))
    paper = form.get("paper", "")[:300]
    stored = await _write(datasette, lambda db: editorial.set_note(db, paper, note))
    return {"ok": True, "note": stored, "message": f"Saved the note of {stored['papers_id']}."}


async def _accept(datasette, accounts, user, form: dict[str, str]) -> dict:
    lang, number = _choice(form.get("lang", "zh"), drafting.LANGS, "lang"), form.get("draft", "")
    draft = ascii_int(number, 11) if number else None
    if number and draft is None:
        raise UsageError(f"draft {number[:20]!r} is not a draft's number")
    paper = form.get("paper", "")[:300]
    found = await _write(datasette, lambda db: drafting.accept(db, paper, lang, draft))
    return {"ok": True, "draft": found.as_dict(), "message": f"Accepted the draft of {found.paper}."}


async def _draft(datasette, accounts, user, form: dict[str, str]) -> dict:
    """Draft the issue's picks that have no draft yet (or the one `paper`, again)."""
    issue, lang = _day(form.get("issue")), _choice(form.get("lang", "zh"), drafting.LANGS, "lang")
    paper, name = form.get("paper", "")[:300], (form.get("model") or _model_setting(datasette) or "")[:200] or None
    lock = _drafting.setdefault(datasette, asyncio.Lock())
    if lock.locked():
        raise Refused(409, "a draft is being written already: wait for it, then reload the desk")
    async with lock:
        try:
            model = await asyncio.to_thread(drafting.get_model, name)
            prompt = await asyncio.to_thread(drafting.load_prompt, _prompt_setting(datasette))
        except drafting.DraftUnavailable as e:  # a model the form names is the editor's; no model at all, the site's
            raise Refused(400 if form.get("model") else 503, str(e)) from None
        except PapertrackError as e:  # the site's prompt file is broken
            raise Refused(503, str(e)) from None
        todo = await _read(
            datasette, lambda db: drafting.papers_to_draft(db, issue, [paper] if paper else None, lang, again=bool(paper))
        )
        written = await asyncio.to_thread(_run_drafts, datasette, model, prompt, todo[:MAX_DRAFTS], lang)
    done = [w.paper for w in written if w.problem is None]
    problems = [f"{w.paper}: {w.problem}" for w in written if w.problem]
    more = f" ({len(todo) - MAX_DRAFTS} more: press Draft again)" if len(todo) > MAX_DRAFTS else ""
    message = f"Drafted {len(done)} with {drafting.model_id(model)}{more}." if todo else "Every pick has a draft already."
    return {"ok": True, "drafted": done, "problems": problems, "message": " ".join([message, *problems])}


def _run_drafts(datasette, model, prompt, papers: list[dict], lang: str) -> list[drafting.Written]:
    """The model's calls, each draft kept (under the lock) as soon as it is written."""
    _, db = _papers(datasette)

    def save(written: drafting.Written) -> None:
        with desk.locked(db.path) as writable:
            drafting.store(writable, written, lang, model, prompt)

    try:
        return list(drafting.draft_all(model, prompt, papers, lang, save))
    except SourceError as e:
        raise Refused(502, str(e)) from None
    except LockHeld as e:
        raise Refused(503, f"{e}: the drafts written so far are kept", {"Retry-After": str(RETRY_AFTER)}) from None


def _model_setting(datasette) -> str | None:
    """The model metadata names (`plugins.papertrack.draft_model`), else llm's default."""
    value = (datasette.plugin_config("papertrack") or {}).get("draft_model")
    return value if isinstance(value, str) and value else None


def _prompt_setting(datasette) -> str | None:
    value = (datasette.plugin_config("papertrack") or {}).get("draft_prompt")
    return value if isinstance(value, str) and value else None


def _today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


def routes() -> list[tuple[str, Callable]]:
    edit = posted(DESK, EDIT, max_form=form_bound(LIMITS))
    return [
        (r"^/-/desk$", edit(_no_post, get=_page)),
        (r"^/-/desk/digest\.md$", digest_md),
        (r"^/-/desk/pick$", edit(_pick)),
        (r"^/-/desk/unpick$", edit(_unpick)),
        (r"^/-/desk/move$", edit(_move)),
        (r"^/-/desk/note$", edit(_note)),
        (r"^/-/desk/draft$", edit(_draft)),
        (r"^/-/desk/accept$", edit(_accept)),
    ]
