"""``data.entsoe_api.fetch_entsoe`` against a mocked ENTSO-E API serving real XML.

The API is mocked with ``responses``; the bodies are the real ENTSO-E samples in
``shared/data/entsoe/xml`` or documents built from them as templates. Expected values are
read from the XML served, not hard-coded.
"""

from __future__ import annotations

import json
import logging
import os
import re
import traceback
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest
import requests
import responses
from entsoe.entsoe import URL

import data.entsoe_api as entsoe_api
from data.entsoe_api import fetch_entsoe
from data.errors import DataUnavailableError, InvalidParameterError, MissingCredentialsError
from data.zones import get_zone

XML_DIR = Path(__file__).parents[2].parent / "shared/data/entsoe/xml"
KEY = "SECRET-KEY-123"
pytestmark = [  # entsoe-py's own warnings (bs4 parses XML as HTML; pandas 4 deprecation)
    pytest.mark.filterwarnings("ignore::bs4.XMLParsedAsHTMLWarning"),
    pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning"),
]
CZ = get_zone("CZ")
H = pd.Timedelta(hours=1)

# (documentType, processType) of each query fetch_entsoe makes
PRICE = ("A44", None)
LOAD = ("A65", "A16")
LOAD_FORECAST = ("A65", "A01")
GENERATION = ("A75", "A16")
WIND_SOLAR_FORECAST = ("A69", "A01")


# --------------------------------------------------------------------------------------
# samples and templates
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def samples() -> dict[str, str]:
    """The three real XML samples, by file name."""
    names = (
        "gl.load.singlepoint.xml",
        "acknowledgement.invalidrequest.xml",
        "publication.a03curvetype.xml",
    )
    if not all((XML_DIR / n).is_file() for n in names):
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(f"ENTSO-E XML samples missing in {XML_DIR}")
        pytest.skip(f"ENTSO-E XML samples not available in {XML_DIR}")
    return {n: (XML_DIR / n).read_text(encoding="utf-8") for n in names}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(element: ET.Element, name: str) -> ET.Element:
    return next(el for el in element.iter() if _local(el.tag) == name)


def read_series(xml_text: str, label: str) -> pd.Series:
    """Values of the first Period of an XML document as ENTSO-E defines them.

    A03 curves: a missing position repeats the previous value; A01: a missing position
    is a missing value (absent from the result).
    """
    root = ET.fromstring(xml_text)
    curve = _find(root, "curveType").text
    period = _find(root, "Period")
    start = pd.Timestamp(_find(_find(period, "timeInterval"), "start").text)
    end = pd.Timestamp(_find(_find(period, "timeInterval"), "end").text)
    res = _find(period, "resolution").text
    step = {"PT1H": H, "PT60M": H}.get(res) or pd.Timedelta(minutes=int(res[2:-1]))
    points = {
        int(_find(p, "position").text): float(_find(p, label).text)
        for p in period
        if _local(p.tag) == "Point"
    }
    if curve == "A03":
        n = int((end - start) / step)
        values, last = [], np.nan
        for pos in range(1, n + 1):
            last = points.get(pos, last)
            values.append(last)
        return pd.Series(values, index=pd.date_range(start, periods=n, freq=step))
    return pd.Series({start + (pos - 1) * step: v for pos, v in sorted(points.items())})


