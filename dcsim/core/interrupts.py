"""Ctrl-C that is never lost: noted by a handler that never raises, acted on at safe points.

Python's own SIGINT handler raises ``KeyboardInterrupt`` wherever the main thread
happens to be, and some places drop it: a fork's at-fork hooks (logging's
``_releaseLock``, run in the parent after each fork of a pool worker, prints it as
``Exception ignored`` and goes on), destructors, and C code that clears errors while it
runs Python code (an attribute lookup, an import). A sweep that took a Ctrl-C there ran
to its end. Within :class:`Interrupts`, SIGINT only sets a flag, and
:meth:`Interrupts.check`, called between steps and at least every :data:`POLL_S` while
waiting, raises the ``KeyboardInterrupt``, where it cannot be dropped. This module
imports nothing heavy, so a command can take over Ctrl-C before its imports.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

POLL_S = 0.1
"""How often a waiting loop looks for a Ctrl-C noted by :class:`Interrupts`, s."""


class Interrupts:
    """SIGINT noted while inside (a context manager); :meth:`check` raises it at a safe point.

    The handler is installed only in the main thread and only over Python's default
    one (a Ctrl-C the caller ignores stays ignored); inside another ``Interrupts``, the
    outer one's flag is shared. On leaving, the previous handler is back, and (with
    ``check_on_exit``) a Ctrl-C noted but not yet acted on is raised. While worker
    processes start (:meth:`starting`), SIGINT is also blocked, so that a worker (it
    inherits the mask) cannot take it before it ignores it.

    Args:
        check_on_exit: raise a noted Ctrl-C when leaving without an exception.
    """

    def __init__(self, check_on_exit: bool = True) -> None:
        self.check_on_exit = check_on_exit
        self._seen = False
        self._previous: object = None
        self._outer: Interrupts | None = None

    @property
    def seen(self) -> bool:
        """A Ctrl-C came while inside."""
        return self._seen or (self._outer is not None and self._outer.seen)

    @property
    def active(self) -> bool:
        """SIGINT is handled by this one (or the one it is inside)."""
        return self._previous is not None or self._outer is not None

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            current = signal.getsignal(signal.SIGINT)
            if current is signal.default_int_handler:
                self._previous = signal.signal(signal.SIGINT, self._note)
            elif isinstance(getattr(current, "__self__", None), Interrupts):
                self._outer = current.__self__  # type: ignore[union-attr]
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]
            self._previous = None
        try:
            if kind is None and self.check_on_exit:
                self.check()
        finally:
            self._outer = None

    def _note(self, signum: int, frame: object) -> None:
        self._seen = True

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` if a Ctrl-C was noted."""
        if self.seen:
            raise KeyboardInterrupt

    @contextmanager
    def starting(self) -> Iterator[None]:
        """Hold SIGINT back while worker processes start (they unblock it once they ignore it)."""
        block = getattr(signal, "pthread_sigmask", None)
        if block is None or not self.active:
            yield
            return
        block(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            yield
        finally:
            block(signal.SIG_UNBLOCK, {signal.SIGINT})  # a Ctrl-C held back is noted now
        self.check()


__all__ = ["POLL_S", "Interrupts"]
