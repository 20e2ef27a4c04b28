"""What keeps a published site up and its server private: the serving profiles, a bound on
every value SQLite builds, and one export at a time.

* **Profiles.** `public` (what `papertrack serve --immutable` and `datasette publish` with
  metadata.json get; metadata's `plugins.papertrack.profile`): Datasette's arbitrary SQL only
  for signed-in editors (metadata's top-level `allow_sql`; the canned queries stay open), rows
  per response and SQL time bounded, no whole-table CSV streams or database downloads, and the
  `/-/` pages that show local paths (`databases`, `plugins`, `threads`, and `metadata`
  for the plugin settings it shows) answer 404, and
  the `imports`, `drafts`, `notes`, `picks`, `scores` and `rank_models` tables are for editors only (a paper's
  page leaves them out of its links from other tables).
  `private` (plain `papertrack serve` on one's own machine): Datasette as it comes.
* **Values.** Every connection Datasette opens refuses to build a string or blob longer than
  `MAX_VALUE_BYTES` (`printf('%.*c', 300000000, 'x')` is an error, not 300 MB of memory).
* **Errors.** What Datasette itself answers with a 500 for a bad parameter is a 400, and
  for a POST it cannot take (to a table, to a read-only query) a 405.
* **Exports.** BibTeX exports run one at a time (`export_slot`), so that however many
  arrive together, the other SQL threads stay free for pages; too many waiting get a 503.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sysconfig
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl
from weakref import WeakKeyDictionary

PUBLIC, PRIVATE = "public", "private"
PROFILES = (PUBLIC, PRIVATE)
ALLOW_SQL = {"role": "editor"}  # who may run arbitrary SQL on a public site
PUBLIC_SETTINGS: dict[str, Any] = {
    "max_returned_rows": 1000,
    "sql_time_limit_ms": 1000,
    "allow_download": False,
    "allow_csv_stream": False,
}
# /-/NAME and /-/NAME.json: paths, plugin directories, plugin settings (the desk's `draft_prompt` is a path)
HIDDEN_PAGES = ("databases", "plugins", "threads", "metadata")
# editors only on a public site: file names of imports (older papertracks stored whole paths), a model's
# unreviewed drafts, the editor's notes (headlines before the issue is out) and picks (future issues)
# scores and rank_models: the picks profile ranks future picks first (its model scores them; the digest of its
# positives, with the past picks known, tells which paper was picked)
PRIVATE_TABLES = ("imports", "drafts", "notes", "picks", "scores", "rank_models")
PRIVATE_PROFILES = ("picks",)
EDITORS_QUERIES = ("candidates",)  # a profile's papers best first, `picks` included
MAX_FACETS = 5  # facets a public page may ask for (`_facet=`, `_facet_m2m=` ...): each is a query of up to 1 s
MAX_VALUE_BYTES = 2_000_000  # the longest abstract is 3 KB, the longest author list 20 KB
EXPORTS_AT_ONCE = 1
EXPORTS_WAITING = 4  # beyond this many waiting: 503, try again
RETRY_AFTER = 5  # seconds

_slots: WeakKeyDictionary = WeakKeyDictionary()  # Datasette -> _Slot


class Busy(Exception):
    """Too many exports are waiting already."""


def profile_of(datasette) -> str:
    """The profile metadata asks for (public unless it says private)."""
    value = (datasette.plugin_config("papertrack") or {}).get("profile", PUBLIC)
    return value if value in PROFILES else PUBLIC


def with_profile(metadata: dict, profile: str) -> dict:
    """A copy of `metadata` serving `profile`: the plugin's setting, `allow_sql`, and the
    EDITORS_QUERIES open to editors only on a public site."""
    out = {**metadata, "plugins": {**metadata.get("plugins", {})}}
    out["plugins"]["papertrack"] = {**out["plugins"].get("papertrack", {}), "profile": profile}
    if profile == PUBLIC:
        out["allow_sql"] = ALLOW_SQL
    else:
        out.pop("allow_sql", None)
    databases = {}
    for name, block in (metadata.get("databases") or {}).items():
        queries = {
            q: {k: v for k, v in spec.items() if not (k == "allow" and q in EDITORS_QUERIES)}
            | ({"allow": ALLOW_SQL} if profile == PUBLIC and q in EDITORS_QUERIES else {})
            for q, spec in (block.get("queries") or {}).items()
        }
        databases[name] = {**block, "queries": queries} if queries else block
    if databases:
        out["databases"] = databases
    return out


def hidden_profiles(datasette, actor: dict | None) -> tuple[str, ...]:
    """The ranking profiles `actor` may not sort by: on a public site `picks` (its best papers
    are the editor's picks, those of an issue not yet out too), unless an editor."""
    return PRIVATE_PROFILES if hidden_tables(datasette, actor) else ()


def hidden_tables(datasette, actor: dict | None) -> tuple[str, ...]:
    """The tables `actor` may not see: on a public site PRIVATE_TABLES, unless an editor."""
    if profile_of(datasette) != PUBLIC or (actor or {}).get("role") == ALLOW_SQL["role"]:
        return ()
    return PRIVATE_TABLES


def table_allowed(datasette, actor: dict | None, action: str, resource: Any) -> bool | None:
    """`permission_allowed`: no view of a table `hidden_tables` names; else no opinion."""
    if action != "view-table" or not isinstance(resource, tuple):
        return None
    return False if resource[1] in hidden_tables(datasette, actor) else None


def bad_request(datasette, request, exception: BaseException):
    """Datasette 0.65 answers some bad parameters with a 500: its `DatasetteError` raised
    with the default status (`_sort=nope`, an invalid `_through`), or `int()` of a value it
    never checked (`_timelimit=x`, `_next=x` on a view). Those are 400, rendered by
    Datasette's own handler. A POST to a table or a read-only query fails inside Datasette
    (an assertion, a view's data where a response belongs): 405. Any other exception is
    left alone (None)."""
    from datasette.handle_exception import handle_exception
    from datasette.views.base import DatasetteError

    if isinstance(exception, DatasetteError) and exception.status == 500:
        exception.status = 400
        return None
    if request is not None and request.method == "POST" and _raised_in_datasette(exception):
        return handle_exception(datasette, request, DatasetteError("This page takes no POST", status=405))
    if isinstance(exception, ValueError | TypeError) and _raised_in_datasette(exception):
        return handle_exception(datasette, request, DatasetteError(f"Bad parameter: {exception}", status=400))
    return None


def _raised_in_datasette(exception: BaseException) -> bool:
    """Whether the innermost frame outside the standard library (json, ...) is Datasette's."""
    stdlib = sysconfig.get_paths()["stdlib"]
    for frame in reversed(traceback.extract_tb(exception.__traceback__)):
        if not frame.filename.startswith(stdlib):
            return f"{os.sep}datasette{os.sep}" in frame.filename
    return False


def apply_settings(datasette) -> None:
    """Tighten Datasette's settings for the public profile (at start-up, so that
    `datasette publish` gets them from metadata alone)."""
    if profile_of(datasette) != PUBLIC:
        return
    settings = datasette._settings  # 0.65 has no public way to change a setting after start
    for name, value in PUBLIC_SETTINGS.items():
        current = settings.get(name)
        settings[name] = min(current, value) if isinstance(value, int) and not isinstance(value, bool) else value
    datasette.max_returned_rows = settings["max_returned_rows"]
    datasette.sql_time_limit_ms = settings["sql_time_limit_ms"]


def limit_values(conn: sqlite3.Connection) -> None:
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)