def _iso(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").strftime("%Y-%m-%dT%H:%MZ")


def _period_xml(
    start: pd.Timestamp, resolution: str, values: Sequence[float | None], label: str
) -> str:
    step = pd.Timedelta(minutes=int(resolution[2:-1]))
    end = start + len(values) * step
    points = "".join(
        f"<Point><position>{i}</position><{label}>{v}</{label}></Point>"
        for i, v in enumerate(values, start=1)
        if v is not None
    )
    return (
        f"<Period><timeInterval><start>{_iso(start)}</start><end>{_iso(end)}</end>"
        f"</timeInterval><resolution>{resolution}</resolution>{points}</Period>"
    )


def price_doc(
    samples: dict[str, str],
    start: pd.Timestamp,
    resolution: str,
    values: Sequence[float | None],
    more: Sequence[tuple[pd.Timestamp, str, Sequence[float | None]]] = (),
) -> str:
    """A44 day-ahead price document from the publication sample (A01 curve); ``more``
    adds Periods (start, resolution, values) to its TimeSeries."""
    text = samples["publication.a03curvetype.xml"]
    periods = [(start, resolution, values), *more]
    xml = "".join(_period_xml(s, r, v, "price.amount") for s, r, v in periods)
    end = max(s + len(v) * pd.Timedelta(minutes=int(r[2:-1])) for s, r, v in periods)
    text = re.sub(r"<Period>.*</Period>", xml, text, flags=re.S)
    text = text.replace("<curveType>A03</curveType>", "<curveType>A01</curveType>")
    return re.sub(
        r"<period\.timeInterval>.*?</period\.timeInterval>",
        f"<period.timeInterval><start>{_iso(start)}</start><end>{_iso(end)}</end>"
        "</period.timeInterval>",
        text,
        flags=re.S,
    )


def gl_doc(
    samples: dict[str, str],
    doc_type: str,
    process_type: str,
    start: pd.Timestamp,
    series: Sequence[tuple[str | None, str, Sequence[float | None]]],
) -> str:
    """GL_MarketDocument (load A65, generation A75, forecast A69) from the load sample.

    ``series``: (psrType or None, resolution, values) per TimeSeries; a psrType such as
    ``"B16:consumption"`` makes a consumption series (outBiddingZone_Domain).
    """
    text = samples["gl.load.singlepoint.xml"]
    head, ts_template, tail = re.match(
        r"(.*?)(<TimeSeries>.*</TimeSeries>)(.*)", text, flags=re.S
    ).groups()
    blocks = []
    for i, (psr, resolution, values) in enumerate(series, start=1):
        block = ts_template.replace("<mRID>1</mRID>", f"<mRID>{i}</mRID>")
        period = _period_xml(start, resolution, values, "quantity")
        block = re.sub(r"<Period>.*</Period>", period, block, flags=re.S)
        if psr is not None:  # generation, with its production type
            psr, _, consumption = psr.partition(":")
            if not consumption:  # produced in the zone (else: consumed, outBiddingZone)
                block = block.replace("outBiddingZone_Domain", "inBiddingZone_Domain")
            block = block.replace(
                "<curveType>", f"<MktPSRType><psrType>{psr}</psrType></MktPSRType><curveType>"
            )
        blocks.append(block)
    head = head.replace("<type>A65</type>", f"<type>{doc_type}</type>")
    head = head.replace(
        "<process.processType>A16</process.processType>",
        f"<process.processType>{process_type}</process.processType>",
    )
    return head + "".join(blocks) + tail


def ack_doc(samples: dict[str, str], reason: str) -> str:
    """An Acknowledgement_MarketDocument with another reason text."""
    return samples["acknowledgement.invalidrequest.xml"].replace(
        "<text>No matching data found</text>", f"<text>{reason}</text>"
    )


# --------------------------------------------------------------------------------------
# fake API
# --------------------------------------------------------------------------------------


class FakeApi:
    """Routes GETs to ``URL`` by (documentType, processType); unrouted -> "no data".

    Requests with ``offset`` > 0 (entsoe-py pages day-ahead prices) get "no data".
    A route body may be an exception (raised) or a callable(request) -> body.
    """

    def __init__(self, rsps: responses.RequestsMock, no_data: str) -> None:
        self.routes: dict[tuple[str, str | None], tuple[int, object]] = {}
        self.no_data = no_data
        self.params: list[dict[str, str]] = []
        rsps.add_callback(responses.GET, URL, callback=self._serve)

    def route(self, query: tuple[str, str | None], body: object, status: int = 200) -> None:
        self.routes[query] = (status, body)

    def _serve(self, request: requests.PreparedRequest) -> tuple[int, dict, str]:
        params = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        self.params.append(params)
        xml = {"Content-Type": "text/xml"}
        if int(params.get("offset", "0")) > 0:
            return 200, xml, self.no_data
        status, body = self.routes.get(
            (params["documentType"], params.get("processType")), (200, self.no_data)
        )
        if isinstance(body, BaseException):
            raise body
        if callable(body):
            body = body(request)
        return status, xml, body


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real key, no home cache, no retry pause."""
    monkeypatch.delenv("ENTSOE_API_KEY", raising=False)
    monkeypatch.setenv("BTUT_CACHE_DIR", str(tmp_path / "env-cache"))
    monkeypatch.setattr(entsoe_api, "RETRY_DELAY_S", 0.0)


@pytest.fixture
def rsps() -> responses.RequestsMock:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def api(rsps: responses.RequestsMock, samples: dict[str, str]) -> FakeApi:
    return FakeApi(rsps, samples["acknowledgement.invalidrequest.xml"])


def fetch(start: pd.Timestamp, end: pd.Timestamp, tmp_path: Path, **kw) -> pd.DataFrame:
    kw.setdefault("api_key", KEY)
    kw.setdefault("cache_dir", tmp_path / "cache")
    return fetch_entsoe(CZ, start, end, **kw)


def assert_grid(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, step: str) -> None:
    expected = pd.date_range(start, end, freq=step, inclusive="left", tz="UTC", name="time_utc")
    pd.testing.assert_index_equal(
        frame.index.as_unit("ns"), expected.as_unit("ns"), check_exact=True
    )
    assert str(frame.index.tz) == "UTC"


# --------------------------------------------------------------------------------------
# the real samples
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("resolution", ["native", "60min"])
def test_a03_price_sample(api, samples, tmp_path, resolution):
    """A03 curve, PT1H, positions 1/3/6: missing positions repeat the previous value."""
    xml = samples["publication.a03curvetype.xml"]
    api.route(PRICE, xml)
    expected = read_series(xml, "price.amount")  # 50, 50, 55, 55, 55, 60
    start, end = expected.index[0], expected.index[-1] + H

    frame = fetch(start, end, tmp_path, resolution=resolution)

    assert list(frame.columns) == ["price_eur_per_mwh"]  # every other query: no data
    assert_grid(frame, start, end, "60min")
    np.testing.assert_array_equal(frame["price_eur_per_mwh"].to_numpy(), expected.to_numpy())
    assert frame.attrs["source"] == "entsoe"
    assert frame.attrs["resampled"] == {}
    assert frame.attrs["resolution"] == "60min"


def test_single_point_load_sample(api, samples, tmp_path):
    """One PT60M Point for a year: entsoe-py yields it for its own hour only; no filling."""
    xml = samples["gl.load.singlepoint.xml"]
    api.route(LOAD, xml)
    expected = read_series(xml, "quantity")
    start = expected.index[0]
    end = start + 24 * H

    frame = fetch(start, end, tmp_path)

    assert list(frame.columns) == ["load_mw"]
    assert_grid(frame, start, end, "60min")
    assert frame["load_mw"].iloc[0] == expected.iloc[0]  # 6288 MW
    assert frame["load_mw"].iloc[1:].isna().all()


@pytest.mark.parametrize("status", [200, 400])
def test_no_matching_data_leaves_only_that_column_out(api, samples, tmp_path, status):
    """The acknowledgement sample ("No matching data found"), as 200 or as HTTP 400."""
    price_xml = samples["publication.a03curvetype.xml"]
    expected = read_series(price_xml, "price.amount")
    start, end = expected.index[0], expected.index[-1] + H
    values = [5000.0 + i for i in range(6)]
    api.route(PRICE, price_xml)
    api.route(LOAD_FORECAST, gl_doc(samples, "A65", "A01", start, [(None, "PT60M", values)]))
    api.route(LOAD, samples["acknowledgement.invalidrequest.xml"], status=status)

    frame = fetch(start, end, tmp_path)

    assert list(frame.columns) == ["price_eur_per_mwh", "load_forecast_mw"]
    assert "load_mw" not in frame.columns  # absent, not zeros
    np.testing.assert_array_equal(frame["load_forecast_mw"].to_numpy(), values)
    np.testing.assert_array_equal(frame["price_eur_per_mwh"].to_numpy(), expected.to_numpy())


# --------------------------------------------------------------------------------------
# mixed resolutions (documents built from the samples)
# --------------------------------------------------------------------------------------

DAY = pd.Timestamp("2025-10-14T22:00Z")  # 2025-10-15 in Prague, after the SDAC 15-min go-live
GAP_QUARTER = 9  # quarter index (0-based) left out of the 15-min price: hour 2 incomplete
OFFSHORE_GAP_HOUR = 5


def _day_documents(samples: dict[str, str], day: pd.Timestamp = DAY) -> dict:
    """A full day: PT15M price with one missing quarter, everything else PT60M."""
    price = [round(40.0 + 1.25 * (q % 7) - 0.5 * (q // 4), 2) for q in range(96)]
    price[GAP_QUARTER] = None
    hourly = {
        "load": [5000.0 + 10 * h for h in range(24)],
        "load_forecast": [5100.0 + 7 * h for h in range(24)],
        "solar": [max(0.0, 120.0 * (6 - abs(h - 12))) for h in range(24)],
        "onshore": [300.0 + 3 * h for h in range(24)],
        "offshore": [float(20 + h) for h in range(24)],
        "solar_fc": [max(0.0, 110.0 * (6 - abs(h - 12))) for h in range(24)],
        "onshore_fc": [310.0 + 2 * h for h in range(24)],
    }
    hourly["offshore"][OFFSHORE_GAP_HOUR] = None
    api_docs = {
        PRICE: price_doc(samples, day, "PT15M", price),
        LOAD: gl_doc(samples, "A65", "A16", day, [(None, "PT60M", hourly["load"])]),
        LOAD_FORECAST: gl_doc(
            samples, "A65", "A01", day, [(None, "PT60M", hourly["load_forecast"])]
        ),
        GENERATION: gl_doc(
            samples,
            "A75",
            "A16",
            day,
            [
                ("B16", "PT60M", hourly["solar"]),
                ("B19", "PT60M", hourly["onshore"]),
                ("B18", "PT60M", hourly["offshore"]),
            ],
        ),
        WIND_SOLAR_FORECAST: gl_doc(  # no offshore series: wind forecast = onshore
            samples,
            "A69",
            "A01",
            day,
            [("B16", "PT60M", hourly["solar_fc"]), ("B19", "PT60M", hourly["onshore_fc"])],
        ),
    }
    return {"price": price, **hourly, "docs": api_docs}


def _serve_day(api: FakeApi, samples: dict[str, str], start: pd.Timestamp = DAY) -> dict:
    day = _day_documents(samples, start)
    for query, xml in day["docs"].items():
        api.route(query, xml)
    return day


def _arr(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def test_native_aggregates_15min_price_to_hourly(api, samples, tmp_path):
    day = _serve_day(api, samples)
    frame = fetch(DAY, DAY + 24 * H, tmp_path)

    assert_grid(frame, DAY, DAY + 24 * H, "60min")
    assert list(frame.columns) == [
        "price_eur_per_mwh",
        "load_mw",
        "load_forecast_mw",
        "solar_mw",
        "wind_mw",
        "solar_forecast_mw",
        "wind_forecast_mw",
    ]
    # the price read back from the XML we served, then the hourly mean of its quarters
    quarters = read_series(day["docs"][PRICE], "price.amount").reindex(
        pd.date_range(DAY, periods=96, freq="15min")
    )
    hourly_mean = quarters.to_numpy().reshape(24, 4).mean(axis=1)  # NaN if a quarter is NaN
    np.testing.assert_allclose(frame["price_eur_per_mwh"].to_numpy(), hourly_mean, rtol=1e-12)
    assert np.isnan(frame["price_eur_per_mwh"].iloc[GAP_QUARTER // 4])  # incomplete hour
    assert frame["price_eur_per_mwh"].notna().sum() == 23
    # hourly series untouched, exact
    np.testing.assert_array_equal(frame["load_mw"].to_numpy(), _arr(day["load"]))
    np.testing.assert_array_equal(frame["load_forecast_mw"].to_numpy(), _arr(day["load_forecast"]))
    np.testing.assert_array_equal(frame["solar_mw"].to_numpy(), _arr(day["solar"]))
    np.testing.assert_array_equal(frame["solar_forecast_mw"].to_numpy(), _arr(day["solar_fc"]))
    # wind = onshore + offshore, NaN where the offshore part is missing (never filled)
    wind = _arr(day["onshore"]) + _arr(day["offshore"])
    np.testing.assert_array_equal(frame["wind_mw"].to_numpy(), wind)
    assert np.isnan(frame["wind_mw"].iloc[OFFSHORE_GAP_HOUR])
    np.testing.assert_array_equal(frame["wind_forecast_mw"].to_numpy(), _arr(day["onshore_fc"]))

    assert frame.attrs["resolution"] == "60min"
    assert frame.attrs["resampled"] == {
        "price_eur_per_mwh": {"from": "15min", "to": "60min", "method": "mean"}
    }


def test_15min_repeats_coarser_series(api, samples, tmp_path):
    day = _serve_day(api, samples)
    frame = fetch(DAY, DAY + 24 * H, tmp_path, resolution="15min")

    assert_grid(frame, DAY, DAY + 24 * H, "15min")
    np.testing.assert_array_equal(frame["price_eur_per_mwh"].to_numpy(), _arr(day["price"]))
    assert np.isnan(frame["price_eur_per_mwh"].iloc[GAP_QUARTER])
    assert frame["price_eur_per_mwh"].notna().sum() == 95  # only the missing quarter
    np.testing.assert_array_equal(frame["load_mw"].to_numpy(), np.repeat(_arr(day["load"]), 4))
    wind = np.repeat(_arr(day["onshore"]) + _arr(day["offshore"]), 4)
    np.testing.assert_array_equal(frame["wind_mw"].to_numpy(), wind)

    repeat = {"from": "60min", "to": "15min", "method": "repeat"}
    assert frame.attrs["resolution"] == "15min"
    assert frame.attrs["resampled"] == {
        c: repeat
        for c in (
            "load_mw",
            "load_forecast_mw",
            "solar_mw",
            "wind_mw",
            "solar_forecast_mw",
            "wind_forecast_mw",
        )
    }


def _expected_on_step(values: np.ndarray, native_min: int, step_min: int) -> np.ndarray:
    """Reference: mean over complete intervals when coarsening, repeat when refining."""
    if native_min == step_min:
        return values
    if native_min < step_min:
        return values.reshape(-1, step_min // native_min).mean(axis=1)
    return np.repeat(values, native_min // step_min)


@pytest.mark.parametrize(
    ("day", "load_res", "price_res", "resolution", "step"),
    [
        ("2024-03-01T23:00Z", "PT15M", "PT60M", "native", 60),  # 15-min load, hourly price
        ("2025-10-14T22:00Z", "PT30M", "PT15M", "native", 30),  # coarsest is 30 min
        ("2025-10-14T22:00Z", "PT15M", "PT15M", "native", 15),  # all 15 min: kept
        ("2024-03-01T23:00Z", "PT60M", "PT60M", "60min", 60),  # all hourly: nothing done
        ("2025-10-14T22:00Z", "PT30M", "PT15M", "60min", 60),
        ("2025-10-14T22:00Z", "PT30M", "PT15M", "15min", 15),
    ],
)
def test_resolution_rules(api, samples, tmp_path, day, load_res, price_res, resolution, step):
    start = pd.Timestamp(day)
    load_min, price_min = int(load_res[2:-1]), int(price_res[2:-1])
    load = [4000.0 + 3.5 * i for i in range(24 * 60 // load_min)]
    price = [30.0 + (i % 5) * 2.5 for i in range(24 * 60 // price_min)]
    load[5] = None  # one missing load interval
    api.route(PRICE, price_doc(samples, start, price_res, price))
    api.route(LOAD, gl_doc(samples, "A65", "A16", start, [(None, load_res, load)]))

    frame = fetch(start, start + 24 * H, tmp_path, resolution=resolution)

    assert_grid(frame, start, start + 24 * H, f"{step}min")
    np.testing.assert_allclose(
        frame["load_mw"].to_numpy(), _expected_on_step(_arr(load), load_min, step), rtol=1e-12
    )
    np.testing.assert_allclose(
        frame["price_eur_per_mwh"].to_numpy(),
        _expected_on_step(_arr(price), price_min, step),
        rtol=1e-12,
    )
    expected_attrs = {}
    for column, native in (("price_eur_per_mwh", price_min), ("load_mw", load_min)):
        if native != step:
            method = "mean" if native < step else "repeat"
            expected_attrs[column] = {"from": f"{native}min", "to": f"{step}min", "method": method}
    assert frame.attrs["resampled"] == expected_attrs
    assert frame.attrs["resolution"] == f"{step}min"


def test_entsoe_py_takes_first_quarter_of_pre_golive_prices(api, samples, tmp_path):
    """entsoe-py quirk: before 2025-10-01 it forces prices hourly with ``.first()``."""
    start = pd.Timestamp("2024-03-01T23:00Z")
    price = [30.0 + q for q in range(96)]
    api.route(PRICE, price_doc(samples, start, "PT15M", price))

    frame = fetch(start, start + 24 * H, tmp_path)

    np.testing.assert_array_equal(frame["price_eur_per_mwh"].to_numpy(), price[::4])
    assert frame.attrs["resampled"] == {}


def test_price_crossing_the_15min_golive(api, samples, tmp_path):
    """One series, two resolutions (hourly before the SDAC go-live, 15 min after)."""
    golive = pd.Timestamp("2025-09-30T22:00Z")  # 2025-10-01 00:00 Amsterdam
    start, end = golive - 2 * H, golive + 2 * H
    hourly, quarters = [70.0, 71.5], [80.0 + 0.25 * q for q in range(8)]
    api.route(PRICE, price_doc(samples, start, "PT60M", hourly, [(golive, "PT15M", quarters)]))

    native = fetch(start, end, tmp_path)
    assert_grid(native, start, end, "60min")
    expected = hourly + list(np.mean(np.reshape(quarters, (2, 4)), axis=1))
    np.testing.assert_allclose(native["price_eur_per_mwh"].to_numpy(), expected, rtol=1e-12)
    assert native["price_eur_per_mwh"].iloc[0] == hourly[0]  # exact, not a mean of copies
    assert native.attrs["resampled"] == {
        "price_eur_per_mwh": {"from": "15min,60min", "to": "60min", "method": "mean"}
    }

    quarter = fetch(start, end, tmp_path, resolution="15min")
    assert_grid(quarter, start, end, "15min")
    np.testing.assert_array_equal(
        quarter["price_eur_per_mwh"].to_numpy(), np.repeat(hourly, 4).tolist() + quarters
    )
    assert quarter.attrs["resampled"]["price_eur_per_mwh"]["method"] == "repeat"


def test_generation_over_two_month_blocks(api, samples, tmp_path):
    """entsoe-py queries generation in one-month blocks and drops the metric column level
    per block: a block that also has a solar *consumption* series keeps
    ('Solar', 'Actual Aggregated'), the other plain 'Solar'. Both halves must be kept."""
    start = pd.Timestamp("2024-02-01T00:00Z")
    end = pd.Timestamp("2024-03-01T03:00Z")  # blocks [Feb 1, Mar 1) and [Mar 1, 03:00)
    n = int((end - start) / H)
    solar = [float(h % 24 * 10) for h in range(n)]
    onshore = [500.0 + h % 100 for h in range(n)]

    def generation(request: requests.PreparedRequest) -> str:
        params = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        t0 = pd.Timestamp(params["periodStart"], tz="UTC")
        t1 = pd.Timestamp(params["periodEnd"], tz="UTC")
        i0, i1 = int((t0 - start) / H), int((t1 - start) / H)
        series = [("B16", "PT60M", solar[i0:i1]), ("B19", "PT60M", onshore[i0:i1])]
        if i0 > 0:  # second block: solar consumption too
            series.append(("B16:consumption", "PT60M", [1.0] * (i1 - i0)))
        return gl_doc(samples, "A75", "A16", t0, series)

    api.route(GENERATION, generation)
    frame = fetch(start, end, tmp_path)

    assert len([p for p in api.params if p["documentType"] == "A75"]) == 2
    assert list(frame.columns) == ["solar_mw", "wind_mw"]  # no offshore series: onshore
    np.testing.assert_array_equal(frame["solar_mw"].to_numpy(), solar)
    np.testing.assert_array_equal(frame["wind_mw"].to_numpy(), onshore)


# --------------------------------------------------------------------------------------
# parameters and credentials
# --------------------------------------------------------------------------------------


def test_missing_key_raises_before_any_request(api, rsps, tmp_path):
    t0 = pd.Timestamp("2024-01-01T00:00Z")
    with pytest.raises(MissingCredentialsError) as info:
        fetch(t0, t0 + H, tmp_path, api_key=None)
    assert str(info.value) == (
        "ENTSOE_API_KEY is not set; get a key from the ENTSO-E Transparency Platform "
        "and export ENTSOE_API_KEY=..."
    )
    assert len(rsps.calls) == 0
    assert not (tmp_path / "cache").exists()


def test_key_from_environment(api, samples, tmp_path, monkeypatch):
    api.route(PRICE, samples["publication.a03curvetype.xml"])
    monkeypatch.setenv("ENTSOE_API_KEY", "ENV-KEY-456")
    t0 = pd.Timestamp("2024-01-01T00:00Z")
    fetch(t0, t0 + 6 * H, tmp_path, api_key=None)
    assert api.params and all(p["securityToken"] == "ENV-KEY-456" for p in api.params)


@pytest.mark.parametrize(
    ("start", "end", "kw"),
    [
        ("2024-01-01T00:00Z", "2024-01-02T00:00Z", {"resolution": "30min"}),
        ("2024-01-01T00:00Z", "2024-01-02T00:00Z", {"resolution": "hourly"}),
        ("2024-01-01T00:00", "2024-01-02T00:00", {}),  # naive
        ("2024-01-02T00:00Z", "2024-01-01T00:00Z", {}),  # reversed
        ("2024-01-01T00:15Z", "2024-01-02T00:00Z", {}),  # not a whole hour
    ],
)
def test_invalid_parameters(api, rsps, tmp_path, start, end, kw):
    with pytest.raises(InvalidParameterError):
        fetch(pd.Timestamp(start), pd.Timestamp(end), tmp_path, **kw)
    assert len(rsps.calls) == 0


def test_zone_outside_entsoe(api, rsps, tmp_path):
    t0 = pd.Timestamp("2024-01-01T00:00Z")
    with pytest.raises(DataUnavailableError, match="NP"):
        fetch_entsoe(get_zone("NP"), t0, t0 + H, api_key=KEY, cache_dir=tmp_path)
    assert len(rsps.calls) == 0


def test_no_data_at_all(api, rsps, tmp_path):
    t0 = pd.Timestamp("2024-01-01T00:00Z")
    with pytest.raises(DataUnavailableError, match="no data for zone CZ"):
        fetch(t0, t0 + H, tmp_path)
    assert len(rsps.calls) >= 5  # every query asked


# --------------------------------------------------------------------------------------
# cache
# --------------------------------------------------------------------------------------


def _cache_files(root: Path) -> list[Path]:
    return sorted((root / "entsoe").glob("*.resp"))


def test_cache_serves_identical_call_without_network(api, samples, rsps, tmp_path):
    day = _serve_day(api, samples)
    first = fetch(DAY, DAY + 24 * H, tmp_path)
    n_first = len(rsps.calls)
    assert n_first >= 6  # five queries, day-ahead prices paged with offset

    second = fetch(DAY, DAY + 24 * H, tmp_path)
    assert len(rsps.calls) == n_first  # no request at all
    pd.testing.assert_frame_equal(first, second)
    assert second.attrs == first.attrs

    files = _cache_files(tmp_path / "cache")
    assert len(files) == n_first  # data and "no data" (offset paging) entries
    for path in files:
        assert re.fullmatch(r"[0-9a-f]{64}\.resp", path.name)
        content = path.read_bytes()
        assert KEY.encode() not in content
        assert b"securityToken" not in content
    bodies = b"".join(p.read_bytes() for p in files)
    assert day["docs"][LOAD].encode() in bodies  # raw bytes as served

    _serve_day(api, samples, DAY + 24 * H)
    third = fetch(DAY + 24 * H, DAY + 48 * H, tmp_path)
    assert len(rsps.calls) > n_first  # another range: new requests
    assert third.index[0] == DAY + 24 * H
    assert len(_cache_files(tmp_path / "cache")) > len(files)


def test_cache_dir_from_environment(api, samples, tmp_path, monkeypatch):
    api.route(PRICE, samples["publication.a03curvetype.xml"])
    monkeypatch.setenv("BTUT_CACHE_DIR", str(tmp_path / "from-env"))
    t0 = pd.Timestamp("2024-01-01T00:00Z")
    fetch_entsoe(CZ, t0, t0 + 6 * H, api_key=KEY)
    assert _cache_files(tmp_path / "from-env")


def test_recent_periods_are_not_cached(api, samples, rsps, tmp_path, monkeypatch):
    monkeypatch.setattr(entsoe_api, "SETTLE_TIME", pd.Timedelta(days=365_000))
    api.route(PRICE, samples["publication.a03curvetype.xml"])
    t0 = pd.Timestamp("2024-01-01T00:00Z")
    fetch(t0, t0 + 6 * H, tmp_path)
    n = len(rsps.calls)
    fetch(t0, t0 + 6 * H, tmp_path)
    assert len(rsps.calls) == 2 * n
    assert not _cache_files(tmp_path / "cache")


def test_errors_are_not_cached(api, samples, rsps, tmp_path):
    api.route(PRICE, samples["publication.a03curvetype.xml"])
    api.route(LOAD, ack_doc(samples, "Invalid request"), status=400)
    t0 = pd.Timestamp("2024-01-01T00:00Z")
    for _ in range(2):
        with pytest.raises(DataUnavailableError):
            fetch(t0, t0 + 6 * H, tmp_path)
    load_requests = [p for p in api.params if p.get("processType") == "A16"]
    assert len(load_requests) == 2


# --------------------------------------------------------------------------------------
# errors and the key
# --------------------------------------------------------------------------------------


def _assert_clean_error(exc: BaseException) -> None:
    message = str(exc)
    assert KEY not in message
    assert "\n" not in message
    assert "zone CZ" in message
    assert KEY not in "".join(traceback.format_exception(exc))


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (401, f"Unauthorized. Invalid security token {KEY}"),
        (400, "Mandatory parameter missing.\n  Check securityToken=" + KEY + " and in_Domain"),
        (200, "Unexpected acknowledgement"),
    ],
)
def test_api_errors_become_one_line_data_unavailable(api, samples, tmp_path, status, reason):
    api.route(PRICE, ack_doc(samples, reason), status=status)
    t0 = pd.Timestamp("2024-01-01T00:00Z")
    with pytest.raises(DataUnavailableError) as info:
        fetch(t0, t0 + 6 * H, tmp_path)
    _assert_clean_error(info.value)
    assert "day-ahead prices" in str(info.value)
    if status != 200:
        assert f"HTTP {status}" in str(info.value)


def test_cli_retries_are_prefixed_warning_lines(api, tmp_path, monkeypatch, capsys):
    """The retry notice was logged through Python's last-resort handler: a bare line on
    stderr. At the command line every line is ``btut: warning:`` / ``btut: error:``."""
    from btut.cli import main

    def refuse(request: requests.PreparedRequest) -> str:
        raise requests.ConnectionError(f"Max retries exceeded with url: {request.url}")

    api.route(PRICE, refuse)
    monkeypatch.setenv("ENTSOE_API_KEY", KEY)
    argv = ["data", "fetch", "--zone", "CZ", "--start", "2024-01-01", "--end", "2024-01-02"]
    assert main([*argv, "--cache-dir", str(tmp_path / "cache")]) == 3
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == entsoe_api.CONNECT_ATTEMPTS
    assert all(ln.startswith("btut: warning: ENTSO-E day-ahead prices") for ln in lines[:-1])
    assert lines[-1].startswith("btut: error: ") and KEY not in "".join(lines)
    assert not logging.getLogger("data").handlers  # nothing left configured afterwards


def test_network_error_scrubs_key(api, rsps, tmp_path):
    def refuse(request: requests.PreparedRequest) -> str:
        # like requests/urllib3, put the full URL (with the token) in the message
        raise requests.ConnectionError(f"Max retries exceeded with url: {request.url}")

    api.route(PRICE, refuse)
    t0 = pd.Timestamp("2024-01-01T00:00Z")
    with pytest.raises(DataUnavailableError) as info:
        fetch(t0, t0 + 6 * H, tmp_path)
    _assert_clean_error(info.value)
    assert "network error" in str(info.value)
    # the host, not the whole URL with every parameter (the message was ~600 characters)
    assert str(info.value).endswith(
        "network error (ConnectionError: cannot reach web-api.tp.entsoe.eu)"
    )
    assert "securityToken" not in str(info.value) and len(str(info.value)) < 150
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert len(rsps.calls) == entsoe_api.CONNECT_ATTEMPTS


def test_unreadable_document(api, samples, tmp_path):
    start = pd.Timestamp("2025-10-14T22:00Z")
    api.route(PRICE, price_doc(samples, start, "PT15M", [1.0] * 96).replace("PT15M", "PT5M"))
    with pytest.raises(DataUnavailableError, match="unreadable response") as info:
        fetch(start, start + 24 * H, tmp_path)
    _assert_clean_error(info.value)


def test_key_never_logged(api, samples, rsps, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    _serve_day(api, samples)
    fetch(DAY, DAY + 24 * H, tmp_path)  # network, cache writes
    fetch(DAY, DAY + 24 * H, tmp_path)  # cache hits

    errors: list[BaseException] = []
    api.route(LOAD, ack_doc(samples, f"Invalid securityToken={KEY}"), status=401)
    api.route(GENERATION, requests.ConnectionError(f"{URL}?securityToken={KEY}"))
    for t0 in (DAY + 48 * H, DAY + 96 * H):
        with pytest.raises(DataUnavailableError) as info:
            fetch(t0, t0 + 24 * H, tmp_path)
        errors.append(info.value)
        api.routes.pop(LOAD, None)

    # urllib3 logs request URLs at DEBUG; fetch_entsoe redacts them
    logging.getLogger("urllib3.connectionpool").debug(
        '%s "GET %s HTTP/1.1" 200 None', URL, f"/api?documentType=A44&securityToken={KEY}"
    )

    assert any(r.name == "data.entsoe_api" for r in caplog.records)
    assert "securityToken=***" in caplog.text
    assert KEY not in caplog.text
    for exc in errors:
        _assert_clean_error(exc)
    for path in _cache_files(tmp_path / "cache"):
        assert KEY.encode() not in path.read_bytes()
        assert KEY not in path.name
    assert all(p["securityToken"] == KEY for p in api.params)  # the key was sent


def test_zone_code_string_accepted(api, samples, tmp_path):
    api.route(PRICE, samples["publication.a03curvetype.xml"])
    t0 = pd.Timestamp("2024-01-01T00:00Z")
    frame = fetch_entsoe("cz", t0, t0 + 6 * H, api_key=KEY, cache_dir=tmp_path)
    assert list(frame.columns) == ["price_eur_per_mwh"]


def test_query_parameters_sent(api, samples, tmp_path):
    """entsoe-py's documented parameters reach the API with the zone's EIC code."""
    _serve_day(api, samples)
    fetch(DAY, DAY + 24 * H, tmp_path)
    kinds = {(p["documentType"], p.get("processType")) for p in api.params}
    assert kinds == {PRICE, LOAD, LOAD_FORECAST, GENERATION, WIND_SOLAR_FORECAST}
    eic = CZ.entsoe_eic
    for p in api.params:
        assert eic in {p.get("in_Domain"), p.get("outBiddingZone_Domain")}
        assert re.fullmatch(r"\d{12}", p["periodStart"]) and re.fullmatch(r"\d{12}", p["periodEnd"])


def test_load_market_data_through_the_api(api, rsps, samples, tmp_path, monkeypatch):
    """The loader's ``source="entsoe"`` path: local day -> UTC request, canonical columns,
    validation sees the incomplete hour as a missing value, the second call is cached."""
    from data import load_market_data, validate_market_data

    _serve_day(api, samples)
    monkeypatch.setenv("ENTSOE_API_KEY", KEY)
    frame = load_market_data(
        "CZ", "2025-10-15", "2025-10-16", source="entsoe", cache_dir=tmp_path / "c"
    )
    assert_grid(frame, DAY, DAY + 24 * H, "60min")
    assert list(frame.columns)[:3] == ["price_eur_per_mwh", "load_mw", "load_forecast_mw"]
    assert frame.attrs["source"] == "entsoe" and frame.attrs["zone"] == "CZ"
    report = validate_market_data(frame)
    assert report.ok and report.resolution == "60min"
    assert report.missing_values["price_eur_per_mwh"] == 1
    n_calls = len(rsps.calls)
    assert n_calls > 0
    again = load_market_data(
        "CZ", "2025-10-15", "2025-10-16", source="entsoe", cache_dir=tmp_path / "c"
    )
    pd.testing.assert_frame_equal(frame, again)
    assert len(rsps.calls) == n_calls


# --------------------------------------------------------------------------------------
# helpers by hand (mutation round 3)
# --------------------------------------------------------------------------------------


def test_cache_key_ignores_parameter_order_but_not_the_endpoint():
    key = entsoe_api._ResponseCache.key
    a = key(URL, {"documentType": "A44", "periodStart": "202401010000", "in_Domain": "X"})
    b = key(URL, {"in_Domain": "X", "periodStart": "202401010000", "documentType": "A44"})
    assert a == b and re.fullmatch(r"[0-9a-f]{64}", a)
    assert key(URL + "x", {"documentType": "A44"}) != key(URL, {"documentType": "A44"})
    assert key(URL, {"documentType": "A65"}) != key(URL, {"documentType": "A44"})


def test_native_minutes_of_each_value_by_hand():
    t0 = pd.Timestamp("2025-10-01T00:00Z")
    m = pd.Timedelta(minutes=1)
    periods = [
        entsoe_api._Period(None, t0, t0 + H, 15),  # PT15M, then coarser from 01:00
        entsoe_api._Period(None, t0 + H, t0 + 3 * H, 60),
        entsoe_api._Period(None, t0 + 3 * H, t0 + 4 * H, 15),  # overlapping: finest wins
        entsoe_api._Period(None, t0 + 3 * H, t0 + 4 * H, 60),
    ]
    offsets = [0, 15, 30, 45, 60, 120, 180, 195]
    index = pd.DatetimeIndex([t0 + k * m for k in offsets])
    got = entsoe_api._native_minutes(index, periods, None, price=False)
    # 01:00 starts the PT60M period (the PT15M one ends there, exclusive)
    assert got.tolist() == [15, 15, 15, 15, 60, 60, 15, 15]


def test_clean_sorts_keeps_the_first_duplicate_and_drops_the_end():
    start = pd.Timestamp("2024-01-01T00:00Z")
    end = start + 3 * H
    naive = [start + 2 * H, start, start + H, start + H, end]
    s = pd.Series([3, 1, 2, 20, 4], index=pd.DatetimeIndex([t.tz_localize(None) for t in naive]))
    got = entsoe_api._clean(s, start, end)
    expected = pd.Series([1.0, 2.0, 3.0], index=pd.DatetimeIndex([start, start + H, start + 2 * H]))
    pd.testing.assert_series_equal(got, expected, check_freq=False, check_index_type=False)
    assert str(got.index.tz) == "UTC"


def test_an_empty_psr_type_is_no_production_type(api, samples, tmp_path):
    """``<psrType/>`` (no text) failed the whole query: "unreadable response (AttributeError:
    'NoneType' object has no attribute 'strip')"; entsoe-py reads the document."""
    start = pd.Timestamp("2024-01-01", tz="UTC")
    doc = gl_doc(samples, "A65", "A16", start, [(None, "PT60M", [1.0, 2.0, 3.0, 4.0])])
    assert "<curveType>" in doc
    api.route(LOAD, doc.replace("<curveType>", "<MktPSRType><psrType/></MktPSRType><curveType>"))
    frame = fetch(start, start + 4 * H, tmp_path)
    assert frame["load_mw"].tolist() == [1.0, 2.0, 3.0, 4.0]


