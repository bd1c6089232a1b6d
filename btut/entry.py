"""The ``btut`` console script: Ctrl-C is one line and exit 130 from the first moment, also
while the command line's libraries load (an interrupted import raised a traceback, or an
``ImportError`` from an extension module cut off while it initialised)."""

from __future__ import annotations

import sys

from btut.interrupts import watch_interrupts


def main(argv: list[str] | None = None) -> int:
    """Run ``btut`` with ``argv`` (default: the process's arguments); returns the exit code."""
    with watch_interrupts() as watch:
        try:
            from btut.cli import main as cli_main
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt) or watch.interrupted:
                print(watch.message, file=sys.stderr)
                return watch.exit_code
            raise
        return cli_main(argv)