def hide_pages(datasette, app):
    """ASGI middleware: on a public site, 404 for the introspection pages that show paths,
    400 for a row's `?_extras=foreign_key_tables` (it counts the rows of hidden tables that
    name the row: whether a paper is picked), and 400 for more than MAX_FACETS facets asked
    for (Datasette runs one query per `_facet=`, repeats too: 60 took 38 s of one request)."""
    hidden = {f"/-/{name}{ext}" for name in HIDDEN_PAGES for ext in ("", ".json")}

    async def wrapped(scope, receive, send):
        if scope["type"] == "http" and profile_of(datasette) == PUBLIC:
            path, base = scope.get("path", ""), datasette.setting("base_url").rstrip("/")
            if path.startswith(base) and path[len(base) :] in hidden:
                return await _plain(send, 404, b"Not found\n")
            extras = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            if any("foreign_key_tables" in value.split(",") for key, value in extras if key == "_extras"):
                return await _plain(send, 400, b"Error: _extras=foreign_key_tables is off on this site\n")
            if sum(key == "_facet" or key.startswith("_facet_") and key != "_facet_size" for key, _ in extras) > MAX_FACETS:
                return await _plain(send, 400, f"Error: at most {MAX_FACETS} facets at once on this site\n".encode())
        await app(scope, receive, send)

    return wrapped


async def _plain(send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


class _Slot:
    def __init__(self) -> None:
        self.semaphore = asyncio.Semaphore(EXPORTS_AT_ONCE)
        self.waiting = 0


@asynccontextmanager
async def export_slot(datasette) -> AsyncIterator[None]:
    """Hold the export slot for the duration (waiting for it in the event loop, not in a
    SQL thread); `Busy` when EXPORTS_WAITING requests wait already."""
    slot = _slots.setdefault(datasette, _Slot())
    if slot.waiting >= EXPORTS_WAITING:
        raise Busy(f"{slot.waiting} exports are waiting already; try again in a few seconds")
    slot.waiting += 1
    try:
        await slot.semaphore.acquire()
    finally:
        slot.waiting -= 1
    try:
        yield
    finally:
        slot.semaphore.release()
