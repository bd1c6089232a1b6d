"""Live ENTSO-E Transparency Platform API source of the BTUT data layer.

``fetch_entsoe(zone, start_utc, end_utc)`` queries the API through entsoe-py's
``EntsoePandasClient`` and returns one frame indexed by ``time_utc`` (UTC interval start,
regular grid covering ``[start_utc, end_utc)``), with only the columns the API returned:

=====================  ===================================================  =========
column                 ENTSO-E query (entsoe-py method)                     unit
=====================  ===================================================  =========
``price_eur_per_mwh``  day-ahead prices A44 (``query_day_ahead_prices``)    EUR/MWh
``load_mw``            actual total load A65/A16 (``query_load``)           MW
``load_forecast_mw``   day-ahead total load forecast A65/A01                MW
``solar_mw``           actual generation per type A75, solar B16            MW
``wind_mw``            A75, wind onshore B19 + wind offshore B18            MW
``solar_forecast_mw``  wind and solar forecast A69, solar B16               MW
``wind_forecast_mw``   A69, wind onshore B19 + wind offshore B18            MW
=====================  ===================================================  =========

A query the API answers with "no matching data" leaves its column(s) out: a missing
series is absent, never zeros. Values are never filled: a missing interval stays NaN.
Wind is the sum of the wind parts the API returned (onshore, plus offshore where the zone
reports it); it is NaN wherever one of those parts is NaN. MW values are interval
averages (ENTSO-E publishes average power per interval).

Resolution
----------
Series come back at their native resolution (PT60M, PT30M or PT15M, taken from the
``<resolution>`` of the XML ``Period`` each value came from; a series may change
resolution inside the range, e.g. prices at the SDAC 15-minute go-live on 2025-10-01).

* ``resolution="native"``: if every series has the same resolution it is kept. Otherwise
  the finer series are aggregated to the coarsest one by the *interval mean*: MW becomes
  the average MW over the interval (exact energy), EUR/MWh the arithmetic mean of the
  sub-interval prices (the time-weighted average price, sub-intervals being equal).
  Only complete intervals are aggregated: an hour missing one of its quarters is NaN.
* ``resolution="60min"``: always hourly, aggregated the same way.
* ``resolution="15min"``: coarser values are repeated onto each quarter-hour of their
  interval (an hourly price applies to each of its quarters; an hourly average MW is
  repeated, the best the source says about each quarter). Gaps are never filled: a value
  only covers its own interval.

``start_utc`` and ``end_utc`` must be tz-aware and on whole hours (ENTSO-E periods are
requested in whole hours), and ``start_utc`` no earlier than the zone's local midnight of
``FIRST_DAY`` (2015-01-01, the Transparency Platform's first day); the grid starts at
``start_utc``.

``frame.attrs["resampled"]`` maps each converted column to
``{"from": "15min", "to": "60min", "method": "mean"}`` (``"method": "repeat"`` when
repeated; ``"from"`` lists all native resolutions of the column, comma-separated); it is
``{}`` when nothing was converted. ``frame.attrs["resolution"]`` is the frame's step
(``"15min"``, ``"30min"`` or ``"60min"``) and ``frame.attrs["source"]`` is ``"entsoe"``.

Caching
-------
Raw API responses are cached on disk under ``<cache>/entsoe/``, where ``<cache>`` is
``cache_dir``, else ``$BTUT_CACHE_DIR``, else ``~/.cache/btut``. One file per request,
named by the sha256 of the canonical request (endpoint URL and all query parameters,
periodStart/periodEnd included, *without* the security token, sorted). A file holds one
JSON header line (kind, content type, encoding, the token-free parameters) and the
response body bytes as received; it is written to a temporary file and moved into place
with ``os.replace``, so a reader never sees half an entry. A cached entry is served as a
``requests.Response`` (status 200) so entsoe-py parses it exactly like a live one: a
repeated identical ``fetch_entsoe`` call makes no network request.

Cached: XML market documents (kind ``data``) and "no matching data" answers (kind
``nodata``, a negative entry: entsoe-py's day-ahead price query pages with ``offset``
until the API says "no matching data", so without negative entries every repeated call
would go back to the network). Never cached: errors, network failures, and any response
to a request whose period ends less than ``SETTLE_TIME`` (2 days) before now, because
data for recent periods is still being published and completed. Entries never expire;
delete ``<cache>/entsoe`` to refetch.

Credentials
-----------
The key is ``api_key``, else ``$ENTSOE_API_KEY``; without one ``MissingCredentialsError``
is raised before any network activity. The key only ever goes into the query string of
the outgoing GET. It is never logged: entsoe-py's ``_base_request``, which logs the
parameters, is replaced, and the urllib3 loggers whose debug/retry lines carry the request
URL get a redacting filter on the first ``fetch_entsoe`` call. It is never in exception
messages: requests' exceptions embed the URL, so they are translated into one-line
``DataUnavailableError`` messages with the key scrubbed and the original exception not
chained. It is never in cache file names or contents.

entsoe-py behaviour worth knowing
---------------------------------
* Before the SDAC 15-minute go-live (2025-10-01 Europe/Amsterdam) entsoe-py forces
  day-ahead prices to hourly with ``resample("h").first()``: a PT15M price document for
  an earlier date yields the first quarter's price per hour, not the mean.
* Only PT15M/PT30M/PT60M (and P1D, P7D, P1M, P1Y, PT1M) are understood; ``PT1H`` (same
  duration as PT60M, used in the ENTSO-E samples) is rewritten to ``PT60M`` before parsing.
* For A01 curves entsoe-py emits one value per ``Point``: a Point missing from the
  document is a missing value (NaN here), it is not repeated. A03 curves repeat the
  previous value for missing positions (done by entsoe-py).

Errors: network failures, API errors (HTTP 4xx/5xx, acknowledgement documents other than
"no matching data") and unreadable responses raise ``DataUnavailableError`` naming the
zone and the query. There is one retry (after ``RETRY_DELAY_S``) on connection errors and
timeouts, none on HTTP errors; cached parts are not fetched again on the next call.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import tempfile
import time
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import numpy as np
import pandas as pd
import requests
from entsoe import EntsoePandasClient
from entsoe import entsoe as _entsoe_module
from entsoe.exceptions import (
    InvalidBusinessParameterError,
    InvalidPSRTypeError,
    NoMatchingDataError,
    PaginationError,
)
from entsoe.mappings import Area, lookup_area
from requests.structures import CaseInsensitiveDict

from data.checks import check_path_given, clip_path, is_directory, path_mode
from data.errors import (
    BTUTError,
    DataUnavailableError,
    InvalidParameterError,
    MissingCredentialsError,
)
from data.schema import INDEX_NAME, RESOLUTIONS
from data.zones import Zone, get_zone

logger = logging.getLogger(__name__)


#: Responses for a request whose period ends later than ``now - SETTLE_TIME`` are not cached.
SETTLE_TIME = pd.Timedelta(days=2)

#: (connect, read) timeout of one API request, seconds.
REQUEST_TIMEOUT_S: tuple[float, float] = (10.0, 120.0)

#: Attempts per request on connection errors / timeouts, and the pause between them (s).
CONNECT_ATTEMPTS = 2
RETRY_DELAY_S = 5.0

#: The first day the Transparency Platform serves data for (its launch, 2015-01-01): earlier
#: days are refused before any query (``DataUnavailableError``, as days outside a file).
FIRST_DAY = dt.date(2015, 1, 1)

#: The one message for a missing (or blank) ``ENTSOE_API_KEY``, wherever it is found missing.
MISSING_KEY_MESSAGE = (
    "ENTSOE_API_KEY is not set; get a key from the ENTSO-E Transparency Platform "
    "and export ENTSOE_API_KEY=..."
)

_QUARTER = pd.Timedelta(minutes=15)
_RES_MINUTES: dict[str, int] = {"PT15M": 15, "PT30M": 30, "PT60M": 60, "PT1H": 60}
_TOKEN_IN_TEXT = re.compile(r"(securityToken=)[^&\s'\"<>]+", re.IGNORECASE)
_NO_DATA = "No matching data found"
# urllib3 loggers whose records carry the request URL (and so the query-string token).
_URL_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.poolmanager")

# SDAC went to 15-minute products on this date; before it entsoe-py forces day-ahead
# prices to hourly (``resample('h').first()``) whatever the XML resolution.
_SDAC_15MIN_GOLIVE: pd.Timestamp | None = getattr(_entsoe_module, "QUARTER_MTU_SDAC_GOLIVE", None)


# --------------------------------------------------------------------------------------
# Secrets hygiene
# --------------------------------------------------------------------------------------


def _scrub(text: str, key: str | None) -> str:
    """``text`` on one line, with the API key and any ``securityToken=...`` removed."""
    text = _TOKEN_IN_TEXT.sub(r"\1***", str(text))
    if key:
        text = text.replace(key, "***")
        text = text.replace(quote(key, safe=""), "***")
    return " ".join(text.split())


class _RedactTokenFilter(logging.Filter):
    """Rewrites log records whose message holds ``securityToken=<value>``."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is not ours to fix
            return True
        if "securitytoken=" in message.lower():
            record.msg = _TOKEN_IN_TEXT.sub(r"\1***", message)
            record.args = None
        return True


