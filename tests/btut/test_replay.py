"""`btut replay` and `btut.replay(...)` on the bundled ES data (small N, temp SQLite store)."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import btut
from agents import PopulationConfig
from btut.cli import main
from btut.replaying import DEFAULT_DAY, JSON_KEYS
from data.loader import bundled_path
from data.store import ResultsStore

N = 300


def _url(tmp: Path) -> str:
    return f"sqlite:///{tmp / 'replay.sqlite'}"


def _replay_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code = main(["replay", "--json", *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = captured.out.strip().splitlines()
    assert len(lines) == 1, captured.out
    return json.loads(lines[0])


def _rows(url: str) -> dict[str, int]:
    with ResultsStore(url) as store:
        return store.count_rows()


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("replay")


@pytest.fixture(scope="module")
def first_run(store_dir: Path) -> dict[str, Any]:
    """A bare-day replay of N agents through the CLI (stdout captured by hand: module scope)."""
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["replay", "--json", "--agents", str(N), "--db", _url(store_dir)])
    assert code == 0
    return json.loads(buf.getvalue().strip().splitlines()[-1])


def test_json_has_exactly_the_keys_and_types(first_run: dict[str, Any]) -> None:
    assert set(first_run) - {"details"} == set(JSON_KEYS)
    assert isinstance(first_run["run_id"], int)
    assert first_run["zone"] == "ES"
    assert first_run["days"] == [DEFAULT_DAY.isoformat()]
    assert first_run["agents"] == N
    for key in JSON_KEYS[4:]:
        assert isinstance(first_run[key], float), key
    assert first_run["details"]["created"] is True


def test_scores_are_sane_on_the_default_day(first_run: dict[str, Any]) -> None:
    assert first_run["exploitability_eur_per_agent_day"] < 0.01
    assert 0.0 <= first_run["efficiency"] <= 1.05
    assert first_run["price_of_anarchy"] >= 1.0 - 1e-6
    assert first_run["planner_cost_eur"] <= first_run["baseline_cost_eur"] + 1e-6
    assert first_run["details"]["days"][0]["planner_sampled"] is False  # N <= 2000: exact
    assert 0.0 < first_run["peak_import_reduction"] < 1.0


def test_run_is_stored_and_reloadable(first_run: dict[str, Any], store_dir: Path) -> None:
    run = btut.load_run(first_run["run_id"], db=_url(store_dir))
    assert run.kind == "replay" and run.zone == "ES"
    for key in ("efficiency", "price_of_anarchy", "market_cost_eur", "planner_mip_gap"):
        assert run.metrics[key] == pytest.approx(first_run[key], rel=1e-12)
    # the scores as attributes, as on the replay's result (they were in .metrics only)
    for key in (
        "efficiency",
        "price_of_anarchy",
        "exploitability_eur_per_agent_day",
        "baseline_cost_eur",
        "market_cost_eur",
        "planner_cost_eur",
    ):
        assert getattr(run, key) == pytest.approx(first_run[key], rel=1e-12), key
    frame = run.to_frame()
    assert len(frame) == 24
    assert {"wholesale_eur_per_mwh", "local_price_eur_per_mwh", "import_market_kwh"} <= set(
        frame.columns
    )
    assert run.per_type is not None and set(run.per_type.index) == {
        "consumer",
        "pv",
        "pv_storage",
        "ev",
    }
    # per-day figures for reports: the day's scores and the solver's convergence
    (day,) = run.days()
    assert day["day"] == first_run["days"][0]
    assert day["efficiency"] == pytest.approx(first_run["efficiency"], rel=1e-12)
    history = day["equilibrium_exploitability_history_eur"]
    assert len(history) == day["equilibrium_iterations"] >= 1
    assert history[-1] == pytest.approx(first_run["exploitability_eur_per_agent_day"], rel=1e-9)
    assert run.days_frame().index.tolist() == first_run["days"]
    # realised load beside its forecast
    assert frame["load_mw"].notna().all() and (frame["load_mw"] > 10_000).all()
    # agents planned on the Student-t mean and the TSO's solar forecast, not on the actuals
    assert (day["plan_load"], day["plan_solar"]) == ("student_t_mu", "solar_forecast_mw")
    assert (day["realised_load"], day["realised_solar"]) == ("load_mw", "solar_mw")
    mu = frame["load_forecast_mu_mw"].to_numpy()
    assert frame["load_shape_plan"].to_numpy() == pytest.approx(mu / mu.sum(), rel=1e-12)
    assert frame["load_shape"].to_numpy() == pytest.approx(
        frame["load_mw"].to_numpy() / frame["load_mw"].sum(), rel=1e-12
    )
    assert (frame["solar_cf_plan"] != frame["solar_cf"]).any()
    # the solar plan's error spread the agents weighed, as planning_profiles gives it
    assert day["plan_solar_error_days"] == 28
    assert (frame["solar_cf_error_sd_plan"] >= 0).all()
    noon = frame["solar_cf_plan"].idxmax()
    assert frame.loc[noon, "solar_cf_error_sd_plan"] > 0.005


def test_identical_rerun_reuses_the_run_and_is_reproducible(
    first_run: dict[str, Any], store_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _url(store_dir)
    before = _rows(url)
    again = _replay_json(capsys, "--agents", str(N), "--db", url)
    assert again["run_id"] == first_run["run_id"]
    assert again["details"]["created"] is False
    assert _rows(url) == before
    for key in JSON_KEYS[4:-1]:  # same seed, same numbers (all but the wall time)
        assert again[key] == first_run[key], key


def test_a_zone_code_in_another_spelling_finds_the_same_run(
    first_run: dict[str, Any], store_dir: Path
) -> None:
    """ " es" is ES: one stored configuration per zone (it was stored again, as zone 'es')."""
    url = _url(store_dir)
    before = _rows(url)
    again = btut.replay(" es", DEFAULT_DAY.isoformat(), agents=N, db=url)
    assert (again.run_id, again.created, again.zone) == (first_run["run_id"], False, "ES")
    assert _rows(url) == before


def test_python_api_on_a_dst_day(tmp_path: Path) -> None:
    result = btut.replay("ES", "2017-03-26", agents=200, seed=3, db=_url(tmp_path))
    frame = result.to_frame()
    assert len(frame) == 23
    assert result.days[0].isoformat() == "2017-03-26"
    assert result.created is True
    assert len(btut.load_run(result.run_id, db=_url(tmp_path)).to_frame()) == 23
    assert set(result.to_dict()) - {"details"} == set(JSON_KEYS)
    (day,) = result.day_results
    assert day.to_dict()["efficiency"] == result.efficiency
    assert len(day.to_frame()) == 23
    frame = day.to_frame()
    frame.iloc[:, :] = 0.0  # a copy: the result and the stored run stay as they are
    assert (day.intervals["wholesale_eur_per_mwh"] != 0).all()
    loaded = btut.load_run(result.run_id, db=_url(tmp_path))
    frame = loaded.to_frame()
    frame.iloc[:, :] = 0.0
    assert (loaded.to_frame()["wholesale_eur_per_mwh"] != 0).all()


def _fails(capsys: pytest.CaptureFixture[str], url: str, *args: str, code: int) -> str:
    assert main(["replay", "--db", url, *args]) == code
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("btut: error: "), captured.err
    return lines[0]


def _config_file(tmp: Path, mutate: Any) -> str:
    data = PopulationConfig().to_dict()
    mutate(data)
    path = tmp / "config.json"
    path.write_text(json.dumps(data))
    return str(path)


def _june_csv(tmp: Path, name: str, change_day: bool) -> str:
    """The bundled Spanish file for June 2017, with (``change_day``) the actual load and solar
    of 2017-06-14 (local) changed: a cloudy afternoon and a late evening peak."""
    with gzip.open(bundled_path("spain_energy_2015_2017.csv.gz"), "rt") as fh:
        lines = fh.read().splitlines()
    header = lines[0].split(",")
    solar, load = header.index("generation solar"), header.index("total load actual")
    kept = [lines[0]]
    for ln in lines[1:]:
        if not ln.startswith("2017-06"):
            continue
        if change_day and ln.startswith("2017-06-14 "):
            cells = ln.split(",")
            hour = int(ln[11:13])
            if hour >= 15:  # clouds in the afternoon (noon's peak, hence C, unchanged)
                cells[solar] = f"{float(cells[solar]) * 0.4:.1f}"
            cells[load] = f"{float(cells[load]) * (1.3 if hour >= 19 else 0.95):.1f}"
            ln = ",".join(cells)
        kept.append(ln)
    path = tmp / name
    path.write_text("\n".join(kept) + "\n")
    return str(path)


def test_agents_plan_without_the_days_actuals(tmp_path: Path) -> None:
    """No look-ahead: the equilibrium (what agents plan and bid) is the same whatever the
    day's actual load and solar turn out to be; only the realised market and the benchmarks
    (which see the actuals) change. Before, agents planned on the day's actual shapes."""
    kw = {"agents": 200, "seed": 4, "store": False}
    with pytest.warns(UserWarning, match=r"no Student-t load forecast \(only 13 day"):
        same = btut.replay("ES", "2017-06-14", source=_june_csv(tmp_path, "a.csv", False), **kw)
    with pytest.warns(UserWarning, match="no Student-t load forecast"):
        moved = btut.replay("ES", "2017-06-14", source=_june_csv(tmp_path, "b.csv", True), **kw)
    a, b = same.day_results[0], moved.day_results[0]
    assert a.details["plan_load"] == "load_forecast_mw"  # 13 days of history: no Student-t
    fa, fb = a.intervals, b.intervals
    for col in ("mean_field_price_eur_per_mwh", "load_shape_plan", "solar_cf_plan"):
        assert fb[col].to_numpy() == pytest.approx(fa[col].to_numpy(), rel=1e-12), col
    assert b.exploitability_eur_per_agent == pytest.approx(
        a.exploitability_eur_per_agent, rel=1e-12
    )
    # the day did change: realised shapes, the market's positions and the planner's cost
    assert (fb["solar_cf"] < fa["solar_cf"] - 0.05).any()
    assert not fb["mean_position_kwh"].to_numpy() == pytest.approx(
        fa["mean_position_kwh"].to_numpy()
    )
    assert b.planner_cost_eur != pytest.approx(a.planner_cost_eur, rel=1e-3)


