"""Backtests: replay every market day of a period, one stored run per day (DESIGN.md section 9,
``btut backtest``).

For each local day ``D`` of ``[start, end)`` a backtest runs :func:`btut.replay` of that one day:
the load forecaster is refitted on the :data:`btut.replaying.FORECAST_HISTORY_DAYS` days before
``D`` (data up to the cut-off of ``D``; the forecast itself only uses what was known at noon of
``D - 1``), then population, equilibrium, finite market, planner and scores; the day is stored as
a replay run in its own transaction.

* **Idempotent and resumable.** A day's run is identified by its configuration (zone, day,
  agents, seed, kappa, population, ...; see :meth:`btut.replaying._Params.run_config`), so a day
  already in the store, whether from an earlier (killed) backtest or a replay, is *reused*, never
  computed or stored twice. A backtest killed at any moment (even ``kill -9``) loses at most the
  days in flight; running it again continues where it stopped.
* **Safe from cron.** The backtest holds the store lock ``backtest <zone> <start> .. <end>
  (end exclusive) <config hash>`` (:meth:`data.store.ResultsStore.exclusive`) while it runs: a
  second backtest of the same period on the same store exits at once with
  :class:`data.errors.ConcurrentRunError` (exit 75), or waits with ``wait=True``. The lock
  dies with its holder. It is checked before each day and each save: a PostgreSQL lock whose
  connection the server ended (restart, ``idle_session_timeout``) stops the backtest with
  :class:`data.errors.StorageError` (exit 5) rather than letting it run unguarded.
* **The backtest record** is a run of kind ``"backtest"`` whose configuration is the period and
  the settings (no executor: it doesn't change results); its days are found again through their
  configurations (:func:`load_backtest`).
* **Executors.** ``"local"`` replays the days one after the other in this process; ``"dask"``
  maps them over a Dask cluster (:mod:`btut.executors`): a ``LocalCluster`` by default, or the
  scheduler at ``scheduler``. Workers compute, this process stores, so the store sees one writer
  and one transaction per day; a worker lost mid-run has its day rerun elsewhere. The same
  seeds give the same stored results on either executor.

Data problems in any day (gap, missing value, dates outside the data) raise before any day is
replayed (one-line :class:`data.errors.BTUTError`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from btut.executors import check_executor
from data.errors import DataUnavailableError, InvalidParameterError

__all__ = ["BacktestDay", "BacktestResult", "LoadedBacktest", "backtest", "load_backtest"]

BacktestProgress = Callable[[int, int, str], None]
"""``callback(days_done, days_total, message)``: called once per finished day (reused days
first, together)."""


@dataclass(frozen=True)
class BacktestDay:
    """One day of a backtest: its stored replay run and scores (costs in EUR over the N
    agents, exploitability in EUR per agent per day); ``reused``: found in the store."""

    day: dt.date
    run_id: int
    reused: bool
    efficiency: float
    exploitability_eur_per_agent_day: float
    price_of_anarchy: float
    baseline_cost_eur: float
    market_cost_eur: float
    planner_cost_eur: float
    market_cost_used_eur: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "run_id": self.run_id,
            "reused": self.reused,
            "efficiency": self.efficiency,
            "exploitability_eur_per_agent_day": self.exploitability_eur_per_agent_day,
            "price_of_anarchy": self.price_of_anarchy,
            "baseline_cost_eur": self.baseline_cost_eur,
            "market_cost_eur": self.market_cost_eur,
            "planner_cost_eur": self.planner_cost_eur,
            "market_cost_used_eur": self.market_cost_used_eur,
        }


def _days_frame(days: Sequence[BacktestDay]) -> pd.DataFrame:
    rows = [d.to_dict() for d in days]
    if not rows:
        return pd.DataFrame(index=pd.Index([], name="day"))
    return pd.DataFrame(rows).set_index("day")


def _period_scores(days: Sequence[BacktestDay]) -> dict[str, float]:
    """Efficiency and price of anarchy from the costs summed over the days (with each day's
    market cost as its scores use it: the paired sample estimate when the planner samples,
    as :func:`btut.replay` aggregates several days); mean exploitability per agent-day."""
    from market import efficiency, price_of_anarchy

    if not days:
        return {
            "efficiency": math.nan,
            "price_of_anarchy": math.nan,
            "exploitability_eur_per_agent_day": math.nan,
        }
    b = math.fsum(d.baseline_cost_eur for d in days)
    m = math.fsum(d.market_cost_used_eur for d in days)
    p = math.fsum(d.planner_cost_eur for d in days)
    return {
        "efficiency": float(efficiency(b, m, p)),
        "price_of_anarchy": float(price_of_anarchy(m, p)),
        "exploitability_eur_per_agent_day": math.fsum(
            d.exploitability_eur_per_agent_day for d in days
        )
        / len(days),
    }


@dataclass(frozen=True)
class BacktestResult:
    """Outcome of :func:`backtest`. ``end`` is exclusive; ``days_run``: replayed now;
    ``days_reused``: found in the store; ``elapsed_s``: wall seconds of this call."""

    backtest_id: int
    zone: str
    start: dt.date
    end: dt.date
    agents: int
    seed: int
    executor: str
    config: Mapping[str, Any]
    days: tuple[BacktestDay, ...]
    days_run: int
    days_reused: int
    elapsed_s: float

    def to_frame(self) -> pd.DataFrame:
        """One row per day (index ``day``, ISO date): run id, reused, scores and costs."""
        return _days_frame(self.days)

    def scores(self) -> dict[str, float]:
        """Efficiency and price of anarchy over the period (summed costs), mean
        exploitability in EUR per agent per day."""
        return _period_scores(self.days)

    def to_dict(self) -> dict[str, Any]:
        """The ``btut backtest --json`` object."""
        return {
            "backtest_id": self.backtest_id,
            "zone": self.zone,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "agents": self.agents,
            "seed": self.seed,
            "executor": self.executor,
            "days_run": self.days_run,
            "days_reused": self.days_reused,
            **self.scores(),
            "elapsed_s": self.elapsed_s,
            "days": [
                {
                    "day": d.day.isoformat(),
                    "run_id": d.run_id,
                    "efficiency": d.efficiency,
                    "exploitability_eur_per_agent_day": d.exploitability_eur_per_agent_day,
                    "market_cost_eur": d.market_cost_eur,
                }
                for d in self.days
            ],
        }


@dataclass(frozen=True)
class LoadedBacktest:
    """A backtest read back from the store: its configuration, the days stored so far and the
    days still missing (a backtest that was stopped)."""

    backtest_id: int
    zone: str
    config: Mapping[str, Any]
    days: tuple[BacktestDay, ...]
    missing_days: tuple[dt.date, ...]

    def days_frame(self) -> pd.DataFrame:
        """One row per stored day (index ``day``, ISO date): ``run_id``, scores, costs."""
        return _days_frame(self.days)

    to_frame = days_frame

    def scores(self) -> dict[str, float]:
        """As :meth:`BacktestResult.scores`, over the stored days."""
        return _period_scores(self.days)

    def runs(self, db: str | None = None) -> list[Any]:
        """The stored replay runs of the days (:class:`btut.replaying.LoadedRun`), by day."""
        from btut.replaying import load_run

        return [load_run(d.run_id, db=db) for d in self.days]

    def to_dict(self) -> dict[str, Any]:
        return {
            "backtest_id": self.backtest_id,
            "zone": self.zone,
            "config": dict(self.config),
            **self.scores(),
            "days": [d.to_dict() for d in self.days],
            "missing_days": [d.isoformat() for d in self.missing_days],
        }


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _backtest_config(par: Any, start: dt.date, end: dt.date) -> dict[str, Any]:
    cfg = par.run_config((start,))
    cfg.pop("days")
    cfg.update(kind="backtest", start=start.isoformat(), end=end.isoformat())
    return cfg


def _day_config(cfg: Mapping[str, Any], day: dt.date) -> dict[str, Any]:
    """The stored configuration of ``day``'s replay in the backtest of configuration ``cfg``
    (the inverse of :func:`_backtest_config`): taken from the stored record, not from this
    version's defaults, so a backtest stays loadable after an upgrade changes them."""
    out = {k: v for k, v in cfg.items() if k not in ("start", "end")}
    out.update(kind="replay", days=[day.isoformat()])
    return out