def _install_log_redaction() -> None:
    """Add the redacting filter to urllib3's URL-logging loggers (once; at call time)."""
    for name in _URL_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, _RedactTokenFilter) for f in target.filters):
            target.addFilter(_RedactTokenFilter())


# --------------------------------------------------------------------------------------
# Disk cache
# --------------------------------------------------------------------------------------


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """The BTUT cache directory: ``cache_dir``, else ``$BTUT_CACHE_DIR``, else ``~/.cache/btut``.

    API responses live in its ``entsoe`` subdirectory. An empty ``cache_dir``, or a path
    where something other than a directory is (a file, a symlink loop, a name too long), is
    an ``InvalidParameterError`` naming it, before any download.
    """
    if cache_dir is not None:
        check_path_given(cache_dir, "cache_dir", "a directory, or None for the default")
        root, what = Path(cache_dir).expanduser(), "cache directory"
    elif os.environ.get("BTUT_CACHE_DIR"):
        root, what = Path(os.environ["BTUT_CACHE_DIR"]).expanduser(), "$BTUT_CACHE_DIR"
    else:
        root, what = Path.home() / ".cache" / "btut", "cache directory"
    for path in (root, root / "entsoe"):
        mode = path_mode(path, what, InvalidParameterError)
        if mode is not None and not is_directory(mode):
            raise InvalidParameterError(f"{what} {clip_path(path)} is not a directory")
    return root


