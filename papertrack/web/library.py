"""A signed-in reader's library on the site (`plugin.register_routes`):

* `POST /-/library` (`paper` in any id form, `action`: save, unsave, like, dislike,
  clear; `csrftoken`): records it, asks for the reader's new ranking in the background,
  and goes back to `next` (or answers JSON to `Accept: application/json`);
* `GET /-/library`: "My library": saved, liked and disliked papers with their buttons,
  muted words, saved searches and the private feeds;
* `GET /-/library.json` (entries: paper, action, when; muted words; saved searches) and
  `GET /-/library.bib` (the saved papers, by `bibtex.export`, up to `bib.BIB_CAP`, one
  export at a time as every export: `guard.export_slot`);
* `POST /-/library/muted` (`phrase`, `action` mute or unmute) and
  `POST /-/library/searches` (`action` save with `name` and `query`, or delete with `id`).

Only the signed-in reader's own data is read or written: no parameter names a user.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from urllib.parse import parse_qs

import sqlite_utils
from datasette.utils import tilde_encode
from datasette.utils.asgi import MultiParams, Response

from papertrack.accounts import entries, users
from papertrack.accounts.users import User
from papertrack.bibtex.export import export_ids
from papertrack.errors import UsageError
from papertrack.models import ascii_int
from papertrack.rank.feedback import papers_signature
from papertrack.store.ids import resolve_id
from papertrack.store.schema import ids_json
from papertrack.web import bib
from papertrack.web.accounts import (
    MAX_FORM,
    Accounts,
    Refused,
    check_csrf,
    local_path,
    read_form,
    refusal,
    signed_in,
    wants_json,
)
from papertrack.web.browse_view import Links, describe, read_args
from papertrack.web.databases import first_papertrack
from papertrack.web.guard import RETRY_AFTER, Busy, export_slot

SHOWN = 200  # papers listed per section of the library page
MAX_FIELDS = 50  # in a saved search's query string
LIBRARY = "papertrack-library"  # the permission of every account


def posted(default_next: str, permission: str = LIBRARY, max_form: int = MAX_FORM) -> Callable:
    """A route taking the form (at most `max_form` bytes) of a signed-in user with `permission`: `handle(datasette,
    accounts, user, form)` runs once the CSRF token is checked (a UsageError is a 400, a
    Refused its own status), then the answer goes back to `next` (JSON to `Accept:
    application/json`; a `message` in the answer is shown on the page it goes back to);
    `handle` may answer instead. GET is `get` when given, else 405."""

    def wrap(handle: Callable, get: Callable | None = None) -> Callable:
        async def route(datasette, request):
            try:
                accounts, user = await signed_in_with(datasette, request, permission)
                if request.method != "POST":
                    if get is None:
                        raise Refused(405, "this address takes a POSTed form")
                    return await get(datasette, request, accounts, user)
                form = await read_form(request, max_form)
                check_csrf(datasette, request, form)
                answer = await handle(datasette, accounts, user, form)
            except UsageError as e:
                return refusal(request, Refused(400, str(e)))
            except Refused as e:
                return refusal(request, e)
            if answer is not None and wants_json(request):
                return Response.json(answer)
            if wants_json(request):
                return Response.json({"ok": True})
            if isinstance(answer, dict) and answer.get("message"):
                datasette.add_message(request, answer["message"], datasette.INFO)
            return Response.redirect(local_path(datasette, form.get("next"), default_next), status=303)

        return route

    return wrap


async def _paper_action(datasette, accounts: Accounts, user: User, form: dict[str, str]) -> dict:
    action = entries.check_action(form.get("action", ""))
    name = first_papertrack(datasette)
    try:
        paper = await datasette.get_database(name).execute_fn(lambda conn: resolve_id(conn, form.get("paper", "")[:300]))
    except UsageError as e:
        raise Refused(404, str(e)) from None
    await accounts.write(lambda conn: entries.apply(conn, user.id, paper, action))
    await _refit(datasette, accounts, user.id, name)
    state = await accounts.read(lambda conn: entries.states(conn, user.id, [paper]))
    return {"ok": True, "paper": paper, "state": sorted(state.get(paper, ()))}


async def _reader(datasette, request) -> tuple[Accounts, User]:
    return await signed_in_with(datasette, request, LIBRARY)


async def signed_in_with(datasette, request, permission: str) -> tuple[Accounts, User]:
    """The site's accounts and the signed-in user, who must have `permission` (404 on a
    site without accounts, 403 for anybody else)."""
    from papertrack.web.accounts import accounts_of

    accounts = accounts_of(datasette)
    if accounts is None:
        raise Refused(404, "this site has no accounts")
    user = await signed_in(datasette, request)
    if permission != LIBRARY and not await datasette.permission_allowed(user.actor, permission, default=False):
        raise Refused(403, f"{user.name} may not use this page: it is for editors (papertrack users role NAME editor)")
    return accounts, user


async def _refit(datasette, accounts: Accounts, user_id: int, database: str) -> None:
    """Ask for the reader's new ranking now (it is ready by the time they look)."""
    version, (positives, negatives) = await accounts.read(
        lambda conn: (
            conn.execute("select library_version from users where id = ?", [user_id]).fetchone()[0],
            entries.profile(conn, user_id),
        )
    )
    signature = await datasette.get_database(database).execute_fn(papers_signature)
    accounts.recommender.ask(user_id, version, signature, positives, negatives)


