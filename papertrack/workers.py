"""Map a function over a stream of items in child processes, results in input order.

The children are spawned, not forked, and each holds only its own two pipe ends: when
the parent dies (even by SIGKILL) a child's next read fails and it exits, so no orphan
keeps working. Each child has at most one item in flight, so the parent never blocks
sending to a busy child while that child blocks sending its result back.
"""
from __future__ import annotations

import multiprocessing as mp
import traceback
from collections import deque
from typing import Any, Callable, Iterable, Iterator, TypeVar

from .errors import PapertrackError

T = TypeVar("T")
R = TypeVar("R")


def _child(tasks: Any, results: Any, setup: Callable[..., Any], setup_args: tuple, fn: Callable[[Any, Any], Any]) -> None:
    state = setup(*setup_args)
    while True:
        try:
            item = tasks.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if item is None:
            return
        try:
            results.send((True, fn(state, item)))
        except (BrokenPipeError, OSError):
            return
        except Exception:  # noqa: BLE001 - handed to the parent, which raises it
            results.send((False, traceback.format_exc()))


class OrderedPool:
    """`imap(items)` yields `(item, fn(state, item))` in order, where `state = setup(*setup_args)`
    is built once per process. This process works too: while the oldest item's child is
    still busy it handles the next item itself, so one child on two cores keeps both busy.
    With `processes=0` everything runs in this process."""

    def __init__(self, fn: Callable[[Any, T], R], processes: int, setup: Callable[..., Any], setup_args: tuple = ()):
        self.fn = fn
        self.children: list[tuple[Any, Any, Any]] = []
        self.local_state = setup(*setup_args)
        ctx = mp.get_context("spawn")
        for _ in range(processes):
            task_r, task_w = ctx.Pipe(duplex=False)
            result_r, result_w = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_child, args=(task_r, result_w, setup, setup_args, fn), daemon=True)
            proc.start()
            task_r.close()
            result_w.close()
            self.children.append((proc, task_w, result_r))

    def imap(self, items: Iterable[T]) -> Iterator[tuple[T, R]]:
        source = iter(items)
        # entries in input order: [child index, item, None] while a child works on it,
        # [None, item, result] once the result is here
        pending: deque[list] = deque()
        idle = deque(range(len(self.children)))
        limit = 2 * len(self.children) + 2  # bounds the results held (memory stays flat)

        def feed() -> None:
            while idle and len(pending) < limit:
                item = next(source, None)
                if item is None:
                    return
                k = idle.popleft()
                self.children[k][1].send(item)
                pending.append([k, item, None])

        while True:
            feed()
            head = pending[0] if pending else None
            busy = head is not None and head[0] is not None and not self.children[head[0]][2].poll()
            if head is None or (busy and len(pending) < limit):
                item = next(source, None)
                if item is not None:
                    pending.append([None, item, self.fn(self.local_state, item)])
                    continue
                if head is None:
                    return
            k, item, result = pending.popleft()
            if k is not None:
                result = self._receive(k)
                idle.append(k)
                feed()  # the child starts on its next item while the caller handles this result
            yield item, result

    def _receive(self, k: int) -> Any:
        try:
            ok, value = self.children[k][2].recv()
        except EOFError:
            raise PapertrackError("a parsing process died unexpectedly") from None
        if not ok:
            raise RuntimeError(f"error in a parsing process:\n{value}")
        return value

    def close(self) -> None:
        for proc, task_w, result_r in self.children:
            try:
                task_w.send(None)
            except OSError:
                pass
            task_w.close()
            result_r.close()
        for proc, _, _ in self.children:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
        self.children = []

    def __enter__(self) -> "OrderedPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
