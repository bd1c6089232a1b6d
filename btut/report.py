"""Self-contained HTML reports of stored runs (``btut report``; DESIGN.md section 9).

:func:`render_run_report` turns one stored replay (:class:`btut.replaying.LoadedRun`, one or
several days) into one HTML document; :func:`render_backtest_report` does the same for a
backtest and its stored runs, :func:`render_comparison_report` for two backtests compared
(:func:`btut.comparing.compare_backtests`); :func:`write_report` writes the document
atomically.

The document needs no network and no JavaScript: every plot is a matplotlib figure embedded
as inline SVG (text as paths, so it renders the same everywhere), styles are inline, and a
Content-Security-Policy forbids any fetch or script. Plots (``<figure class="plot"
id="plot-...">`` with a ``<figcaption>``):

* ``plot-price``: local clearing price vs wholesale price, with the grid's sell/buy tariff
  band and the mean-field price (EUR/MWh);
* ``plot-net-load``: the community's grid import with the market vs the baseline (every agent
  alone) vs the planner, the market's export shown negative, and the peaks (kWh per interval);
* ``plot-cost-by-type``: baseline/market/planner cost per agent of each type (EUR per agent);
* ``plot-days``: efficiency and exploitability per day (EUR per agent per day);
* ``plot-convergence``: the equilibrium solver's exploitability per iteration (log scale);
* ``plot-forecast-fan`` and ``plot-forecast-pit``: the Student-t load forecast (median and
  50/80/95 % central intervals, realised load on top, MW) and the PIT histogram of the
  realised load (skipped with a note when the run has no forecast);
* ``plot-plan``: what the agents planned on (the day as known at its cut-off) against what
  happened: load shape (share of the day's load per interval) and solar capacity factor;
* ``plot-routing``: payment success, fees and latency, only when the run has ``routing_*``
  metrics (and/or a ``routing_json`` text metric with per-payment lists);
* ``plot-daily-cost`` (backtests): baseline/market/planner cost per day (EUR);
* ``plot-compare`` (comparisons): both backtests' efficiency per day, and B − A per day with
  the mean and its 95 % interval.

Then a headline table of the metrics (``data-metric``/``data-value`` attributes hold the
exact floats), a per-day table and the run's configuration (flattened, HTML-escaped).
Rendering is deterministic: the same run gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import errno
import html as htmllib
import io
import itertools
import json
import math
import numbers
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard, cast

import numpy as np
import pandas as pd

from data.checks import check_path_given
from data.errors import BTUTError, InvalidParameterError, StorageError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from btut.replaying import LoadedRun

__all__ = [
    "BACKTEST_PLOT_IDS",
    "CENTRAL_INTERVALS",
    "RUN_PLOT_IDS",
    "BacktestLike",
    "forecast_quantiles",
    "pit_values",
    "render_backtest_report",
    "render_run_report",
    "report_target",
    "write_report",
]

RUN_PLOT_IDS: tuple[str, ...] = (
    "plot-price",
    "plot-net-load",
    "plot-cost-by-type",
    "plot-days",
    "plot-convergence",
    "plot-forecast-fan",
    "plot-forecast-pit",
    "plot-plan",
)
"""Plots of a run report with a forecast (``plot-routing`` is added when routing metrics
exist; the two forecast plots are replaced by a note without a forecast, ``plot-plan`` by a
note for runs stored before agents planned on forecasts)."""

BACKTEST_PLOT_IDS: tuple[str, ...] = (
    "plot-days",
    "plot-daily-cost",
    "plot-price",
    "plot-net-load",
    "plot-cost-by-type",
    "plot-forecast-fan",
    "plot-forecast-pit",
)
"""Plots of a backtest report whose runs have a forecast."""

CENTRAL_INTERVALS: tuple[float, ...] = (0.95, 0.8, 0.5)
"""Central interval levels of the forecast fan chart (widest first)."""

SOLVER_TOL_EUR = 0.001
"""The equilibrium solver's default stopping tolerance (``market.solve_energy_market``'s
``tol_eur``), EUR per agent per day: drawn as a reference line."""

_FORECAST = ("load_forecast_mu_mw", "load_forecast_sigma_mw", "load_forecast_nu")
_COLOURS = {
    "baseline": "#8c8c8c",
    "market": "#1f77b4",
    "planner": "#2ca02c",
    "wholesale": "#444444",
    "mean_field": "#ff7f0e",
    "band": "#d9d9d9",
    "forecast": "#6a3d9a",
}
_RC: dict[str, Any] = {
    "svg.fonttype": "path",  # text as glyph paths: no font needed to view
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.labelsize": 9.0,
    "legend.fontsize": 8.0,
    "axes.grid": True,
    "grid.alpha": 0.35,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.6,
    # text is text: a "$" in a user's type name must not start matplotlib's mathtext (an
    # unbalanced one was a ValueError, a pair was set as italic maths)
    "text.parse_math": False,
}
_WIDTH_IN = 9.0  # figure width, inches (648 pt of SVG)

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
margin:0 auto;max-width:1000px;padding:0 1.2em 2em;color:#222;line-height:1.45}
h1{font-size:1.5em;margin:.8em 0 .2em}h2{font-size:1.2em;margin:1.6em 0 .4em;
border-bottom:1px solid #ddd;padding-bottom:.2em}
.sub{color:#555;margin:.2em 0}nav{font-size:.9em;margin:.6em 0}nav a{margin-right:.8em}
figure.plot{margin:.6em 0 1.2em}figure.plot svg{display:block;max-width:100%;height:auto}
figcaption{font-size:.88em;color:#444;margin-top:.3em}
table{border-collapse:collapse;font-size:.88em;margin:.4em 0 1em}
th,td{border:1px solid #ddd;padding:.2em .55em;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
table.config td:first-child{font-family:ui-monospace,"DejaVu Sans Mono",monospace}
table.config td{word-break:break-word}
.note{background:#fff8e1;border-left:4px solid #f0c000;padding:.4em .7em;font-size:.92em}
footer{color:#777;font-size:.8em;margin-top:2em}
"""
# no fetch, no script: inline styles and inline SVG only (data: for the empty favicon)
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


# --------------------------------------------------------------------------------------------
# public helpers: forecast quantiles and PIT
# --------------------------------------------------------------------------------------------


def _forecast_params(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mu MW, sigma MW, nu) arrays of the frame's forecast columns; nu = inf (normal) when
    the column is missing or NaN."""
    mu = frame["load_forecast_mu_mw"].to_numpy(dtype=np.float64)
    sigma = frame["load_forecast_sigma_mw"].to_numpy(dtype=np.float64)
    if "load_forecast_nu" in frame.columns:
        nu = frame["load_forecast_nu"].to_numpy(dtype=np.float64)
        nu = np.where(np.isnan(nu), np.inf, nu)
    else:
        nu = np.full(mu.shape, np.inf)
    return mu, sigma, nu


def _has_forecast(frame: pd.DataFrame) -> bool:
    """True when some interval has a usable forecast (finite mu, sigma > 0)."""
    if any(c not in frame.columns for c in _FORECAST[:2]) or frame.empty:
        return False
    mu, sigma, _ = _forecast_params(frame)
    return bool(np.any(np.isfinite(mu) & np.isfinite(sigma) & (sigma > 0)))


def forecast_quantiles(frame: pd.DataFrame, probabilities: Iterable[float]) -> pd.DataFrame:
    """Quantiles (MW) of the Student-t load forecast ``mu + sigma * t.ppf(p, nu)`` per interval.

    frame: a run frame with ``load_forecast_mu_mw``/``load_forecast_sigma_mw`` (MW) and
    ``load_forecast_nu`` (NaN or missing: normal); probabilities in (0, 1). One column per
    probability, NaN where the interval has no forecast.
    """
    from scipy import stats

    probs = [float(p) for p in probabilities]
    if not probs or any(not 0.0 < p < 1.0 for p in probs):
        raise InvalidParameterError(f"probabilities must be in (0, 1), got {probs!r}")
    if any(c not in frame.columns for c in _FORECAST[:2]):
        raise InvalidParameterError("frame has no load forecast columns")
    mu, sigma, nu = _forecast_params(frame)
    ok = np.isfinite(mu) & np.isfinite(sigma) & (sigma > 0)
    z = stats.t.ppf(np.asarray(probs)[None, :], np.where(ok, nu, np.inf)[:, None])
    q = mu[:, None] + np.where(ok, sigma, np.nan)[:, None] * z
    return pd.DataFrame(q, index=frame.index, columns=probs)


def pit_values(frame: pd.DataFrame) -> pd.Series:
    """PIT of the realised load: ``t.cdf((load_mw - mu) / sigma, nu)`` per interval (in [0, 1];
    NaN where the load or the forecast is missing). Uniform for a calibrated forecast."""
    from scipy import stats

    if any(c not in frame.columns for c in _FORECAST[:2]):
        raise InvalidParameterError("frame has no load forecast columns")
    if "load_mw" not in frame.columns:
        return pd.Series(np.nan, index=frame.index, name="pit")
    mu, sigma, nu = _forecast_params(frame)
    y = frame["load_mw"].to_numpy(dtype=np.float64)
    ok = np.isfinite(mu) & np.isfinite(sigma) & (sigma > 0) & np.isfinite(y)
    out = np.full(y.shape, np.nan)
    out[ok] = stats.t.cdf((y[ok] - mu[ok]) / sigma[ok], nu[ok])
    return pd.Series(out, index=frame.index, name="pit")


# --------------------------------------------------------------------------------------------
# HTML pieces
# --------------------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return htmllib.escape(str(value), quote=True)


def _is_number(value: Any) -> TypeGuard[float]:  # a real number, not a bool
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _fmt(value: Any, kind: str = "g") -> str:
    """Human format of a number: ``pct`` (share as %), ``eur`` (2 decimals, thousands),
    ``ratio`` (4 decimals), ``pp`` (a difference of shares, in signed percentage points),
    ``g`` (4 significant digits); n/a for NaN/None."""
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not _is_number(value):
        return str(value)
    v = float(value)
    if not math.isfinite(v):
        return "n/a"
    if kind == "pct":
        return f"{v:.1%}"
    if kind == "eur":
        return f"{v:,.2f}"
    if kind == "ratio":
        return f"{v:.4f}"
    if kind == "pp":
        return f"{100.0 * v:+.2f} pp"
    if kind == "int":
        return f"{v:,.0f}"
    return f"{v:.4g}"


def _kwh_kind(value: float) -> str:
    """Whole kWh for a community's peak, 4 significant digits below 100 kWh (a small
    population's 0.28 kWh read "0 kWh")."""
    return "int" if not math.isfinite(value) or abs(value) >= 100 else "g"