async def _muted(datasette, accounts: Accounts, user: User, form: dict[str, str]) -> None:
    action, phrase = form.get("action", "mute"), form.get("phrase", "")[:500]
    if action not in ("mute", "unmute"):
        raise UsageError(f"action {action[:40]!r} is not mute or unmute")
    change = entries.mute if action == "mute" else entries.unmute
    await accounts.write(lambda conn: change(conn, user.id, phrase))


async def _searches(datasette, accounts: Accounts, user: User, form: dict[str, str]) -> None:
    action = form.get("action", "")
    if action == "save":
        query = canonical_query(form.get("query", "")[:2000])
        await accounts.write(lambda conn: entries.save_search(conn, user.id, form.get("name", "")[:500], query))
    elif action == "delete":
        number = ascii_int(form.get("id", ""), 11)
        if number is None:
            raise UsageError(f"id {form.get('id', '')[:20]!r} is not a saved search's number")
        await accounts.write(lambda conn: entries.delete_search(conn, user.id, number))
    else:
        raise UsageError(f"action {action[:40]!r} is not save or delete")


def canonical_query(text: str) -> str:
    """A browse query string as the page writes it (`UsageError` for a bad parameter)."""
    try:
        fields = parse_qs(text, keep_blank_values=False, max_num_fields=MAX_FIELDS)
    except ValueError:  # more than MAX_FIELDS
        raise UsageError(
            f"the search has more than {MAX_FIELDS} fields: a saved search keeps at most {MAX_FIELDS}"
        ) from None
    query = read_args(MultiParams(fields)).query
    if query.empty:
        raise UsageError("search for something or pick a filter before saving the search")
    return Links("", query).here().lstrip("?")


async def library_json(datasette, request):
    try:
        accounts, user = await _reader(datasette, request)
    except Refused as e:
        return Response.json({"ok": False, "error": str(e)}, status=e.status)

    def read(conn: sqlite3.Connection) -> dict:
        token = users.feed_token(conn, user.name)
        return {
            "user": user.name,
            "role": user.role,
            "entries": [e.as_dict() for e in entries.entries(conn, user.id)],
            "muted": entries.muted(conn, user.id),
            "searches": [
                {"id": s.id, "name": s.name, "query": s.query, "feed": _feed(datasette, request, token, f"search/{s.id}")}
                for s in entries.searches(conn, user.id)
            ],
            "for_you_feed": _feed(datasette, request, token, "for-you"),
        }

    return Response.json(await accounts.read(read))


