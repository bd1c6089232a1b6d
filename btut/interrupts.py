"""Ctrl-C, noticed however a library reports it.

Python raises ``KeyboardInterrupt`` wherever the program is when SIGINT arrives, and some
libraries turn it into another exception: pandas' C parser reports an interrupted read of
its source as a ``ParserError`` ("Calling read(nbytes) on source failed"), an extension
module interrupted while it initialises raises ``ImportError``. While :func:`watch_interrupts`
is active a SIGINT is also recorded, so the command line says "interrupted" (exit 130)
whatever the exception that reaches it. This module imports nothing heavy: the console
script installs the watch before it loads the libraries.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

#: What the command line prints, alone on its line, when Ctrl-C ends a command (exit 130).
ABORTED = "btut: aborted (interrupted)"


class InterruptWatch:
    """Whether a SIGINT arrived while the watch was active (``interrupted``)."""

    def __init__(self) -> None:
        self.interrupted = False

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        self.interrupted = True
        signal.default_int_handler(signum, frame)  # raises KeyboardInterrupt, as before


@contextlib.contextmanager
def watch_interrupts() -> Iterator[InterruptWatch]:
    """Record SIGINT while the block runs; Python's own handler is restored afterwards.

    Only Python's default SIGINT handler is replaced, and only in the main thread: an
    ignored SIGINT (``nohup``, a background job) or a handler of the caller's stays as it
    is, and then ``interrupted`` stays False. Inside an active watch, the same watch is
    yielded (the console script watches while it loads the command line, which watches too).
    """
    active = getattr(signal.getsignal(signal.SIGINT), "__self__", None)
    if isinstance(active, InterruptWatch):
        yield active
        return
    watch = InterruptWatch()
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield watch
        return
    previous = signal.signal(signal.SIGINT, watch._on_sigint)
    try:
        yield watch
    finally:
        signal.signal(signal.SIGINT, previous)
