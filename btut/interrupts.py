"""Ctrl-C, noticed however a library reports it.

Python raises ``KeyboardInterrupt`` wherever the program is when SIGINT arrives, and some
libraries turn it into another exception: pandas' C parser reports an interrupted read of
its source as a ``ParserError`` ("Calling read(nbytes) on source failed"), an extension
module interrupted while it initialises raises ``ImportError``. While :func:`watch_interrupts`
is active a SIGINT is also recorded, so the command line says "interrupted" (exit 130)
whatever the exception that reaches it. SIGTERM (``kill``, a scheduler's time limit) is
turned into the same ``KeyboardInterrupt`` while the watch is active, so the same clean-up
runs (an open store transaction rolled back, a half-written report's temporary file
removed) and the command line says "terminated" (exit 143 = 128 + 15). Like Ctrl-C, it
takes effect between two Python steps: during a long call into C (a HiGHS solve, at most its
time limit) it waits for the call to return; SIGKILL ends the process at once. This module
imports nothing heavy: the console script installs the watch before it loads the libraries.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

#: What the command line prints, alone on its line, when Ctrl-C ends a command (exit 130).
ABORTED = "btut: aborted (interrupted)"
#: ... and when SIGTERM ends it (exit 143).
TERMINATED = "btut: aborted (terminated)"


class InterruptWatch:
    """Whether a SIGINT or SIGTERM arrived while the watch was active (``interrupted``;
    ``terminated`` for SIGTERM), and what the command line then says and exits with."""

    def __init__(self) -> None:
        self.interrupted = False
        self.terminated = False

    @property
    def message(self) -> str:
        return TERMINATED if self.terminated else ABORTED

    @property
    def exit_code(self) -> int:
        return 128 + signal.SIGTERM if self.terminated else 130

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        self.interrupted = True
        signal.default_int_handler(signum, frame)  # raises KeyboardInterrupt, as before

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        self.interrupted = self.terminated = True
        raise KeyboardInterrupt


def _active_watch() -> InterruptWatch | None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        owner = getattr(signal.getsignal(sig), "__self__", None)
        if isinstance(owner, InterruptWatch):
            return owner
    return None


@contextlib.contextmanager
def watch_interrupts() -> Iterator[InterruptWatch]:
    """Record SIGINT and SIGTERM while the block runs; the previous handlers are restored
    afterwards.

    Only Python's default SIGINT handler and the default SIGTERM action are replaced, and
    only in the main thread: an ignored signal (``nohup``, a background job) or a handler of
    the caller's stays as it is. Inside an active watch, the same watch is yielded (the
    console script watches while it loads the command line, which watches too).
    """
    active = _active_watch()
    if active is not None:
        yield active
        return
    watch = InterruptWatch()
    if threading.current_thread() is not threading.main_thread():
        yield watch
        return
    installed = []
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        installed.append((signal.SIGINT, signal.signal(signal.SIGINT, watch._on_sigint)))
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        installed.append((signal.SIGTERM, signal.signal(signal.SIGTERM, watch._on_sigterm)))
    try:
        yield watch
    finally:
        for sig, previous in reversed(installed):
            signal.signal(sig, previous)
