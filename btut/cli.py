"""The ``btut`` command line (typer + rich).

Every command takes ``--json`` for one machine-readable JSON object on stdout. Errors a
user can fix print one line on stderr and exit non-zero (2 bad parameter, usage error or
missing credentials, 3 data unavailable, 4 invalid data, 5 storage or output, also an
unreachable Dask scheduler, 6 no payment route, 75 the same backtest is already running);
70 is a bug (one line), 130 an interrupt (Ctrl-C), 143 a SIGTERM (both one line,
after the same clean-up). ``BTUT_DEBUG=1`` prints the traceback
too, with the same exit code. Warnings are one ``btut: warning:`` line each.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import stat
import sys
import time
import traceback
import warnings
from collections.abc import Iterator
from typing import Annotated, Any, cast

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from btut import MAX_SEED
from btut.interrupts import InterruptWatch, watch_interrupts
from data.checks import check_path_given, clip_repr
from data.errors import BTUTError

# typer >= 0.20 vendors its own click (no click dependency): use typer's public names
_EXIT = (typer.Exit,)
_PACKAGES = ("agents", "btut", "data", "forecasting", "market", "risk", "routing")
MAX_CONFIG_BYTES = 10_000_000  # a population configuration is a few kB
_ABORT = (typer.Abort, KeyboardInterrupt)


def _is_usage_error(exc: BaseException) -> bool:
    """A click/typer ``ClickException`` (bad option, missing parameter), whichever click."""
    return any(c.__name__ == "ClickException" for c in type(exc).__mro__) and hasattr(exc, "show")


#: --kappa's help; its default is market.DEFAULT_KAPPA (a test holds them equal), not
#: imported here so that the command line starts without the market's libraries.
KAPPA_HELP = (
    "Price sensitivity κ, EUR/MWh per kW of mean position (default 400; stored as "
    "kappa_eur_per_mwh_per_kwh)."
)

app = typer.Typer(
    name="btut",
    help="BTUT: a mean-field energy market for small prosumers on real ENTSO-E data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(
    help="Market data: zones, bundled and ENTSO-E data, validation.", no_args_is_help=True
)
app.add_typer(data_app, name="data")
forecast_app = typer.Typer(
    help="Probabilistic day-ahead forecasts and their evaluation.", no_args_is_help=True
)
app.add_typer(forecast_app, name="forecast")
db_app = typer.Typer(
    help="The results store (SQLite by default, PostgreSQL by URL).", no_args_is_help=True
)
app.add_typer(db_app, name="db")

err = Console(stderr=True, highlight=False, soft_wrap=True)


def out() -> Console:
    """Console for results on stdout; wide when piped so tables are not squeezed."""
    console = Console(highlight=False)
    return console if console.is_terminal else Console(highlight=False, width=200)


ZoneOpt = Annotated[str, typer.Option("--zone", "-z", help="Bidding-zone code, e.g. ES, DE_LU.")]
StartOpt = Annotated[str, typer.Option("--start", help="First market day (local), YYYY-MM-DD.")]
EndOpt = Annotated[str, typer.Option("--end", help="Day after the last market day (exclusive).")]
SourceOpt = Annotated[
    str | None,
    typer.Option("--source", help="CSV path or 'entsoe' (default: bundled data)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
#: Random payments of one `btut route` (each is a k-shortest-paths search: about a second a
#: thousand on the bundled graph).
MAX_PAYMENTS = 10_000_000
#: What an empty --graph should have been.
_GRAPH_WANTED = "a Lightning snapshot folder or channels file, or leave it out for the bundled one"
AgentsOpt = Annotated[int, typer.Option("--agents", "-n", help="Number of agents N.")]
SeedOpt = Annotated[
    int, typer.Option("--seed", help=f"Random seed, 0..{MAX_SEED}.", min=0, max=MAX_SEED)
]
ConfigOpt = Annotated[
    str | None,
    typer.Option("--config", help="Population config JSON (PopulationConfig.to_dict())."),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option("--scheduler", help="Dask scheduler address (default: a LocalCluster)."),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option("--workers", help="LocalCluster worker processes (default: CPUs)."),
]


def _db_url(value: str | None) -> str | None:
    """``--db`` (or ``$BTUT_DB_URL``): an in-memory SQLite database is refused (it would keep
    nothing)."""
    from data.store import is_in_memory

    url = value if value is not None else os.environ.get("BTUT_DB_URL", "").strip() or None
    if url is not None and is_in_memory(url):
        where = "" if value is not None else "BTUT_DB_URL "
        raise typer.BadParameter(
            f"{where}{url!r} is an in-memory SQLite database, gone when the command ends: "
            "give a file, e.g. sqlite:///results.sqlite"
        )
    if url is not None:
        _check_db_scheme(url, "" if value is not None else " in BTUT_DB_URL")
    return value


def _check_db_scheme(url: str, where: str) -> None:
    """A URL whose scheme no SQLAlchemy dialect serves (``foo://``) is a bad parameter; a
    known dialect whose driver is not installed is left to the store (a setup problem), and
    so is a URL that does not parse (the store says so without echoing a password)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError, TypeError):
        return
    if parsed.drivername == "postgres":  # the store reads it as postgresql+psycopg
        return
    try:
        parsed.get_dialect()
    except NoSuchModuleError:
        raise typer.BadParameter(
            f"unknown database URL scheme {clip_repr(parsed.drivername)}{where}: the store is "
            "SQLite (sqlite:///PATH) or PostgreSQL (postgresql://USER@HOST/DB)"
        ) from None


DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db", help="Database URL (default $BTUT_DB_URL or a SQLite file).", callback=_db_url
    ),
]
CacheOpt = Annotated[
    str | None,
    typer.Option("--cache-dir", help="ENTSO-E response cache (default $BTUT_CACHE_DIR)."),
]


#: Longest error or warning line printed (an echoed 100,000-character --zone is cut).
MAX_LINE_CHARS = 1000


def _clipped(line: str) -> str:
    """``line`` cut to :data:`MAX_LINE_CHARS` with its full length said, for messages of the
    library that echo a long input whole."""
    if len(line) <= MAX_LINE_CHARS:
        return line
    return f"{line[:MAX_LINE_CHARS]}... ({len(line):,} characters)"


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _progress(*columns: Any):
    """A progress bar on stderr, cleared when done, off when stderr is not a terminal."""
    from rich.progress import Progress

    return Progress(*columns, console=err, transient=True, disable=not err.is_terminal)