def _day_from_stored(day: dt.date, run: Any, *, reused: bool) -> BacktestDay:
    m = run.metrics
    stored_days = json.loads(m["days_json"]) if isinstance(m.get("days_json"), str) else []
    used = (
        float(stored_days[0]["market_cost_used_eur"])
        if len(stored_days) == 1
        else float(m["market_cost_eur"])
    )
    return BacktestDay(
        day=day,
        run_id=int(run.run_id),
        reused=reused,
        efficiency=float(m["efficiency"]),
        exploitability_eur_per_agent_day=float(m["exploitability_eur_per_agent_day"]),
        price_of_anarchy=float(m["price_of_anarchy"]),
        baseline_cost_eur=float(m["baseline_cost_eur"]),
        market_cost_eur=float(m["market_cost_eur"]),
        planner_cost_eur=float(m["planner_cost_eur"]),
        market_cost_used_eur=used,
    )


def _day_from_result(day: dt.date, result: Any, run_id: int, *, reused: bool) -> BacktestDay:
    return BacktestDay(
        day=day,
        run_id=int(run_id),
        reused=reused,
        efficiency=float(result.efficiency),
        exploitability_eur_per_agent_day=float(result.exploitability_eur_per_agent_day),
        price_of_anarchy=float(result.price_of_anarchy),
        baseline_cost_eur=float(result.baseline_cost_eur),
        market_cost_eur=float(result.market_cost_eur),
        planner_cost_eur=float(result.planner_cost_eur),
        market_cost_used_eur=float(result.day_results[0].market_cost_used_eur),
    )


