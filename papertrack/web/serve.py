"""Serve a papertrack database with Datasette: the metadata, the plugin, read-only.

Datasette opens a database file it may not treat as immutable with `?mode=ro`
connections, so no SQL it runs can write; the file stays mutable (not `immutable=1`),
so a harvest writing at the same time is seen at once and never served half-done
(WAL: readers keep a consistent snapshot and never block the writer).

`immutable=True` is for published copies that nothing writes (replicas behind a load
balancer or a CDN): Datasette opens the file with `immutable=1` (no locking, no change
checks) and every page says `Cache-Control: public, max-age=3600`. The file must be
finished: its schema current and nothing waiting in a write-ahead log.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

from papertrack.accounts.schema import library_path, load_secret, open_library
from papertrack.errors import ConfigError, UsageError
from papertrack.store.schema import open_db
from papertrack.web import guard
from papertrack.web.accounts import accounts_of, enable
from papertrack.web.guard import PRIVATE, PUBLIC, with_profile
from papertrack.web.metadata import metadata as generated_metadata

DEFAULT_METADATA = "metadata.json"
# Datasette 0.65 reads these as settings (`--setting name value`), not from metadata.json.
SETTINGS = {
    "truncate_cells_html": 300,  # long abstracts are cut on table pages; the paper page has them whole
    "suggest_facets": False,  # one query per column per page view; the useful facets are configured
    "facet_time_limit_ms": 1000,  # the tag facet joins through papers_tags on every page view
}
IMMUTABLE_TTL = 3600  # seconds a CDN or browser may keep a page of an immutable copy


def load_metadata(path: str | Path | None = None) -> dict:
    """metadata.json from `path`; without a path ./metadata.json, or else the generated
    metadata it is committed from (so `papertrack serve` works from any directory)."""
    if path is None:
        if not Path(DEFAULT_METADATA).exists():
            return generated_metadata()
        path = DEFAULT_METADATA
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(str(path), None, e.strerror or str(e)) from None
    except json.JSONDecodeError as e:
        raise ConfigError(str(path), e.lineno, e.msg) from None


def datasette_for(
    db_path: str | Path,
    metadata: dict | None = None,
    settings: dict | None = None,
    immutable: bool = False,
    library: str | Path | None = None,
    profile: str | None = None,
):
    """A Datasette instance for one papertrack database, with the metadata and the plugin,
    serving `profile` (`web.guard`; by default public for an immutable copy or a site with
    accounts, which others reach, else private).

    The schema is brought up to date (and WAL switched on) first, as every command does;
    after that Datasette only reads. An `immutable` copy is checked instead, never written.
    Readers sign in when the library (`library`, else library.db beside the database)
    exists: it is migrated, and its secret signs the cookies; an immutable copy has no accounts."""
    from datasette.app import Datasette

    path = Path(db_path)
    lib = _library(path, library, immutable)
    profile = profile or (PUBLIC if immutable or lib else PRIVATE)
    if immutable:
        check_finished(path)
        settings = {"default_cache_ttl": IMMUTABLE_TTL, **(settings or {})}
    else:
        open_db(path, create=False).close()
    ds = Datasette(
        [] if immutable else [str(path)],
        immutables=[str(path)] if immutable else [],
        metadata=with_profile(metadata if metadata is not None else load_metadata(), profile),
        settings={**SETTINGS, **(settings or {})},
        secret=load_secret(lib) if lib else None,
    )
    if lib:
        enable(ds, lib, path)
    return ds


def _library(path: Path, library: str | Path | None, immutable: bool) -> Path | None:
    """The library file to sign readers in with, migrated; None for an anonymous site."""
    if immutable:
        if library:
            raise UsageError("--immutable serves an anonymous copy: it takes no --library")
        return None
    lib = library_path(path, library)
    if not lib.is_file():
        if library:
            raise UsageError(f"no library at {lib}: add an account first (papertrack users add NAME --library {lib})")
        return None
    open_library(lib, create=False).close()
    return lib


def check_finished(path: Path) -> None:
    """A file to serve immutable: a papertrack database with the current schema and no
    write-ahead log waiting to be folded in (`UsageError` naming what is wrong)."""
    import sqlite3

    import sqlite_utils

    from papertrack.store.files import check_papertrack_file
    from papertrack.store.schema import schema_is_current

    check_papertrack_file(path)  # an empty file or another program's database is not "older"
    wal = Path(f"{path}-wal")
    if wal.is_file() and wal.stat().st_size:
        raise UsageError(
            f"{wal} holds changes not yet in {path}: stop whatever writes it, or open it once without --immutable"
        )
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            current = schema_is_current(sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False))
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        raise UsageError(f"{path}: not a papertrack database ({e})") from None
    if not current:
        raise UsageError(
            f"{path} was written by an older papertrack: open it once without --immutable "
            f"(papertrack status --db {path}) to bring its schema up to date"
        )


def serve(
    db_path: str | Path,
    host: str = "127.0.0.1",
    port: int = 8001,
    metadata_path: str | Path | None = None,
    announce: Callable[[str], None] = print,
    immutable: bool = False,
    library: str | Path | None = None,
    profile: str | None = None,
) -> None:
    """Serve until interrupted. Port 0 picks a free port; `announce` gets the URL."""
    import uvicorn

    ds = datasette_for(db_path, load_metadata(metadata_path), immutable=immutable, library=library, profile=profile)
    try:
        sock = listen(host, port)
    except OSError as e:
        raise UsageError(f"cannot listen on {host}:{port}: {e.strerror or e} (choose another --port)") from None
    url = f"http://{_url_host(host)}:{sock.getsockname()[1]}{ds.urls.instance()}"
    note = f"immutable, pages cached for {IMMUTABLE_TTL // 60} minutes; " if immutable else ""
    note += f"{guard.profile_of(ds)} profile; "
    accounts = accounts_of(ds)
    if accounts is not None:
        note += f"accounts of {accounts.path}, sign in at {url}-/login; "
    announce(f"Serving {db_path} read-only at {url} ({note}Ctrl+C stops)")
    config = uvicorn.Config(ds.app(), log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket. Its protocol is set explicitly: asyncio switches Nagle's
    algorithm off (TCP_NODELAY) only on sockets that say IPPROTO_TCP, and with it on, a
    response written in two parts waits for the client's delayed ACK (40 ms a request)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(socket.SOMAXCONN)
    except OSError:
        sock.close()
        raise
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
