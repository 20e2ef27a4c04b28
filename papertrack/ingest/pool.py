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
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

from papertrack.errors import PapertrackError

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
        except Exception:
            results.send((False, traceback.format_exc()))


class OrderedPool(Generic[T, R]):
    """`imap(items)` yields `(item, fn(state, item))` in order, where `state = setup(*setup_args)`
    is built once per child process. With `processes=0` everything runs in this process.

    (Letting this process parse too, whenever the oldest result was not back yet, was
    measured: it made the writing process the bottleneck and the import slower.)"""

    def __init__(self, fn: Callable[[Any, T], R], processes: int, setup: Callable[..., Any], setup_args: tuple = ()):
        self.fn = fn
        self.children: list[tuple[Any, Any, Any]] = []
        self.local_state = setup(*setup_args) if processes == 0 else None
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
        if not self.children:
            for item in items:
                yield item, self.fn(self.local_state, item)
            return
        source = iter(items)
        pending: deque[tuple[int, T]] = deque()  # (child, item) in input order
        idle = deque(range(len(self.children)))

        def feed() -> None:
            while idle:
                item = next(source, None)
                if item is None:
                    return
                k = idle.popleft()
                self.children[k][1].send(item)
                pending.append((k, item))

        feed()
        while pending:
            k, item = pending.popleft()
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
        for _proc, task_w, result_r in self.children:
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

    def __enter__(self) -> OrderedPool[T, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