@pytest.mark.parametrize("zone", [5, None])
def test_a_zone_that_is_no_code_is_a_bad_parameter(api, rsps, tmp_path, zone):
    t0 = pd.Timestamp("2024-01-01T00:00Z")
    with pytest.raises(InvalidParameterError, match="zone must be a zone code such as 'ES'"):
        fetch_entsoe(zone, t0, t0 + H, api_key=KEY, cache_dir=tmp_path)
    assert len(rsps.calls) == 0


def test_a_download_says_each_query_done(api, rsps, samples, tmp_path, monkeypatch):
    """``progress(done, total, what)`` after each of the five queries, in order, also when
    the responses come from the cache; files and bundled data never call it."""
    from data import load_market_data

    _serve_day(api, samples)
    monkeypatch.setenv("ENTSOE_API_KEY", KEY)
    for _ in range(2):  # the second from the cache
        said: list[tuple[int, int, str]] = []
        load_market_data(
            "CZ", "2025-10-15", "2025-10-16", source="entsoe", cache_dir=tmp_path / "c",
            progress=lambda *a, said=said: said.append(a),
        )  # fmt: skip
        assert said == [
            (i + 1, 5, label)
            for i, label in enumerate(
                (
                    "day-ahead prices",
                    "actual total load",
                    "day-ahead total load forecast",
                    "actual generation per type",
                    "wind and solar forecast",
                )
            )
        ]
    never: list = []
    load_market_data("ES", "2017-06-14", "2017-06-15", progress=never.append)
    assert never == []


