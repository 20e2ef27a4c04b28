"""Locks every papertrack process on the machine honours: `fcntl.flock` on a lock file.

The kernel drops a flock when its holder's file is closed, however the process ends
(kill -9 included), so there is never a stale lock to delete by hand. The lock file
holds one line of JSON about its holder (pid, host, command, since), which a second
process prints when it finds the lock taken, and, for a web service, the time of the
last request, so whoever takes the lock next keeps the politeness delay across processes.

* `database_lock`: next to the database file; one harvest or import writes it at a time.
  Its holder is also the proof that a `running` harvest row is alive (`store.runs`).
* `endpoint_lock`: in a directory shared by every user of the machine, one per service
  host: arXiv's rule (one request every 3 seconds) is per client machine, not per process.

(It lives with the sources because pacing them is what it is for; `store` and the CLI
use the same mechanism for the database.)
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import re
import socket
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from papertrack.errors import LockHeld

POLL = 0.05  # seconds between tries while waiting a bounded time
RECORD = 512  # the holder's note is padded to this many bytes and rewritten in place
CARRIED = ("last_request",)  # what a new holder keeps from the last one's note


def default_lock_dir() -> Path:
    """Where endpoint locks live unless told otherwise: shared by every user of the machine."""
    return Path(tempfile.gettempdir()) / "papertrack-locks"


class Lock:
    """An exclusive (or `shared`) flock on `path`, called `what` in messages.

    `wait`: seconds to wait for the holder to let go (0: raise `LockHeld` at once;
    `math.inf`: as long as it takes); `on_wait` hears one line when waiting starts.
    `owner` names this holder for the others ("papertrack harvest"). `for_all_users`
    makes the directory sticky and world-writable and the file writable by all (the
    machine-wide endpoint locks). Use as a context manager, or `acquire`/`release`.
    """

    def __init__(
        self,
        path: str | Path,
        what: str,
        *,
        wait: float = 0.0,
        owner: str = "papertrack",
        on_wait: Callable[[str], None] | None = None,
        shared: bool = False,
        for_all_users: bool = False,
    ):
        self.path, self.what, self.wait, self.owner = Path(path), what, wait, owner
        self.on_wait, self.shared, self.for_all_users = on_wait, shared, for_all_users
        self.fd: int | None = None
        self.previous: dict = {}  # the note the last holder left (its last request, ...)
        self.fields: dict = {}
        self._size = RECORD

    @property
    def held(self) -> bool:
        return self.fd is not None

    def acquire(self) -> Lock:
        """Take the lock (waiting as configured); `LockHeld` names the holder if it cannot."""
        if self.fd is not None:
            return self
        fd = self._open()
        try:
            self._take(fd)
            self.previous = _read(fd)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        if not self.shared:
            carried = {k: self.previous[k] for k in CARRIED if k in self.previous}
            self.note(pid=os.getpid(), host=socket.gethostname(), owner=self.owner, since=_now(), **carried)
        return self

    def release(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)  # closing the file drops the flock

    def note(self, **fields: object) -> None:
        """Record facts about this holder in the lock file. Best effort: another user's
        lock file may be read-only to us, and the note is never needed for correctness
        of the lock itself."""
        if self.fd is None or self.shared:
            return
        self.fields.update(fields)
        data = json.dumps(self.fields).encode()
        self._size = max(self._size, len(data))
        try:
            os.pwrite(self.fd, data.ljust(self._size), 0)
        except OSError:
            pass

    def __enter__(self) -> Lock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _open(self) -> int:
        directory = self.path.parent
        if not directory.is_dir():
            directory.mkdir(parents=True, exist_ok=True)
            if self.for_all_users:
                _chmod(directory, 0o1777)  # like /tmp: everyone may add a lock file, nobody remove another's
        nofollow = getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | nofollow, 0o666)
        except PermissionError:
            if not self.path.exists():
                raise
            fd = os.open(self.path, os.O_RDONLY | nofollow)  # another user's file: lock it, leave no note
        if self.for_all_users:
            _chmod(fd, 0o666)
        return fd

    def _take(self, fd: int) -> None:
        mode = fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX
        if _try(fd, mode):
            return
        busy = f"{self.what} is in use by {describe(_read(fd))}"
        if self.wait <= 0:
            raise LockHeld(busy)
        if self.on_wait:
            self.on_wait(f"{busy}; waiting {'until it is free' if math.isinf(self.wait) else f'up to {self.wait:g} s'}")
        if math.isinf(self.wait):
            fcntl.flock(fd, mode)  # a signal (Ctrl+C, SIGTERM) still interrupts the wait
            return
        deadline = time.monotonic() + self.wait
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(POLL, left))
            if _try(fd, mode):
                return
        raise LockHeld(f"{self.what} is still in use by {describe(_read(fd))} after {self.wait:g} s", waited=self.wait)


def database_lock(db_path: str | Path, **options) -> Lock:
    """The lock of one database file (`papers.db.lock` beside `papers.db`); see `Lock`."""
    return Lock(Path(f"{db_path}.lock"), str(db_path), **options)


def endpoint_lock(lock_dir: str | Path, service: str, url: str, **options) -> Lock:
    """The machine-wide lock of a service's host (and port), `arxiv-export.arxiv.org.lock`."""
    parts = urlsplit(url)
    host = (parts.hostname or "localhost").lower()
    key = host if parts.port is None else f"{host}-{parts.port}"
    name = re.sub(r"[^a-z0-9.\-]+", "_", f"{service.lower()}-{key}") + ".lock"
    return Lock(Path(lock_dir) / name, f"{service} ({parts.netloc or host})", for_all_users=True, **options)


def describe(note: dict) -> str:
    """`papertrack harvest (pid 4242, since 2026-03-01 10:02:03 UTC)` from a holder's note."""
    if not note.get("pid"):
        return "another process"
    host = note.get("host")
    where = f" on {host}" if host and host != socket.gethostname() else ""
    since = f", since {note['since']}" if note.get("since") else ""
    return f"{note.get('owner') or 'papertrack'} (pid {note['pid']}{where}{since})"


def _try(fd: int, mode: int) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _read(fd: int) -> dict:
    try:
        note = json.loads(os.pread(fd, 4096, 0).decode("utf-8", "replace").strip() or "{}")
    except (OSError, ValueError):
        return {}
    return note if isinstance(note, dict) else {}


def _chmod(target: int | Path, mode: int) -> None:
    """Set `mode` if we own the file and it differs (umask trims what open/mkdir ask for)."""
    try:
        st = os.stat(target)
        if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) != mode:
            os.chmod(target, mode)
    except OSError:
        pass


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
