"""Bidding zones: ENTSO-E area codes and their local time zones.

A zone code is the short ENTSO-E name used by entsoe-py (``ES``, ``DE_LU``, ``FR``, ...).
Two extra codes exist only for the epftoolbox benchmark files: ``NP`` (Nord Pool system
price) and ``PJM`` (PJM COMED, prices in USD). Market days are local calendar days of
the zone's time zone; everything inside BTUT is UTC.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import Any

import pandas as pd

from data.errors import DataUnavailableError, InvalidParameterError


@dataclass(frozen=True)
class Zone:
    """A market zone: ``code`` (e.g. ``"ES"``), display ``name``, IANA time zone ``tz``,
    and ``entsoe_eic`` (the ENTSO-E EIC area code, ``None`` outside ENTSO-E)."""

    code: str
    name: str
    tz: str
    entsoe_eic: str | None

    @property
    def on_entsoe(self) -> bool:
        """True when the ENTSO-E Transparency API serves this zone."""
        return self.entsoe_eic is not None


# Zones that only exist in the epftoolbox benchmark files (not ENTSO-E areas).
_EXTRA_ZONES = (
    Zone("NP", "Nord Pool system price (epftoolbox file)", "Europe/Oslo", None),
    Zone("PJM", "PJM COMED zone, USD (epftoolbox file)", "America/Chicago", None),
)


@cache
def zones() -> dict[str, Zone]:
    """All known zones by code: every entsoe-py ``Area`` plus the epftoolbox extras."""
    from entsoe.mappings import Area  # lazy: entsoe pulls in requests and bs4

    table = {a.name: Zone(a.name, a.meaning, a.tz, a.value) for a in Area}
    table.update({z.code: z for z in _EXTRA_ZONES})
    return table


def get_zone(code: str) -> Zone:
    """Look up a zone by code (case-insensitive, ``-`` accepted for ``_``).

    Raises ``InvalidParameterError`` for a blank or non-text code and
    ``DataUnavailableError`` for an unknown one.
    """
    if not isinstance(code, str) or not code.strip():
        raise InvalidParameterError(f"zone must be a non-empty code such as 'ES', got {code!r}")
    key = code.strip().upper().replace("-", "_")
    try:
        return zones()[key]
    except KeyError:
        shown = repr(code) if len(code) <= 60 else f"{code[:57]!r}..."  # echo a sane length
        raise DataUnavailableError(
            f"unknown zone {shown}; `btut data zones` lists the known codes (e.g. ES, DE_LU, FR)"
        ) from None


def check_tz(tz: Any) -> str:
    """``tz`` as a time zone name, else ``InvalidParameterError``. A tzinfo gives its IANA
    name (zoneinfo's ``key``, pytz's ``zone``, dateutil's file name) or ``str(tz)``."""
    if tz is None or tz == "":
        raise InvalidParameterError(
            f"tz must be a time zone name such as 'Europe/Madrid', got {tz!r}"
        )
    if isinstance(tz, dt.tzinfo):
        names = (getattr(tz, a, None) for a in ("key", "zone", "_filename"))
        name = next((n for n in names if isinstance(n, str) and n), None)
        # dateutil's is a path: /usr/share/zoneinfo/Europe/Madrid
        tz = tz if name is None else name.split("zoneinfo/")[-1]
    try:
        pd.Timestamp(0, tz=str(tz))
    except Exception:  # zoneinfo/pytz raise their own errors for an unknown name
        raise InvalidParameterError(f"unknown time zone {tz!r}") from None
    return str(tz)