def test_the_cli_draws_the_download_s_queries_on_a_terminal(
    api, rsps, samples, tmp_path, monkeypatch, capsys
):
    import io

    from rich.console import Console

    import btut.cli

    _serve_day(api, samples)
    monkeypatch.setenv("ENTSOE_API_KEY", KEY)
    screen = io.StringIO()
    monkeypatch.setattr(
        btut.cli, "err", Console(file=screen, force_terminal=True, width=120, highlight=False)
    )
    argv = ["data", "fetch", "-z", "CZ", "--start", "2025-10-15", "--end", "2025-10-16"]
    assert btut.cli.main([*argv, "--cache-dir", str(tmp_path / "c"), "--json"]) == 0
    drawn = screen.getvalue()
    assert "ENTSO-E CZ: wind and solar forecast in" in drawn and "5/5" in drawn
    assert json.loads(capsys.readouterr().out)["zone"] == "CZ"  # stdout: the JSON only


def test_a_zone_with_markup_is_one_line_on_a_terminal(monkeypatch, tmp_path):
    # '[/]' reached the bar's description before the zone check: rich's MarkupError, exit 70
    import io

    from rich.console import Console

    import btut.cli

    screen = io.StringIO()
    monkeypatch.setattr(
        btut.cli, "err", Console(file=screen, force_terminal=True, width=120, highlight=False)
    )
    monkeypatch.setenv("ENTSOE_API_KEY", KEY)
    argv = ["data", "show", "-z", "[/]", "--start", "2025-10-15", "--end", "2025-10-16"]
    assert btut.cli.main([*argv, "--source", "entsoe"]) == 3
    assert "unknown zone '[/]'" in screen.getvalue()


