"""Signing in to the site: the library database's handle, the session cookie, the actor,
permissions, `/-/login` and `/-/logout`, and the checks every page that writes shares.

`serve` turns accounts on (`enable`) when the library file exists; without it the site is
the anonymous one it always was. The library is opened as a private Datasette `Database`
(reads on Datasette's threads, writes through its one write thread) that is never added
to `datasette.databases`: no table, SQL or JSON view can reach it.

The session cookie (`papertrack_session`, HttpOnly, SameSite=Lax, Secure over https)
holds a random token signed with Datasette's secret (kept beside the library); the
library keeps only its SHA-256, so signing out ends the session wherever its cookie is.
The actor is `{"id": name, "role": "reader" | "editor"}`. Permissions: `papertrack-library`
for any account, `papertrack-edit` for editors (the editor's desk); no opinion on any other
action. Every POST carries Datasette's `csrftoken` (asgi-csrf checks it when cookies are
sent, and `check_csrf` again here, so a POST without cookies fails too).
"""

from __future__ import annotations

import asyncio
import hmac
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl
from weakref import WeakKeyDictionary

from datasette.database import Database
from datasette.utils.asgi import Response
from itsdangerous import BadSignature

from papertrack.accounts import entries, users
from papertrack.accounts.foryou import Recommender
from papertrack.accounts.schema import transaction
from papertrack.accounts.users import User
from papertrack.web.guard import RETRY_AFTER

COOKIE = "papertrack_session"
CSRF_COOKIE = "ds_csrftoken"  # Datasette's (asgi-csrf)
ACTIONS = {"papertrack-library": users.ROLES, "papertrack-edit": ("editor",)}
MAX_FORM = 16 * 1024  # bytes of a form body (and of what a form has beyond the fields `form_bound` counts)
ENCODED_CHAR = 12  # bytes a character takes in a form body at most: 4 bytes of UTF-8, each written %XX
HASHERS = 2  # threads checking passwords (argon2: about 50 ms and 64 MB each), apart from the write thread
HASHES_WAITING = 16  # sign-ins waiting for one of them; beyond: 503 and Retry-After
_SCOPE_KEY = "papertrack.user"
_accounts: WeakKeyDictionary = WeakKeyDictionary()  # Datasette -> Accounts


@dataclass
class Accounts:
    """What one server knows of its library, and the threads that check passwords."""

    path: Path
    db: Database
    papers_path: str
    _recommender: Recommender | None = field(default=None, repr=False)
    hashers: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(HASHERS, thread_name_prefix="papertrack-argon2"), repr=False
    )
    hashing: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(HASHERS + HASHES_WAITING), repr=False)

    async def read(self, fn: Callable):
        return await self.db.execute_fn(fn)

    async def write(self, fn: Callable):
        """`fn(conn)` in one transaction on the library's write thread."""

        def run(conn):
            with transaction(conn):
                return fn(conn)

        return await self.db.execute_write_fn(run)

    @property
    def recommender(self) -> Recommender:
        """The readers' rankings, made on first use (its process starts on the first fit)."""
        if self._recommender is None:
            self._recommender = Recommender(self.papers_path)
        return self._recommender

    def close(self) -> None:
        if self._recommender is not None:
            self._recommender.close()
        self.hashers.shutdown(wait=False, cancel_futures=True)
        self.db.close()


def enable(datasette, library: str | Path, papers_path: str | Path) -> Accounts:
    """Sign-in for this Datasette, with the accounts of `library` (an existing file); the
    readers' rankings are fitted on the papers of `papers_path`."""
    db = Database(datasette, path=str(Path(library).resolve()), is_mutable=True)
    db.name = "_papertrack_library"  # never registered: a name for its connections only
    accounts = Accounts(Path(library), db, str(papers_path))
    _accounts[datasette] = accounts
    return accounts


def accounts_of(datasette) -> Accounts | None:
    return _accounts.get(datasette)