async def library_bib(datasette, request):
    try:
        accounts, user = await _reader(datasette, request)
    except Refused as e:
        return refusal(request, e)
    saved = await accounts.read(lambda conn: entries.papers_with(conn, user.id, ["save"]))
    name = first_papertrack(datasette)

    def export(conn: sqlite3.Connection) -> str:
        return export_ids(sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False), saved[: bib.BIB_CAP])

    try:
        async with export_slot(datasette):
            body = await datasette.get_database(name).execute_fn(export)
    except Busy as e:
        return Response.text(f"Error: {e}\n", status=503, headers={"Retry-After": str(RETRY_AFTER)})
    headers = {"content-disposition": f'inline; filename="{user.name}-library.bib"'}
    if len(saved) > bib.BIB_CAP:
        body, headers["x-papertrack-truncated"] = bib.truncated(body, "saved papers"), str(bib.BIB_CAP)
    return Response(body, content_type="text/plain; charset=utf-8", headers=headers)


def _feed(datasette, request, token: str, what: str) -> str:
    return datasette.absolute_url(request, datasette.urls.path(f"/-/feeds/{token}/{what}.atom"))


async def _page(datasette, request, accounts: Accounts, user: User) -> Response:
    def read(conn: sqlite3.Connection) -> dict:
        return {
            "kinds": {kind: entries.papers_with(conn, user.id, [kind]) for kind in entries.KINDS},
            "muted": entries.muted(conn, user.id),
            "searches": entries.searches(conn, user.id),
            "token": users.feed_token(conn, user.name),
        }

    data = await accounts.read(read)
    name = first_papertrack(datasette)
    ids = [pid for kind in entries.KINDS for pid in data["kinds"][kind][:SHOWN]]
    papers = await datasette.get_database(name).execute_fn(lambda conn: _titles(conn, ids))
    states = await accounts.read(lambda conn: entries.states(conn, user.id, ids))
    labels = {"save": "Saved", "like": "More like this", "dislike": "Less like this"}
    sections = [
        {
            "kind": kind,
            "title": labels[kind],
            "count": len(data["kinds"][kind]),
            "papers": [
                {
                    **papers.get(pid, {"id": pid, "title": pid, "date": ""}),
                    "url": datasette.urls.row(name, "papers", tilde_encode(pid)),
                    "state": states.get(pid, set()),
                }
                for pid in data["kinds"][kind][:SHOWN]
            ],
        }
        for kind in entries.KINDS
    ]
    browse = datasette.urls.path("/browse")
    found = [
        {
            "search": s,
            "url": f"{browse}?{s.query}",
            "feed": _feed(datasette, request, data["token"], f"search/{s.id}"),
            "label": _label(s.query),
        }
        for s in data["searches"]
    ]
    context = {
        "user": user,
        "sections": sections,
        "shown": SHOWN,
        "muted": data["muted"],
        "searches": found,
        "for_you_feed": _feed(datasette, request, data["token"], "for-you"),
        "here": request.path,
        "title": f"{user.name}'s library",
    }
    return Response.html(await datasette.render_template("papertrack_library.html", context, request=request))


def _titles(conn: sqlite3.Connection, ids: list[str]) -> dict[str, dict]:
    rows = conn.execute(
        "select id, title, substr(published, 1, 10) from papers where id in (select value from json_each(?))",
        [ids_json(ids)],
    )
    return {r[0]: {"id": r[0], "title": r[1] or r[0], "date": r[2] or ""} for r in rows}


def _label(query: str) -> str:
    try:
        return describe(read_args(MultiParams(parse_qs(query))).query)
    except UsageError:
        return query


def routes() -> list[tuple[str, Callable]]:
    return [
        (r"^/-/library$", posted("/browse")(_paper_action, get=_page)),
        (r"^/-/library\.json$", library_json),
        (r"^/-/library\.bib$", library_bib),
        (r"^/-/library/muted$", posted("/-/library#muted")(_muted)),
        (r"^/-/library/searches$", posted("/-/library#searches")(_searches)),
    ]