@pytest.mark.parametrize(
    ("start", "local"),
    [
        ("1900-05-31T23:00Z", "Europe/Prague"),  # Prague's 1900 midnight: 23:02:16 UTC
        ("2014-12-31T22:00Z", "Europe/Prague"),  # 23:00 local on 2014-12-31
    ],
)
def test_a_start_before_the_first_day_is_refused_before_any_request(
    api, rsps, tmp_path, start, local
):
    """A 1900 day was refused as "must be whole hours" (local mean time is off the hour);
    the Transparency Platform serves nothing before 2015-01-01."""
    t0 = pd.Timestamp(start)
    with pytest.raises(DataUnavailableError) as info:
        fetch(t0, t0 + 24 * H, tmp_path)
    assert str(info.value) == (
        f"start_utc {t0} is before 2015-01-01 ({local}), the first day ENTSO-E's "
        "Transparency Platform serves"
    )
    assert len(rsps.calls) == 0
    assert not (tmp_path / "cache").exists()
    assert entsoe_api.FIRST_DAY.isoformat() == "2015-01-01"


def test_the_first_day_itself_is_asked_of_the_api(api, rsps, tmp_path):
    t0 = pd.Timestamp("2015-01-01T00:00", tz="Europe/Prague").tz_convert("UTC")
    with pytest.raises(DataUnavailableError, match="returned no data"):  # nothing served
        fetch(t0, t0 + 6 * H, tmp_path)
    assert len(rsps.calls) > 0


