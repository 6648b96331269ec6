"""Ctrl-C inside Interrupts: noted, never raised where it lands, raised by check(); nesting shares the note."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from dcsim.core.interrupts import Interrupts


def _ctrl_c(to_main_thread: bool = False) -> None:
    if to_main_thread:  # held back while the main thread blocks it (a process-wide one may go to another thread)
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)  # type: ignore[arg-type]
    else:
        os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.05)  # the handler runs here, in the main thread


def _nested() -> None:
    with Interrupts(check_on_exit=False) as outer, Interrupts() as inner:  # a command, the sweep's runs inside it
        _ctrl_c()  # no KeyboardInterrupt here
        assert inner.seen and outer.seen
    pytest.fail("leaving the inner one raises the noted Ctrl-C")  # pragma: no cover


def test_a_ctrl_c_is_noted_where_it_lands_and_raised_at_the_check() -> None:
    with pytest.raises(KeyboardInterrupt):
        _nested()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Python's own handler is back


def _start(interrupts: Interrupts) -> None:
    with interrupts.starting():
        _ctrl_c(to_main_thread=True)
        assert not interrupts.seen  # blocked: pending until the workers are up


def test_a_ctrl_c_held_back_while_workers_start_is_noted_when_they_have() -> None:
    with Interrupts(check_on_exit=False) as interrupts:
        with pytest.raises(KeyboardInterrupt):
            _start(interrupts)
        assert interrupts.seen


def test_an_ignored_ctrl_c_stays_ignored() -> None:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with Interrupts() as interrupts:
            _ctrl_c()
            assert not interrupts.seen and not interrupts.active
    finally:
        signal.signal(signal.SIGINT, previous)