def test_bad_input_is_one_line_nonzero_and_stores_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], june_gap_csv: str
) -> None:
    url = _url(tmp_path)

    def shares(d: dict[str, Any]) -> None:
        d["types"][0]["share"] = 0.6

    def negative(d: dict[str, Any]) -> None:
        d["types"][0]["params"]["load_kwh_per_day"]["mean"] = -9.0

    assert "unknown zone" in _fails(capsys, url, "--zone", "XX", code=3)
    assert "outside" in _fails(capsys, url, "--day", "2019-06-14", code=3)
    assert "agents" in _fails(capsys, url, "--agents", "0", code=2)
    assert "shares" in _fails(capsys, url, "--config", _config_file(tmp_path, shares), code=2)
    assert _fails(capsys, url, "--config", _config_file(tmp_path, negative), code=2)
    assert "gap" in _fails(capsys, url, "--source", june_gap_csv, "--day", "2017-06-14", code=4)
    assert not Path(url.removeprefix("sqlite:///")).exists() or _rows(url)["runs"] == 0


def test_bad_input_from_python_raises_before_any_work() -> None:
    from data.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError):
        btut.replay(agents=0, store=False)
    with pytest.raises(InvalidParameterError):
        btut.replay(start="2017-06-15", end="2017-06-14", store=False)
    with pytest.raises(InvalidParameterError, match=r"^progress must be a callable"):
        btut.replay(agents=5, store=False, progress=5)  # was a TypeError after the data loaded
    with pytest.raises(InvalidParameterError, match=r"^progress must be a callable"):
        btut.backtest("ES", "2017-06-14", "2017-06-15", agents=5, progress=3)


