"""Scalar arguments, checked once for every package.

An integer is a Python or numpy integer (``bool`` is refused although Python counts it as
one); a real number is a Python or numpy real that is finite; a 0-d numpy array counts as
the scalar it holds. Anything else is a one-line
:class:`~data.errors.InvalidParameterError` naming the parameter and the value.
"""

from __future__ import annotations

import math
import numbers
import os
import stat
from typing import Any, cast

import numpy as np

from data.errors import InvalidParameterError

__all__ = [
    "check_bool",
    "check_int",
    "check_path_given",
    "check_real",
    "check_type",
    "clip_path",
    "clip_repr",
    "is_directory",
    "is_regular",
    "path_mode",
]


def _scalar(value: Any) -> Any:
    """A 0-d numpy array (``np.array(2.0)``, what numpy reductions may give) as its scalar."""
    return value.item() if isinstance(value, np.ndarray) and value.ndim == 0 else value


def check_int(value: Any, name: str, minimum: int = 0, maximum: int | None = None) -> int:
    """``value`` as an ``int`` if it is an integer in ``minimum .. maximum``."""
    value = _scalar(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InvalidParameterError(f"{name} must be an integer >= {minimum}, got {value!r}")
    # cast: the numbers.Real stub declares __lt__/__le__ but not __gt__
    if maximum is not None and cast(int, value) > maximum:
        raise InvalidParameterError(f"{name} must be at most {maximum}, got {value!r}")
    return int(value)


def check_real(value: Any, name: str) -> float:
    """``value`` as a ``float`` if it is a finite real number."""
    value = _scalar(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidParameterError(f"{name} must be a real number, got {value!r}")
    try:
        out = float(value)
    except OverflowError:  # an int beyond float (10**400)
        out = math.inf if cast(float, value) > 0 else -math.inf  # cast: stub lacks __gt__
    if not math.isfinite(out):
        raise InvalidParameterError(f"{name} must be finite, got {out!r}")
    return out


def check_path_given(value: Any, name: str, what: str) -> None:
    """An empty path (``""``, white space: a variable that expanded to nothing) is refused:
    ``Path("")`` is the working directory, never what was meant. ``what``: what to give."""
    if value is not None and not os.fspath(value).strip():
        raise InvalidParameterError(f"{name} is an empty path: give {what}")


def clip_repr(value: Any, limit: int = 60) -> str:
    """``repr(value)`` for a message, cut to ``limit`` characters with an ellipsis: echoed
    input (a 100,000-character option) must not make the error line as long."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def clip_path(path: Any, limit: int = 120) -> str:
    """``str(path)`` for a message, its middle cut to ``limit`` characters: a 5,000-character
    path must not make the error line as long, and its ends say most about it."""
    text = str(os.fspath(path) if isinstance(path, str | os.PathLike) else path)
    if len(text) <= limit:
        return text
    keep = (limit - 3) // 2
    return f"{text[:keep]}...{text[len(text) - keep :]}"


def path_mode(path: str | os.PathLike, what: str, error: type[Exception]) -> int | None:
    """``st_mode`` of ``path`` (symlinks followed), ``None`` when nothing is there. A path
    that cannot be looked at (a symlink loop, a name too long, a parent that is a file, no
    permission) is a one-line ``error`` naming ``what``, the path and the reason, not an
    ``OSError`` (which ``Path.is_file`` lets escape for some of them and hides for others)."""
    try:
        return os.stat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise error(f"cannot read {what} {clip_path(path)}: {reason}") from None
    except ValueError as exc:  # an embedded NUL byte
        raise error(f"{what} {clip_repr(os.fspath(path))} is not a valid path ({exc})") from None


def is_regular(mode: int | None) -> bool:
    """True if ``mode`` (from :func:`path_mode`) is a regular file's."""
    return mode is not None and stat.S_ISREG(mode)


def is_directory(mode: int | None) -> bool:
    """True if ``mode`` (from :func:`path_mode`) is a directory's."""
    return mode is not None and stat.S_ISDIR(mode)


def check_bool(value: Any, name: str) -> bool:
    """``value`` as a ``bool`` if it is one (Python or numpy): the string ``"no"`` is true
    in Python, so a flag given as text is refused rather than read as its truth value."""
    value = _scalar(value)
    if not isinstance(value, bool | np.bool_):
        raise InvalidParameterError(f"{name} must be True or False, got {clip_repr(value)}")
    return bool(value)


def check_type(value: Any, expected: type | tuple[type, ...], name: str, hint: str = "") -> Any:
    """``value`` if it is an instance of ``expected``, else a one-line
    ``InvalidParameterError``: "``name`` must be a ``X`` (``hint``), got ``Y``"."""
    if isinstance(value, expected):
        return value
    kinds = expected if isinstance(expected, tuple) else (expected,)
    wanted = " or ".join(k.__name__ for k in kinds)
    where = f" ({hint})" if hint else ""
    raise InvalidParameterError(f"{name} must be a {wanted}{where}, got {type(value).__name__}")
