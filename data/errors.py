"""The one BTUT error hierarchy.

Every package raises these (and only these) for problems a user can fix. It lives in
``data``, the lowest layer, and imports nothing, so every package may import it.
"""

from __future__ import annotations


class BTUTError(Exception):
    """Base class of every error BTUT raises on purpose.

    The message is one line that names the problem; the CLI prints it and exits non-zero.
    """

    exit_code: int = 1


class InvalidParameterError(BTUTError, ValueError):
    """A parameter is out of range, malformed or inconsistent with the others."""

    exit_code = 2


class DataUnavailableError(BTUTError, LookupError):
    """The data asked for does not exist: unknown zone, dates outside the data, no source."""

    exit_code = 3


class DataValidationError(BTUTError, ValueError):
    """Data exists but is broken: duplicate timestamps, non-monotonic or non-UTC index, bad file."""

    exit_code = 4


class MissingCredentialsError(BTUTError):
    """A credential (for example ``ENTSOE_API_KEY``) is not set."""

    exit_code = 2


class StorageError(BTUTError):
    """The results store could not read or write (nothing was half-written)."""

    exit_code = 5


class StoreNotReadyError(StorageError):
    """A store opened read-only does not exist yet or its schema is not at this BTUT's
    revision: opening it for writing (a replay, a backtest, ``btut db upgrade``) creates or
    migrates it. Any other :class:`StorageError` (an unreachable server, say) would fail that
    too."""


class ConcurrentRunError(BTUTError):
    """Another process holds the lock of the same job on the same store (for example a
    backtest of the same period started from cron twice). Retry later; exit code 75 is
    sysexits' EX_TEMPFAIL."""

    exit_code = 75


class NotFittedError(BTUTError, AttributeError):
    """A model was used before ``fit``."""

    exit_code = 1


class SolverError(BTUTError):
    """A solver returned no solution for a well-formed problem: a time limit reached, or
    numerical trouble (inputs of extreme scale)."""


class NoRouteError(BTUTError, LookupError):
    """No payment route exists: unknown node, source and target disconnected, or every edge
    pruned for the amount. ``reason`` is one of ``"unknown_node"``, ``"disconnected"``,
    ``"pruned"``."""

    exit_code = 6

    def __init__(self, message: str, *, reason: str = "disconnected") -> None:
        super().__init__(message)
        self.reason = reason


__all__ = [
    "BTUTError",
    "ConcurrentRunError",
    "DataUnavailableError",
    "DataValidationError",
    "InvalidParameterError",
    "MissingCredentialsError",
    "NoRouteError",
    "NotFittedError",
    "SolverError",
    "StorageError",
]