class _ResponseCache:
    """Raw API responses on disk, one file per canonical request."""

    def __init__(self, root: Path) -> None:
        self.directory = root / "entsoe"

    @staticmethod
    def key(url: str, params: dict[str, str]) -> str:
        """sha256 of the endpoint and the token-free parameters, sorted."""
        canonical = json.dumps(
            {"url": url, "params": sorted(params.items())}, separators=(",", ":")
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.resp"

    def get(self, key: str) -> tuple[dict[str, Any], bytes] | None:
        """``(header, body)`` of a cached response, or None."""
        try:
            raw = self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.warning("ENTSO-E cache entry %s unreadable (%s); refetching", key[:12], exc)
            return None
        header, _, body = raw.partition(b"\n")
        try:
            meta = json.loads(header)
        except ValueError:
            logger.warning("ENTSO-E cache entry %s is corrupt; refetching", key[:12])
            return None
        if not isinstance(meta, dict) or meta.get("kind") not in ("data", "nodata"):
            return None
        return meta, body

    def put(self, key: str, meta: dict[str, Any], body: bytes) -> None:
        """Store atomically (temporary file, then ``os.replace``); failures only warn."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{key[:16]}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(json.dumps(meta, sort_keys=True).encode("utf-8") + b"\n" + body)
                os.replace(tmp, self._path(key))
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            logger.warning("could not write ENTSO-E cache entry in %s: %s", self.directory, exc)


# --------------------------------------------------------------------------------------
# XML helpers
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Period:
    """One XML ``Period``: psrType of its TimeSeries, UTC bounds, resolution in minutes."""

    psr: str | None
    start: pd.Timestamp
    end: pd.Timestamp
    minutes: int


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse_xml(body: bytes) -> ET.Element | None:
    try:
        return ET.fromstring(body)
    except ET.ParseError:
        return None


def _periods_of(root: ET.Element) -> list[_Period]:
    """Every ``TimeSeries/Period`` with a 15/30/60-minute resolution."""
    out: list[_Period] = []
    for series in root.iter():
        if _local(series.tag) != "TimeSeries":
            continue
        # an empty <psrType/> has no text: no production type, as when the element is absent
        psr = next(
            (
                (el.text or "").strip() or None
                for el in series.iter()
                if _local(el.tag) == "psrType"
            ),
            None,
        )
        for period in series:
            if _local(period.tag) != "Period":
                continue
            found: dict[str, str] = {}
            for el in period.iter():
                name = _local(el.tag)
                if name in ("start", "end", "resolution") and name not in found and el.text:
                    found[name] = el.text.strip()
            minutes = _RES_MINUTES.get(found.get("resolution", ""))
            if minutes is None or "start" not in found or "end" not in found:
                continue
            try:
                start, end = pd.Timestamp(found["start"]), pd.Timestamp(found["end"])
            except ValueError:
                continue
            if start.tzinfo is None or end.tzinfo is None:
                continue
            out.append(_Period(psr, start.tz_convert("UTC"), end.tz_convert("UTC"), minutes))
    return out


def _reason_text(body: bytes) -> str:
    """The ``Reason/text`` of an acknowledgement, or the body as plain text."""
    root = _parse_xml(body)
    if root is not None:
        texts = [
            (el.text or "").strip()
            for el in root.iter()
            if _local(el.tag) == "text" and (el.text or "").strip()
        ]
        if texts:
            return "; ".join(texts)
    text = body.decode("utf-8", errors="replace")
    return re.sub(r"<[^>]*>", " ", text)


def _is_xml(content_type: str, body: bytes) -> bool:
    return "xml" in content_type.lower() or body.lstrip()[:1] == b"<"


def _normalise_body(body: bytes) -> bytes:
    """Spell ``PT1H`` as ``PT60M`` (same ISO 8601 duration; entsoe-py knows only the latter)."""
    if b"PT1H" not in body:
        return body
    return re.sub(rb"(<resolution>\s*)PT1H(\s*</resolution>)", rb"\1PT60M\2", body)


def _response(body: bytes, content_type: str, encoding: str | None, url: str) -> requests.Response:
    """A 200 ``requests.Response`` holding ``body`` (token-free URL)."""
    response = requests.Response()
    response.status_code = 200
    response.reason = "OK"
    response._content = body
    response._content_consumed = True
    response.headers = CaseInsensitiveDict({"content-type": content_type} if content_type else {})
    response.encoding = encoding
    response.url = url
    return response


def _xml_encoding(body: bytes) -> str:
    match = re.match(rb"\s*<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)[\"']", body)
    return match.group(1).decode("ascii") if match else "utf-8"


# --------------------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------------------


class _SafeEntsoeClient(EntsoePandasClient):
    """``EntsoePandasClient`` whose every request goes through ``_base_request`` below:
    disk cache, no token in logs or errors, BTUT errors, XML periods recorded."""

    def __init__(
        self, api_key: str, session: requests.Session, cache: _ResponseCache, zone_code: str
    ) -> None:
        super().__init__(
            api_key=api_key,
            session=session,
            timeout=REQUEST_TIMEOUT_S,  # type: ignore[arg-type]  # entsoe-py: int; requests: a pair
        )
        self._cache = cache
        self._zone_code = zone_code
        self._label = "request"
        self.periods: dict[str, list[_Period]] = {}
        self.network_requests = 0

    def begin(self, label: str) -> None:
        """Name the query the next requests belong to (for messages and periods)."""
        self._label = label
        self.periods[label] = []

    def _fail(self, what: str) -> DataUnavailableError:
        return DataUnavailableError(
            _scrub(f"ENTSO-E {self._label} for zone {self._zone_code}: {what}", self.api_key)
        )

    def _base_request(
        self, params: dict, start: pd.Timestamp, end: pd.Timestamp
    ) -> requests.Response:
        """GET the API (or the cache) with ``params`` for ``[start, end)``.

        Same semantics as entsoe-py's: "no matching data" (HTTP error or 200
        acknowledgement) raises ``NoMatchingDataError``, the other known acknowledgement
        texts raise entsoe-py's exceptions; anything else that failed raises
        ``DataUnavailableError``. Parameters are never logged with the token.
        """
        url = _entsoe_module.URL
        public = {str(k): str(v) for k, v in params.items() if str(k) != "securityToken"}
        public["periodStart"] = self._datetime_to_str(start)
        public["periodEnd"] = self._datetime_to_str(end)
        key = _ResponseCache.key(url, public)
        shown = " ".join(f"{k}={v}" for k, v in sorted(public.items()))

        hit = self._cache.get(key)
        if hit is not None:
            meta, body = hit
            logger.debug("ENTSO-E %s: cache hit %s (%s)", self._label, key[:12], shown)
            if meta["kind"] == "nodata":
                raise NoMatchingDataError
            return self._accept(body, meta.get("content_type", ""), meta.get("encoding"), url)

        logger.debug("ENTSO-E %s: GET %s", self._label, shown)
        status, reason, content_type, encoding, body = self._get(url, public)

        if status >= 400:
            text = _scrub(_reason_text(body), self.api_key)
            if _NO_DATA in text:
                self._store(key, public, "nodata", content_type, encoding, body)
                raise NoMatchingDataError
            self._raise_known(text)
            raise self._fail(f"the API answered HTTP {status} {reason}: {text[:300]}")

        if _is_xml(content_type, body):
            if b"Acknowledgement_MarketDocument" in body:
                text = _scrub(_reason_text(body), self.api_key)
                if _NO_DATA in text:
                    self._store(key, public, "nodata", content_type, encoding, body)
                    raise NoMatchingDataError
                self._raise_known(text)
                raise self._fail(f"the API answered with an acknowledgement: {text[:300]}")
            if b"MarketDocument" in body and b"TimeSeries" not in body:
                # A valid document without any series: no data (entsoe-py would crash on it).
                self._store(key, public, "nodata", content_type, encoding, body)
                raise NoMatchingDataError
            if _NO_DATA.encode() in body:  # entsoe-py's own 200 check
                self._store(key, public, "nodata", content_type, encoding, body)
                raise NoMatchingDataError
            if b"MarketDocument" in body:
                self._store(key, public, "data", content_type, encoding, body)
        return self._accept(body, content_type, encoding, url)

    def _get(self, url: str, public: dict[str, str]) -> tuple[int, str, str, str | None, bytes]:
        """One GET with the token; (status, reason, content type, encoding, body)."""
        query = {**public, "securityToken": self.api_key}
        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            try:
                self.network_requests += 1
                response = self.session.get(
                    url=url, params=query, proxies=self.proxies, timeout=self.timeout
                )
                body = response.content
                return (
                    response.status_code,
                    str(response.reason or ""),
                    response.headers.get("content-type", ""),
                    response.encoding,
                    body,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt < CONNECT_ATTEMPTS:
                    logger.warning(
                        "ENTSO-E %s for zone %s: %s, retrying in %.0f s",
                        self._label,
                        self._zone_code,
                        type(exc).__name__,
                        RETRY_DELAY_S,
                    )
                    time.sleep(RETRY_DELAY_S)
                    continue
                host = urllib.parse.urlsplit(url).netloc or url
                reason = f"{type(exc).__name__}: cannot reach {host}"
                raise self._fail(f"network error ({reason})") from None
            except requests.RequestException as exc:
                raise self._fail(f"request failed ({type(exc).__name__}: {exc})") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _raise_known(self, text: str) -> None:
        """entsoe-py's exceptions for the acknowledgement texts it knows."""
        if "check you request against dependency tables" in text:
            raise InvalidBusinessParameterError(text)
        if "is not valid for this area" in text:
            raise InvalidPSRTypeError(text)
        if "amount of requested data exceeds allowed limit" in text or (
            "offset parameter exceeds the allowed limit" in text
        ):
            raise PaginationError(text)

    def _store(
        self,
        key: str,
        public: dict[str, str],
        kind: str,
        content_type: str,
        encoding: str | None,
        body: bytes,
    ) -> None:
        """Cache the response if its period is settled and it cannot hold the key."""
        period_end = pd.Timestamp(dt.datetime.strptime(public["periodEnd"], "%Y%m%d%H%M"), tz="UTC")
        if period_end > pd.Timestamp.now(tz="UTC") - SETTLE_TIME:
            logger.debug("ENTSO-E %s: period not settled, not cached", self._label)
            return
        if self.api_key.encode("utf-8") in body:
            return
        meta = {
            "kind": kind,
            "content_type": content_type,
            "encoding": encoding,
            "params": public,
            "stored_utc": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        }
        self._cache.put(key, meta, body)

    def _accept(
        self, body: bytes, content_type: str, encoding: str | None, url: str
    ) -> requests.Response:
        """Record the XML periods, then hand entsoe-py a clean 200 response."""
        if _is_xml(content_type, body):
            root = _parse_xml(body)
            if root is not None:
                self.periods.setdefault(self._label, []).extend(_periods_of(root))
            if encoding is None:
                encoding = _xml_encoding(body)
            body = _normalise_body(body)
        return _response(body, content_type, encoding, url)