def test_days_accept_dates_strings_and_naive_midnights_only() -> None:
    """A day is a local market day: a naive midnight (``pd.Timestamp("2017-06-14")``) names
    one; a time of day or a UTC offset does not say which local day is meant."""
    import datetime as dt

    import pandas as pd

    from btut.replaying import _days
    from data.errors import InvalidParameterError

    want = (dt.date(2017, 6, 14),)
    for value in ("2017-06-14", dt.date(2017, 6, 14), pd.Timestamp("2017-06-14")):
        assert _days(value, None, None) == want
    assert _days(None, dt.datetime(2017, 6, 14), pd.Timestamp("2017-06-16")) == (
        dt.date(2017, 6, 14),
        dt.date(2017, 6, 15),
    )
    for bad in (pd.Timestamp("2017-06-14 12:00"), pd.Timestamp("2017-06-14", tz="UTC")):
        with pytest.raises(InvalidParameterError, match="naive midnight"):
            _days(bad, None, None)


def test_engine_defaults_are_part_of_the_run_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stored run is reused only for the same engine: a new default (bins, tolerance) or
    package version gives a new configuration hash instead of stale stored results."""
    import datetime as dt

    import market.energy
    from btut.replaying import _params
    from data.store import config_hash

    days = (dt.date(2017, 6, 14),)
    par = _params("ES", 1000, 0, None, None, None, None)
    cfg = par.run_config(days)
    assert cfg["engine"] == {
        "bins": dict(market.energy.DEFAULT_BINS),
        "bin_parameter": dict(market.energy.BIN_PARAMETER),
        "equilibrium_tol_eur": market.energy.DEFAULT_TOL_EUR,
    }
    assert cfg["code_version"] not in ("", "unknown")
    base = config_hash(cfg)
    assert config_hash(par.run_config(days)) == base
    monkeypatch.setattr(market.energy, "DEFAULT_BINS", {"pv_storage": 3})
    assert config_hash(par.run_config(days)) != base
    monkeypatch.undo()
    monkeypatch.setattr(market.energy, "DEFAULT_TOL_EUR", 0.01)
    assert config_hash(par.run_config(days)) != base
    monkeypatch.undo()
    monkeypatch.setattr(
        market.energy, "BIN_PARAMETER", {**market.energy.BIN_PARAMETER, "consumer": "x"}
    )
    assert config_hash(par.run_config(days)) != base


def test_every_parameter_of_a_replay_is_part_of_its_identity(tmp_path: Path) -> None:
    """Each replay parameter that reaches the computation changes the configuration hash,
    so a stored run is never handed back for another setting (dropping max_exact_agents from
    the configuration passed every test: a sampled planner's run came back for the exact
    one). Every field of the validated parameters is covered but the source path, which is
    kept for the record and is not the data's identity (its bytes are)."""
    import dataclasses
    import datetime as dt

    from btut.replaying import _Params, _params
    from data.store import config_hash

    days = (dt.date(2017, 6, 14),)
    csv = tmp_path / "es.csv"
    csv.write_text("time_utc,load_mw\n")
    other = tmp_path / "other.csv"
    other.write_text("time_utc,load_mw\n2017-06-14T00:00:00Z,1\n")
    base_args = {"zone": "ES", "agents": 1000, "seed": 0, "config": None, "kappa": None}
    base_args |= {"source": None, "max_exact_agents": None}
    changed = {
        "zone": "FR",
        "agents": 999,
        "seed": 1,
        "config": {"types": [{"name": "consumer", "kind": "consumer", "share": 1.0}]},
        "kappa": 401.0,
        "source": str(csv),
        "max_exact_agents": 50,
    }
    base = _params(**base_args)
    fields = {f.name for f in dataclasses.fields(_Params)} - {"source_path"}
    seen: set[str] = set()
    for name, value in changed.items():
        par = _params(**{**base_args, name: value})
        moved = {f for f in fields if getattr(par, f) != getattr(base, f)}
        assert moved, name
        seen |= moved
        assert config_hash(par.run_config(days)) != config_hash(base.run_config(days)), name
    assert seen == fields  # a new field needs a line here (and in run_config)
    with_csv = _params(**{**base_args, "source": str(csv)})
    with_other = _params(**{**base_args, "source": str(other)})
    assert config_hash(with_csv.run_config(days)) != config_hash(with_other.run_config(days))
    assert config_hash(base.run_config(days)) != config_hash(
        base.run_config((days[0] + dt.timedelta(days=1),))
    )