@pytest.mark.parametrize("empty", ["", "  "])
def test_an_empty_cache_dir_is_refused(empty):
    """``cache_dir=""`` cached in ./entsoe (Path("") is the working directory)."""
    with pytest.raises(InvalidParameterError, match=r"^cache_dir is an empty path"):
        entsoe_api.cache_root(empty)


def test_a_cache_dir_that_is_no_directory_is_refused_before_any_request(
    api, rsps, tmp_path, monkeypatch
):
    """A file as cache directory (or as its ``entsoe`` folder) only warned "cache entry
    unreadable ([Errno 20] Not a directory); refetching" per request, then downloaded
    every time and lost the responses."""
    t0 = pd.Timestamp("2017-06-14T00:00", tz="UTC")
    plain = tmp_path / "plain.csv"
    plain.write_text("x")
    with pytest.raises(InvalidParameterError, match=r"^cache directory .*plain\.csv is not a dir"):
        fetch(t0, t0 + 6 * H, tmp_path, cache_dir=plain)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "entsoe").write_text("x")
    with pytest.raises(InvalidParameterError, match=r"^cache directory .*c/entsoe is not a dir"):
        fetch(t0, t0 + 6 * H, tmp_path, cache_dir=tmp_path / "c")
    monkeypatch.setenv("BTUT_CACHE_DIR", str(plain))
    with pytest.raises(InvalidParameterError, match=r"^\$BTUT_CACHE_DIR .*plain\.csv is not a"):
        entsoe_api.cache_root()
    assert len(rsps.calls) == 0
    monkeypatch.delenv("BTUT_CACHE_DIR")
    assert entsoe_api.cache_root(tmp_path / "new") == tmp_path / "new"  # absent: made later