# --------------------------------------------------------------------------------------
# Queries and columns
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Part:
    """One series the API returned, feeding an output column."""

    series: pd.Series  # float values at UTC interval starts, sorted, unique
    minutes: np.ndarray  # native interval length of each value, minutes


@dataclass(frozen=True)
class _Query:
    label: str
    call: Callable[[EntsoePandasClient, Area, pd.Timestamp, pd.Timestamp], Any]
    # output column -> (entsoe-py column or None for a Series, psrType) of its parts
    columns: dict[str, tuple[tuple[str | None, str | None], ...]]
    price: bool = False


_WIND_PARTS = (("Wind Onshore", "B19"), ("Wind Offshore", "B18"))

_QUERIES: tuple[_Query, ...] = (
    _Query(
        "day-ahead prices",
        lambda c, a, s, e: c.query_day_ahead_prices(a, start=s, end=e),
        {"price_eur_per_mwh": ((None, None),)},
        price=True,
    ),
    _Query(
        "actual total load",
        lambda c, a, s, e: c.query_load(a, start=s, end=e),
        {"load_mw": (("Actual Load", None),)},
    ),
    _Query(
        "day-ahead total load forecast",
        lambda c, a, s, e: c.query_load_forecast(a, start=s, end=e),
        {"load_forecast_mw": (("Forecasted Load", None),)},
    ),
    _Query(
        "actual generation per type",
        lambda c, a, s, e: c.query_generation(a, start=s, end=e),
        {"solar_mw": (("Solar", "B16"),), "wind_mw": _WIND_PARTS},
    ),
    _Query(
        "wind and solar forecast",
        lambda c, a, s, e: c.query_wind_and_solar_forecast(a, start=s, end=e),
        {"solar_forecast_mw": (("Solar", "B16"),), "wind_forecast_mw": _WIND_PARTS},
    ),
)