def _finite_mean(values: Any) -> float | None:
    """Mean of the finite entries of ``values``; ``None`` when there is none (an efficiency
    undefined on every day), which :func:`_fmt` shows as n/a (numpy would warn and give NaN)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else None


def _note(text: str, note_id: str) -> str:
    return f'<p class="note" id="{_e(note_id)}">{_e(text)}</p>'


def _table(
    header: Sequence[str], rows: Iterable[Sequence[str]], *, cls: str = "", table_id: str = ""
) -> str:
    """An HTML table; cells are HTML already (escape before)."""
    attrs = (f' class="{_e(cls)}"' if cls else "") + (f' id="{_e(table_id)}"' if table_id else "")
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(r) + "</tr>" for r in rows)
    return f"<table{attrs}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _num_cell(value: Any, kind: str = "g", metric: str | None = None) -> str:
    attrs = ' class="num"'
    if metric is not None:
        attrs += f' data-metric="{_e(metric)}"'
    if _is_number(value):
        attrs += f' data-value="{float(value)!r}"'
    return f"<td{attrs}>{_e(_fmt(value, kind))}</td>"


def _figure(plot_id: str, svg: str, caption: str) -> str:
    return (
        f'<figure class="plot" id="{_e(plot_id)}">{svg}'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _section(section_id: str, title: str, body: str) -> str:
    return f'<section id="{_e(section_id)}"><h2>{_e(title)}</h2>{body}</section>'


def _flatten(obj: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Nested dicts/lists as (dotted key, text) rows; lists of scalars stay one JSON value."""
    if isinstance(obj, Mapping):
        if not obj:
            return [(prefix or "(empty)", "{}")]
        rows: list[tuple[str, str]] = []
        for key in obj:
            sub = f"{prefix}.{key}" if prefix else str(key)
            rows.extend(_flatten(obj[key], sub))
        return rows
    if isinstance(obj, list | tuple):
        if all(not isinstance(v, Mapping | list | tuple) for v in obj):
            return [(prefix, json.dumps(list(obj), default=str))]
        rows = []
        for i, v in enumerate(obj):
            rows.extend(_flatten(v, f"{prefix}[{i}]"))
        return rows
    if isinstance(obj, str):
        return [(prefix, obj)]
    if obj is None or isinstance(obj, bool):
        return [(prefix, json.dumps(obj))]
    return [(prefix, str(obj))]


def _config_table(config: Mapping[str, Any]) -> str:
    rows = [[f"<td>{_e(k)}</td>", f"<td>{_e(v)}</td>"] for k, v in _flatten(dict(config))]
    return _table(("key", "value"), rows, cls="config", table_id="config-table")