def replay_day(par: Any, day: dt.date) -> Any:
    """Replay one day with validated parameters, without storing (the unit of work that
    executors run; module-level so that Dask can pickle it)."""
    from btut.replaying import (
        HISTORY_GAPS_WARNING,
        HISTORY_MISSING_WARNING,
        SPIKES_WARNING,
        replay,
    )

    with warnings.catch_warnings():  # said once for the whole backtest, before any day
        warnings.filterwarnings("ignore", message=HISTORY_GAPS_WARNING)
        warnings.filterwarnings("ignore", message=SPIKES_WARNING)
        warnings.filterwarnings("ignore", message=HISTORY_MISSING_WARNING)
        return replay(
            par.zone,
            day,
            agents=par.agents,
            seed=par.seed,
            config=par.population,
            kappa=par.kappa,
            source=par.source,
            max_exact_agents=par.max_exact_agents,
            store=False,
        )


# --------------------------------------------------------------------------------------------
# the backtest
# --------------------------------------------------------------------------------------------


def backtest(
    zone: str,
    start: str | dt.date,
    end: str | dt.date,
    *,
    agents: int = 10_000,
    seed: int = 0,
    config: Any = None,
    kappa: float | None = None,
    source: str | None = None,
    max_exact_agents: int | None = None,
    db: str | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    n_workers: int | None = None,
    wait: bool = False,
    wait_timeout_s: float | None = None,
    progress: BacktestProgress | None = None,
) -> BacktestResult:
    """Replay and store every day of ``[start, end)`` (module doc).

    Parameters as :func:`btut.replay` (agents, seed, config, kappa, source, max_exact_agents,
    db); executor: ``"local"`` or ``"dask"``; scheduler: a Dask scheduler address (``dask``
    only; default a ``LocalCluster`` of ``n_workers`` single-threaded worker processes, default
    the number of CPUs); wait: wait for another backtest of the same period on the same store
    instead of raising :class:`data.errors.ConcurrentRunError` (at most ``wait_timeout_s``
    seconds; None = forever); progress: ``callback(days_done, days_total, message)``, called
    after each query of an ENTSO-E download (``source="entsoe"``; message ``"load data:
    ENTSO-E <query> in (i of n)"``), once the stored days are found (``"starting"`` or ``"K
    day(s) already stored"``) and after each day is stored (``"YYYY-MM-DD stored"``).
    """
    t0 = time.perf_counter()
    from btut.replaying import (
        _check_days,
        _check_history,
        _check_solar,
        _check_storable_names,
        _day_shapes,
        _days,
        _load_history,
        _params,
        _save,
    )

    par = _params(zone, agents, seed, config, kappa, source, max_exact_agents)
    _check_storable_names(par)  # a backtest always stores
    if start is None or end is None:
        raise InvalidParameterError("a backtest needs a start and an end date (end exclusive)")
    days = _days(None, start, end)
    check_executor(executor, scheduler, n_workers)
    if progress is not None and not callable(progress):
        raise InvalidParameterError(f"progress must be a callable or None, got {progress!r}")
    if wait_timeout_s is not None and not (
        isinstance(wait_timeout_s, int | float) and wait_timeout_s >= 0
    ):
        raise InvalidParameterError(
            f"wait_timeout_s must be a number of seconds >= 0, got {wait_timeout_s!r}"
        )

    # every day's data is checked before any work (one-line errors, nothing stored)
    from data import load_market_data

    def downloading(done: int, total: int, what: str) -> None:  # the live API only
        if progress is not None:
            progress(0, len(days), f"load data: ENTSO-E {what} in ({done} of {total})")

    frame = load_market_data(
        par.zone, days[0], days[-1] + dt.timedelta(days=1), source=par.source, progress=downloading
    )
    _check_days(frame, days, par.zone)
    history = _load_history(par.zone, days, par.source, frame, progress=downloading)
    _check_solar(history)
    # the history of every later day is this one's or the period's: checked once, here
    _check_history(history, days[0], par.zone)
    # a day whose market cannot be built fails here, before the store is opened (or created);
    # the days stored already were built before (a rerun of 30 stored days built them all
    # again: 1.8 s of 7.5 s)
    stored_before = _stored_days(par, days, db)
    to_build = tuple(d for d in days if d not in stored_before)
    if to_build:
        _day_shapes(history, to_build)

    from data.store import ResultsStore, config_hash

    stop = days[-1] + dt.timedelta(days=1)
    bt_config = _backtest_config(par, days[0], stop)
    lock = f"backtest {par.zone} {days[0]} .. {stop} (end exclusive) {config_hash(bt_config)[:16]}"
    total = len(days)
    done: dict[dt.date, BacktestDay] = {}

    def tick(message: str) -> None:
        if progress is not None:
            progress(len(done), total, message)

    from btut.executors import dask_client

    with contextlib.ExitStack() as stack:
        client = None
        if scheduler is not None:  # an unreachable scheduler fails before the store is touched
            client = stack.enter_context(dask_client(scheduler))
        store = stack.enter_context(ResultsStore(db))
        held = stack.enter_context(store.exclusive(lock, wait=wait, timeout_s=wait_timeout_s))
        todo = []
        for d in days:
            stored = store.find_run(par.run_config((d,)))
            if stored is None:
                todo.append(d)
            else:
                done[d] = _day_from_stored(d, stored, reused=True)
        unchecked = tuple(d for d in todo if d in stored_before)  # gone since? build them
        if unchecked:
            _day_shapes(history, unchecked)
        if client is None and executor == "dask" and todo:  # a local cluster, only for work
            client = stack.enter_context(dask_client(None, n_workers))
        # the backtest's own record is stored with its first day (or now, when every day is
        # stored already): a backtest that fails on its first day leaves nothing behind
        records: list[Any] = []

        def keep_record() -> None:
            if not records:
                records.append(store.save_run(kind="backtest", config=bt_config, zone=par.zone))

        reused = len(done)
        if not todo:
            keep_record()
        tick(f"{reused} day(s) already stored" if reused else "starting")

        def finished(d: dt.date, result: Any) -> None:
            held.check()  # a lost lock (PostgreSQL) stops the backtest before it saves more
            saved = _save(result, db)
            keep_record()
            done[d] = _day_from_result(d, result, saved.run_id, reused=not saved.created)
            tick(f"{d.isoformat()} stored")

        if client is None:
            for d in todo:
                held.check()
                finished(d, replay_day(par, d))
        elif todo:
            from btut.executors import dask_map

            dask_map(replay_day, par, todo, finished, client=client)

    ordered = tuple(done[d] for d in days)
    return BacktestResult(
        backtest_id=int(records[0].run_id),
        zone=par.zone,
        start=days[0],
        end=days[-1] + dt.timedelta(days=1),
        agents=par.agents,
        seed=par.seed,
        executor=executor,
        config=bt_config,
        days=ordered,
        days_run=sum(not d.reused for d in ordered),
        days_reused=sum(d.reused for d in ordered),
        elapsed_s=time.perf_counter() - t0,
    )