def _pick(result: pd.Series | pd.DataFrame, name: str | None) -> pd.Series | None:
    """Column ``name`` of an entsoe-py result (generation: its 'Actual Aggregated' values).

    entsoe-py drops the metric level of generation columns per month block, so a
    multi-month result can hold both ``name`` and ``(name, 'Actual Aggregated')``.
    """
    frame = result.to_frame() if isinstance(result, pd.Series) else result
    if name is None:
        return frame.iloc[:, 0] if frame.shape[1] == 1 else None
    wanted = (name, "Actual Aggregated")
    positions = [
        i
        for i, c in enumerate(frame.columns)
        if c == name or (isinstance(c, tuple) and tuple(c) == wanted)
    ]
    if not positions:
        return None
    out = frame.iloc[:, positions[0]]
    for i in positions[1:]:
        out = out.combine_first(frame.iloc[:, i])
    return out


def _clean(series: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Float values at UTC instants in ``[start, end)``, sorted, first of duplicates kept."""
    s = series.astype("float64")
    index = pd.DatetimeIndex(s.index)
    s.index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    s = s.sort_index(kind="stable")
    s = s[~s.index.duplicated(keep="first")]
    return s[(s.index >= start) & (s.index < end)]


def _native_minutes(
    index: pd.DatetimeIndex,
    periods: Iterable[_Period],
    psr: str | None,
    price: bool,
) -> np.ndarray:
    """Interval length (minutes) of each value: the finest XML Period containing it."""
    n = len(index)
    cands = [p for p in periods if psr is None or p.psr == psr]
    starts = np.array([p.start.value for p in cands], dtype="int64")
    ends = np.array([p.end.value for p in cands], dtype="int64")
    mins = np.array([p.minutes for p in cands], dtype="float64")
    t = index.as_unit("ns").asi8
    out = np.full(n, np.inf)
    for s0, e0, m in zip(starts, ends, mins, strict=True):  # few periods: fine
        inside = (t >= s0) & (t < e0)
        out[inside] = np.minimum(out[inside], m)
    if np.isinf(out).any():
        if len(mins):
            fallback = float(mins.min())
        elif n >= 2:
            step = int(np.diff(t).min() // 60_000_000_000)
            fallback = 60.0 if step % 60 == 0 else 30.0 if step % 30 == 0 else 15.0
        else:
            fallback = 60.0
        out[np.isinf(out)] = fallback
    if price and _SDAC_15MIN_GOLIVE is not None:
        # entsoe-py resamples pre-go-live day-ahead prices to hourly itself.
        out[t < _SDAC_15MIN_GOLIVE.value] = 60.0
    return out.astype("int64")


def _quarters(part: _Part, start: pd.Timestamp, n: int) -> np.ndarray:
    """The part on the 15-minute grid: each value over its own interval only."""
    grid = np.full(n, np.nan)
    if part.series.empty:
        return grid
    offset = (part.series.index - start) // _QUARTER
    aligned = ((part.series.index - start) % _QUARTER) == pd.Timedelta(0)
    q = np.asarray(offset, dtype="int64")[aligned]
    values = part.series.to_numpy()[aligned]
    k = part.minutes[aligned] // 15
    if not len(q):
        return grid
    # never beyond the next value (clean, non-overlapping spans)
    k = np.maximum(np.minimum(k, np.diff(q, append=n)), 1)
    first = np.cumsum(k) - k
    pos = np.repeat(q, k) + (np.arange(int(k.sum())) - np.repeat(first, k))
    keep = pos < n
    grid[pos[keep]] = np.repeat(values, k)[keep]
    return grid


def _to_step(quarters: np.ndarray, step: int) -> np.ndarray:
    """Interval mean of complete intervals of ``step`` minutes (NaN if any quarter is NaN)."""
    k = step // 15
    if k == 1:
        return quarters
    blocks = quarters.reshape(-1, k)
    mean = blocks.mean(axis=1)
    # a block of identical values (one coarse value repeated) keeps that exact value
    same = blocks.min(axis=1) == blocks.max(axis=1)
    return np.where(same, blocks[:, 0], mean)


def _fmt(minutes: int) -> str:
    return f"{minutes}min"


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def _as_utc(value: Any, what: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"{what} {value!r} is not a timestamp") from None
    if ts is pd.NaT or pd.isna(ts):
        raise InvalidParameterError(f"{what} must be a timestamp, got NaT")
    if ts.tzinfo is None:
        raise InvalidParameterError(
            f"{what} {ts} has no time zone; pass a UTC timestamp, e.g. pd.Timestamp(..., tz='UTC')"
        )
    return ts.tz_convert("UTC")


def _area_of(zone: Zone) -> Area:
    if zone.code in Area.__members__:
        return Area[zone.code]
    try:
        # callers check zone.on_entsoe; a None would be a ValueError here anyway
        return lookup_area(cast(str, zone.entsoe_eic))
    except ValueError:
        raise DataUnavailableError(f"zone {zone.code} is not an entsoe-py area") from None


def fetch_entsoe(
    zone: Zone,
    start_utc: pd.Timestamp,
    end_utc: pd.Timestamp,
    *,
    cache_dir: str | os.PathLike | None = None,
    api_key: str | None = None,
    session: requests.Session | None = None,
    resolution: str = "native",
    progress: Callable[[int, int, str], None] | None = None,
) -> pd.DataFrame:
    """Market data of ``zone`` for ``[start_utc, end_utc)`` from the ENTSO-E API.

    Parameters
    ----------
    zone : an ENTSO-E zone (``data.zones.get_zone("ES")``; a code string is accepted).
    start_utc, end_utc : tz-aware timestamps on whole hours; ``end_utc`` is exclusive.
    cache_dir : response cache (default ``$BTUT_CACHE_DIR`` or ``~/.cache/btut``).
    api_key : ENTSO-E security token (default ``$ENTSOE_API_KEY``).
    session : ``requests.Session`` to use (default: a new one, closed afterwards).
    resolution : ``"native"``, ``"60min"`` or ``"15min"`` (module docstring).
    progress : ``callback(done, total, what)`` after each of the API's queries (prices,
        load, load forecast, generation, wind and solar forecast; each one or more
        requests, or none when cached): a long download says where it is.

    Returns
    -------
    DataFrame on a regular UTC grid ``time_utc`` (interval start) covering the range,
    with the columns the API returned: prices in EUR/MWh, powers in MW (interval
    averages); missing values NaN. ``attrs``: ``source``, ``resolution``, ``resampled``.

    Raises
    ------
    InvalidParameterError, MissingCredentialsError (before any request),
    DataUnavailableError (zone not on ENTSO-E, a start before ``FIRST_DAY``, API or network
    failure, no data at all).
    """
    if resolution not in RESOLUTIONS:
        raise InvalidParameterError(
            f"resolution must be one of {', '.join(RESOLUTIONS)}, got {resolution!r}"
        )
    start, end = _as_utc(start_utc, "start_utc"), _as_utc(end_utc, "end_utc")
    if end <= start:
        raise InvalidParameterError(f"end_utc {end} must be after start_utc {start}")
    if isinstance(zone, str):
        zone = get_zone(zone)
    if not isinstance(zone, Zone):
        raise InvalidParameterError(
            f"zone must be a zone code such as 'ES' or a data.zones.Zone, got {zone!r}"
        )
    # before the hours: a day of 1900 is off the hour in local mean time, not the real problem
    first = pd.Timestamp(FIRST_DAY).tz_localize(zone.tz).tz_convert("UTC")
    if start < first:
        raise DataUnavailableError(
            f"start_utc {start} is before {FIRST_DAY} ({zone.tz}), the first day ENTSO-E's "
            "Transparency Platform serves"
        )
    if start != start.floor("h") or end != end.floor("h"):
        raise InvalidParameterError(
            f"start_utc {start} and end_utc {end} must be whole hours (ENTSO-E queries are hourly)"
        )
    if not zone.on_entsoe:
        raise DataUnavailableError(
            f"zone {zone.code} is not served by the ENTSO-E Transparency API (no EIC code)"
        )
    key = (api_key or os.environ.get("ENTSOE_API_KEY") or "").strip()
    if not key:
        raise MissingCredentialsError(MISSING_KEY_MESSAGE)

    area = _area_of(zone)
    _install_log_redaction()
    own_session = session is None
    client = _SafeEntsoeClient(
        api_key=key,
        session=requests.Session() if own_session else cast(requests.Session, session),
        cache=_ResponseCache(cache_root(cache_dir)),
        zone_code=zone.code,
    )
    columns: dict[str, list[_Part]] = {}
    try:
        for done, query in enumerate(_QUERIES, start=1):
            result = _run_query(client, query, area, start, end, key)
            if progress is not None:
                progress(done, len(_QUERIES), query.label)
            if result is None:
                continue
            periods = client.periods.get(query.label, [])
            for column, specs in query.columns.items():
                for name, psr in specs:
                    raw = _pick(result, name)
                    if raw is None:
                        continue
                    series = _clean(raw, start, end)
                    if series.empty:
                        continue
                    minutes = _native_minutes(series.index, periods, psr, query.price)
                    columns.setdefault(column, []).append(_Part(series, minutes))
    finally:
        if own_session:
            client.session.close()
    logger.debug(
        "ENTSO-E %s %s..%s: %d network request(s), columns %s",
        zone.code,
        start.isoformat(),
        end.isoformat(),
        client.network_requests,
        sorted(columns),
    )
    if not columns:
        raise DataUnavailableError(
            f"ENTSO-E returned no data for zone {zone.code} between {start.isoformat()} "
            f"and {end.isoformat()}"
        )
    return _assemble(columns, start, end, resolution)


def _run_query(
    client: _SafeEntsoeClient,
    query: _Query,
    area: Area,
    start: pd.Timestamp,
    end: pd.Timestamp,
    key: str,
) -> Any | None:
    """entsoe-py's result for one query; None when the API has no data for it."""
    client.begin(query.label)
    try:
        return query.call(client, area, start, end)
    except NoMatchingDataError:
        logger.debug("ENTSO-E %s for zone %s: no matching data", query.label, area.name)
        return None
    except BTUTError:
        raise
    except (InvalidBusinessParameterError, InvalidPSRTypeError, PaginationError) as exc:
        raise DataUnavailableError(
            _scrub(f"ENTSO-E {query.label} for zone {area.name}: {exc or type(exc).__name__}", key)
        ) from None
    except Exception as exc:  # entsoe-py could not read what the API sent
        message = _scrub(
            f"ENTSO-E {query.label} for zone {area.name}: unreadable response "
            f"({type(exc).__name__}: {exc})",
            key,
        )
        cause = None if key in repr(exc) else exc
        raise DataUnavailableError(message) from cause