# --------------------------------------------------------------------------------------
# documented values by hand (mutation round 4): literals from the module docstring, not
# the module's own constants
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        requests.ConnectionError("Connection refused"),
        requests.ReadTimeout("Read timed out. (read timeout=120.0)"),  # a Timeout only
    ],
    ids=["connection-error", "timeout"],
)
def test_one_retry_on_connection_errors_and_timeouts(api, rsps, tmp_path, failure):
    """Docstring: "There is one retry (after RETRY_DELAY_S) on connection errors and
    timeouts": two GETs in all (the autouse fixture makes the pause 0), then one line."""
    api.route(PRICE, failure)
    t0 = pd.Timestamp("2024-01-01T00:00Z")
    with pytest.raises(DataUnavailableError) as info:
        fetch(t0, t0 + 6 * H, tmp_path)
    assert len(rsps.calls) == 2  # the first attempt and one retry
    assert str(info.value) == (
        f"ENTSO-E day-ahead prices for zone CZ: network error "
        f"({type(failure).__name__}: cannot reach web-api.tp.entsoe.eu)"
    )
    assert info.value.__cause__ is None


@pytest.mark.parametrize("kind", ["nodata", "data"])
def test_a_response_echoing_the_key_is_never_cached(api, samples, rsps, tmp_path, kind):
    """Docstring: the key "is never in cache file names or contents", also when the API
    echoes it in a cacheable answer ("no matching data", or a market document)."""
    t0 = pd.Timestamp("2024-01-01T00:00Z")  # long settled: cacheable but for the key
    if kind == "nodata":
        api.route(LOAD, ack_doc(samples, f"No matching data found (securityToken={KEY})"))
        api.route(PRICE, samples["publication.a03curvetype.xml"])
    else:
        xml = samples["publication.a03curvetype.xml"]
        api.route(PRICE, xml.replace("<TimeSeries>", f"<!-- {KEY} --><TimeSeries>", 1))
    frame = fetch(t0, t0 + 6 * H, tmp_path)
    assert "price_eur_per_mwh" in frame.columns
    assert any(p["documentType"] == ("A65" if kind == "nodata" else "A44") for p in api.params)

    files = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert files  # the other answers were cached
    for path in files:
        assert KEY.encode() not in path.read_bytes(), path.name
        assert KEY not in path.name