def _stored_days(par: Any, days: Sequence[dt.date], db: str | None) -> set[dt.date]:
    """The days whose replay the store at ``db`` holds already, looked up read-only (nothing
    created or migrated); none when the store does not exist yet or is at an older schema
    (the backtest creates or migrates it). Any other StorageError (an unreachable server, a
    file that is not a store) is raised here: opening the store to write would fail the same
    way, after as long a wait for a server that does not answer."""
    from data.errors import StoreNotReadyError
    from data.store import ResultsStore

    try:
        with ResultsStore(db, read_only=True) as store:
            return {d for d in days if store.find_run(par.run_config((d,))) is not None}
    except StoreNotReadyError:
        return set()


def load_backtest(backtest_id: int, db: str | None = None) -> LoadedBacktest:
    """A stored backtest by id, with the days stored so far; ``DataUnavailableError`` when
    there is no backtest with that id."""
    from btut.replaying import _days
    from data.store import ResultsStore

    with ResultsStore(db, read_only=True) as store:  # never creates or migrates
        run = store.get_run(backtest_id)
        if run.kind != "backtest":
            raise DataUnavailableError(
                f"run {backtest_id} is of kind {run.kind!r}, not a backtest (see btut db runs)"
            )
        cfg = run.config
        stored, missing = [], []
        for d in _days(None, cfg["start"], cfg["end"]):
            day_run = store.find_run(_day_config(cfg, d))
            if day_run is None:
                missing.append(d)
            else:
                stored.append(_day_from_stored(d, day_run, reused=True))
    return LoadedBacktest(
        backtest_id=int(run.run_id),
        zone=str(run.zone),
        config=cfg,
        days=tuple(stored),
        missing_days=tuple(missing),
    )