def _assemble(
    columns: dict[str, list[_Part]], start: pd.Timestamp, end: pd.Timestamp, resolution: str
) -> pd.DataFrame:
    """Put every column on one grid (module docstring, "Resolution")."""
    natives = {
        c: sorted({int(m) for p in parts for m in p.minutes}) for c, parts in columns.items()
    }
    if resolution == "native":
        step = max(m for ms in natives.values() for m in ms)
    else:
        step = int(resolution.removesuffix("min"))
    n = (end - start) // _QUARTER
    index = pd.date_range(start, end, freq=f"{step}min", inclusive="left", name=INDEX_NAME)
    data: dict[str, np.ndarray] = {}
    resampled: dict[str, dict[str, str]] = {}
    for column, parts in columns.items():
        quarters = _quarters(parts[0], start, n)
        for part in parts[1:]:
            quarters = quarters + _quarters(part, start, n)  # NaN if any part is NaN
        data[column] = _to_step(quarters, step)
        if natives[column] != [step]:
            resampled[column] = {
                "from": ",".join(_fmt(m) for m in natives[column]),
                "to": _fmt(step),
                "method": "mean" if max(natives[column]) <= step else "repeat",
            }
    frame = pd.DataFrame(data, index=index)
    frame.attrs["source"] = "entsoe"
    frame.attrs["resolution"] = _fmt(step)
    frame.attrs["resampled"] = resampled
    return frame


__all__ = [
    "CONNECT_ATTEMPTS",
    "FIRST_DAY",
    "MISSING_KEY_MESSAGE",
    "RESOLUTIONS",
    "SETTLE_TIME",
    "cache_root",
    "fetch_entsoe",
]