async def current_user(datasette, request) -> User | None:
    """The signed-in user of this request (their session is live), or None."""
    if request is None:
        return None
    if _SCOPE_KEY in request.scope:
        return request.scope[_SCOPE_KEY]
    user = None
    accounts = accounts_of(datasette)
    raw = request.cookies.get(COOKIE) if accounts else None
    if raw and accounts:
        try:
            token = datasette.unsign(raw, "papertrack-session")
        except BadSignature:
            token = None
        if isinstance(token, str):
            user = await accounts.read(lambda conn: users.session_user(conn, token))
    request.scope[_SCOPE_KEY] = user
    return user


async def library_state(datasette, user: User, papers: list[str]) -> dict[str, set[str]]:
    """{paper: saved/liked/disliked} of the user, for the buttons of these papers."""
    accounts = accounts_of(datasette)
    return await accounts.read(lambda conn: entries.states(conn, user.id, papers)) if accounts else {}


def actor_from_request(datasette, request):
    async def inner():
        user = await current_user(datasette, request)
        return user.actor if user else None

    return inner


def permission_allowed(datasette, actor, action, resource):
    if action not in ACTIONS:
        return None
    return isinstance(actor, dict) and actor.get("role") in ACTIONS[action]


def menu_links(datasette, actor, request):
    if accounts_of(datasette) is None:
        return None
    path = datasette.urls.path
    if actor and actor.get("role") in users.ROLES:
        desk = [{"href": path("/-/desk"), "label": "Editor's desk"}] if actor.get("role") == "editor" else []
        return [{"href": path("/-/library"), "label": "My library"}, *desk, {"href": path("/-/logout"), "label": "Sign out"}]
    return [{"href": path("/-/login"), "label": "Sign in"}]


# ---------------------------------------------------------------- forms and their checks


class Refused(Exception):
    """A request answered with a status and one line (`refusal` renders it)."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.headers = status, headers or {}


def form_bound(limits: dict[str, int]) -> int:
    """The bytes a form body may take whose fields hold up to `limits` characters (any
    characters: 10,000 of Chinese are 90,000 bytes percent-encoded), with MAX_FORM for the rest."""
    return MAX_FORM + ENCODED_CHAR * sum(limits.values())


async def read_form(request, max_bytes: int = MAX_FORM) -> dict[str, str]:
    """The urlencoded body (at most `max_bytes`), the first value of each field."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise Refused(400, "send the form as application/x-www-form-urlencoded")
    body = b""
    while True:
        message = await request.receive()
        body += message.get("body", b"")
        if len(body) > max_bytes:
            raise Refused(413, f"the form is larger than {max_bytes:,} bytes")
        if not message.get("more_body"):
            break
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=100, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "the form is not valid UTF-8 form data") from None
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value)
    return form


def check_csrf(datasette, request, form: dict[str, str]) -> None:
    """403 unless the form's `csrftoken` is Datasette's token from this browser's cookie."""
    cookie, sent = request.cookies.get(CSRF_COOKIE, ""), form.get("csrftoken", "")
    try:
        valid = bool(cookie) and datasette.unsign(cookie, "csrftoken") is not None
    except BadSignature:
        valid = False
    if not (valid and sent and hmac.compare_digest(cookie.encode("utf-8"), sent.encode("utf-8"))):
        raise Refused(403, "the form's CSRF token is missing or wrong: reload the page and try again")


async def signed_in(datasette, request) -> User:
    """The signed-in user, or a 403 refusal."""
    user = await current_user(datasette, request)
    if user is None or not await datasette.permission_allowed(user.actor, "papertrack-library", default=False):
        raise Refused(403, "sign in first (/-/login)")
    return user


_LOCAL = re.compile(r"/(?![/\\])[^\s\x00-\x1f]*")


def local_path(datasette, value: str | None, default: str = "/browse") -> str:
    """A path on this site to go back to (never another site's URL)."""
    value = (value or "").strip()
    return value if len(value) <= 2000 and _LOCAL.fullmatch(value) else datasette.urls.path(default)