@pytest.mark.parametrize("hours_ago", [12, 36])  # both less than two days
def test_a_period_that_ended_under_two_days_ago_is_not_cached(
    api, samples, rsps, tmp_path, hours_ago
):
    """Docstring: never cached is "any response to a request whose period ends less than
    SETTLE_TIME (2 days) before now". The real constant, real now."""
    end = pd.Timestamp.now(tz="UTC").floor("h") - hours_ago * H  # 12-13 h / 36-37 h ago
    start = end - 6 * H
    api.route(LOAD, gl_doc(samples, "A65", "A16", start, [(None, "PT60M", [1.0] * 6)]))
    frame = fetch(start, end, tmp_path)
    assert frame["load_mw"].tolist() == [1.0] * 6
    n = len(rsps.calls)
    load_ends = {p["periodEnd"] for p in api.params if p.get("processType") == "A16"}
    assert load_ends == {end.strftime("%Y%m%d%H%M")}

    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    fetch(start, end, tmp_path)
    assert len(rsps.calls) == 2 * n  # every request made again


def test_a_period_that_ended_over_two_days_ago_is_cached(api, samples, rsps, tmp_path):
    end = pd.Timestamp.now(tz="UTC").floor("h") - 4 * 24 * H  # four days ago
    start = end - 6 * H
    api.route(LOAD, gl_doc(samples, "A65", "A16", start, [(None, "PT60M", [1.0] * 6)]))
    fetch(start, end, tmp_path)
    n = len(rsps.calls)
    assert _cache_files(tmp_path / "cache")
    fetch(start, end, tmp_path)
    assert len(rsps.calls) == n  # served from the cache


@pytest.mark.parametrize("blank", ["", "   "])
@pytest.mark.parametrize("via", ["environment", "argument"])
def test_a_blank_key_is_a_missing_key(api, rsps, tmp_path, monkeypatch, blank, via):
    """Docstring: without a key ``MissingCredentialsError`` is raised before any network
    activity; MISSING_KEY_MESSAGE covers "a missing (or blank) ENTSOE_API_KEY"."""
    if via == "environment":
        monkeypatch.setenv("ENTSOE_API_KEY", blank)
        kw = {"api_key": None}
    else:
        kw = {"api_key": blank}
    t0 = pd.Timestamp("2024-01-01T00:00Z")
    with pytest.raises(MissingCredentialsError) as info:
        fetch(t0, t0 + H, tmp_path, **kw)
    assert str(info.value) == (
        "ENTSOE_API_KEY is not set; get a key from the ENTSO-E Transparency Platform "
        "and export ENTSOE_API_KEY=..."
    )
    assert len(rsps.calls) == 0
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2024-01-01T06:00Z", "2024-01-01T06:00Z", "must be after start_utc"),  # empty range
        ("2024-01-01T00:00Z", "2024-01-01T06:30Z", "must be whole hours"),  # end off the hour
    ],
    ids=["end-equals-start", "end-at-06:30"],
)
def test_an_empty_range_or_an_end_off_the_hour_is_refused(api, rsps, tmp_path, start, end, message):
    """Docstring: ``[start_utc, end_utc)``, both "on whole hours"; ``end_utc`` exclusive."""
    with pytest.raises(InvalidParameterError, match=message):
        fetch(pd.Timestamp(start), pd.Timestamp(end), tmp_path)
    assert len(rsps.calls) == 0
    assert not (tmp_path / "cache").exists()