def _document(title: str, subtitle: Sequence[str], sections: Sequence[tuple[str, str, str]]) -> str:
    """The HTML page: header, table of contents and the (id, title, body) sections."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        btut_version = version("btut")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        btut_version = "unknown"
    nav = "".join(f'<a href="#{_e(sid)}">{_e(stitle)}</a>' for sid, stitle, _ in sections)
    body = "".join(_section(sid, stitle, sbody) for sid, stitle, sbody in sections)
    sub = "".join(f'<p class="sub">{_e(s)}</p>' for s in subtitle)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>\n"
        f"<body><header><h1>{_e(title)}</h1>{sub}<nav>{nav}</nav></header>\n"
        f"{body}\n"
        f"<footer>Generated by btut {_e(btut_version)} (btut report). Self-contained: inline "
        "SVG plots, no scripts, no network. Times are UTC unless marked local.</footer>"
        "</body></html>\n"
    )


# --------------------------------------------------------------------------------------------
# matplotlib -> inline SVG
# --------------------------------------------------------------------------------------------

_PROLOG = re.compile(r"^.*?(?=<svg\b)", re.S)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
_SIZE_ATTRS = re.compile(r'(<svg\b[^>]*?)\s(width|height)="[^"]*"')


def _clean_svg(text: str, plot_id: str) -> str:
    """The bare ``<svg>`` element: no XML prolog/doctype/metadata, ids prefixed with the plot
    id (several SVGs share one HTML document), sized by CSS from its viewBox."""
    text = _PROLOG.sub("", text, count=1)
    text = _METADATA.sub("", text, count=1)
    for _ in range(2):
        text = _SIZE_ATTRS.sub(r"\1", text, count=1)
    p = f"{plot_id}-"
    text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{p}{m.group(1)}"', text)
    text = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{p}{m.group(1)})", text)
    text = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{p}{m.group(1)}"', text)
    return text.replace("<svg ", '<svg role="img" ', 1).strip()


def _render(plot_id: str, draw: Callable[[Figure], None], height_in: float = 3.4) -> str:
    """Inline SVG of a matplotlib figure drawn by ``draw(fig)`` (no pyplot, no backend switch;
    deterministic: ids salted with the plot id, no date)."""
    import matplotlib
    import matplotlib.style
    from matplotlib.figure import Figure

    with matplotlib.rc_context():
        matplotlib.style.use("default")  # independent of the user's matplotlibrc and style
        rc: dict[Any, Any] = {**_RC, "svg.hashsalt": plot_id}
        matplotlib.rcParams.update(rc)
        fig = Figure(figsize=(_WIDTH_IN, height_in), layout="constrained")
        draw(fig)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return _clean_svg(buf.getvalue(), plot_id)


def _times(index: pd.Index) -> np.ndarray:
    """Naive UTC datetime64 of a frame index (matplotlib dates)."""
    idx = pd.DatetimeIndex(index)
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    return idx.to_numpy()


def _step(index: pd.Index) -> np.timedelta64:
    t = _times(index)
    if t.size < 2:
        return np.timedelta64(1, "h")
    return np.median(np.diff(t))


def _segments(index: pd.Index) -> list[tuple[np.ndarray, slice]]:
    """Contiguous runs of intervals as (edges incl. the last interval's end, row slice)."""
    t = _times(index)
    if t.size == 0:
        return []
    step = _step(index)
    breaks = np.flatnonzero(np.diff(t) != step) + 1
    bounds = [0, *breaks.tolist(), t.size]
    out = []
    for a, b in itertools.pairwise(bounds):
        out.append((np.append(t[a:b], t[b - 1] + step), slice(a, b)))
    return out


def _stairs(ax: Axes, index: pd.Index, values: Any, **kw: Any) -> None:
    """Interval values as steps (value held over its interval), broken at gaps."""
    y = np.asarray(values, dtype=np.float64)
    label = kw.pop("label", None)
    for i, (edges, sl) in enumerate(_segments(index)):
        seg = y[sl]
        ax.plot(
            edges,
            np.append(seg, seg[-1]),
            drawstyle="steps-post",
            label=label if i == 0 else "_nolegend_",
            **kw,
        )


def _band(ax: Axes, index: pd.Index, lo: Any, hi: Any, **kw: Any) -> None:
    """A shaded step band between ``lo`` and ``hi`` per interval, broken at gaps."""
    lo_, hi_ = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    label = kw.pop("label", None)
    for i, (edges, sl) in enumerate(_segments(index)):
        a, b = lo_[sl], hi_[sl]
        ax.fill_between(
            edges,
            np.append(a, a[-1]),
            np.append(b, b[-1]),
            step="post",
            linewidth=0,
            label=label if i == 0 else "_nolegend_",
            **kw,
        )


def _time_axis(ax: Axes) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel("time (UTC)")


def _legend_above(ax: Axes, ncols: int) -> None:
    """The legend in a row above the plot, across the figure (never over the data)."""
    handles, labels = ax.get_legend_handles_labels()
    ax.figure.legend(handles, labels, loc="outside upper center", ncols=ncols, frameon=False)


def _col(frame: pd.DataFrame, name: str) -> np.ndarray | None:
    """A column as float array, None when missing or all NaN."""
    if name not in frame.columns:
        return None
    v = frame[name].to_numpy(dtype=np.float64)
    return v if np.isfinite(v).any() else None


# --------------------------------------------------------------------------------------------
# the plots (each returns HTML: a figure or a note)
# --------------------------------------------------------------------------------------------


def _price_section(frame: pd.DataFrame) -> str:
    local, whole = _col(frame, "local_price_eur_per_mwh"), _col(frame, "wholesale_eur_per_mwh")
    if local is None or whole is None:
        return _note("No price series stored with this run.", "note-price")
    buy, sell = _col(frame, "buy_eur_per_mwh"), _col(frame, "sell_eur_per_mwh")
    mf = _col(frame, "mean_field_price_eur_per_mwh")

    def draw(fig: Figure) -> None:
        ax = fig.subplots()
        if buy is not None and sell is not None:
            _band(
                ax,
                frame.index,
                sell,
                buy,
                color=_COLOURS["band"],
                alpha=0.8,
                label="grid tariff band (sell to buy)",
            )
        _stairs(
            ax, frame.index, whole, color=_COLOURS["wholesale"], lw=1.2, label="wholesale day-ahead"
        )
        if mf is not None:
            _stairs(
                ax,
                frame.index,
                mf,
                color=_COLOURS["mean_field"],
                lw=1.2,
                ls="--",
                label="mean-field price",
            )
        _stairs(
            ax,
            frame.index,
            local,
            color=_COLOURS["market"],
            lw=2.0,
            label="local price (finite market)",
        )
        ax.set_ylabel("price (EUR/MWh)")
        _time_axis(ax)
        _legend_above(ax, 4)
        ax.margins(x=0.01)

    caption = (
        "Local clearing price of the finite N-agent market against the wholesale day-ahead "
        "price (EUR/MWh, held over each interval). The grey band spans the grid's sell "
        "(export) and buy (import) tariffs; the local price lies inside it. Mean over the "
        f"period: local {_fmt(_finite_mean(local))} EUR/MWh, wholesale "
        f"{_fmt(_finite_mean(whole))} EUR/MWh."
    )
    return _figure("plot-price", _render("plot-price", draw), caption)


def _net_load_section(frame: pd.DataFrame, peak_reduction: float | None) -> str:
    market = _col(frame, "import_market_kwh")
    if market is None:
        return _note("No import series stored with this run.", "note-net-load")
    base, plan = _col(frame, "import_baseline_kwh"), _col(frame, "import_planner_kwh")
    export = _col(frame, "export_market_kwh")
    peak_m = float(np.nanmax(market))
    peak_b = float(np.nanmax(base)) if base is not None else float("nan")

    def draw(fig: Figure) -> None:
        ax = fig.subplots()
        if export is not None and np.nanmax(export) > 0:
            _band(
                ax,
                frame.index,
                -export,
                np.zeros_like(export),
                color=_COLOURS["market"],
                alpha=0.18,
                label="market export (negative)",
            )
        if base is not None:
            _stairs(
                ax,
                frame.index,
                base,
                color=_COLOURS["baseline"],
                lw=2.6,
                alpha=0.6,
                label="baseline import (each agent alone)",
            )
        if plan is not None:
            _stairs(
                ax,
                frame.index,
                plan,
                color=_COLOURS["planner"],
                lw=1.4,
                ls="--",
                label="planner import (community optimum)",
            )
        _stairs(
            ax,
            frame.index,
            market,
            color=_COLOURS["market"],
            lw=2.0,
            label="market import",
        )
        ax.axhline(peak_m, color=_COLOURS["market"], lw=0.8, ls=":")
        if math.isfinite(peak_b):
            ax.axhline(peak_b, color=_COLOURS["baseline"], lw=0.8, ls=":")
        ax.axhline(0.0, color="#000000", lw=0.6)
        ax.set_ylabel("community grid import (kWh per interval)")
        _time_axis(ax)
        _legend_above(ax, 4)
        ax.margins(x=0.01)

    red = peak_reduction
    if red is None or not math.isfinite(red):
        red = 1.0 - peak_m / peak_b if math.isfinite(peak_b) and peak_b > 0 else float("nan")
    caption = (
        "Net load and peak shaving: the community's grid import per interval (kWh) with the "
        "local market, at the baseline (sum of the agents' own imports when each trades "
        "alone) and in the planner's community optimum; dotted lines mark the peaks. Peak "
        f"import {_fmt(peak_m, _kwh_kind(peak_m))} kWh with the market vs "
        f"{_fmt(peak_b, _kwh_kind(peak_b))} kWh at "
        f"the baseline: peak import reduction {_fmt(red, 'pct')}."
    )
    return _figure("plot-net-load", _render("plot-net-load", draw), caption)


_PLAN_COLUMNS = ("load_shape", "load_shape_plan", "solar_cf", "solar_cf_plan")


def _plan_section(frame: pd.DataFrame) -> str:
    """Planned (known at the cut-off) vs realised load shape and solar capacity factor."""
    found = {c: _col(frame, c) for c in _PLAN_COLUMNS}
    if any(v is None for v in found.values()):
        return _note(
            "This run was stored before agents planned on the forecasts known at the cut-off "
            "(they planned on the day's actual shapes): no planned shapes to show.",
            "note-plan",
        )
    cols = cast("dict[str, np.ndarray]", found)  # none is None
    load, load_plan = 100.0 * cols["load_shape"], 100.0 * cols["load_shape_plan"]
    cf, cf_plan = cols["solar_cf"], cols["solar_cf_plan"]
    sd = _col(frame, "solar_cf_error_sd_plan")  # runs stored before 2026-12-07 lack it
    if sd is not None and not np.isfinite(sd).any():
        sd = None

    def draw(fig: Figure) -> None:
        top, bottom = fig.subplots(2, 1, sharex=True)
        _stairs(top, frame.index, load, color=_COLOURS["market"], lw=2.0, label="realised")
        _stairs(top, frame.index, load_plan, color=_COLOURS["mean_field"], lw=1.6, ls="--",
                label="planned (known at the cut-off)")  # fmt: skip
        top.set_ylabel("load (% of day)")
        if sd is not None:
            _band(bottom, frame.index, np.clip(cf_plan - 2 * sd, 0, None), cf_plan + 2 * sd,
                  color=_COLOURS["mean_field"], alpha=0.18)  # fmt: skip
        _stairs(bottom, frame.index, cf, color=_COLOURS["market"], lw=2.0)
        _stairs(bottom, frame.index, cf_plan, color=_COLOURS["mean_field"], lw=1.6, ls="--")
        bottom.set_ylabel("solar (kW per kWp)")
        _time_axis(bottom)
        _legend_above(top, 2)
        top.margins(x=0.01)

    energy = float(np.nansum(cf_plan))
    if energy > 0:
        gap = float(np.nansum(cf)) / energy - 1.0
        side = "above" if gap > 0 else "below"
        solar = f"the realised solar energy is {_fmt(abs(gap), 'pct')} {side} the plan's"
    else:
        solar = "no solar was planned"
    band = ""
    if sd is not None:
        sunny = np.isfinite(sd) & (cf_plan > 0.05)
        outside = int((np.abs(cf - cf_plan) > 2 * sd)[sunny].sum())
        band = (
            "; the shaded band is the plan ± 2 root-mean-square errors of the solar plan on the "
            "days before each cut-off (the spread the agents weighed), and the realised solar "
            f"lies outside it in {outside} of {int(sunny.sum())} intervals with planned solar "
            "above 0.05"
        )
    n_days = max(1, round(float(np.nansum(cols["load_shape"]))))
    apart = float(np.nansum(np.abs(cols["load_shape"] - cols["load_shape_plan"]))) / 2 / n_days
    caption = (
        "What the agents planned and bid on (the day as known at noon of the day before: the "
        "load forecast's shape and the solar forecast) against what happened (the actuals the "
        "market, the planner and the baseline see): load per interval as a share of the day's "
        "load (%) and solar capacity factor (kW per kWp). Over the run "
        f"{solar}; the load shapes differ by {_fmt(apart, 'pct')} of a day's load{band}."
    )
    return _figure("plot-plan", _render("plot-plan", draw, height_in=4.2), caption)


def _cost_by_type_section(per_type: pd.DataFrame | None, what: str) -> str:
    names = (
        ("baseline", "baseline_cost_eur_per_agent"),
        ("market", "market_cost_eur_per_agent"),
        ("planner", "planner_cost_eur_per_agent"),
    )
    if per_type is None or per_type.empty:
        return _note("No per-type costs stored with this run.", "note-cost-by-type")
    cols = [(k, c) for k, c in names if c in per_type.columns]
    if not cols:
        return _note("No per-type costs stored with this run.", "note-cost-by-type")

    def label(t: Any) -> str:
        parts = [str(t)]
        row = per_type.loc[t]
        if "count" in per_type.columns and math.isfinite(float(row["count"])):
            share = float(row["share"]) if "share" in per_type.columns else float("nan")
            extra = f" ({share:.0%})" if math.isfinite(share) else ""
            parts.append(f"{float(row['count']):,.0f} agents{extra}")
        return "\n".join(parts)

    def draw(fig: Figure) -> None:
        ax = fig.subplots()
        x = np.arange(len(per_type))
        w = 0.8 / len(cols)
        for i, (key, c) in enumerate(cols):
            ax.bar(
                x + (i - (len(cols) - 1) / 2) * w,
                per_type[c].to_numpy(dtype=float),
                w,
                color=_COLOURS[key],
                label=key,
            )
        ax.axhline(0.0, color="#000000", lw=0.6)
        ax.set_xticks(x, [label(t) for t in per_type.index])
        ax.grid(axis="x", visible=False)
        ax.set_ylabel(f"cost (EUR per agent, {what})")
        ax.legend(loc="best", framealpha=0.85)

    caption = (
        f"Cost per agent of each type ({what}, EUR per agent; negative: net income). "
        "Baseline: each agent trades alone with the grid; market: the finite-N local market; "
        "planner: the community optimum (MILP)."
    )
    return _figure("plot-cost-by-type", _render("plot-cost-by-type", draw), caption)


def _day_labels(days: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Tick positions and labels for per-day plots (at most about 12 labels)."""
    k = max(1, math.ceil(len(days) / 12))
    pos = np.arange(0, len(days), k)
    return pos, [str(days[int(i)]) for i in pos]


def _day_axes(axes: Sequence[Axes], days: Sequence[str]) -> None:
    """Per-day x axes: at most about 12 date labels, slanted beyond three days; one or two
    days get narrower bars."""
    pos, labels = _day_labels(days)
    for ax in axes:
        ax.set_xticks(
            pos,
            labels,
            rotation=30 if len(days) > 3 else 0,
            ha="right" if len(days) > 3 else "center",
        )
        pad = max(0.0, (3 - len(days)) * 0.5)
        ax.set_xlim(-0.6 - pad, len(days) - 0.4 + pad)
        ax.grid(axis="x", visible=False)


def _days_section(daily: pd.DataFrame) -> str:
    """Efficiency and exploitability per day from a frame indexed by day (ISO strings)."""
    if daily.empty or not {"efficiency", "exploitability_eur_per_agent_day"} & set(daily.columns):
        return _note("No per-day figures stored with this run.", "note-days")
    days = [str(d) for d in daily.index]
    eff = (
        daily["efficiency"].to_numpy(dtype=float)
        if "efficiency" in daily.columns
        else np.full(len(days), np.nan)
    )
    expl = (
        daily["exploitability_eur_per_agent_day"].to_numpy(dtype=float)
        if "exploitability_eur_per_agent_day" in daily.columns
        else np.full(len(days), np.nan)
    )
    lo = daily["efficiency_low"].to_numpy(dtype=float) if "efficiency_low" in daily else eff
    hi = daily["efficiency_high"].to_numpy(dtype=float) if "efficiency_high" in daily else eff

    def draw(fig: Figure) -> None:
        ax1, ax2 = fig.subplots(1, 2)
        x = np.arange(len(days))
        yerr = np.vstack([np.clip(eff - lo, 0, None), np.clip(hi - eff, 0, None)])
        yerr = np.nan_to_num(yerr)
        ax1.bar(
            x,
            eff,
            0.6,
            color=_COLOURS["market"],
            yerr=yerr if yerr.any() else None,
            capsize=3,
            label="efficiency",
        )
        ax1.axhline(1.0, color=_COLOURS["planner"], lw=0.8, ls="--")
        ax1.annotate(
            "planner = 100%",
            (0.0, 1.0),
            xycoords=("axes fraction", "data"),
            xytext=(3, 3),
            textcoords="offset points",
            color=_COLOURS["planner"],
            fontsize=8,
        )
        ax1.set_ylim(top=max(1.12, float(np.nanmax(hi, initial=0.0)) + 0.05))
        ax1.yaxis.set_major_formatter(_percent())
        ax1.set_ylabel("efficiency (share of the planner's savings)")
        ax1.set_title("efficiency per day")
        ax2.plot(
            x,
            expl,
            "o-" if len(days) > 1 else "o",
            color=_COLOURS["mean_field"],
            ms=5,
            label="exploitability at the equilibrium",
        )
        ax2.axhline(
            SOLVER_TOL_EUR,
            color="#000000",
            lw=0.8,
            ls=":",
            label=f"solver target {SOLVER_TOL_EUR:g} EUR",
        )
        ax2.set_ylim(bottom=0.0)
        ax2.set_ylabel("exploitability (EUR per agent per day)")
        ax2.set_title("exploitability per day")
        _day_axes((ax1, ax2), days)
        ax2.legend(loc="best", framealpha=0.85)

    caption = (
        "Per day: efficiency = (baseline cost - market cost) / (baseline cost - planner "
        "cost), the share of the planner's savings the market reaches (error bars: the "
        "planner's sampling bound when it samples); exploitability of the mean-field "
        "equilibrium, the most an agent gains by deviating (EUR per agent per day). "
        f"{len(days)} day(s); mean efficiency {_fmt(_finite_mean(eff), 'pct')}, mean "
        f"exploitability {_fmt(_finite_mean(expl))} EUR per agent per day."
    )
    return _figure("plot-days", _render("plot-days", draw), caption)


def _percent() -> Any:
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(1.0, decimals=0)


def _convergence_section(days: Sequence[Mapping[str, Any]]) -> str:
    series: list[tuple[str, np.ndarray]] = []
    for d in days:
        hist = d.get("equilibrium_exploitability_history_eur")
        if not isinstance(hist, list) or not hist:
            continue
        init = d.get("equilibrium_initial_exploitability_eur")
        values = ([init] if _is_number(init) else []) + [v for v in hist if _is_number(v)]
        series.append((str(d.get("day", "?")), np.asarray(values, dtype=np.float64)))
    if not series:
        settled = [
            d
            for d in days
            if isinstance(d.get("equilibrium_exploitability_history_eur"), list)
            and _is_number(d.get("equilibrium_initial_exploitability_eur"))
            and d.get("equilibrium_converged") is True
        ]
        if settled:  # stored, but the solver stopped before its first step
            worst = max(float(d["equilibrium_initial_exploitability_eur"]) for d in settled)
            return _note(
                f"The solver took no step on {len(settled)} of {len(days)} day(s): the "
                f"starting point was already within tolerance (exploitability {_fmt(worst)} "
                "EUR per agent per day at most).",
                "note-convergence",
            )
        return _note(
            "No solver history stored with this run (runs stored before per-day figures).",
            "note-convergence",
        )
    has_init = any(_is_number(d.get("equilibrium_initial_exploitability_eur")) for d in days)

    def draw(fig: Figure) -> None:
        from matplotlib import colormaps
        from matplotlib.ticker import LogFormatterSciNotation

        ax = fig.subplots()
        cmap = colormaps["viridis"]
        for i, (day, y) in enumerate(series):
            x = np.arange(y.size) + (0 if has_init else 1)
            y = np.where(y > 0, y, np.nan)  # log scale: exact zeros are not drawn
            colour = cmap(i / max(1, len(series) - 1) * 0.85)
            ax.plot(
                x,
                y,
                "o-",
                ms=3.5,
                lw=1.2,
                color=colour,
                label=day if len(series) <= 10 else "_nolegend_",
            )
        ax.axhline(
            SOLVER_TOL_EUR,
            color="#000000",
            lw=0.8,
            ls=":",
            label=f"target {SOLVER_TOL_EUR:g} EUR per agent per day",
        )
        ax.set_yscale("log")
        # label some minor ticks too when the solver spans only a decade or two
        ax.yaxis.set_minor_formatter(
            LogFormatterSciNotation(labelOnlyBase=False, minor_thresholds=(2, 0.5))
        )
        ax.set_xlabel("solver iteration (0: initial strategy)")
        ax.set_ylabel("exploitability (EUR per agent per day)")
        ax.xaxis.get_major_locator().set_params(integer=True)  # type: ignore[call-arg]  # MaxNLocator's
        ax.legend(loc="upper right", framealpha=0.85, ncols=2 if len(series) > 5 else 1)

    iters = [y.size - (1 if has_init else 0) for _, y in series]
    caption = (
        "Convergence of the mean-field equilibrium solver (fictitious play): exploitability "
        "after each iteration, log scale, one line per day (EUR per agent per day); the "
        "dotted line is the solver's default stopping tolerance. Iterations per day: "
        f"{min(iters)} to {max(iters)}."
        if len(iters) > 1
        else "Convergence of the mean-field equilibrium solver (fictitious play): "
        "exploitability after each iteration, log scale (EUR per agent per day); the dotted "
        f"line is the solver's default stopping tolerance. {iters[0]} iteration(s)."
    )
    return _figure("plot-convergence", _render("plot-convergence", draw), caption)


def _forecast_section(frame: pd.DataFrame) -> str:
    if not _has_forecast(frame):
        return _note(
            "No load forecast is stored with this run (the zone has no load data or too "
            "little history): fan chart and PIT histogram skipped.",
            "note-forecast",
        )
    from scipy import stats

    probs = sorted({p for lvl in CENTRAL_INTERVALS for p in ((1 - lvl) / 2, (1 + lvl) / 2)})
    q = forecast_quantiles(frame, [*probs, 0.5])
    load = _col(frame, "load_mw")
    step_h = _step(frame.index) / np.timedelta64(1, "h")
    unit = "hours" if step_h == 1.0 else f"intervals of {step_h * 60:g} min"
    cover: list[str] = []
    if load is not None:
        for lvl in CENTRAL_INTERVALS:
            lo_, hi_ = q[(1 - lvl) / 2].to_numpy(), q[(1 + lvl) / 2].to_numpy()
            ok = np.isfinite(load) & np.isfinite(lo_)
            inside = int(np.sum((load[ok] >= lo_[ok]) & (load[ok] <= hi_[ok])))
            cover.append(f"{lvl:.0%}: {inside} of {int(ok.sum())}")

    def draw_fan(fig: Figure) -> None:
        ax = fig.subplots()
        for lvl, alpha in zip(CENTRAL_INTERVALS, (0.18, 0.3, 0.45), strict=True):
            _band(
                ax,
                frame.index,
                q[(1 - lvl) / 2],
                q[(1 + lvl) / 2],
                color=_COLOURS["forecast"],
                alpha=alpha,
                label=f"{lvl:.0%} central interval",
            )
        _stairs(
            ax, frame.index, q[0.5], color=_COLOURS["forecast"], lw=1.4, label="forecast median"
        )
        if load is not None:
            _stairs(ax, frame.index, load, color="#000000", lw=1.6, label="realised load")
        ax.set_ylabel("zone load (MW)")
        ax.yaxis.set_major_formatter(_thousands())
        _time_axis(ax)
        _legend_above(ax, 5)
        ax.margins(x=0.01)

    fan_caption = (
        "Day-ahead Student-t forecast of the zone's load (MW): median and central "
        "50/80/95% intervals (mu + sigma * t.ppf(p, nu)), realised load on top. Realised "
        f"load inside the central intervals ({unit}): {'; '.join(cover) or 'n/a'}."
    )
    parts = [_figure("plot-forecast-fan", _render("plot-forecast-fan", draw_fan), fan_caption)]

    pit = pit_values(frame).to_numpy()
    pit = pit[np.isfinite(pit)]
    n = int(pit.size)
    if n == 0:
        parts.append(
            _note("No realised load stored with this run: PIT histogram skipped.", "note-pit")
        )
        return "".join(parts)
    bins = 5 if n < 100 else 10 if n < 1000 else 20
    lo = float(stats.binom.ppf(0.025, n, 1.0 / bins))
    hi = float(stats.binom.ppf(0.975, n, 1.0 / bins))

    def draw_pit(fig: Figure) -> None:
        ax = fig.subplots()
        ax.hist(
            pit,
            bins=bins,
            range=(0.0, 1.0),
            color=_COLOURS["forecast"],
            alpha=0.75,
            edgecolor="#ffffff",
            label="realised load",
        )
        ax.axhspan(lo, hi, color="#000000", alpha=0.08, lw=0, label="95% range if calibrated")
        ax.axhline(n / bins, color="#000000", lw=1.0, ls="--", label="uniform (calibrated)")
        ax.set_xlim(0.0, 1.0)
        ax.set_xlabel("PIT = F(realised load) under the forecast")
        ax.set_ylabel(unit if unit == "hours" else "intervals")
        ax.legend(loc="upper center", ncols=3, framealpha=0.85)
        ax.set_ylim(top=max(hi, float(np.histogram(pit, bins, (0.0, 1.0))[0].max())) * 1.3)

    pit_caption = (
        f"PIT histogram over {n} {unit} ({bins} bins): t.cdf((load - mu) / sigma, nu) of the "
        "realised load. Flat if the forecast is calibrated; U-shaped: intervals too narrow; "
        "hump: too wide; sloped: biased. The grey band is the central 95% range of a bin's "
        f"count if calibrated (binomial, {lo:.0f} to {hi:.0f})."
    )
    parts.append(
        _figure("plot-forecast-pit", _render("plot-forecast-pit", draw_pit, 2.8), pit_caption)
    )
    return "".join(parts)


def _thousands() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: f"{v:,.0f}")


# --------------------------------------------------------------------------------------------
# routing
# --------------------------------------------------------------------------------------------

_ROUTING_LISTS = ("success", "fee_msat", "latency_s", "attempts")
_ROUTING_UNITS = {
    "routing_success_rate": ("success rate", "pct"),
    "routing_fee_pct_of_value": ("fee (% of the payment value)", "g"),
    "routing_latency_p50_s": ("latency, median (s)", "g"),
    "routing_latency_p95_s": ("latency, 95th percentile (s)", "g"),
    "routing_mean_attempts": ("attempts per payment, mean", "g"),
    "routing_payments": ("payments", "int"),
}


def _routing_data(
    metrics: Mapping[str, Any],
) -> tuple[dict[str, float], dict[str, np.ndarray], str | None]:
    """(routing_* scalar metrics, per-payment lists from ``routing_json``, problem note)."""
    scalars = {
        k: float(v)
        for k, v in metrics.items()
        if k.startswith("routing_") and k != "routing_json" and _is_number(v)
    }
    lists: dict[str, np.ndarray] = {}
    problem = None
    text = metrics.get("routing_json")
    if isinstance(text, str):
        try:
            obj = json.loads(text)
        except ValueError:
            obj, problem = None, "routing_json is not valid JSON: per-payment plots skipped."
        if isinstance(obj, Mapping):
            for key in _ROUTING_LISTS:
                raw = obj.get(key)
                if not isinstance(raw, list):
                    continue
                vals = [float(v) for v in raw if _is_number(v) or isinstance(v, bool)]
                arr = np.asarray(vals, dtype=np.float64)
                arr = arr[np.isfinite(arr)]
                if arr.size:
                    lists[key] = arr
        elif obj is not None:
            problem = "routing_json is not a JSON object: per-payment plots skipped."
    return scalars, lists, problem


def _has_routing(metrics: Mapping[str, Any]) -> bool:
    return any(k.startswith("routing_") for k in metrics)


def _routing_section(metrics: Mapping[str, Any]) -> str:
    scalars, lists, problem = _routing_data(metrics)
    panels: list[Callable[[Axes], None]] = []
    settled_mask = lists.get("success")
    of = {"fee_msat": "payment", "latency_s": "payment"}  # what a histogram counts
    for key in of:  # settled payments only, as the table's figures
        v = lists.get(key)
        if v is not None and settled_mask is not None and settled_mask.size == v.size:
            settled = v[settled_mask > 0]
            if settled.size:
                lists[key] = settled
                of[key] = "settled payment"
            else:
                del lists[key]

    rate: float | None
    n_pay: Any
    if "success" in lists:
        rate, n_pay = float(np.mean(lists["success"] > 0)), int(lists["success"].size)
    elif "routing_success_rate" in scalars:
        rate, n_pay = scalars["routing_success_rate"], scalars.get("routing_payments")
    else:
        rate, n_pay = None, None
    if rate is not None and math.isfinite(rate):

        def success(ax: Axes, rate: float = rate, n_pay: Any = n_pay) -> None:
            ax.bar([0, 1], [rate, 1.0 - rate], 0.6, color=[_COLOURS["planner"], "#d62728"])
            ax.set_xticks([0, 1], ["succeeded", "failed"])
            ax.set_ylim(0, 1)
            ax.yaxis.set_major_formatter(_percent())
            ax.set_ylabel("share of payments")
            of = f" of {n_pay:,.0f}" if _is_number(n_pay) and math.isfinite(n_pay) else ""
            ax.set_title(f"success {rate:.1%}{of}")
            ax.grid(axis="x", visible=False)

        panels.append(success)

    if "fee_msat" in lists:

        def fees(ax: Axes) -> None:
            v = lists["fee_msat"]
            ax.hist(v, bins=min(20, max(5, int(np.sqrt(v.size)))), color=_COLOURS["market"])
            ax.set_xlabel(f"fee per {of['fee_msat']} (msat)")
            ax.set_ylabel("payments")
            ax.set_title(f"fees: median {np.median(v):,.0f} msat")

        panels.append(fees)
    elif "routing_fee_pct_of_value" in scalars:

        def fee_bar(ax: Axes) -> None:
            v = scalars["routing_fee_pct_of_value"]
            ax.bar([0], [v], 0.5, color=_COLOURS["market"])
            ax.set_xticks([0], ["mean fee"])
            ax.set_xlim(-1.0, 1.0)
            ax.set_ylabel("fee (% of the payment value)")
            ax.set_title(f"fees: {v:.3g}% of value")

        panels.append(fee_bar)

    if "latency_s" in lists:

        def latency(ax: Axes) -> None:
            v = lists["latency_s"]
            ax.hist(v, bins=min(20, max(5, int(np.sqrt(v.size)))), color=_COLOURS["mean_field"])
            for p, ls in ((50, "--"), (95, ":")):
                ax.axvline(np.percentile(v, p), color="#000000", lw=1.0, ls=ls, label=f"p{p}")
            ax.set_xlabel(f"latency per {of['latency_s']} (s)")
            ax.set_ylabel("payments")
            ax.set_title("latency")
            ax.legend(loc="upper right", framealpha=0.85)

        panels.append(latency)
    elif {"routing_latency_p50_s", "routing_latency_p95_s"} & set(scalars):

        def latency_bar(ax: Axes) -> None:
            keys = [k for k in ("routing_latency_p50_s", "routing_latency_p95_s") if k in scalars]
            ax.bar(range(len(keys)), [scalars[k] for k in keys], 0.5, color=_COLOURS["mean_field"])
            ax.set_xticks(range(len(keys)), [k.split("_")[-2] for k in keys])
            ax.set_ylabel("latency (s)")
            ax.set_title("latency percentiles")

        panels.append(latency_bar)

    if "attempts" in lists:

        def attempts(ax: Axes) -> None:
            v = lists["attempts"].astype(int)
            values, counts = np.unique(v, return_counts=True)
            ax.bar(values, counts, 0.6, color=_COLOURS["baseline"])
            ax.set_xticks(values)
            ax.set_xlabel("attempts per payment")
            ax.set_ylabel("payments")
            ax.set_title(f"attempts: mean {v.mean():.2f}")

        panels.append(attempts)

    parts: list[str] = []
    if panels:

        def draw(fig: Figure) -> None:
            axes = np.atleast_1d(fig.subplots(1, len(panels)))
            for ax, panel in zip(axes, panels, strict=True):
                panel(ax)

        said = []
        if "fee_msat" in lists:
            said.append(
                f"median fee {np.median(lists['fee_msat']):,.0f} msat over "
                f"{lists['fee_msat'].size} {of['fee_msat']}(s)"
            )
        if "latency_s" in lists:
            lat = lists["latency_s"]
            said.append(
                f"latency p50 {np.percentile(lat, 50):.2f} s, p95 {np.percentile(lat, 95):.2f} s"
            )
        caption = (
            "Payment routing of the settlement: success rate, fees, latency and attempts per "
            "payment as stored with the run (per-payment histograms when the run stores "
            "them, fees and latency of the settled payments where the run says which settled, "
            "else the summary figures)" + (": " + "; ".join(said) if said else "") + "."
        )
        parts.append(_figure("plot-routing", _render("plot-routing", draw, 2.8), caption))
    else:
        parts.append(
            _note(
                "Routing metrics without success, fee or latency figures: no routing plot.",
                "note-routing",
            )
        )
    if problem:
        parts.append(_note(problem, "note-routing-json"))
    if scalars:
        rows = []
        for k in sorted(scalars):
            label, kind = _ROUTING_UNITS.get(k, (k.removeprefix("routing_").replace("_", " "), "g"))
            rows.append([f"<td>{_e(label)}</td>", _num_cell(scalars[k], kind, k)])
        parts.append(_table(("routing metric", "value"), rows, table_id="routing-table"))
    return "".join(parts)


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------

_HEADLINE: tuple[tuple[str, str, str, str], ...] = (
    ("efficiency", "efficiency", "share of the planner's savings the market reaches", "pct"),
    (
        "price_of_anarchy",
        "price of anarchy",
        "market cost / planner cost (the market's cost on the planner's sample when it samples)",
        "ratio",
    ),
    ("exploitability_eur_per_agent_day", "exploitability", "EUR per agent per day", "g"),
    ("baseline_cost_eur", "baseline cost", "EUR, all agents, each trading alone", "eur"),
    ("market_cost_eur", "market cost", "EUR, all agents, local market", "eur"),
    (
        "market_cost_used_eur",
        "market cost on the planner's sample",
        "EUR, the market's cost of the planner's sampled agents scaled to all agents: the "
        "market cost the efficiency and the price of anarchy use",
        "eur",
    ),
    ("planner_cost_eur", "planner cost", "EUR, all agents, community optimum", "eur"),
    (
        "planner_error_bound_eur",
        "planner error bound",
        "+- EUR on the planner cost: sampling error and MIP gaps, summed over the days",
        "eur",
    ),
    ("planner_mip_gap", "planner MIP gap", "relative, largest of any day", "g"),
    ("peak_import_reduction", "peak import reduction", "1 - market peak / baseline peak", "pct"),
)


def _metrics_table(metrics: Mapping[str, Any]) -> str:
    """Headline metrics (known ones first, then any other numeric non-routing metric)."""
    rows = []
    known = {k for k, *_ in _HEADLINE}
    for key, label, unit, kind in _HEADLINE:
        if key in metrics:
            rows.append(
                [
                    f"<td>{_e(label)}</td>",
                    _num_cell(metrics[key], kind, key),
                    f"<td>{_e(unit)}</td>",
                ]
            )
    for key in sorted(metrics):
        v = metrics[key]
        if key in known or key.startswith("routing_") or not _is_number(v):
            continue
        rows.append([f"<td>{_e(key)}</td>", _num_cell(v, "g", key), "<td></td>"])
    if not rows:
        return _note("No metrics stored with this run.", "note-metrics")
    return _table(("metric", "value", "unit / meaning"), rows, table_id="metrics-table")


_DAY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("run_id", "run", "int"),
    ("efficiency", "efficiency", "pct"),
    ("exploitability_eur_per_agent_day", "exploitability (EUR/agent/day)", "g"),
    ("equilibrium_iterations", "solver iterations", "int"),
    ("equilibrium_converged", "converged", "bool"),
    ("baseline_cost_eur", "baseline (EUR)", "eur"),
    ("market_cost_eur", "market (EUR)", "eur"),
    ("market_cost_used_eur", "market on the planner's sample (EUR)", "eur"),
    ("planner_cost_eur", "planner (EUR)", "eur"),
    ("peak_import_reduction", "peak import reduction", "pct"),
    ("planner_sampled", "planner sampled", "bool"),
    ("forecast_used", "forecast", "bool"),
)


def _days_table(daily: pd.DataFrame) -> str:
    if daily.empty:
        return ""
    cols = [c for c in _DAY_COLUMNS if c[0] in daily.columns]
    if not _any_sampled(daily):  # the same as the market cost: not shown twice
        cols = [c for c in cols if c[0] != "market_cost_used_eur"]
    rows = []
    for day, rec in daily.iterrows():
        row = [f"<td>{_e(day)}</td>"]
        for key, _, kind in cols:
            v = rec[key]
            if kind == "bool":
                row.append(f"<td>{_e('n/a' if pd.isna(v) else 'yes' if bool(v) else 'no')}</td>")
            else:
                row.append(_num_cell(v if _is_number(v) else float("nan"), kind))
        rows.append(row)
    return _table(("day", *(c[1] for c in cols)), rows, table_id="days-table")


def _any_sampled(daily: pd.DataFrame) -> bool:
    """Whether any day's planner was solved on a sample (its scores then pair the planner
    with the market's cost on the same agents, ``market_cost_used_eur``)."""
    if "planner_sampled" in daily.columns:
        return bool(daily["planner_sampled"].fillna(False).astype(bool).any())
    if {"market_cost_used_eur", "market_cost_eur"} <= set(daily.columns):
        used = pd.to_numeric(daily["market_cost_used_eur"], errors="coerce")
        whole = pd.to_numeric(daily["market_cost_eur"], errors="coerce")
        return bool((used.notna() & (used != whole)).any())
    return False


def _sampling_figures(days: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Headline figures of a planner solved on a sample, summed over the days (EUR): the
    market cost the scores use and the planner's error bound; empty when no day sampled."""
    if not any(d.get("planner_sampled") is True for d in days):
        return {}
    used = [d.get("market_cost_used_eur", d.get("market_cost_eur")) for d in days]
    bounds = [d.get("planner_error_bound_eur") for d in days]
    return {
        "market_cost_used_eur": math.fsum(float(u) for u in used if _is_number(u)),
        "planner_error_bound_eur": math.fsum(float(b) for b in bounds if _is_number(b)),
    }


def _sampling_note(days: Sequence[Mapping[str, Any]]) -> str:
    """A paragraph saying which days' planner was sampled and what the scores compare."""
    sampled = [d for d in days if d.get("planner_sampled") is True]
    if not sampled:
        return ""
    sizes = sorted(
        {int(d["planner_sample_size"]) for d in sampled if _is_number(d.get("planner_sample_size"))}
    )
    size = f" of {', '.join(f'{s:,}' for s in sizes)} agents" if sizes else ""
    return _note(
        f"The planner was solved on a stratified sample{size} on {len(sampled)} of "
        f"{len(days)} day(s) (more agents than it solves exactly): its cost is an estimate "
        "within the error bound, and the efficiency and price of anarchy compare it with the "
        "market's cost on the same sampled agents (market cost on the planner's sample), not "
        "with the whole market's cost.",
        "note-sampled",
    )


def _undefined_note(days: Sequence[Mapping[str, Any]]) -> str:
    """Why the efficiency or price of anarchy is n/a on some days (the engine's own words)."""
    parts = []
    for key, label in (
        ("efficiency_note", "efficiency"),
        ("price_of_anarchy_note", "price of anarchy"),
    ):
        notes = [str(d[key]) for d in days if d.get(key)]
        if notes:
            said = "; ".join(dict.fromkeys(notes))
            parts.append(f"The {label} is n/a on {len(notes)} of {len(days)} day(s): {said}.")
    if not parts:
        return ""
    return _note(" ".join(parts), "note-undefined")


def _period_line(frame: pd.DataFrame, zone: str | None) -> str | None:
    """ "period: <local> (<UTC>)" of a frame, local time of the zone when known."""
    if frame.empty:
        return None
    idx = pd.DatetimeIndex(frame.index)
    if idx.tz is None:
        idx = idx.tz_localize("UTC")
    start = idx[0]
    end = idx[-1] + pd.Timedelta(_step(frame.index))
    fmt = "%Y-%m-%d %H:%M"
    utc = f"{start.tz_convert('UTC'):{fmt}} to {end.tz_convert('UTC'):{fmt}} UTC"
    tz = None
    if zone:
        try:
            from data.zones import get_zone

            tz = get_zone(zone).tz
        except (BTUTError, ImportError):  # unknown zone or no entsoe: UTC only
            tz = None
    if tz is None:
        return f"Period: {utc}."
    return f"Period: {start.tz_convert(tz):{fmt}} to {end.tz_convert(tz):{fmt}} {tz} ({utc})."


# --------------------------------------------------------------------------------------------
# run report
# --------------------------------------------------------------------------------------------


def _run_days(run: Any) -> list[Mapping[str, Any]]:
    try:
        days = run.days()
    except (ValueError, TypeError):  # malformed days_json: report without per-day figures
        return []
    return [d for d in days if isinstance(d, Mapping)]


def _days_frame(days: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    rows = [{k: v for k, v in d.items() if not isinstance(v, list | dict)} for d in days]
    rows = [r for r in rows if "day" in r]
    if not rows:
        return pd.DataFrame(index=pd.Index([], name="day"))
    return pd.DataFrame(rows).set_index("day").sort_index()


_DAY_METRICS = (
    "efficiency",
    "exploitability_eur_per_agent_day",
    "baseline_cost_eur",
    "market_cost_eur",
    "planner_cost_eur",
    "peak_import_reduction",
)


def _day_ranges(days: Sequence[str]) -> str:
    """ISO days as runs of consecutive days: "d0 to d3, d5, d7 to d9" (sorted first)."""
    dates = sorted({dt.date.fromisoformat(str(d)) for d in days})
    runs: list[list[dt.date]] = []
    for d in dates:
        if runs and (d - runs[-1][-1]).days == 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    return ", ".join(
        r[0].isoformat() if len(r) == 1 else f"{r[0].isoformat()} to {r[-1].isoformat()}"
        for r in runs
    )


def _span(days: Sequence[str]) -> str:
    """ "d0", "d0 to d1" or "no days"."""
    if not days:
        return "no days"
    return days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"


def _check_run(run: Any, what: str = "run") -> None:
    for attr in ("to_frame", "per_type", "metrics", "days", "config", "run_id"):
        if not hasattr(run, attr):
            raise InvalidParameterError(
                f"{what} must be a stored run (btut.load_run), got {type(run).__name__}"
            )


def render_run_report(run: LoadedRun, *, title: str | None = None) -> str:
    """The complete HTML document of one stored replay run (one or several days).

    run: :func:`btut.load_run`'s :class:`~btut.replaying.LoadedRun`; title: the page title
    (default "BTUT replay run <id>: <zone> <days>"). Module doc for the plots and tables.
    """
    _check_run(run)
    frame = run.to_frame()
    metrics: Mapping[str, Any] = run.metrics or {}
    days = _run_days(run)
    daily = _days_frame(days)
    config = dict(run.config or {})
    day_list = [str(d) for d in config.get("days", [])] or [str(d) for d in daily.index]
    span = _span(day_list)
    if daily.empty and len(day_list) == 1:  # stored without per-day figures: the run's own
        row = {k: metrics[k] for k in _DAY_METRICS if _is_number(metrics.get(k))}
        if row:
            daily = pd.DataFrame([row], index=pd.Index(day_list, name="day"))
    if title is None:
        title = f"BTUT {run.kind} run {run.run_id}: {run.zone or 'no zone'}, {span}"
    sub = [
        f"Run {run.run_id} ({run.kind}), zone {run.zone or 'n/a'}, {len(day_list)} day(s): "
        f"{span}; {_fmt(config.get('agents'), 'int')} agents, seed {config.get('seed', 'n/a')}"
        f". Stored {run.created_utc:%Y-%m-%d %H:%M} UTC by btut {run.btut_version}, "
        f"config hash {str(run.config_hash)[:12]}.",
    ]
    period = _period_line(frame, run.zone)
    if period:
        sub.append(period)
    peak = metrics.get("peak_import_reduction")
    headline = {**metrics, **_sampling_figures(days)}
    sections = [
        (
            "summary",
            "Headline metrics",
            _metrics_table(headline) + _sampling_note(days) + _undefined_note(days),
        ),
        ("prices", "Local price vs wholesale", _price_section(frame)),
        (
            "net-load",
            "Net load and peak shaving",
            _net_load_section(frame, float(peak) if _is_number(peak) else None),
        ),
        (
            "cost-by-type",
            "Cost by agent type",
            _cost_by_type_section(run.per_type, "over the period"),
        ),
        (
            "days",
            "Efficiency and exploitability per day",
            _days_section(daily) + _days_table(daily),
        ),
        ("convergence", "Solver convergence", _convergence_section(days)),
        ("forecast", "Load forecast: fan chart and PIT", _forecast_section(frame)),
        ("plan", "Planned vs realised: load and solar", _plan_section(frame)),
    ]
    if _has_routing(metrics):
        sections.append(("routing", "Payment routing", _routing_section(metrics)))
    sections.append(("configuration", "Configuration", _config_table(config)))
    return _document(title, sub, sections)


# --------------------------------------------------------------------------------------------
# backtest report
# --------------------------------------------------------------------------------------------


class BacktestLike(Protocol):
    """What :func:`render_backtest_report` needs of a backtest."""

    @property
    def backtest_id(self) -> int: ...

    @property
    def zone(self) -> str: ...

    @property
    def config(self) -> Mapping[str, Any]: ...

    def days_frame(self) -> pd.DataFrame:
        """One row per day (``day`` index, ISO strings): ``run_id``, ``efficiency``,
        ``exploitability_eur_per_agent_day``, ``market_cost_eur`` (EUR), ..."""
        ...


_BACKTEST_DAY_COLUMNS = (
    "run_id",
    "efficiency",
    "exploitability_eur_per_agent_day",
    "market_cost_eur",
)


def _run_day_costs(runs: Sequence[Any]) -> pd.DataFrame:
    """Baseline/market/planner cost per day (EUR) from the runs' per-day figures (a run
    without them counts as one row labelled by its first day)."""
    rows = []
    for run in runs:
        days = _run_days(run)
        if days:
            for d in days:
                rows.append(
                    {
                        "day": str(d.get("day")),
                        "run_id": run.run_id,
                        **{
                            k: d.get(k)
                            for k in (
                                "baseline_cost_eur",
                                "market_cost_eur",
                                "market_cost_used_eur",
                                "planner_cost_eur",
                            )
                        },
                    }
                )
        else:
            label = (list(run.config.get("days", [])) or [f"run {run.run_id}"])[0]
            m = run.metrics
            rows.append(
                {
                    "day": str(label),
                    "run_id": run.run_id,
                    **{
                        k: m.get(k)
                        for k in ("baseline_cost_eur", "market_cost_eur", "planner_cost_eur")
                    },
                }
            )
    frame = pd.DataFrame(rows).set_index("day").sort_index()
    for c in ("baseline_cost_eur", "market_cost_eur", "market_cost_used_eur", "planner_cost_eur"):
        frame[c] = pd.to_numeric(frame.get(c), errors="coerce")
    return frame


def _daily_cost_section(costs: pd.DataFrame) -> str:
    keys = (
        ("baseline", "baseline_cost_eur"),
        ("market", "market_cost_eur"),
        ("planner", "planner_cost_eur"),
    )
    if costs.empty:
        return _note("No per-day costs stored with the runs.", "note-daily-cost")
    days = [str(d) for d in costs.index]

    def draw(fig: Figure) -> None:
        ax = fig.subplots()
        x = np.arange(len(days))
        if len(days) <= 14:
            w = 0.8 / len(keys)
            for i, (key, c) in enumerate(keys):
                ax.bar(
                    x + (i - 1) * w,
                    costs[c].to_numpy(dtype=float),
                    w,
                    color=_COLOURS[key],
                    label=key,
                )
        else:
            for key, c in keys:
                ax.plot(
                    x, costs[c].to_numpy(dtype=float), "o-", ms=3, color=_COLOURS[key], label=key
                )
        pos, labels = _day_labels(days)
        ax.set_xticks(
            pos,
            labels,
            rotation=30 if len(days) > 3 else 0,
            ha="right" if len(days) > 3 else "center",
        )
        ax.axhline(0.0, color="#000000", lw=0.6)
        ax.grid(axis="x", visible=False)
        ax.set_ylabel("cost of the community (EUR per day)")
        ax.legend(loc="best", framealpha=0.85, ncols=3)

    caption = (
        "Cost of the whole community per day (EUR, all agents): baseline (each agent alone), "
        "the local market and the planner's optimum. Totals over the period: baseline "
        f"{_fmt(costs['baseline_cost_eur'].sum(), 'eur')}, market "
        f"{_fmt(costs['market_cost_eur'].sum(), 'eur')}, planner "
        f"{_fmt(costs['planner_cost_eur'].sum(), 'eur')} EUR."
    )
    return _figure("plot-daily-cost", _render("plot-daily-cost", draw), caption)


def _sum_per_type(runs: Sequence[Any]) -> pd.DataFrame | None:
    frames = [r.per_type for r in runs if r.per_type is not None and not r.per_type.empty]
    if not frames:
        return None
    both = pd.concat(frames)
    grouped = both.groupby(level=0, sort=False)
    cost_cols = [c for c in both.columns if c.endswith("_cost_eur_per_agent")]
    out = grouped[cost_cols].sum(min_count=1)
    for c in ("count", "share"):
        if c in both.columns:
            out[c] = grouped[c].mean()
    out.index.name = "agent_type"
    return out


def _backtest_metrics(
    runs: Sequence[Any], daily: pd.DataFrame, costs: pd.DataFrame, frame: pd.DataFrame
) -> dict[str, float]:
    """Period figures aggregated like a multi-day replay: costs summed (EUR), exploitability
    averaged per day, efficiency and price of anarchy from the summed costs (the market's
    paired sample estimate where the planner samples), peak reduction over all intervals."""
    from market import efficiency, price_of_anarchy

    # as btut.backtest scores the period (btut.backtesting._period_scores): the engine's
    # rules, so a gap that is only rounding (b - p = 3e-14) is undefined here too, not 100 %
    b = math.fsum(costs["baseline_cost_eur"].astype(float))
    m = math.fsum(costs["market_cost_eur"].astype(float))
    used = costs["market_cost_used_eur"].fillna(costs["market_cost_eur"])
    m_used = math.fsum(used.astype(float))
    p = math.fsum(costs["planner_cost_eur"].astype(float))
    eff = float(efficiency(b, m_used, p))
    poa = float(price_of_anarchy(m_used, p))
    expl = (
        float(daily["exploitability_eur_per_agent_day"].astype(float).mean())
        if not daily.empty
        else float("nan")
    )
    gaps = [float(r.metrics.get("planner_mip_gap", float("nan"))) for r in runs]
    gaps = [g for g in gaps if math.isfinite(g)]
    red = float("nan")
    if {"import_market_kwh", "import_baseline_kwh"} <= set(frame.columns) and not frame.empty:
        pb = float(frame["import_baseline_kwh"].max())
        if pb > 0:
            red = 1.0 - float(frame["import_market_kwh"].max()) / pb
    return {
        "efficiency": eff,
        "price_of_anarchy": poa,
        "exploitability_eur_per_agent_day": expl,
        "baseline_cost_eur": b,
        "market_cost_eur": m,
        "planner_cost_eur": p,
        "planner_mip_gap": max(gaps) if gaps else float("nan"),
        "peak_import_reduction": red,
    }


def render_backtest_report(
    backtest: BacktestLike, runs: Sequence[LoadedRun], *, title: str | None = None
) -> str:
    """The complete HTML document of a backtest and its stored runs.

    backtest: ``backtest_id``, ``zone``, ``config`` and ``days_frame()`` (see
    :class:`BacktestLike`); runs: the backtest's stored runs (:func:`btut.load_run`), at
    least one; title: the page title (default "BTUT backtest <id>: <zone> <period>").
    Headline figures are aggregated over the runs like a multi-day replay (costs summed in
    EUR, exploitability averaged per agent-day, efficiency from the summed costs).
    """
    for attr in ("backtest_id", "zone", "config", "days_frame"):
        if not hasattr(backtest, attr):
            raise InvalidParameterError(
                f"backtest must have backtest_id, zone, config and days_frame(); "
                f"{type(backtest).__name__} has no {attr}"
            )
    runs = list(runs)
    if not runs:
        raise InvalidParameterError(
            f"backtest {backtest.backtest_id} has no stored runs to report on"
        )
    for r in runs:
        _check_run(r, "every run")
    daily = backtest.days_frame()
    missing = [c for c in _BACKTEST_DAY_COLUMNS if c not in daily.columns]
    if missing:
        raise InvalidParameterError(f"backtest days_frame() lacks column(s) {', '.join(missing)}")
    daily = daily.copy()
    daily.index = daily.index.map(str)
    daily = daily.sort_index()

    frames = [r.to_frame() for r in runs]
    frames = [f for f in frames if not f.empty]
    if frames:
        frame = pd.concat(frames).sort_index()
        frame = frame[~frame.index.duplicated(keep="first")]
    else:
        frame = runs[0].to_frame()
    costs = _run_day_costs(runs)
    headline = _backtest_metrics(runs, daily, costs, frame)
    stored = getattr(backtest, "metrics", None)
    stored = stored if isinstance(stored, Mapping) else {}

    days = [str(d) for d in daily.index]
    span = _span(days)
    if title is None:
        title = f"BTUT backtest {backtest.backtest_id}: {backtest.zone}, {span}"
    sub = [
        f"Backtest {backtest.backtest_id}, zone {backtest.zone}, {len(days)} day(s): {span}; "
        f"{len(runs)} stored run(s): {', '.join(str(r.run_id) for r in runs)}."
    ]
    period = _period_line(frame, backtest.zone)
    if period:
        sub.append(period)
    absent = [str(d) for d in getattr(backtest, "missing_days", ())]
    if absent:
        cfg = backtest.config
        listed = ", ".join(absent[:5]) + (f" and {len(absent) - 5} more" if len(absent) > 5 else "")
        sub.append(
            f"Incomplete: {len(absent)} day(s) of the backtest's period {cfg.get('start')} to "
            f"{cfg.get('end')} (end exclusive) are not stored ({listed}): it stopped "
            "before them; run it again to add them. Every figure here covers the stored days "
            "only."
        )

    run_rows = []
    for r in runs:
        rd = [str(d) for d in r.config.get("days", [])]
        run_rows.append(
            [
                _num_cell(r.run_id, "int"),
                f"<td>{_e(', '.join(rd) if len(rd) <= 3 else f'{rd[0]} to {rd[-1]}')}</td>",
                _num_cell(r.config.get("agents", float("nan")), "int"),
                _num_cell(r.metrics.get("efficiency", float("nan")), "pct"),
                _num_cell(r.metrics.get("market_cost_eur", float("nan")), "eur"),
                f"<td>{_e(f'{r.created_utc:%Y-%m-%d %H:%M}')}</td>",
            ]
        )
    runs_table = _table(
        ("run", "days", "agents", "efficiency", "market cost (EUR)", "stored (UTC)"),
        run_rows,
        table_id="runs-table",
    )

    run_days = [d for r in runs for d in _run_days(r)]
    summary = _metrics_table({**headline, **_sampling_figures(run_days)})
    summary += _sampling_note(run_days) + _undefined_note(run_days)
    summary += (
        '<p class="sub">Aggregated over the runs like a multi-day replay: costs summed (EUR, '
        "all agents), exploitability averaged per day, efficiency and price of anarchy from "
        "the summed costs, peak import reduction over all intervals.</p>"
    )
    numeric_stored = {k: v for k, v in stored.items() if _is_number(v)}
    if numeric_stored:
        rows = [
            [f"<td>{_e(k)}</td>", _num_cell(v, "g", k)] for k, v in sorted(numeric_stored.items())
        ]
        summary += "<h3>Stored backtest metrics</h3>" + _table(
            ("metric", "value"), rows, table_id="backtest-metrics-table"
        )
    sections = [
        ("summary", "Headline metrics", summary + runs_table),
        (
            "days",
            "Efficiency and exploitability per day",
            _days_section(daily) + _days_table(daily),
        ),
        ("daily-cost", "Cost per day", _daily_cost_section(costs)),
        ("prices", "Local price vs wholesale", _price_section(frame)),
        (
            "net-load",
            "Net load and peak shaving",
            _net_load_section(frame, headline["peak_import_reduction"]),
        ),
        (
            "cost-by-type",
            "Cost by agent type",
            _cost_by_type_section(_sum_per_type(runs), "summed over the runs"),
        ),
        ("forecast", "Load forecast: fan chart and PIT", _forecast_section(frame)),
    ]
    if _has_routing(stored):
        sections.append(("routing", "Payment routing", _routing_section(stored)))
    sections.append(("configuration", "Configuration", _config_table(dict(backtest.config))))
    return _document(title, sub, sections)


# --------------------------------------------------------------------------------------------
# two backtests compared
# --------------------------------------------------------------------------------------------


def _compare_plot_section(frame: pd.DataFrame, scores: Mapping[str, Any]) -> str:
    """Efficiency per day of A and B, and the daily change with its mean and 95 % interval."""
    days = [str(d) for d in frame.index]
    eff_a = frame["efficiency_a"].to_numpy(dtype=float)
    eff_b = frame["efficiency_b"].to_numpy(dtype=float)
    change = frame["efficiency_change"].to_numpy(dtype=float)
    mean = float(scores["daily_efficiency_change_mean"])
    low = float(scores["daily_efficiency_change_low95"])
    high = float(scores["daily_efficiency_change_high95"])

    def draw(fig: Figure) -> None:
        ax1, ax2 = fig.subplots(1, 2)
        x = np.arange(len(days))
        style = "o-" if len(days) > 1 else "o"
        ax1.plot(x, eff_a, style, color=_COLOURS["market"], ms=4, label="A")
        ax1.plot(x, eff_b, style, color=_COLOURS["mean_field"], ms=4, label="B")
        from matplotlib.ticker import PercentFormatter

        # close efficiencies (0.955 and 0.962): as many decimals as the ticks need
        ax1.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
        ax1.set_ylabel("efficiency (share of the planner's savings)")
        ax1.set_title("efficiency per day")
        ax1.legend(loc="best", framealpha=0.85)
        defined = np.isfinite(change)
        colours = [_COLOURS["planner"] if c > 0 else _COLOURS["baseline"] for c in change]
        # in percentage points, as the tables: -1.5 is 1.5 points below
        ax2.bar(x[defined], 100.0 * change[defined], 0.6, color=[colours[i] for i in x[defined]])
        for i in x[~defined]:  # an undefined day is marked, not drawn as an equal one
            ax2.annotate("n/a", (i, 0.0), ha="center", va="bottom", fontsize=7,
                         color=_COLOURS["baseline"])  # fmt: skip
        ax2.axhline(0.0, color="#000000", lw=0.8)
        if math.isfinite(mean):
            ax2.axhline(100.0 * mean, color=_COLOURS["forecast"], lw=1.2, ls="--", label="mean")
        if math.isfinite(low) and math.isfinite(high):
            ax2.axhspan(100.0 * low, 100.0 * high, color=_COLOURS["forecast"], alpha=0.15,
                        label="95 % interval of the mean")  # fmt: skip
        ax2.set_ylabel("B - A (percentage points of efficiency)")
        ax2.set_title("change per day")
        if math.isfinite(mean):
            ax2.legend(loc="best", framealpha=0.85)
        _day_axes((ax1, ax2), days)

    undefined = int(scores["days_undefined"])
    n_defined = len(days) - undefined
    if n_defined == 0:
        change_text = "No day has a defined change (efficiency undefined on every day)"
    else:
        interval = (
            f" (95 % interval {_fmt(low, 'pp')} to {_fmt(high, 'pp')})"
            if math.isfinite(low)
            else " (one day with a defined change: no interval)"
        )
        change_text = f"Mean daily change {_fmt(mean, 'pp')}{interval}"
    caption = (
        "Left: each scenario's efficiency per day, (baseline cost - market cost) / (baseline "
        "cost - planner cost). Right: B's efficiency minus A's on each day (green where B does "
        f"better; n/a where either is undefined), the mean over the days and its Student-t "
        f"95 % interval. {change_text}; B higher on {scores['days_b_higher']}, lower on "
        f"{scores['days_b_lower']}, equal on {scores['days_equal']} of {len(days)} day(s)"
        + (f", undefined on {undefined}" if undefined else "")
        + "."
    )
    return _figure("plot-compare", _render("plot-compare", draw), caption)


_COMPARE_SCORES: tuple[tuple[str, str, str], ...] = (
    ("efficiency_a", "efficiency A (over the common days)", "pct"),
    ("efficiency_b", "efficiency B (over the common days)", "pct"),
    ("efficiency_change", "change of the period efficiency, B - A", "pp"),
    ("daily_efficiency_change_mean", "mean daily change, B - A", "pp"),
    ("daily_efficiency_change_low95", "its 95 % interval: low", "pp"),
    ("daily_efficiency_change_high95", "its 95 % interval: high", "pp"),
    ("days_b_higher", "days B higher", "int"),
    ("days_b_lower", "days B lower", "int"),
    ("days_equal", "days equal", "int"),
    ("days_undefined", "days undefined (left out)", "int"),
    ("exploitability_eur_per_agent_day_a", "exploitability A (EUR per agent per day)", "g"),
    ("exploitability_eur_per_agent_day_b", "exploitability B (EUR per agent per day)", "g"),
)


def render_comparison_report(comparison: Any, *, title: str | None = None) -> str:
    """The complete HTML document of two backtests compared on their common days
    (:func:`btut.comparing.compare_backtests`): scores, the settings that differ, the
    efficiency per day and its change, the per-day table, and A's whole configuration."""
    for attr in ("a", "b", "days", "changes", "scores", "to_frame"):
        if not hasattr(comparison, attr):
            raise InvalidParameterError(
                "comparison must be a BacktestComparison (btut.compare_backtests); "
                f"{type(comparison).__name__} has no {attr}"
            )
    a, b = comparison.a, comparison.b
    frame, scores = comparison.to_frame(), comparison.scores()
    days = [str(d) for d in frame.index]
    span = _span(days)
    if title is None:
        title = f"BTUT compare: backtests {a.backtest_id} and {b.backtest_id}, {a.zone}, {span}"
    sub = [
        f"A is backtest {a.backtest_id} ({len(a.days)} stored day(s)), B is backtest "
        f"{b.backtest_id} ({len(b.days)}); compared on the {len(days)} day(s) both have "
        f"stored: {span}. Each day gives one difference, so the interval is over days "
        "(paired)."
    ]
    common = set(comparison.days)
    for side, bt in (("A", a), ("B", b)):
        only = [d.day.isoformat() for d in bt.days if d.day not in common]
        if only:
            sub.append(
                f"{side} has {len(only)} stored day(s) the other lacks ({_day_ranges(only)}): left "
                "out of every figure here."
            )
    rows = [
        [f"<td>{_e(label)}</td>", _num_cell(scores[key], kind, key)]
        for key, label, kind in _COMPARE_SCORES
    ]
    summary = _table(("score", "value"), rows, table_id="compare-table")
    if comparison.changes:
        change_rows = [
            [
                f"<td>{_e(k)}</td>",
                f"<td>{_e(json.dumps(va))}</td>",
                f"<td>{_e(json.dumps(vb))}</td>",
            ]
            for k, (va, vb) in comparison.changes.items()
        ]
        settings = _table(("setting", "A", "B"), change_rows, table_id="changes-table")
    else:
        settings = _note("No setting differs (other code versions or stores).", "note-no-changes")
    day_rows = []
    for day, rec in frame.iterrows():
        day_rows.append(
            [
                f"<td>{_e(day)}</td>",
                _num_cell(int(rec["run_id_a"]), "int"),
                _num_cell(int(rec["run_id_b"]), "int"),
                _num_cell(rec["efficiency_a"], "pct"),
                _num_cell(rec["efficiency_b"], "pct"),
                _num_cell(rec["efficiency_change"], "pp"),
                _num_cell(rec["market_cost_eur_a"], "eur"),
                _num_cell(rec["market_cost_eur_b"], "eur"),
            ]
        )
    days_table = _table(
        ("day", "run A", "run B", "efficiency A", "efficiency B", "change", "market A (EUR)",
         "market B (EUR)"),
        day_rows,
        table_id="compare-days-table",
    )  # fmt: skip
    sections = [
        ("summary", "Scores over the common days", summary),
        ("changes", "Settings that differ", settings),
        ("days", "Efficiency per day and its change", _compare_plot_section(frame, scores)),
        ("day-table", "Per day", days_table),
        ("configuration", "Configuration of A", _config_table(dict(a.config))),
    ]
    return _document(title, sub, sections)


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------


_NOT_REGULAR = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def report_target(path: str | os.PathLike[str]) -> Path:
    """The file a report for ``path`` is written to: ``~`` expanded, symlinks followed to
    their target (a symlink is written through, not replaced), absolute. Cheap, so callers
    check before rendering. ``InvalidParameterError`` when something that is not a regular
    file (directory, FIFO, socket, device) is there, ``StorageError`` when the path cannot be
    looked at (e.g. a parent that is a file, no permission)."""
    try:
        given = Path(path).expanduser()
    except TypeError as exc:
        raise InvalidParameterError(f"report path must be a file path, got {path!r}") from exc
    check_path_given(path, "report path", "the HTML file to write")
    target = Path(os.path.realpath(given))
    shown = str(given) if target == given.absolute() else f"{given} (-> {target})"
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise StorageError(f"cannot write report to {shown}: {reason}") from None
    for test, what in _NOT_REGULAR:
        if test(mode):
            raise InvalidParameterError(f"report path {shown} is {what}, not a regular file")
    if not stat.S_ISREG(mode):
        raise InvalidParameterError(f"report path {shown} is not a regular file")
    return target


def _temp_beside(target: Path, mode: int) -> tuple[int, str]:
    """Create a new temporary file beside ``target`` with ``mode`` less the umask (the kernel
    applies it, and a default ACL, as ``open()`` does); its descriptor and name."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        name = str(target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(name, flags, mode), name
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(target.parent))


def write_report(html: str, path: str | os.PathLike[str]) -> Path:
    """Write the report atomically (temp file in the target directory, then ``os.replace``),
    creating the parent directory; the resolved path (:func:`report_target`: a symlink is
    written through to its target). ``InvalidParameterError`` when the path is not a regular
    file, ``StorageError`` when it cannot be written (nothing half-written is left behind)."""
    if not isinstance(html, str):
        raise InvalidParameterError(f"report must be HTML text, got {type(html).__name__}")
    target = report_target(path)
    tmp: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # an existing report keeps its permissions (a private 0600 one stays private, also
        # while the new text is written); a new one gets 0666 less the umask, as open() gives:
        # no umask is read here (setting it for a moment to read it races with other threads)
        try:
            keep: int | None = stat.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:
            keep = None
        fd, tmp = _temp_beside(target, 0o666 if keep is None else 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            if keep is not None:
                os.fchmod(fh.fileno(), keep)
            fh.write(html)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise StorageError(f"cannot write report to {target}: {reason}") from exc
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return target