def wants_json(request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def refusal(request, e: Refused) -> Response:
    if wants_json(request):
        return Response.json({"ok": False, "error": str(e)}, status=e.status, headers=e.headers)
    return Response.text(f"Error: {e}\n", status=e.status, headers=e.headers)


# ---------------------------------------------------------------- /-/login and /-/logout


async def login(datasette, request):
    accounts = accounts_of(datasette)
    if accounts is None:
        return Response.text("Error: this site has no accounts\n", status=404)
    user = await current_user(datasette, request)
    if request.method != "POST":
        return await _login_page(datasette, request, user, next_url=request.args.get("next"))
    try:
        form = await read_form(request)
        check_csrf(datasette, request, form)
    except Refused as e:
        return refusal(request, e)
    name, password = form.get("username", "")[:100], form.get("password", "")

    async def refused(message: str, status: int, retry_after: float) -> Response:
        page = await _login_page(datasette, request, None, form.get("next"), error=message, name=name, status=status)
        page.headers["Retry-After"] = str(int(retry_after) + 1)
        return page

    if accounts.hashing.locked():
        return await refused("Too many sign-ins at once: try again in a few seconds.", 503, RETRY_AFTER)
    async with accounts.hashing:
        attempt = await accounts.write(lambda conn: users.begin_attempt(conn, name))
        if attempt.wait:
            minutes = max(1, round(attempt.wait / 60))
            plural = "s" if minutes > 1 else ""
            message = f"Too many wrong passwords for this name: try again in about {minutes} minute{plural}."
            return await refused(message, 429, attempt.wait)
        loop = asyncio.get_running_loop()  # argon2 takes a moment: on its own threads, not the write thread
        matches, rehashed = await loop.run_in_executor(accounts.hashers, users.check_password_hash, attempt.stored, password)

    def sign_in(conn):
        found = users.finish_sign_in(conn, attempt, rehashed)
        return found, users.start_session(conn, found) if found else None

    found, token = await accounts.write(sign_in) if matches else (None, None)
    if found is None:
        await asyncio.sleep(0.2)  # a wrong password answers no faster than a right one
        return await _login_page(
            datasette, request, None, form.get("next"), error="Wrong name or password.", name=name, status=401
        )
    response = Response.redirect(local_path(datasette, form.get("next")), status=303)
    response.set_cookie(
        COOKIE, datasette.sign(token, "papertrack-session"), max_age=users.SESSION_DAYS * 86400,
        httponly=True, samesite="lax", secure=request.scheme == "https",
    )  # fmt: skip
    request.scope[_SCOPE_KEY] = found
    datasette.add_message(request, f"Signed in as {found.name}.", datasette.INFO)
    return response


async def _login_page(datasette, request, user, next_url, error=None, name="", status=200) -> Response:
    context = {"user": user, "error": error, "name": name, "next": local_path(datasette, next_url), "title": "Sign in"}
    return Response.html(await datasette.render_template("papertrack_login.html", context, request=request), status=status)


async def logout(datasette, request):
    accounts = accounts_of(datasette)
    user = await current_user(datasette, request)
    if request.method != "POST":
        if user is None:  # nobody to sign out: to the sign-in page, or home on a site without accounts
            return Response.redirect(datasette.urls.path("/-/login") if accounts else datasette.urls.instance())
        context = {"user": user, "title": "Sign out", "next": ""}
        return Response.html(await datasette.render_template("papertrack_login.html", context, request=request))
    try:
        check_csrf(datasette, request, await read_form(request))
    except Refused as e:
        return refusal(request, e)
    raw = request.cookies.get(COOKIE)
    if accounts is not None and raw:
        try:
            token = datasette.unsign(raw, "papertrack-session")
            await accounts.write(lambda conn: users.end_session(conn, token))
        except BadSignature:
            pass
    response = Response.redirect(datasette.urls.instance(), status=303)
    response.set_cookie(COOKIE, "", expires=0, max_age=0, httponly=True, samesite="lax")
    response.set_cookie("ds_actor", "", expires=0, max_age=0)
    request.scope[_SCOPE_KEY] = None
    datasette.add_message(request, "You are signed out.", datasette.INFO)
    return response


def routes() -> list[tuple[str, Callable]]:
    return [(r"^/-/login$", login), (r"^/-/logout$", logout)]