def test_huge_populations_pair_the_market_with_the_planner_sample(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Above MAX_SETTLEMENT_AGENTS the replay keeps only the planner sample's settlement
    (``track``): the scores are the same paired ones as when every agent's cost is kept."""
    import market.clearing

    kw = {"agents": 1_500, "max_exact_agents": 300, "store": False}
    kept = btut.replay("ES", DEFAULT_DAY, **kw)
    monkeypatch.setattr(market.clearing, "MAX_SETTLEMENT_AGENTS", 1_000)
    tracked = btut.replay("ES", DEFAULT_DAY, **kw)
    a, b = kept.to_dict(), tracked.to_dict()
    for key in ("efficiency", "price_of_anarchy", "market_cost_eur", "planner_cost_eur"):
        assert a[key] == b[key]
    da, db_ = a["details"]["days"][0], b["details"]["days"][0]
    assert da["market_cost_used_eur"] != da["market_cost_eur"]  # paired on the sample
    for key in ("market_cost_used_eur", "efficiency_low", "efficiency_high"):
        assert da[key] == db_[key]


def test_the_load_forecast_is_trained_on_what_was_known_at_the_cut_off() -> None:
    """The replay's Student-t forecaster was fitted on every row before the day, the
    afternoon of the day before (after the cut-off) included, in its early-stopping
    validation days; its mean is now the agents' planned load shape and its spread their
    risk, so that was look-ahead. That afternoon's load changed (50 times: the old code then
    stopped at epoch 8 instead of 28) leaves the forecast unchanged."""
    import datetime as dt

    import pandas as pd

    import data
    from btut.replaying import _forecast
    from forecasting.features import cutoff_for_day

    history = data.load_market_data("ES", "2017-04-15", "2017-06-15")  # 60 days
    day = dt.date(2017, 6, 14)
    cut = cutoff_for_day(day, "Europe/Madrid")
    midnight = pd.Timestamp("2017-06-14").tz_localize("Europe/Madrid").tz_convert("UTC")
    after = (history.index >= cut) & (history.index < midnight)
    assert after.sum() == 12  # 10:00..21:00 UTC of 06-13
    moved = history.copy()
    moved.loc[after, "load_mw"] *= 50.0
    moved.attrs = dict(history.attrs)
    a, info = _forecast(history, (day,), seed=0)
    b, _ = _forecast(moved, (day,), seed=0)
    assert info["used"] and info["history_days"] == 60
    pd.testing.assert_frame_equal(a, b)


def test_a_zone_whose_data_started_weeks_before_uses_the_weeks_it_has() -> None:
    """DE_LU's data start on 2018-10-01: on 10-20 the history was only the day itself (the
    365/56/28-day windows all start before the data), so the solar plan (DE_LU has no solar
    forecast: the 7-day clock-time mean) could not be built and the day was refused."""
    with pytest.warns(UserWarning, match=r"no Student-t load forecast \(only 19 day"):
        result = btut.replay("DE_LU", "2018-10-20", agents=50, store=False)
    (day,) = result.day_results
    assert (day.details["plan_load"], day.details["plan_solar"]) == (
        "load_forecast_mw",
        "naive_7d:solar_mw",
    )
    assert 0.0 < day.efficiency <= 1.05


def test_an_equilibrium_stopped_at_its_limit_is_warned_about_and_flagged(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real solver, stopped after two iterations below any reachable tolerance: the day
    is stored flagged, and the CLI says so in one warning line (exit 0)."""
    import market

    real = market.solve_energy_market
    monkeypatch.setattr(
        market, "solve_energy_market", lambda game, **kw: real(game, max_iter=2, tol_eur=1e-12)
    )
    url = _url(tmp_path)
    with pytest.warns(UserWarning, match=r"^2017-06-14: the equilibrium did not converge in 2 "):
        res = btut.replay("ES", "2017-06-14", agents=40, db=url)
    assert res.day_results[0].details["equilibrium_converged"] is False
    assert btut.load_run(res.run_id, db=url).days()[0]["equilibrium_converged"] is False

    assert main(["replay", "--agents", "41", "--db", url]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    warned = [line for line in err if "did not converge" in line]
    assert len(warned) == 1 and warned[0].startswith("btut: warning: 2017-06-14: "), err


def test_the_first_day_of_the_data_replays_without_a_forecast(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No day before it: no Student-t forecast (one warning naming why), agents plan on the
    TSO's forecasts (was: 'cannot infer the resolution of a frame with < 2 rows', exit 2)."""
    assert main(["replay", "--agents", "10", "--day", "2015-01-01", "--db", _url(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "no Student-t load forecast (only 0 day(s) of history)" in err
    run = btut.load_run(1, db=_url(tmp_path)).days()[0]
    assert run["plan_load"] == "load_forecast_mw" and run["forecast_used"] is False


def test_a_gap_in_the_history_is_said_and_a_bad_row_there_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    june_gap_csv: str,
    offgrid_csv: Callable[[str], str],
    history_gap_warning: str,
) -> None:
    """The June file without 2017-06-14 12:00: replaying 06-15 warns once about that hour of
    its history (left out, not filled); the same file with an off-grid row on 06-02 refuses
    06-15 in one line (exit 4) and stores nothing. Both were silent before."""
    url = _url(tmp_path)
    gap = june_gap_csv
    assert main(["replay", "-n", "20", "--source", gap, "--day", "2017-06-15", "--db", url]) == 0
    err = [ln for ln in capsys.readouterr().err.splitlines() if "history: " in ln]
    assert err == [history_gap_warning]
    bad = offgrid_csv(gap)
    before = _rows(url)
    line = _fails(capsys, url, "-n", "20", "--source", str(bad), "--day", "2017-06-15", code=4)
    assert "ES history before 2017-06-15 invalid: 1 timestamp(s) off the 60min grid" in line
    assert _rows(url) == before


def test_missing_values_in_the_history_are_said_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], june_csv: Callable[..., Path]
) -> None:
    """The June file with the load of 2017-06-10 15:00 (local) empty: a replay of 06-15 and
    a backtest of 06-15..06-17 each say it in one line (the forecaster takes it as unknown,
    nothing is filled). A missing value in the history was said by `btut data validate`
    only, never by the replay that read it."""
    empty = ("2017-06-10 15:", "total load actual", lambda v: "")
    path = str(june_csv("spain_missing.csv", edit=empty))
    line = (
        "btut: warning: ES history: 1 missing value(s) before 2017-06-15 (load_mw 1), the "
        "first at 2017-06-10T13:00:00+00:00; the load forecaster and the plans take them as "
        "unknown (nothing is filled)"
    )
    url = _url(tmp_path)
    assert main(["replay", "-n", "20", "--source", path, "--day", "2017-06-15", "--db", url]) == 0
    assert [ln for ln in capsys.readouterr().err.splitlines() if "history: " in ln] == [line]
    args = ["backtest", "-z", "ES", "--start", "2017-06-15", "--end", "2017-06-18"]
    assert main([*args, "-n", "20", "--source", path, "--db", url]) == 0
    assert [ln for ln in capsys.readouterr().err.splitlines() if "history: " in ln] == [line]


def test_the_history_check_counts_the_columns_a_replay_reads() -> None:
    """On the bundled ES year before 2017-06-14 the count per column equals pandas' own count
    of the missing values before the day; wind_mw (read by nothing) is not in the line."""
    import warnings

    from btut.replaying import _check_history, _load_history

    day = dt.date(2017, 6, 14)
    history = _load_history("ES", (day,), None)
    before = history.loc[history.index < pd.Timestamp("2017-06-13 22:00", tz="UTC")]
    counts = before.isna().sum()
    assert counts["wind_mw"] > 0  # the case: missing, but not read
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        _check_history(history, day, "ES")
    (message,) = [str(w.message) for w in seen if "missing value" in str(w.message)]
    read = {"load_mw", "solar_mw", *(c for c in before.columns if "_forecast_" in c)}
    shown = {c: int(counts[c]) for c in before.columns if c in read and counts[c]}
    assert f"({', '.join(f'{c} {n}' for c, n in shown.items())})" in message
    assert f"ES history: {sum(shown.values())} missing value(s) before 2017-06-14" in message
    assert "wind_mw" not in message


def test_a_spike_in_the_history_is_said_and_used_as_it_is(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    june_spike_csv: str,
    spike_warning: str,
) -> None:
    """The June file with the load of 2017-06-10 15:00 tripled: replaying 06-15 says that
    hour in one line and replays as before otherwise (the value is not changed); the
    bundled file says nothing (no spike in its June)."""
    url = _url(tmp_path)
    args = ["replay", "-n", "20", "--day", "2017-06-15", "--db", url]
    assert main([*args, "--source", june_spike_csv]) == 0
    err = [ln for ln in capsys.readouterr().err.splitlines() if "spike" in ln]
    assert err == [spike_warning]
    assert main(args) == 0
    assert "spike" not in capsys.readouterr().err


def test_a_day_built_on_a_substitute_says_so(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    june_csv: Callable[..., Path],
    other_lines: Callable[[str], list[str]],
    es_june_history_missing: str,
) -> None:
    """The bundled 2017-11-14 lacks two load_mw values: its realised load is the TSO's
    forecast, said in one line (it was only in the details); a blank solar forecast hour
    makes the solar plan the clock-time mean of the days before, said too."""
    url = _url(tmp_path)
    assert main(["replay", "-n", "20", "--day", "2017-11-14", "--db", url]) == 0
    said = [ln for ln in other_lines(capsys.readouterr().err) if "missing value" in ln]
    assert said == [
        "btut: warning: ES 2017-11-14: load_mw has 2 missing value(s), the first at "
        "2017-11-14T11:00:00+00:00; the day's realised load is load_forecast_mw (nothing is "
        "filled)"
    ]
    assert btut.load_run(1, db=url).days()[0]["realised_load"] == "load_forecast_mw"
    blank = ("2017-06-14 13:", "forecast solar day ahead", lambda v: "")
    path = june_csv("blank_solar_forecast.csv", edit=blank)
    assert main(["replay", "-n", "20", "--source", str(path), "--db", url]) == 0
    said = [ln for ln in other_lines(capsys.readouterr().err) if "missing value" in ln]
    assert said == [
        "btut: warning: ES 2017-06-14: solar_forecast_mw has 1 missing value(s), the first at "
        "2017-06-14T11:00:00+00:00; the day's solar plan is naive_7d:solar_mw (nothing is "
        "filled)"
    ]
    assert main(["replay", "-n", "20", "--db", url]) == 0  # the bundled day: its history's
    said = [ln for ln in capsys.readouterr().err.splitlines() if "missing value" in ln]
    assert said == [es_june_history_missing.format(day="2017-06-14")]


def test_undefined_figures_are_stored_as_strict_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Consumers only: the planner cannot beat trading alone, so the efficiency is
    undefined; the stored per-day document holds null there, not the NaN literal that
    strict JSON readers (and PostgreSQL's json functions) refuse."""
    url = _url(tmp_path)
    config = tmp_path / "consumers.json"
    config.write_text(json.dumps({"types": [{"kind": "consumer", "share": 1.0}]}))
    assert main(["replay", "-n", "20", "--config", str(config), "--db", url]) == 0
    capsys.readouterr()
    assert main(["db", "show", "1", "--db", url, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)

    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in the stored JSON")

    days = json.loads(shown["metrics"]["days_json"], parse_constant=refuse)
    assert days[0]["efficiency"] is None
    assert btut.load_run(1, db=url).days()[0]["efficiency"] is None


def test_an_edited_source_file_is_a_new_run(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    june_spike_csv: str,
    june_csv: Callable[..., Path],
) -> None:
    """The run's configuration holds the sha256 of a --source file's bytes: the same file
    edited in place (here: one load value tripled) is replayed anew, not answered with the
    stored run of the old data (its path alone identified it before); the same bytes under
    another name, or named by another path, are the stored run (they were computed and
    stored again); the run keeps the absolute path it was first computed from."""
    url = _url(tmp_path)
    path = june_csv("es.csv")
    args = ["replay", "-n", "20", "--day", "2017-06-15", "--db", url, "--json"]

    def replayed(source: Path) -> dict[str, Any]:
        assert main([*args, "--source", str(source)]) == 0
        return json.loads(capsys.readouterr().out)

    first = replayed(path)
    path.write_text(Path(june_spike_csv).read_text())  # edited in place
    edited = replayed(path)
    assert edited["run_id"] != first["run_id"] and edited["details"]["created"]
    assert edited["details"]["config_hash"] != first["details"]["config_hash"]
    copy = tmp_path / "sub" / "copy.csv"
    copy.parent.mkdir()
    copy.write_bytes(path.read_bytes())
    again = replayed(copy)
    assert again["run_id"] == edited["run_id"] and again["details"]["created"] is False
    assert again["details"]["config_hash"] == edited["details"]["config_hash"]
    assert again["details"]["config"]["source"] == "file"
    assert again["details"]["source_path"] == str(copy.resolve())  # this replay's file
    stored = btut.load_run(edited["run_id"], db=url)
    assert stored.config["source_sha256"] == hashlib.sha256(copy.read_bytes()).hexdigest()
    assert stored.metrics["source_path"] == str(path.resolve())  # the first computation's
    import os

    cwd = os.getcwd()
    os.chdir(copy.parent)
    try:  # a relative path to the same bytes: the same run too
        relative = replayed(Path("copy.csv"))
    finally:
        os.chdir(cwd)
    assert relative["run_id"] == edited["run_id"] and relative["details"]["created"] is False


def test_a_device_or_fifo_source_is_refused_not_read_for_its_digest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The source's digest is taken of regular files only: /dev/zero was hashed forever and
    a FIFO blocked, before the loader could say they are no regular files (exit 3)."""
    import os
    import threading

    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    codes: list[int] = []
    for source in ("/dev/zero", str(fifo)):
        args = ["replay", "-n", "20", "--source", source, "--db", _url(tmp_path)]
        worker = threading.Thread(target=lambda a=args: codes.append(main(a)), daemon=True)
        worker.start()
        worker.join(timeout=60)
        assert not worker.is_alive(), f"--source {source} did not return"
        assert "is not a regular file" in capsys.readouterr().err
    assert codes == [3, 3]


def test_a_small_replay_never_beats_its_planner() -> None:
    """The replay hands the planner and the baseline the market's demand-response options
    (levels on the planned load). With the realised-load base this 3-agent day had a price
    of anarchy of 0.981 (found by a CLI audit)."""
    res = btut.replay("ES", "2017-06-14", agents=3, store=False)
    day = res.day_results[0]
    assert not day.planner_sampled and day.planner_mip_gap <= 1e-4
    assert res.planner_cost_eur <= res.market_cost_eur + day.planner_error_bound_eur + 1e-9
    assert res.planner_cost_eur <= res.baseline_cost_eur + 1e-9


def test_a_download_s_queries_show_in_the_load_data_stage(monkeypatch) -> None:
    """The replay hands the API download a progress callback and shows each query in its
    ``load data`` stage (a year of history from ENTSO-E is the longest wait of a replay). The
    download itself is tested with the network mocked (tests/data/test_entsoe_api.py); here
    the bundled data stands in for it, and each load says one query."""
    import data

    real = data.load_market_data
    loads: list[Any] = []

    def load(zone, start, end, *, source=None, progress=None, **kw):
        loads.append(progress)
        if progress is not None:
            progress(len(loads), 5, "actual total load")
        return real(zone, start, end, source=source, **kw)

    monkeypatch.setattr(data, "load_market_data", load)
    stages: list[tuple[str, float]] = []
    btut.replay("ES", agents=20, store=False, progress=lambda s, f: stages.append((s, f)))
    assert loads and all(callable(p) for p in loads)  # every load of the replay got one
    said = [s for s, _ in stages if s.startswith("load data: ")]
    assert said[0] == "load data: ENTSO-E actual total load in (1 of 5)"
    assert len(said) == len(loads)
    assert stages[0] == ("load data", 0.0)