def emit_json(obj: Any) -> None:
    """Print ``obj`` as one JSON document (NaN -> null, timestamps -> ISO 8601)."""

    def clean(v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        return _jsonable(v)

    with _closed_pipe_is_quiet():
        sys.stdout.write(json.dumps(clean(obj), allow_nan=False) + "\n")
        sys.stdout.flush()  # a write error (a full disk) raises here, not at exit


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        from importlib.metadata import version as _v

        typer.echo(f"btut {_v('btut')}")
        raise typer.Exit()


@data_app.command("zones")
def data_zones(
    all_zones: Annotated[
        bool, typer.Option("--all", help="Also list ENTSO-E zones without bundled data.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """List zones: bundled coverage (local market days, columns) and time zones."""
    from data import bundled_coverage, zones

    cov = bundled_coverage()
    rows: list[dict[str, Any]] = []
    for code, zone in sorted(zones().items()):
        c = cov.get(code)
        if c is None and not all_zones:
            continue
        rows.append(
            {
                "zone": code,
                "name": zone.name,
                "tz": zone.tz,
                "entsoe_api": zone.on_entsoe,
                "bundled": c is not None,
                "first_day": c.first_day.isoformat() if c else None,
                "last_day": c.last_day.isoformat() if c else None,
                "columns": list(c.columns) if c else [],
                "file": c.source if c else None,
            }
        )
    if as_json:
        emit_json({"zones": rows})
        return
    table = Table(title="BTUT zones" + (" (all)" if all_zones else " with bundled data"))
    for col in ("zone", "tz", "first day", "last day", "columns", "file"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["zone"],
            r["tz"],
            r["first_day"] or "-",
            r["last_day"] or "-",
            ", ".join(r["columns"]) or "-",
            r["file"] or "API only",
        )
    out().print(table)


def _load(
    zone: str,
    start: str,
    end: str,
    source: str | None,
    cache_dir: str | None = None,
    *,
    strict_index: bool = True,
):
    """``load_market_data``; an ENTSO-E download draws a bar of its queries on a terminal.
    ``strict_index=False`` (``data validate``) keeps duplicate and out-of-order timestamps
    for the report instead of refusing them."""
    from data import load_market_data

    if not (isinstance(source, str) and source.lower() == "entsoe"):
        return load_market_data(
            zone, start, end, source=source, cache_dir=cache_dir, strict_index=strict_index
        )
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    from data.loader import check_window

    code = check_window(zone, start, end)[0].code  # a bad zone is its one line, not a bar
    with _progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ) as bar:
        task = bar.add_task(f"ENTSO-E {code}: querying", total=None)

        def said(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, description=f"ENTSO-E {code}: {what} in")

        return load_market_data(
            zone,
            start,
            end,
            source="entsoe",
            cache_dir=cache_dir,
            progress=said,
            strict_index=strict_index,
        )


def _frame_rows(frame) -> list[dict[str, Any]]:
    tz = frame.attrs.get("tz")
    rows = []
    for t, values in zip(frame.index, frame.to_dict("records"), strict=True):
        row: dict[str, Any] = {"time_utc": t.isoformat()}
        if tz:
            row["time_local"] = t.tz_convert(tz).isoformat()
        row.update(values)
        rows.append(row)
    return rows


def _summary(frame, report) -> dict[str, Any]:
    a = frame.attrs
    return {
        "zone": a.get("zone"),
        "start": a.get("start"),
        "end": a.get("end"),
        "tz": a.get("tz"),
        "source": a.get("source"),
        "resolution": report.resolution,
        "n_rows": len(frame),
        "columns": list(frame.columns),
    }


def _warning_line(text: str) -> None:
    """One ``btut: warning:`` line on stderr (white space folded)."""
    err.print(f"btut: warning: {_clipped(' '.join(str(text).split()))}", markup=False)


def _raise_first_error(report) -> None:
    """A validation report's first error as the command's one error line (exit 4); the
    report itself (table or JSON) was printed before and holds them all."""
    from data import DataValidationError

    if report.errors:
        raise DataValidationError(report.errors[0])


def _print_findings(report) -> None:
    """The report's warnings, one line each; then its first error (timestamps off the grid:
    the rows were shown, but no command uses them), exit 4 as ``data validate``."""
    for w in report.warnings:
        _warning_line(w)
    _raise_first_error(report)


@data_app.command("show")
def data_show(
    zone: ZoneOpt,
    start: StartOpt,
    end: EndOpt,
    source: SourceOpt = None,
    as_json: JsonOpt = False,
    as_csv: Annotated[
        bool,
        typer.Option(
            "--csv",
            help="Print CSV in BTUT's own layout (time_utc, zone, columns), which --source "
            "reads back.",
        ),
    ] = False,
) -> None:
    """Show a zone's market data for local market days [START, END).
    Exit 4 when the data has errors (timestamps off the grid), after the rows."""
    from data import InvalidParameterError, get_zone, validate_market_data

    if as_json and as_csv:
        raise InvalidParameterError("--json and --csv are two outputs: give one of them")
    frame = _load(zone, start, end, source)
    report = validate_market_data(frame)
    if as_csv:
        # full precision (pandas writes each float's shortest exact repr): read back equal
        table = frame.copy()
        table.insert(0, "zone", get_zone(zone).code)
        _write_stdout(table.to_csv(date_format="%Y-%m-%dT%H:%M:%SZ"))
        _print_findings(report)
        return
    if as_json:
        emit_json(
            {**_summary(frame, report), "validation": report.to_dict(), "rows": _frame_rows(frame)}
        )
        _raise_first_error(report)
        return
    s = _summary(frame, report)
    shown = frame.copy()
    shown.index = shown.index.tz_convert(s["tz"]).strftime("%Y-%m-%d %H:%M%z")
    shown.index.name = f"time ({s['tz']})"
    out().print(f"{s['zone']} {s['start']} .. {s['end']} ({s['source']})", markup=False)
    out().print(shown.to_string(float_format=lambda v: f"{v:.2f}", na_rep="NaN"), markup=False)
    err.print(f"{s['n_rows']} rows at {s['resolution']}, tz {s['tz']}")
    _print_findings(report)


@data_app.command("validate")
def data_validate(
    zone: ZoneOpt,
    start: StartOpt,
    end: EndOpt,
    source: SourceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate a zone's data: gaps, duplicates, DST days, missing and implausible values.
    Exit 4 when the data has errors (timestamps off the grid, repeated or out of order),
    after the report."""
    from data import validate_market_data

    frame = _load(zone, start, end, source, strict_index=False)  # duplicates are reported
    report = validate_market_data(frame)
    if as_json:
        emit_json({**_summary(frame, report), "validation": report.to_dict()})
        _raise_first_error(report)
        return
    s = _summary(frame, report)
    out().print(
        f"{s['zone']} {s['start']} .. {s['end']}: {s['n_rows']} rows at "
        f"{s['resolution']} from {s['source']}",
        markup=False,
    )
    table = Table(show_header=True)
    for col in ("finding", "what", "count"):
        table.add_column(col)
    for kind, what, count in report.to_frame().itertuples(index=False):
        table.add_row(escape(kind), escape(str(what)), str(count))
    out().print(table if len(table.rows) else "no findings")
    _print_findings(report)


@data_app.command("fetch")
def data_fetch(
    zone: ZoneOpt,
    start: StartOpt,
    end: EndOpt,
    cache_dir: CacheOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Download a zone's data from the ENTSO-E API into the cache (needs ENTSOE_API_KEY)."""
    from data import MissingCredentialsError, validate_market_data
    from data.entsoe_api import MISSING_KEY_MESSAGE, cache_root
    from data.loader import check_entsoe_days, check_window

    # a bad zone, date or cache directory is named before the missing key
    check_entsoe_days(check_window(zone, start, end)[1])
    check_path_given(cache_dir, "--cache-dir", "a directory, or leave it out for the default")
    cache_root(cache_dir)  # a file where the cache should be
    if not os.environ.get("ENTSOE_API_KEY", "").strip():  # blank: as the API client says
        raise MissingCredentialsError(MISSING_KEY_MESSAGE)
    frame = _load(zone, start, end, "entsoe", cache_dir)
    report = validate_market_data(frame)
    summary = {
        **_summary(frame, report),
        "resampled": frame.attrs.get("resampled", {}),
        "validation": report.to_dict(),
    }
    if as_json:
        emit_json(summary)
        _raise_first_error(report)
        return
    out().print(
        f"fetched {summary['n_rows']} rows for {summary['zone']} "
        f"{summary['start']} .. {summary['end']}: {', '.join(summary['columns'])}"
    )
    _print_findings(report)


@forecast_app.command("evaluate")
def forecast_evaluate(
    zone: ZoneOpt,
    target: Annotated[
        str, typer.Option("--target", help="Column to forecast: load_mw or price_eur_per_mwh.")
    ],
    train: Annotated[str, typer.Option("--train", help="Training days START:END (inclusive).")],
    test: Annotated[str, typer.Option("--test", help="Test days START:END (inclusive).")],
    source: SourceOpt = None,
    recalibrate: Annotated[
        int | None,
        typer.Option("--recalibrate", help="Refit every N test days (expanding window)."),
    ] = None,
    seed: Annotated[
        int,
        typer.Option(
            "--seed", help=f"Random seed of the networks, 0..{MAX_SEED}.", min=0, max=MAX_SEED
        ),
    ] = 0,
    hidden: Annotated[
        str | None,
        typer.Option("--hidden", help="Hidden layer widths, e.g. 128,128 (default 64,64)."),
    ] = None,
    exog_lags: Annotated[
        str | None,
        typer.Option(
            "--exog-lags", help="Days to lag the TSO forecasts by, e.g. 1,2,7 (default: none)."
        ),
    ] = None,
    centre: Annotated[
        str | None,
        typer.Option("--centre", help="Published forecast column the networks correct."),
    ] = None,
    price_params: Annotated[
        bool,
        typer.Option(
            "--price-params",
            help="Networks with forecasting.PRICE_PARAMS (the price setting chosen on 2015).",
        ),
    ] = False,
    models: Annotated[
        str | None,
        typer.Option(
            "--models",
            help="Only these models, comma-separated; student_t (the reference of the DM tests)"
            " must be one, e.g. student_t,seasonal_naive (default all).",
        ),
    ] = None,
    warm_epochs: Annotated[
        int | None,
        typer.Option("--warm-epochs", help="Epochs of each warm-started refit (5).", min=1),
    ] = None,
    members: Annotated[
        int,
        typer.Option(
            "--members",
            help="Networks per neural model (an ensemble, seeds SEED..SEED+N-1, parameters "
            "averaged).",
            min=1,
        ),
    ] = 1,
    recency_halflife: Annotated[
        float | None,
        typer.Option(
            "--recency-halflife",
            help="Weight each training day's loss by 0.5**(age/DAYS) (recent days count most).",
        ),
    ] = None,
    location_blend: Annotated[
        str | None,
        typer.Option(
            "--location-blend",
            help="Average the networks' location with 'lear' (the LEAR ensemble, prices; "
            "slow: about 1 s per day and window) or a published forecast column.",
        ),
    ] = None,
    blend_weight: Annotated[
        float | None,
        typer.Option("--blend-weight", help="Weight of the --location-blend forecast, 0..1 (0.5)."),
    ] = None,
    lear_windows: Annotated[
        str | None,
        typer.Option("--lear-windows", help="LEAR training windows in days, e.g. 56,84."),
    ] = None,
    no_store: Annotated[
        bool,
        typer.Option("--no-store", help="Do not save the evaluation in the results store."),
    ] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fit every forecaster on the training days and score it on the test days; the scores
    and test forecasts are stored as a run (kind forecast_evaluation, see 'btut db runs')."""
    import datetime as dt

    from rich.progress import BarColumn, TextColumn, TimeRemainingColumn

    from data.errors import InvalidParameterError
    from data.schema import CANONICAL_COLUMNS, EXTRA_COLUMNS
    from forecasting.evaluation import (
        HISTORY_DAYS,
        REFERENCE,
        default_models,
        evaluate_forecasters,
        parse_period,
    )
    from forecasting.features import column_kind

    if target not in (*CANONICAL_COLUMNS, *EXTRA_COLUMNS):
        raise InvalidParameterError(
            f"unknown --target {clip_repr(target)}: a column of the market data, e.g. load_mw or "
            "price_eur_per_mwh (see 'btut data show')"
        )
    if column_kind(target) == "forecast":
        raise InvalidParameterError(
            f"--target {target} is a published day-ahead forecast, known before the day it "
            "would forecast: forecast a measured column, e.g. load_mw or price_eur_per_mwh"
        )
    if centre is not None and centre == target:
        raise InvalidParameterError(
            f"--centre {centre} is the --target itself: the networks correct a published "
            "forecast of it, e.g. --centre load_forecast_mw for --target load_mw"
        )
    tr, te = parse_period(train, "--train"), parse_period(test, "--test")
    if te[0] <= tr[1]:
        raise InvalidParameterError(f"--test must start after --train ends ({tr[1]})")
    idle_warm_epochs = warm_epochs is not None and recalibrate is None
    warm_epochs = 5 if warm_epochs is None else warm_epochs
    if no_store and db is not None:
        raise InvalidParameterError("--db names the store to save in: drop it or --no-store")
    if not no_store:  # a URL that cannot be parsed: said before anything else
        from data.store import check_url

        check_url(db)
    network = {}
    if price_params:
        from forecasting import PRICE_PARAMS

        network.update(PRICE_PARAMS)
    if hidden is not None:  # "" is not the default: refused as any other bad list
        network["hidden"] = _int_list(hidden, "--hidden")
    if exog_lags:
        network["exog_lags"] = _int_list(exog_lags, "--exog-lags")
    if centre:
        network["centre"] = centre
    if members > 1:
        network["n_members"] = members
    if recency_halflife is not None:
        if not 0 < recency_halflife < math.inf:
            raise InvalidParameterError(
                "--recency-halflife must be a positive finite number of days (leave it out "
                f"for equal weights), got {recency_halflife}"
            )
        network["recency_halflife_days"] = recency_halflife
    network.update(_blend_options(location_blend, blend_weight, lear_windows))
    history_days = HISTORY_DAYS
    if "lear_windows" in network:
        # LEAR's windows reach back from the first test day: load those days too
        reach = (te[0] - tr[0]).days - HISTORY_DAYS
        history_days = max(HISTORY_DAYS, max(network["lear_windows"]) + HISTORY_DAYS + 1 - reach)
    frame = _load_with_history(zone, tr[0], te[1] + dt.timedelta(days=1), source, history_days)
    if centre and centre not in frame.columns:
        raise InvalidParameterError(
            f"--centre {clip_repr(centre)} is not a column of the "
            f"{frame.attrs.get('zone') or zone} data "
            f"(its columns: {', '.join(map(str, frame.columns))})"
        )
    from data import validate_market_data

    for finding in validate_market_data(frame).value_warnings:  # used as they are, but said
        _warning_line(f"{zone} {finding}")
    every = default_models(frame, target, random_state=seed, **network)
    chosen = every
    if models is not None:
        names = [m.strip() for m in models.split(",") if m.strip()]
        unknown = [m for m in names if m not in every]
        if unknown or REFERENCE not in names:
            raise InvalidParameterError(
                f"--models must name {REFERENCE} and only models of {', '.join(every)}"
                f" (got {clip_repr(models)})"
            )
        chosen = {m: every[m] for m in names}
    config = None
    if not no_store:  # the input is good: an unreachable database fails before the work
        from btut.evaluations import evaluation_config
        from data.store import ResultsStore

        # recorded now: refits change the models' parameters (warm starts) in place
        config = evaluation_config(
            zone=frame.attrs.get("zone") or zone,
            target=target,
            train=tr,
            test=te,
            source=source,
            models=chosen,
            recalibrate=recalibrate,
            warm_epochs=warm_epochs,
            seed=seed,
        )
        ResultsStore(db).close()
    # options without effect: said once the input is known good (an error stays one line)
    if idle_warm_epochs:
        _warning_line("--warm-epochs has no effect without --recalibrate (one fit)")
    test_days = (te[1] - te[0]).days + 1
    if recalibrate is not None and recalibrate >= test_days:
        _warning_line(
            f"--recalibrate {recalibrate} is at least the test period's {test_days} day(s): "
            "one fit, as without it"
        )
    with _progress(
        TextColumn("forecast days"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(),
        TextColumn("left"),
    ) as bar:
        task = bar.add_task("evaluate", total=None)
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always", UserWarning)
            result = evaluate_forecasters(
                frame,
                target,
                train=tr,
                test=te,
                models=chosen,
                recalibrate=recalibrate,
                warm_epochs=warm_epochs,
                random_state=seed,
                network=network,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    # warnings of the models (e.g. a blend reference missing on some days): one line each
    from forecasting import BlendWarning

    blends = [w.message for w in seen if isinstance(w.message, BlendWarning)]
    others = [str(w.message) for w in seen if not isinstance(w.message, BlendWarning)]
    for message in [*BlendWarning.summarize(blends), *dict.fromkeys(others)]:
        _warning_line(message)
    saved = None
    if config is not None:
        from btut.evaluations import save_evaluation

        from_file = config.get("source") == "file"  # kept with the run, not its identity
        path = os.path.realpath(source) if source is not None and from_file else None
        saved = save_evaluation(result, config, db, source_path=path)
    stored: dict[str, Any] = {"run_id": None, "created": None}
    if saved is not None:
        stored = {"run_id": saved.run_id, "created": saved.created}
    if as_json:
        emit_json({**result.to_dict(), **stored})
        return
    table = Table(title=f"{result.zone} {target}: train {tr[0]}..{tr[1]}, test {te[0]}..{te[1]}")
    for col in ("model", "CRPS", "MAE", "RMSE", "cov 80%", "cov 95%", "DM p (t better)"):
        table.add_column(col, justify="right" if col != "model" else "left")
    for name, sc in result.scores.items():
        p = "-" if sc.dm_pvalue_vs_student_t is None else f"{sc.dm_pvalue_vs_student_t:.3g}"
        table.add_row(
            name,
            f"{sc.crps:.2f}",
            f"{sc.mae:.2f}",
            f"{sc.rmse:.2f}",
            f"{sc.coverage_80:.3f}",
            f"{sc.coverage_95:.3f}",
            p,
        )
    out().print(table)
    err.print(f"{result.elapsed_s:.1f} s; DM: one-sided on daily mean CRPS")
    if saved is not None:
        state = "stored as" if saved.created else "already stored as"
        out().print(f"{state} run {saved.run_id} (btut db show {saved.run_id})", markup=False)


def _blend_options(
    location_blend: str | None, blend_weight: float | None, lear_windows: str | None
) -> dict:
    """The networks' ``location_blend`` parameters from the CLI options (checked)."""
    from data.errors import InvalidParameterError
    from forecasting import LEAR_WINDOWS

    if location_blend is None:
        if blend_weight is not None or lear_windows is not None:
            raise InvalidParameterError("--blend-weight and --lear-windows need --location-blend")
        return {}
    weight = 0.5 if blend_weight is None else blend_weight
    if not 0.0 <= weight <= 1.0:
        raise InvalidParameterError(f"--blend-weight must be in [0, 1], got {weight}")
    options = {"location_blend": location_blend, "blend_weight": weight}
    if lear_windows is not None and location_blend != "lear":
        raise InvalidParameterError("--lear-windows needs --location-blend lear")
    if location_blend == "lear":
        windows: tuple[int, ...] = LEAR_WINDOWS
        if lear_windows is not None:
            windows = _int_list(lear_windows, "--lear-windows")
            if any(w < 2 for w in windows):
                raise InvalidParameterError(f"--lear-windows must be >= 2 days, got {windows}")
        options["lear_windows"] = windows
    return options


def _int_list(text: str, what: str) -> tuple[int, ...]:
    from data.errors import InvalidParameterError

    try:
        return tuple(int(x) for x in text.split(","))
    except ValueError:
        raise InvalidParameterError(
            f"{what} must be comma-separated integers, got {clip_repr(text)}"
        ) from None


def _load_with_history(zone: str, start, end, source, history_days: int):
    """Data from ``history_days`` before ``start`` when the source has them, else from
    ``HISTORY_DAYS`` before, else from ``start`` (the first days then only feed the lags)."""
    import datetime as dt

    from data import DataUnavailableError, load_market_data
    from forecasting.evaluation import HISTORY_DAYS

    for days in dict.fromkeys((history_days, HISTORY_DAYS)):
        try:
            return load_market_data(zone, start - dt.timedelta(days=days), end, source=source)
        except DataUnavailableError:
            continue
    return load_market_data(zone, start, end, source=source)


def _store(db: str | None):
    from data.store import ResultsStore

    return ResultsStore(db)


@db_app.command("upgrade")
def db_upgrade(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Create or upgrade the store's schema to the latest migration."""
    with _store(db) as store:
        store.upgrade()
        info = {"db": store.url_display, "revision": store.schema_revision()}
    if as_json:
        emit_json(info)
    else:
        out().print(f"{info['db']}: schema at revision {info['revision']}", markup=False)


@db_app.command("runs")
def db_runs(
    kind: Annotated[str | None, typer.Option("--kind", help="Only runs of this kind.")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the stored runs."""
    from data.errors import InvalidParameterError

    with _read_only_store(db) as store:
        if kind is not None:
            kinds = sorted({*RUN_KINDS, *store.kinds()})
            if kind not in kinds:
                raise InvalidParameterError(
                    f"unknown run kind {clip_repr(kind)}; valid kinds: {', '.join(kinds)}"
                )
        runs = store.list_runs(kind)
    if as_json:
        emit_json({"runs": runs.to_dict("records")})
        return
    shown = runs.assign(agents=[("" if a is None else a) for a in runs["agents"]])
    out().print(shown.to_string(index=False) if len(runs) else "no runs stored", markup=False)


@db_app.command("show")
def db_show(
    run_id: Annotated[int, typer.Argument(help="Run id.")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one stored run: configuration and metrics; a backtest also its period's scores
    and stored days (as ``btut backtest --json``)."""
    with _read_only_store(db) as store:
        record = store.get_run(run_id)
        run = record.to_dict()
    if record.kind == "backtest":  # its record holds no figures: they are its days' runs
        from btut.backtesting import load_backtest

        try:
            bt = load_backtest(run_id, db=db)
        except (KeyError, TypeError, ValueError) as exc:  # a malformed record or day run
            _warning_line(
                f"backtest {run_id}: its days cannot be read ({type(exc).__name__}: {exc}); "
                "showing its record only"
            )
        else:
            run["backtest"] = {k: v for k, v in bt.to_dict().items() if k not in run}
    if as_json:
        emit_json(run)
        return
    out().print(json.dumps(_readable_run(run), indent=2, default=str), markup=False)


def _readable_run(run: dict[str, Any]) -> dict[str, Any]:
    """The ``db show`` text: a replay's per-day figures as JSON (stored as a JSON string),
    and the per-payment routing arrays (tens of kB) as one line saying where to get them."""
    metrics = dict(run.get("metrics") or {})
    days = metrics.get("days_json")
    if isinstance(days, str):
        with contextlib.suppress(ValueError):
            metrics["days_json"] = json.loads(days)
    routing = metrics.get("routing_json")
    if isinstance(routing, str):
        metrics["routing_json"] = (
            f"per-payment arrays, {len(routing) / 1000:.0f} kB: btut db show "
            f"{run.get('run_id')} --json, or btut report --run {run.get('run_id')}"
        )
    return {**run, "metrics": metrics}


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send file descriptor 1 to stderr for the block: native libraries (HiGHS prints its
    banner on stdout) must not corrupt the command's output."""
    sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
        saved = os.dup(fd)
    except (AttributeError, OSError, ValueError):  # not a real file (e.g. a test runner)
        yield
        return
    try:
        os.dup2(sys.stderr.fileno(), fd)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, fd)
        os.close(saved)


def _read_config(path: str | None) -> dict[str, Any] | None:
    from data.errors import InvalidParameterError

    if path is None:
        return None
    check_path_given(path, "--config", "a population config JSON file")
    try:
        # a regular file of sane size: a FIFO or /dev/zero would block or never end
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidParameterError(f"--config {path} is not a regular file")
        if info.st_size > MAX_CONFIG_BYTES:
            raise InvalidParameterError(
                f"--config {path} is larger than {MAX_CONFIG_BYTES // 1_000_000} MB"
            )
        # utf-8-sig: a byte-order mark (Windows editors write one) is read as CSV sources are
        with open(path, encoding="utf-8-sig") as fh:
            data = json.load(fh)
    except InvalidParameterError:  # a ValueError too: not the number clause below
        raise
    except OSError as exc:
        raise InvalidParameterError(f"cannot read --config {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidParameterError(f"--config {path} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InvalidParameterError(f"--config {path} is not valid JSON: {exc.msg}") from None
    except ValueError:  # an integer beyond Python's limit of digits for int(str)
        raise InvalidParameterError(
            f"--config {path} is not valid JSON: a number is too long"
        ) from None
    except RecursionError:
        raise InvalidParameterError(f"--config {path} is nested too deeply") from None
    if not isinstance(data, dict):
        raise InvalidParameterError(f"--config {path} must hold a JSON object")
    return data


def _fmt(value: float | None, spec: str = ".3f") -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    text = format(value, spec)
    # a value that rounds to zero prints without its sign ("-0.000" read as a loss)
    if text.startswith("-") and not any(c in "123456789" for c in text):
        return ("+" if spec.startswith("+") else "") + text[1:]
    return text


@app.command("replay")
def replay_cmd(
    zone: Annotated[
        str, typer.Option("--zone", "-z", help="Bidding-zone code, e.g. ES, DE_LU.")
    ] = "ES",
    day: Annotated[
        str | None,
        typer.Option("--day", help="Market day (local), YYYY-MM-DD (default 2017-06-14)."),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--start", help="First market day (local), YYYY-MM-DD.")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--end", help="Day after the last market day (exclusive).")
    ] = None,
    agents: AgentsOpt = 10_000,
    seed: SeedOpt = 0,
    kappa: Annotated[
        float | None,
        typer.Option("--kappa", help=KAPPA_HELP),
    ] = None,
    config: ConfigOpt = None,
    executor: Annotated[
        str,
        typer.Option(
            "--executor", help="local, or dask: population shards on Dask above 10^6 agents."
        ),
    ] = "local",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    route: Annotated[
        bool,
        typer.Option("--route", help="Route the settlement payments over the Lightning graph."),
    ] = False,
    graph: Annotated[
        str | None,
        typer.Option("--graph", help="Lightning snapshot folder or file (default: bundled)."),
    ] = None,
    source: SourceOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Replay market days: forecast, population, equilibrium, finite market, planner, scores."""
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

    from btut.replaying import replay as run_replay
    from data.errors import InvalidParameterError

    check_path_given(graph, "--graph", _GRAPH_WANTED)
    if graph is not None and not route:
        raise InvalidParameterError("--graph needs --route")
    pop_config = _read_config(config)
    with (
        _progress(
            TextColumn("{task.description}", markup=False), BarColumn(), TimeElapsedColumn()
        ) as bar,
        _stdout_to_stderr(),
    ):
        task = bar.add_task("replay", total=1.0)
        result = run_replay(
            zone,
            day,
            start=start,
            end=end,
            agents=agents,
            seed=seed,
            config=pop_config,
            kappa=kappa,
            source=source,
            db=db,
            progress=lambda stage, frac: bar.update(task, description=stage, completed=frac),
            executor=executor,
            scheduler=scheduler,
            n_workers=workers,
            route=route,
            graph=graph,
        )
    if as_json:
        emit_json(result.to_dict())
        return
    _print_replay(result)


def _local_labels(index: Any, tz: str) -> list[str]:
    """Local wall-clock labels of ``index``; with the UTC offset when a label would repeat.

    The autumn DST day has one local hour twice (02:00 CEST, then 02:00 CET): its rows are
    told apart by their offset, ``2017-10-29 02:00+0200`` and ``2017-10-29 02:00+0100``.
    """
    local = index.tz_convert(tz)
    labels = list(local.strftime("%Y-%m-%d %H:%M"))
    if len(set(labels)) < len(labels):
        labels = list(local.strftime("%Y-%m-%d %H:%M%z"))
    return labels


def _print_replay(result: Any) -> None:
    con = out()
    days = result.days
    period = days[0].isoformat() if len(days) == 1 else f"{days[0]} .. {days[-1]}"
    con.print(f"[bold]BTUT replay[/] {result.zone} {period}: {result.agents} agents")
    frame = result.to_frame()
    tz = frame.attrs.get("tz")
    if tz is None:
        from data import get_zone

        tz = get_zone(result.zone).tz
    table = Table(title="per interval (prices EUR/MWh, energies kWh)")
    cols = ("local time", "wholesale", "local price", "mean position", "import market")
    for col in (*cols, "import baseline"):
        table.add_column(col, justify="right")
    labels = _local_labels(frame.index, tz)
    for label, row in zip(labels, frame.itertuples(index=False), strict=True):
        table.add_row(
            label,
            f"{row.wholesale_eur_per_mwh:.2f}",
            f"{row.local_price_eur_per_mwh:.2f}",
            _fmt(row.mean_position_kwh, "+.3f"),
            f"{row.import_market_kwh:.0f}",
            f"{row.import_baseline_kwh:.0f}",
        )
    con.print(table)
    per_type = result.per_type_frame()
    ttable = Table(title="cost per agent of each type (EUR for the period)")
    for col in ("type", "count", "market", "mean field", "alone (baseline)", "planner"):
        ttable.add_column(col, justify="left" if col == "type" else "right")
    for name, row in per_type.iterrows():
        ttable.add_row(
            escape(str(name)),
            f"{row['count']:.0f}",
            _fmt(row["market_cost_eur_per_agent"]),
            _fmt(row["mean_field_cost_eur_per_agent"]),
            _fmt(row["baseline_cost_eur_per_agent"]),
            _fmt(row["planner_cost_eur_per_agent"]),
        )
    con.print(ttable)
    peak_m = frame["import_market_kwh"].max()
    peak_b = frame["import_baseline_kwh"].max()
    con.print(
        f"peak grid import {_kwh(peak_m)} kWh vs {_kwh(peak_b)} kWh alone "
        f"(reduction {_fmt(result.peak_import_reduction, '.1%')})"
    )
    con.print(
        f"costs EUR: baseline {result.baseline_cost_eur:.2f}, market "
        f"{result.market_cost_eur:.2f}, planner {result.planner_cost_eur:.2f} "
        f"(MIP gap {_fmt(result.planner_mip_gap, '.2g')})"
    )
    sampled = [d for d in result.day_results if d.planner_sampled]
    if sampled:
        used = math.fsum(d.market_cost_used_eur for d in result.day_results)
        bound = math.fsum(d.planner_error_bound_eur for d in result.day_results)
        con.print(
            f"planner on a stratified sample on {len(sampled)} of {len(result.day_results)} "
            f"day(s): its cost is within +-{bound:.2f} EUR, and the scores compare it with the "
            f"market's cost on the same agents, {used:.2f} EUR (scaled to all agents)"
        )
    con.print(
        f"exploitability {_fmt(result.exploitability_eur_per_agent_day, '.4f')} EUR/agent/day, "
        f"efficiency {_fmt(result.efficiency)}, price of anarchy "
        f"{_fmt(result.price_of_anarchy)}"
    )
    if result.routing is not None:
        _print_routing(con, result.routing, "settlement routing")
    if result.run_id is not None and result.created:
        con.print(f"stored as run {result.run_id} ({result.elapsed_s:.1f} s)")
    elif result.run_id is not None:
        con.print(
            f"already stored as run {result.run_id} ({result.elapsed_s:.1f} s; a replay always "
            f"computes: btut db show {result.run_id} or btut report --run {result.run_id} read "
            "the stored run without computing)"
        )
    else:
        con.print(f"not stored ({result.elapsed_s:.1f} s)")


def _kwh(value: float) -> str:
    """Whole kWh for a community's peak; 4 significant digits below 100 kWh (the report's
    rule, :func:`btut.report._kwh_kind`)."""
    from btut.report import _kwh_kind

    return f"{value:.0f}" if _kwh_kind(value) == "int" else f"{value:.4g}"


def _rate(value: Any) -> str:
    """A success rate with 3 decimals, more when 3 would round a failure or a success away
    (0.9995 is not 1.000, 0.0004 not 0.000)."""
    if not isinstance(value, int | float) or not math.isfinite(value):
        return _fmt(value)
    for digits in range(3, 10):
        text = f"{value:.{digits}f}"
        if (value >= 1.0 or float(text) < 1.0) and (value <= 0.0 or float(text) > 0.0):
            return text
    return f"{value:.10f}"


def _print_routing(con: Console, r: Any, label: str) -> None:
    con.print(
        f"{label}: {r.get('successes', 0)}/{r.get('payments', 0)} payments succeeded "
        f"(success rate {_rate(r.get('success_rate'))}, by value "
        f"{_rate(r.get('value_success_rate'))}), fees {_fmt(r.get('fee_pct_of_value'), '.4f')} % "
        f"of value, latency p50 {_fmt(r.get('latency_p50_s'), '.2f')} s / p95 "
        f"{_fmt(r.get('latency_p95_s'), '.2f')} s, {_fmt(r.get('mean_attempts'), '.2f')} "
        "attempts per payment"
    )


#: Every bitcoin there will ever be, in satoshi: no payment can be larger.
MAX_SUPPLY_SAT = 21_000_000 * 100_000_000


@app.command("route")
def route_cmd(
    payments: Annotated[int, typer.Option("--payments", "-n", help="Number of payments.")] = 200,
    amount_sat: Annotated[
        int, typer.Option("--amount-sat", "-a", help="Amount of each payment, sat.")
    ] = 10_000,
    graph: Annotated[
        str | None,
        typer.Option("--graph", help="Lightning snapshot folder or file (default: bundled)."),
    ] = None,
    seed: SeedOpt = 0,
    single_path: Annotated[
        bool, typer.Option("--single-path", help="No multi-part payments.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Random payments on the Lightning graph: success rate, fees, latency, attempts.

    Pairs of nodes of the largest strongly connected component, on a simulator whose
    channel balances the router does not see."""
    from btut.routes import default_graph_path, load_graph
    from data.errors import InvalidParameterError
    from routing import simulate_random_payments

    if not 1 <= amount_sat <= MAX_SUPPLY_SAT:
        raise InvalidParameterError(
            f"--amount-sat must be 1..{MAX_SUPPLY_SAT} sat (21 million BTC), got {amount_sat}"
        )
    if not 1 <= payments <= MAX_PAYMENTS:
        raise InvalidParameterError(f"--payments must be 1..{MAX_PAYMENTS:,}, got {payments}")
    check_path_given(graph, "--graph", _GRAPH_WANTED)
    t0 = time.perf_counter()
    g = load_graph(graph)
    batch = simulate_random_payments(g, payments, amount_sat, seed=seed, multipart=not single_path)
    info = {
        "graph": str(graph) if graph is not None else str(default_graph_path()),
        "nodes": len(g.node_ids),
        "payments": payments,
        "amount_sat": amount_sat,
        "multipart": not single_path,
        "seed": seed,
        **batch.to_dict(),
        "elapsed_s": time.perf_counter() - t0,
    }
    if as_json:
        emit_json(info)
        return
    con = out()
    con.print(
        f"[bold]BTUT route[/] {payments} payments of {amount_sat} sat on "
        f"{escape(str(info['graph']))} "
        f"({info['nodes']} nodes), {'multi-part' if not single_path else 'single path'}"
    )
    con.print(
        f"success rate {_rate(batch.success_rate)} (by value {_rate(batch.value_success_rate)}), "
        f"fees {_fee_text(batch.fee_pct)}, latency p50 "
        f"{_fmt(batch.latency_p50_s, '.2f')} s / p95 {_fmt(batch.latency_p95_s, '.2f')} s, "
        f"{_fmt(batch.mean_attempts, '.2f')} attempts per payment ({info['elapsed_s']:.1f} s)"
    )
    reasons = batch.frame["failure_reason"].dropna().value_counts()
    if len(reasons):
        con.print("failures: " + ", ".join(f"{k} {v}" for k, v in reasons.items()), markup=False)


@app.command("backtest")
def backtest_cmd(
    zone: Annotated[str, typer.Option("--zone", "-z", help="Bidding-zone code, e.g. ES.")],
    start: StartOpt,
    end: EndOpt,
    agents: AgentsOpt = 10_000,
    seed: SeedOpt = 0,
    kappa: Annotated[
        float | None,
        typer.Option("--kappa", help=KAPPA_HELP),
    ] = None,
    config: ConfigOpt = None,
    executor: Annotated[
        str, typer.Option("--executor", help="Where days run: local or dask.")
    ] = "local",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    wait: Annotated[
        bool,
        typer.Option("--wait", help="Wait for a running backtest of the same period to end."),
    ] = False,
    source: SourceOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Replay, score and store every day of a period; resumable and safe from cron."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from btut.backtesting import backtest

    pop_config = _read_config(config)
    with (
        _progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("days"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("elapsed,"),
            TimeRemainingColumn(),
            TextColumn("left"),
        ) as bar,
        _stdout_to_stderr(),
    ):
        task = bar.add_task("backtest", total=None, rate="")
        result_zone = _zone_code(zone)
        started: list[tuple[float, int]] = []  # (time, days done) after the reused days

        def progress(done: int, total: int, message: str) -> None:
            if message.startswith("load data"):  # an ENTSO-E download, before any day
                bar.update(task, description=f"backtest {message}")
                if not err.is_terminal:
                    err.print(f"btut: backtest {result_zone} {message}", markup=False)
                return
            now = time.monotonic()
            if not started:
                started.append((now, done))
            t0, d0 = started[0]
            rate = f"{(done - d0) / (now - t0) * 3600:.0f} days/h" if done > d0 else ""
            bar.update(
                task, completed=done, total=total, description=f"backtest {message}", rate=rate
            )
            if not err.is_terminal and message != "starting":  # cron, a log file: a line a day
                _backtest_log_line(result_zone, message, done, total, now - t0, done - d0)

        result = backtest(
            zone,
            start,
            end,
            agents=agents,
            seed=seed,
            config=pop_config,
            kappa=kappa,
            source=source,
            db=db,
            executor=executor,
            scheduler=scheduler,
            n_workers=workers,
            wait=wait,
            progress=progress,
        )
    if as_json:
        emit_json(result.to_dict())
        return
    con = out()
    con.print(
        f"[bold]BTUT backtest {result.backtest_id}[/] {result.zone} {result.start} .. "
        f"{result.end} (end exclusive): {result.agents} agents, executor {result.executor}"
    )
    # a day whose planner sampled scores the market's cost on the planner's sample
    sampled = any(d.market_cost_used_eur != d.market_cost_eur for d in result.days)
    cols = ["day", "run", "efficiency", "exploitability EUR/agent/day", "market EUR"]
    table = Table(*cols, *(["market on planner's sample EUR"] if sampled else []), "stored")
    for d in result.days:
        table.add_row(
            d.day.isoformat(),
            str(d.run_id),
            _fmt(d.efficiency),
            _fmt(d.exploitability_eur_per_agent_day, ".4f"),
            _fmt(d.market_cost_eur, ".2f"),
            *([_fmt(d.market_cost_used_eur, ".2f")] if sampled else []),
            "reused" if d.reused else "new",
        )
    con.print(table)
    sc = result.scores()
    con.print(
        f"{result.days_run} day(s) replayed, {result.days_reused} reused; over the period: "
        f"efficiency {_fmt(sc['efficiency'])}, price of anarchy {_fmt(sc['price_of_anarchy'])}, "
        f"exploitability {_fmt(sc['exploitability_eur_per_agent_day'], '.4f')} EUR/agent/day "
        f"({result.elapsed_s:.1f} s)"
    )


def _zone_code(zone: str) -> str:
    """The zone's code as stored (``de-lu`` is ``DE_LU``), or ``zone`` if it is unknown (the
    command then says so)."""
    from data.errors import BTUTError
    from data.zones import get_zone

    try:
        return get_zone(zone).code
    except BTUTError:
        return zone


def _backtest_log_line(
    zone: str, message: str, done: int, total: int, elapsed_s: float, new_days: int
) -> None:
    """A backtest's progress as one plain stderr line (where no bar is drawn: cron, a log
    file): the day stored, days done of the period, time since the first new day started
    and, from the mean time of the new days, the time left."""
    line = f"btut: backtest {zone} {message}: {done} of {total} days"
    if new_days > 0:
        line += f", {_duration(elapsed_s)} elapsed"
        if done < total:
            line += f", about {_duration(elapsed_s / new_days * (total - done))} left"
    err.print(line, markup=False)


def _duration(seconds: float) -> str:
    """``seconds`` as ``42 s``, ``3 min 05 s`` or ``2 h 07 min``."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def _fee_text(fee_pct: float | None) -> str:
    """Fees as a share of the settled value, or ``n/a`` when nothing settled."""
    return "n/a (nothing settled)" if fee_pct is None else f"{_fmt(fee_pct, '.4f')} % of value"


#: Kinds of run the commands store (others, saved through the library, are listed too).
RUN_KINDS = ("backtest", "forecast_evaluation", "replay")


def _read_only_store(db: str | None):
    """The store opened read-only: nothing created or migrated (StorageError if missing)."""
    from data.store import ResultsStore

    return ResultsStore(db, read_only=True)


def _write_stdout(text: str) -> None:
    """``text`` on stdout, flushed: a write error (disk full) is the one-line output error of
    :func:`_main` (exit 5), a reader that closed the pipe early (``| head``) a quiet exit 1."""
    with _closed_pipe_is_quiet():
        sys.stdout.write(text)
        sys.stdout.flush()


def _silence_stdout() -> None:
    """Point stdout at /dev/null: it is unusable, and the flush at exit must not fail again."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


@contextlib.contextmanager
def _closed_pipe_is_quiet() -> Iterator[None]:
    """A reader that closed stdout early (``| head``): a quiet exit 1, as other tools."""
    try:
        yield
    except BrokenPipeError:
        _silence_stdout()
        raise typer.Exit(1) from None


@app.command("report")
def report_cmd(
    out_path: Annotated[
        str,
        typer.Option(
            "--out",
            "-o",
            help="HTML file to write (its folder is created if missing; - for stdout).",
        ),
    ],
    run: Annotated[int | None, typer.Option("--run", help="A stored replay run id.")] = None,
    backtest_id: Annotated[
        int | None, typer.Option("--backtest", help="A stored backtest id.")
    ] = None,
    compare: Annotated[
        tuple[int, int] | None,
        typer.Option("--compare", metavar="A B", help="Two stored backtest ids to compare."),
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a self-contained HTML report (inline plots, no network): run, backtest, comparison."""
    from data.errors import DataUnavailableError, InvalidParameterError

    if sum(x is not None for x in (run, backtest_id, compare)) != 1:
        raise InvalidParameterError("give exactly one of --run ID, --backtest ID or --compare A B")
    from btut.replaying import load_run
    from btut.report import render_backtest_report, render_run_report, report_target, write_report

    check_path_given(out_path, "--out", "the HTML file to write, or - for stdout")
    to_stdout = out_path == "-"
    if to_stdout and as_json:
        raise InvalidParameterError("--json and -o - both write to stdout; give a file to -o")
    target = None if to_stdout else report_target(out_path)  # refused before any work
    with _stdout_to_stderr():
        if run is not None:
            loaded = load_run(run, db=db)
            if loaded.kind != "replay":  # like a run id not in the store: exit 3
                raise DataUnavailableError(
                    f"run {run} is of kind {loaded.kind!r}, not a replay: the report covers "
                    "replays (--run) and backtests (--backtest); 'btut db show' shows any run"
                )
            html = render_run_report(loaded)
            subject: dict[str, Any] = {"run_id": run}
        elif compare is not None:
            from btut.comparing import compare_backtests
            from btut.report import render_comparison_report

            cmp = compare_backtests(*compare, db=db)
            html = render_comparison_report(cmp)
            subject = {"compare": list(compare), "days": len(cmp.days)}
        else:
            from btut.backtesting import load_backtest

            bt = load_backtest(cast(int, backtest_id), db=db)  # exactly one of the three
            if not bt.days:
                raise InvalidParameterError(f"backtest {backtest_id} has no stored day yet")
            html = render_backtest_report(bt, bt.runs(db=db))
            subject = {"backtest_id": backtest_id, "missing_days": len(bt.missing_days)}
            if bt.missing_days:
                _warning_line(
                    f"backtest {backtest_id} is incomplete: {len(bt.missing_days)} day(s) of "
                    f"its period are not stored (first {bt.missing_days[0]}); the report "
                    "covers the stored days and says so"
                )
        if target is not None:
            path = write_report(html, target)
    if target is None:
        _write_stdout(html)
        return
    info = {**subject, "path": str(path), "bytes": path.stat().st_size}
    if as_json:
        emit_json(info)
    else:
        out().print(f"wrote {path} ({info['bytes'] / 1000:.0f} kB)", markup=False)


@app.command("compare")
def compare_cmd(
    a: Annotated[
        int, typer.Argument(metavar="A", help="Backtest id of scenario A (the reference).")
    ],
    b: Annotated[int, typer.Argument(metavar="B", help="Backtest id of scenario B.")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Two stored backtests on their common days: settings that differ, paired scores."""
    from btut.comparing import compare_backtests

    cmp = compare_backtests(a, b, db=db)
    for this, other in ((cmp.a, cmp.b), (cmp.b, cmp.a)):
        extra = len(this.days) - len(cmp.days)
        if extra:
            _warning_line(
                f"backtest {this.backtest_id} has {extra} stored day(s) that backtest "
                f"{other.backtest_id} lacks; the comparison covers the {len(cmp.days)} common "
                "day(s)"
            )
    if as_json:
        emit_json(cmp.to_dict())
        return
    con = out()
    con.print(
        f"[bold]BTUT compare[/] {cmp.a.zone}: backtest {cmp.a.backtest_id} (A) and "
        f"{cmp.b.backtest_id} (B) on {len(cmp.days)} common day(s), "
        f"{cmp.days[0]} .. {cmp.days[-1]}"
    )
    if cmp.changes:
        con.print("settings that differ (A -> B):", markup=False)
        for key, (va, vb) in cmp.changes.items():
            con.print(f"  {key}: {json.dumps(va)} -> {json.dumps(vb)}", markup=False)
    else:
        con.print("no setting differs (other code versions or stores)", markup=False)
    table = Table("day", "run A", "run B", "efficiency A", "efficiency B", "change (B - A)")
    frame = cmp.to_frame()
    for day, row in frame.iterrows():
        table.add_row(
            str(day),
            str(int(row["run_id_a"])),
            str(int(row["run_id_b"])),
            _fmt(row["efficiency_a"]),
            _fmt(row["efficiency_b"]),
            _fmt(row["efficiency_change"], "+.3f"),
        )
    con.print(table)
    sc = cmp.scores()
    interval = (
        f" (95 % interval {_fmt(sc['daily_efficiency_change_low95'], '+.4f')} .. "
        f"{_fmt(sc['daily_efficiency_change_high95'], '+.4f')})"
        if math.isfinite(sc["daily_efficiency_change_low95"])
        else ""
    )
    con.print(
        f"over the common days: efficiency A {_fmt(sc['efficiency_a'])}, B "
        f"{_fmt(sc['efficiency_b'])} (change {_fmt(sc['efficiency_change'], '+.3f')}); mean "
        f"daily change {_fmt(sc['daily_efficiency_change_mean'], '+.4f')}{interval}",
        markup=False,
    )
    undefined = sc["days_undefined"]
    con.print(
        f"B higher on {sc['days_b_higher']}, lower on {sc['days_b_lower']}, equal on "
        f"{sc['days_equal']} day(s)"
        + (f", undefined on {undefined} (left out of the interval)" if undefined else "")
        + "; exploitability A "
        f"{_fmt(sc['exploitability_eur_per_agent_day_a'], '.4f')}, B "
        f"{_fmt(sc['exploitability_eur_per_agent_day_b'], '.4f')} EUR/agent/day",
        markup=False,
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``btut`` console script; returns the exit code."""
    debug = os.environ.get("BTUT_DEBUG") == "1"
    # all three restored afterwards
    with watch_interrupts() as watch, warnings.catch_warnings(), _log_warnings_as_lines():
        warnings.showwarning = _one_line_warning
        return _main(argv, debug, watch)


class _LineHandler(logging.Handler):
    """The library's log warnings (an ENTSO-E retry) as ``btut: warning:`` lines."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            _warning_line(record.getMessage())
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


#: Loggers of database drivers, silenced while a command runs (see _log_warnings_as_lines).
_DRIVER_LOGGERS = ("psycopg",)


@contextlib.contextmanager
def _log_warnings_as_lines() -> Iterator[None]:
    """While a command runs, warnings logged by BTUT's packages print as one prefixed line
    each (Python's last-resort handler printed them bare); nothing is configured at import."""
    handler = _LineHandler(level=logging.WARNING)
    loggers = [logging.getLogger(n) for n in _PACKAGES]
    # The database driver's own notes (psycopg: "error ignored terminating <Pipeline ...>"
    # when the server dies mid-write) come with the store's one-line error: not printed.
    quiet = [logging.getLogger(n) for n in _DRIVER_LOGGERS]
    saved = [(lg.propagate, lg.handlers[:]) for lg in [*loggers, *quiet]]
    for lg in loggers:
        lg.addHandler(handler)
        lg.propagate = False
    for lg in quiet:
        lg.addHandler(logging.NullHandler())
        lg.propagate = False
    try:
        yield
    finally:
        for lg, (propagate, handlers) in zip([*loggers, *quiet], saved, strict=True):
            lg.propagate = propagate
            lg.handlers[:] = handlers


def _one_line_warning(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
    """Warnings of the library (a gap, an unused option) as one ``btut: warning:`` line."""
    _warning_line(str(message) or category.__name__)


def _main(argv: list[str] | None, debug: bool, watch: InterruptWatch) -> int:
    try:
        # non-standalone typer returns the code of an exit (Ctrl-C: 130) instead of raising
        code = app(args=argv, prog_name="btut", standalone_mode=False)
        if isinstance(code, int) and not isinstance(code, bool) and code != 0:
            if code == 130 or watch.interrupted:
                return _aborted(watch)
            return code
    except _EXIT as exc:
        return _aborted(watch) if exc.exit_code != 0 and watch.interrupted else exc.exit_code
    except BaseException as exc:
        # a Ctrl-C that a library reported as something else (pandas: "Calling
        # read(nbytes) on source failed") is an interrupt, not bad data or a bug
        if isinstance(exc, _ABORT) or watch.interrupted:
            return _aborted(watch)
        if not isinstance(exc, Exception):
            raise
        return _failure(exc, debug)
    return 0


def _aborted(watch: InterruptWatch) -> int:
    err.print(watch.message, markup=False)
    return watch.exit_code


def _failure(exc: Exception, debug: bool) -> int:
    """One line for an error that ended a command; its exit code."""
    if isinstance(exc, BTUTError):
        if debug:
            traceback.print_exc()
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        err.print(f"btut: error: {_clipped(msg)}", markup=False)
        return exc.exit_code
    if isinstance(exc, MemoryError):
        if debug:
            traceback.print_exc()
        err.print(
            "btut: error: not enough memory for this run (fewer agents or payments, a smaller "
            "network)",
            markup=False,
        )
        return 2
    if isinstance(exc, OSError):
        if not _raised_writing_output(exc):
            return _internal_error(exc, debug)
        _silence_stdout()
        if isinstance(exc, BrokenPipeError):  # a reader that stopped early (| head)
            return 1
        reason = exc.strerror or type(exc).__name__
        err.print(f"btut: error: cannot write the output: {reason}", markup=False)
        return 5
    if _is_usage_error(exc):  # one line, like every other error
        usage: Any = exc  # a ClickException of whichever click is installed
        ctx = getattr(usage, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        msg = " ".join(usage.format_message().split()).rstrip(".")
        if msg:  # empty: a group called bare, whose help was shown
            err.print(f"btut: error: {_clipped(msg)}{hint}", markup=False)
        return int(usage.exit_code)
    return _internal_error(exc, debug)


def _internal_error(exc: BaseException, debug: bool) -> int:
    """A bug, not bad input: one line (exit 70), the traceback on request."""
    if debug:
        traceback.print_exception(exc)
    err.print(
        f"btut: internal error: {type(exc).__name__}: {exc} (set BTUT_DEBUG=1 for the traceback)",
        markup=False,
    )
    return 70


def _raised_writing_output(exc: OSError) -> bool:
    """Whether ``exc`` came from writing a command's output to stdout (a full disk, a closed
    pipe): raised under :func:`emit_json` or :func:`_write_stdout`, or while rich's console on
    stdout wrote its buffer."""
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        name = frame.f_code.co_name
        if name in ("emit_json", "_write_stdout"):
            return True
        if name in ("_write_buffer", "_check_buffer") and frame.f_code.co_filename.endswith(
            os.path.join("rich", "console.py")
        ):
            return getattr(frame.f_locals.get("self"), "file", None) is sys.stdout
        tb = tb.tb_next
    return False


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
