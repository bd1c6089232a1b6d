"""`btut backtest` and `btut.backtest(...)`: stored days, resume after kill -9, cron safety,
Dask versus local (small N on the bundled ES data; SQLite and a real PostgreSQL server)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import btut
from btut.cli import main
from data.errors import ConcurrentRunError, DataValidationError, InvalidParameterError
from data.store import ResultsStore

REPO_ROOT = Path(__file__).resolve().parents[2]
N = 150
SEED = 3
START, END = "2017-06-12", "2017-06-15"  # three days, end exclusive
DAYS = ["2017-06-12", "2017-06-13", "2017-06-14"]


def _sqlite(tmp: Path, name: str = "bt.sqlite") -> str:
    return f"sqlite:///{tmp / name}"


def _runs(url: str) -> pd.DataFrame:
    with ResultsStore(url) as store:
        return store.list_runs()


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "btut", *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _bt_args(url: str, *extra: str) -> list[str]:
    return [
        "backtest",
        "--zone",
        "ES",
        "--start",
        START,
        "--end",
        END,
        "--agents",
        str(N),
        "--seed",
        str(SEED),
        "--db",
        url,
        *extra,
    ]


def _stored(url: str, run_id: int) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    run = btut.load_run(run_id, db=url)
    metrics = {k: v for k, v in run.metrics.items() if k != "days_json"}
    assert run.per_type is not None
    return metrics, run.to_frame(), run.per_type


def _assert_same_days(url_a: str, days_a: list[dict], url_b: str, days_b: list[dict]) -> None:
    """The two stores hold bit-identical runs for the same days."""
    assert [d["day"] for d in days_a] == [d["day"] for d in days_b]
    for a, b in zip(days_a, days_b, strict=True):
        ma, fa, ta = _stored(url_a, a["run_id"])
        mb, fb, tb = _stored(url_b, b["run_id"])
        assert ma == mb
        pd.testing.assert_frame_equal(fa, fb, check_exact=True)
        pd.testing.assert_frame_equal(ta, tb, check_exact=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """An uninterrupted local backtest of the three days (Python API)."""
    url = _sqlite(tmp_path_factory.mktemp("bt_ref"))
    result = btut.backtest("ES", START, END, agents=N, seed=SEED, db=url)
    return url, result.to_dict()


def test_backtest_stores_one_replay_per_day(reference: tuple[str, dict[str, Any]]) -> None:
    url, res = reference
    assert res["days_run"] == 3 and res["days_reused"] == 0
    assert [d["day"] for d in res["days"]] == DAYS
    runs = _runs(url)
    assert sorted(runs["kind"]) == ["backtest", "replay", "replay", "replay"]
    assert int(runs.loc[runs["kind"] == "backtest", "run_id"].iloc[0]) == res["backtest_id"]
    for d in res["days"]:
        run = btut.load_run(d["run_id"], db=url)
        assert run.config["days"] == [d["day"]]
        assert run.metrics["efficiency"] == d["efficiency"]
        assert run.metrics["market_cost_eur"] == d["market_cost_eur"]
        assert 0 < d["efficiency"] <= 1.0 + 1e-9
    # a day of the backtest is exactly the replay of that day: replaying it finds the run
    again = btut.replay("ES", DAYS[1], agents=N, seed=SEED, db=url)
    assert again.created is False and again.run_id == res["days"][1]["run_id"]
    # the period's scores come from the summed costs of the days
    loaded = btut.load_backtest(res["backtest_id"], db=url)
    assert loaded.missing_days == ()
    assert loaded.days_frame()["run_id"].tolist() == [d["run_id"] for d in res["days"]]
    assert loaded.scores()["efficiency"] == pytest.approx(res["efficiency"], rel=1e-12)
    assert [r.run_id for r in loaded.runs(db=url)] == [d["run_id"] for d in res["days"]]


def test_rerun_reuses_every_day_and_a_longer_period_only_adds_the_new_days(
    reference: tuple[str, dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    es_june_history_missing: str,
) -> None:
    url, res = reference
    code = main(_bt_args(url, "--json"))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    again = json.loads(captured.out)
    assert again["backtest_id"] == res["backtest_id"]
    assert again["days_run"] == 0 and again["days_reused"] == 3
    assert again["days"] == res["days"]
    assert set(again) >= {"backtest_id", "zone", "days_run", "days_reused", "days"}
    # stderr is no terminal here (as under cron): a plain line instead of the bar
    assert captured.err.splitlines() == [
        es_june_history_missing.format(day=START),
        "btut: backtest ES 3 day(s) already stored: 3 of 3 days",
    ]
    n_runs = len(_runs(url))
    ticks: list[tuple[int, int, str]] = []
    longer = btut.backtest(
        "ES", START, "2017-06-16", agents=N, seed=SEED, db=url, progress=lambda *a: ticks.append(a)
    )
    assert (longer.days_run, longer.days_reused) == (1, 3)
    assert ticks == [(3, 4, "3 day(s) already stored"), (4, 4, "2017-06-15 stored")]
    assert longer.backtest_id != res["backtest_id"]  # another period, another record
    assert len(_runs(url)) == n_runs + 2  # one new day and the new backtest record


def test_db_show_of_a_backtest_gives_its_scores_and_days(
    reference: tuple[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    """`btut db show ID` of a backtest showed its record only: a configuration and empty
    metrics. It now adds the period's scores and stored days, as `btut backtest --json`."""
    url, res = reference
    assert main(["db", "show", str(res["backtest_id"]), "--db", url, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["kind"] == "backtest" and shown["metrics"] == {}
    bt = shown["backtest"]

    assert len(bt["days"]) == len(res["days"]) and bt["missing_days"] == []
    for shown_day, day in zip(bt["days"], res["days"], strict=True):
        same = {k: shown_day[k] for k in day if k != "reused"}
        assert same == {k: v for k, v in day.items() if k != "reused"}
    assert all(d["reused"] for d in bt["days"])  # read from the store
    for key in ("efficiency", "price_of_anarchy", "exploitability_eur_per_agent_day"):
        assert bt[key] == res[key], key
    assert main(["db", "show", str(res["backtest_id"]), "--db", url]) == 0
    text = json.loads(capsys.readouterr().out)
    assert text["backtest"]["efficiency"] == res["efficiency"]


def test_a_rerun_builds_no_day_of_the_stored_ones(
    reference: tuple[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every day's market was built once more before the stored days were looked up (1.8 s
    of a 7.5 s rerun of 30 stored days); only the days to compute are checked now."""
    import btut.replaying

    url, res = reference
    built: list[tuple[Any, ...]] = []
    real = btut.replaying._day_shapes

    def counting(history: Any, days: tuple[Any, ...]) -> Any:
        built.append(days)
        return real(history, days)

    monkeypatch.setattr(btut.replaying, "_day_shapes", counting)
    again = btut.backtest("ES", START, END, agents=N, seed=SEED, db=url)
    assert again.days_reused == 3 and built == []
    assert again.backtest_id == res["backtest_id"]


def test_log_line_of_a_day_says_days_done_elapsed_and_left(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without a terminal each stored day is one stderr line; the time left is the mean time
    of the days replayed so far times the days still to do."""
    from btut.cli import _backtest_log_line, _zone_code

    assert (_zone_code("de-lu"), _zone_code(" es"), _zone_code("XX")) == ("DE_LU", "ES", "XX")
    _backtest_log_line("ES", "2017-06-13 stored", 3, 9, 130.0, 2)  # one day was reused
    _backtest_log_line("ES", "2017-06-20 stored", 9, 9, 7625.0, 8)
    assert capsys.readouterr().err.splitlines() == [
        "btut: backtest ES 2017-06-13 stored: 3 of 9 days, 2 min 10 s elapsed, "
        "about 6 min 30 s left",
        "btut: backtest ES 2017-06-20 stored: 9 of 9 days, 2 h 07 min elapsed",
    ]


def test_a_rerun_never_replays_a_stored_day(
    reference: tuple[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stored days are reused, not computed again (then found identical on saving): the
    day's work is never called when every day of the period is in the store."""
    import btut.backtesting

    def no_replay(par: Any, day: Any) -> Any:
        raise AssertionError(f"the stored day {day} was replayed")

    monkeypatch.setattr(btut.backtesting, "replay_day", no_replay)
    url, res = reference
    again = btut.backtest("ES", START, END, agents=N, seed=SEED, db=url)
    assert (again.days_run, again.days_reused) == (0, 3)
    assert [d.run_id for d in again.days] == [d["run_id"] for d in res["days"]]


def test_kill_9_mid_run_then_resume_loses_and_duplicates_nothing(
    reference: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    url = _sqlite(tmp_path)
    proc = _cli(*_bt_args(url, "--json"))
    try:
        deadline = time.monotonic() + 240
        while True:  # wait until the first day is stored, then kill at once
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "no day stored in time"
            if Path(url.removeprefix("sqlite:///")).exists():
                try:
                    if (_runs(url)["kind"] == "replay").sum() >= 1:
                        break
                except Exception:  # the store is being created
                    pass
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    stored_before = _runs(url)
    n_days_before = int((stored_before["kind"] == "replay").sum())
    assert 1 <= n_days_before < 3, "the kill came too late to test a resume"

    resumed = _cli(*_bt_args(url, "--json"))
    out, errtext = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, errtext
    res = json.loads(out)
    assert res["days_reused"] == n_days_before and res["days_run"] == 3 - n_days_before
    runs = _runs(url)
    assert sorted(runs["kind"]) == ["backtest", "replay", "replay", "replay"]
    assert runs["config_hash"].is_unique
    # nothing already stored was touched, and the result is the uninterrupted one
    kept = stored_before[stored_before["kind"] == "replay"]
    assert set(kept["run_id"]) <= {d["run_id"] for d in res["days"]}
    ref_url, ref = reference
    _assert_same_days(ref_url, ref["days"], url, res["days"])


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_second_backtest_of_the_same_period_exits_or_waits(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        _sqlite(tmp_path) if backend == "sqlite" else request.getfixturevalue("fresh_postgres_url")
    )
    first = _cli(*_bt_args(url, "--json"))
    try:
        deadline = time.monotonic() + 120
        while True:  # the backtest record is written while the lock is held
            assert first.poll() is None, first.communicate()[1]
            assert time.monotonic() < deadline, "the first backtest did not start"
            try:
                if (_runs(url)["kind"] == "backtest").any():
                    break
            except Exception:
                pass
            time.sleep(0.05)
        t0 = time.monotonic()
        code = main(_bt_args(url))
        assert code == ConcurrentRunError.exit_code == 75
        assert time.monotonic() - t0 < 30  # exits at once, does not replay anything
        with pytest.raises(ConcurrentRunError, match="already running"):
            btut.backtest("ES", START, END, agents=N, seed=SEED, db=url)
        # --wait: queues behind the first and then finds every day stored
        waited = _cli(*_bt_args(url, "--json", "--wait"))
        out_w, err_w = waited.communicate(timeout=300)
        out_1, err_1 = first.communicate(timeout=300)
    finally:
        for p in (first,):
            if p.poll() is None:
                p.kill()
    assert first.returncode == 0, err_1
    assert waited.returncode == 0, err_w
    res_1, res_w = json.loads(out_1), json.loads(out_w)
    assert res_1["days_run"] == 3
    assert res_w["days_run"] == 0 and res_w["days_reused"] == 3
    assert res_w["days"] == res_1["days"]
    assert sorted(_runs(url)["kind"]) == ["backtest", "replay", "replay", "replay"]


def test_the_cli_error_for_a_running_backtest_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], other_lines: Callable[[str], list[str]]
) -> None:
    url = _sqlite(tmp_path)
    from btut.backtesting import _backtest_config
    from btut.replaying import _params
    from data.store import config_hash

    par = _params("ES", N, SEED, None, None, None, None)
    import datetime as dt

    cfg = _backtest_config(par, dt.date(2017, 6, 12), dt.date(2017, 6, 15))
    name = f"backtest ES 2017-06-12 .. 2017-06-15 (end exclusive) {config_hash(cfg)[:16]}"
    with ResultsStore(url) as store, store.exclusive(name):
        code = main(_bt_args(url))
    captured = capsys.readouterr()
    assert code == 75
    (line,) = other_lines(captured.err)  # the history's warning comes before the lock
    assert line.startswith("btut: error: ") and "already running" in line
    assert "Traceback" not in captured.err
    assert (_runs(url)["kind"] != "replay").all()


def test_bad_input_is_one_line_and_stores_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], june_gap_csv: str
) -> None:
    url = _sqlite(tmp_path)

    def fails(*args: str, code: int) -> str:
        rc = main(["backtest", "--db", url, *args])
        err = capsys.readouterr().err
        assert rc == code, err
        assert err.startswith("btut: error:") and err.count("\n") == 1
        return err

    base = ["--zone", "ES", "--start", START, "--end", END, "--agents", "50"]
    assert "unknown zone" in fails("--zone", "XX", "--start", START, "--end", END, code=3)
    assert "outside" in fails(
        "--zone", "ES", "--start", "2019-01-01", "--end", "2019-01-03", code=3
    )
    assert "end" in fails("--zone", "ES", "--start", END, "--end", START, code=2)
    assert "executor" in fails(*base, "--executor", "spark", code=2)
    assert "scheduler" in fails(*base, "--scheduler", "tcp://127.0.0.1:1", code=2)
    # a gap in any day of the period: nothing is replayed or stored
    assert "gap" in fails(
        "--zone",
        "ES",
        "--start",
        "2017-06-13",
        "--end",
        "2017-06-16",
        "--agents",
        "50",
        "--source",
        june_gap_csv,
        code=4,
    )
    with pytest.raises(InvalidParameterError):
        btut.backtest("ES", START, END, agents=0, db=url)
    with pytest.raises(DataValidationError):
        btut.backtest("ES", "2017-06-13", "2017-06-16", agents=50, source=june_gap_csv, db=url)
    # a zone without solar (DE): said before any work (it stored an empty backtest record)
    assert "DE data has no solar" in fails(
        "--zone", "DE", "--start", "2017-06-01", "--end", "2017-06-02", "--agents", "20", code=3
    )
    assert not Path(url.removeprefix("sqlite:///")).exists() or len(_runs(url)) == 0


def test_a_day_that_cannot_be_built_creates_no_store_and_no_lock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], june_csv: Callable[..., Path]
) -> None:
    """The June file without any solar forecast on 2017-06-01 (its first day: no week before
    for a naive plan): the backtest is refused in one line before its store is opened. When
    the days were built only after the store was opened, the refusal left an empty store and
    a lock file behind (a review found it)."""
    blank = ("2017-06-01 ", "forecast solar day ahead", lambda v: "")
    path = june_csv("no_solar_forecast.csv", edit=blank)
    folder = tmp_path / "fresh"
    url = f"sqlite:///{folder / 'bt.sqlite'}"
    args = ["backtest", "-z", "ES", "--start", "2017-06-01", "--end", "2017-06-03", "-n", "20"]
    assert main([*args, "--source", str(path), "--db", url]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("btut: error: ") and "2017-06-01" in err[0]
    assert not folder.exists() or list(folder.iterdir()) == []


def test_an_unreachable_store_is_tried_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read-only look-up of the stored days took any store error for "nothing stored" and
    the backtest then opened the store again: a PostgreSQL host that drops packets was waited
    for twice (2 x the 10 s connect timeout) before the one-line error."""
    import data.store

    opened: list[bool] = []
    real = data.store.ResultsStore.__init__

    def counting(self: Any, url: Any = None, *, read_only: bool = False) -> None:
        opened.append(read_only)
        real(self, url, read_only=read_only)

    monkeypatch.setattr(data.store.ResultsStore, "__init__", counting)
    url = "postgresql+psycopg://analyst@127.0.0.1:1/btut"  # nothing listens on port 1
    args = ["backtest", "-z", "ES", "--start", START, "--end", END, "-n", "20", "--db", url]
    assert main(args) == 5
    err = [e for e in capsys.readouterr().err.splitlines() if not e.startswith("btut: warning")]
    assert len(err) == 1 and err[0].startswith("btut: error: could not connect to the results")
    assert opened == [True]


def test_a_backtest_that_fails_on_its_first_day_leaves_no_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backtest's own record is stored with its first day: a failure inside the first
    day's work (here injected; e.g. out of memory for too many agents) stored a backtest with
    no day before."""
    url = _sqlite(tmp_path)

    def out_of_memory(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError

    monkeypatch.setattr(btut.backtesting, "replay_day", out_of_memory)
    assert main(["backtest", "--db", url, "--zone", "ES", "--start", START, "--end", END]) == 2
    assert _runs(url).empty


@pytest.mark.timeout(600)
def test_dask_executor_matches_local_and_survives_a_killed_worker(
    reference: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    from distributed import Client, LocalCluster

    url = _sqlite(tmp_path)
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=50,
        ) as cluster,
        Client(cluster) as client,
    ):
        killed: list[int] = []

        def kill_a_busy_worker() -> None:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and not killed:
                busy = [w for w, tasks in client.processing().items() if tasks]
                if busy:
                    pids = client.run(os.getpid, workers=[busy[0]])
                    time.sleep(1.0)  # let the day get going
                    os.kill(pids[busy[0]], signal.SIGKILL)
                    killed.append(pids[busy[0]])
                    return
                time.sleep(0.1)

        killer = threading.Thread(target=kill_a_busy_worker, daemon=True)
        killer.start()
        result = btut.backtest(
            "ES",
            START,
            END,
            agents=N,
            seed=SEED,
            db=url,
            executor="dask",
            scheduler=cluster.scheduler_address,
        )
        killer.join(timeout=60)
    assert killed, "no worker was killed"
    res = result.to_dict()
    assert res["executor"] == "dask" and res["days_run"] == 3
    ref_url, ref = reference
    _assert_same_days(ref_url, ref["days"], url, res["days"])
    assert sorted(_runs(url)["kind"]) == ["backtest", "replay", "replay", "replay"]


@pytest.mark.timeout(300)
def test_a_dask_worker_s_warning_is_one_line_of_the_cli(
    tmp_path: Path, other_lines: Callable[[str], list[str]]
) -> None:
    """A day whose equilibrium stops at its iteration limit (the real solver at κ 10^4, which
    it cannot solve to tolerance in 1,000 iterations) on a worker process of a new local
    cluster: the CLI says it in one ``btut: warning:`` line, as the local executor does (the
    worker printed it raw, with its file and line, and the driver said it a second time)."""
    url = _sqlite(tmp_path)
    args = ["backtest", "-z", "ES", "--start", "2017-06-14", "--end", "2017-06-15", "-n", "20"]
    proc = _cli(*args, "--kappa", "10000", "--executor", "dask", "--workers", "1", "--db", url)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    # the history's missing values: said once by the driver, not again by the worker
    assert sum(" history: 3 missing value(s)" in ln for ln in err.splitlines()) == 1, err
    lines = other_lines(err)
    assert len(lines) == 2, err
    assert re.fullmatch(
        r"btut: warning: 2017-06-14: the equilibrium did not converge in 1000 iterations "
        r"\(exploitability \d\.\d{4} EUR/agent/day above the tolerance 0\.001\); .*",
        lines[0],
    ), err
    elapsed = r"(\d+ s|\d+ min \d\d s|\d+ h \d\d min)"  # btut.cli._duration (a busy machine)
    assert re.fullmatch(
        rf"btut: backtest ES 2017-06-14 stored: 1 of 1 days, {elapsed} elapsed", lines[1]
    ), err
    (run_id,) = _runs(url).query("kind == 'replay'")["run_id"]
    assert btut.load_run(int(run_id), db=url).days()[0]["equilibrium_converged"] is False


def test_report_cli_for_a_backtest_and_a_run(
    reference: tuple[str, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from btut.report import BACKTEST_PLOT_IDS, RUN_PLOT_IDS

    url, res = reference
    out = tmp_path / "reports" / "bt.html"
    code = main(
        ["report", "--backtest", str(res["backtest_id"]), "--db", url, "-o", str(out), "--json"]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    info = json.loads(captured.out)
    assert info["path"] == str(out.resolve()) and info["bytes"] == out.stat().st_size
    html = out.read_text()
    assert all(f'id="{pid}"' in html for pid in BACKTEST_PLOT_IDS)
    assert all(d["day"] in html for d in res["days"])

    run_id = res["days"][0]["run_id"]
    code = main(["report", "--run", str(run_id), "--db", url, "-o", str(tmp_path / "run.html")])
    assert code == 0, capsys.readouterr().err
    html = (tmp_path / "run.html").read_text()
    assert all(f'id="{pid}"' in html for pid in RUN_PLOT_IDS if pid != "plot-routing")

    def fails(*args: str, code: int) -> str:
        rc = main(["report", "--db", url, *args])
        err = capsys.readouterr().err
        assert rc == code, err
        assert err.startswith("btut: error:") and err.count("\n") == 1
        return err

    assert "exactly one" in fails("-o", str(tmp_path / "x.html"), code=2)
    assert "no run with id" in fails("--run", "9999", "-o", str(tmp_path / "x.html"), code=3)
    assert "backtest" in fails(
        "--run", str(res["backtest_id"]), "-o", str(tmp_path / "x.html"), code=3
    )
    assert "not a backtest" in fails(
        "--backtest", str(run_id), "-o", str(tmp_path / "x.html"), code=3
    )
    assert not (tmp_path / "x.html").exists()


def test_period_scores_use_the_paired_market_cost_when_the_planner_samples(tmp_path: Path) -> None:
    """With a sampled planner the day's efficiency pairs the market with the planner's
    sample; the backtest's period score must use the same market cost (a one-day period
    scores exactly as its day)."""
    url = _sqlite(tmp_path)
    res = btut.backtest("ES", "2017-06-14", "2017-06-15", agents=N, seed=SEED, db=url,
                        max_exact_agents=60)  # fmt: skip
    (day,) = res.days
    run = btut.load_run(day.run_id, db=url)
    (stored,) = run.days()
    assert stored["planner_sampled"] is True
    assert day.market_cost_used_eur == stored["market_cost_used_eur"] != day.market_cost_eur
    assert res.scores()["efficiency"] == pytest.approx(run.metrics["efficiency"], rel=1e-12)
    loaded = btut.load_backtest(res.backtest_id, db=url)
    assert loaded.scores()["efficiency"] == pytest.approx(run.metrics["efficiency"], rel=1e-12)


def test_a_stored_backtest_stays_loadable_after_the_defaults_change(
    reference: tuple[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Days are found by the configuration the backtest stored, not by this version's
    defaults: after an upgrade changes an engine default (here the bins) or the version,
    the old backtest still loads every day, while a new backtest would not reuse them."""
    import market.energy
    from btut.backtesting import _backtest_config, _day_config
    from btut.replaying import _params
    from data.store import config_hash

    url, ref = reference
    before = btut.load_backtest(ref["backtest_id"], db=url)
    assert [d.run_id for d in before.days] == [d["run_id"] for d in ref["days"]]
    monkeypatch.setattr(market.energy, "DEFAULT_BINS", {"consumer": 2})
    after = btut.load_backtest(ref["backtest_id"], db=url)
    assert [d.run_id for d in after.days] == [d.run_id for d in before.days]
    assert not after.missing_days
    # the inverse of the stored record: a day's configuration under today's defaults differs
    par = _params("ES", N, SEED, None, None, None, None)
    import datetime as dt

    day = dt.date.fromisoformat(DAYS[0])
    today = par.run_config((day,))
    assert _day_config(_backtest_config(par, day, day), day) == today
    assert config_hash(today) != config_hash(_day_config(before.config, day))


def test_a_spike_before_the_period_is_said_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], june_spike_csv: str, spike_warning: str
) -> None:
    """The June file with a tripled load on 2017-06-10, backtested over 06-15..06-16: the
    spike lies in every day's history and is said in one line for the whole backtest."""
    url = _sqlite(tmp_path)
    args = ["backtest", "-z", "ES", "--start", "2017-06-15", "--end", "2017-06-17"]
    assert main([*args, "--agents", "20", "--source", june_spike_csv, "--db", url]) == 0
    said = [ln for ln in capsys.readouterr().err.splitlines() if "spike" in ln]
    assert said == [spike_warning]


def test_a_gap_before_the_period_is_said_once_and_a_bad_row_refused_up_front(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    june_gap_csv: str,
    offgrid_csv: Callable[[str], str],
    history_gap_warning: str,
) -> None:
    """The June file without 2017-06-14 12:00, backtested over 06-15..06-17: the gap lies in
    every day's history and is said in one line for the whole backtest; an off-grid row on
    06-02 refuses the backtest before it takes the lock or stores anything."""
    url = _sqlite(tmp_path)
    gap = june_gap_csv
    args = ["backtest", "-z", "ES", "--start", "2017-06-15", "--end", "2017-06-18"]
    assert main([*args, "--agents", "20", "--source", gap, "--db", url]) == 0
    said = [ln for ln in capsys.readouterr().err.splitlines() if "history: " in ln]
    assert said == [history_gap_warning]
    bad = offgrid_csv(gap)
    other = _sqlite(tmp_path, "other.sqlite")
    assert main([*args, "--agents", "20", "--source", str(bad), "--db", other]) == 4
    err = capsys.readouterr().err
    assert err.startswith("btut: error: ES history before 2017-06-15 invalid: 1 timestamp(s) off")
    assert not Path(other.removeprefix("sqlite:///")).exists()


def test_the_report_of_a_stopped_backtest_warns_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Stopped after its first day (its second fails, injected): the report is written and
    says in one warning line which days it lacks (the page says so too)."""
    url = _sqlite(tmp_path)
    real = btut.backtesting.replay_day

    def second_day_fails(par: Any, day: Any) -> Any:
        if str(day) != START:
            raise MemoryError
        return real(par, day)

    monkeypatch.setattr(btut.backtesting, "replay_day", second_day_fails)
    args = ["backtest", "--db", url, "-z", "ES", "--start", START, "--end", END, "-n", "20"]
    assert main(args) == 2
    capsys.readouterr()
    bid = int(_runs(url).query("kind == 'backtest'")["run_id"].iloc[0])
    out = tmp_path / "stopped.html"
    assert main(["report", "--backtest", str(bid), "--out", str(out), "--db", url]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"btut: warning: backtest {bid} is incomplete: 2 day(s) of its period are not stored "
        "(first 2017-06-13); the report covers the stored days and says so"
    ]
    assert "Incomplete: 2 day(s)" in out.read_text()


def test_a_download_before_the_days_is_said_in_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A backtest on the live API downloads the period and its history first; without a
    terminal each query is one line before the days' lines. The bundled data stands in for
    the API (mocked downloads: tests/data/test_entsoe_api.py), each load saying one query."""
    import data

    real = data.load_market_data
    calls: list[int] = []

    def load(zone, start, end, *, source=None, progress=None, **kw):
        if progress is not None:
            calls.append(1)
            progress(len(calls), 5, "day-ahead prices")
        return real(zone, start, end, source=source, **kw)

    monkeypatch.setattr(data, "load_market_data", load)
    argv = ["backtest", "-z", "ES", "--start", "2017-06-13", "--end", "2017-06-14", "-n", "20"]
    assert main([*argv, "--db", _sqlite(tmp_path), "--json"]) == 0
    lines = capsys.readouterr().err.splitlines()
    downloads = [ln for ln in lines if "load data" in ln]
    assert downloads[0] == "btut: backtest ES load data: ENTSO-E day-ahead prices in (1 of 5)"
    # the period, then its history (each day's replay loads again, from the API's cache)
    assert downloads[1] == "btut: backtest ES load data: ENTSO-E day-ahead prices in (2 of 5)"
    assert len(downloads) == 2
    # the day's line comes after the download's
    assert lines[-1].startswith("btut: backtest ES 2017-06-13 stored: 1 of 1 days, ")
    assert lines.index(downloads[-1]) < len(lines) - 1


@pytest.mark.postgres
def test_a_backtest_that_loses_its_postgres_lock_stops(
    fresh_postgres_url: str, end_advisory_locks: Callable[[str], int]
) -> None:
    """The server ends the lock's connection after the first day is stored (as a restart or
    ``idle_session_timeout`` would): the backtest stops with a StorageError instead of
    replaying the other two days unguarded."""
    from data.errors import StorageError

    def progress(done: int, total: int, message: str) -> None:
        if message.endswith(" stored") and done == 1:
            assert end_advisory_locks(fresh_postgres_url) == 1

    with pytest.raises(StorageError, match="lost the lock of backtest ES 2017-06-12"):
        btut.backtest("ES", START, END, agents=N, seed=SEED, db=fresh_postgres_url,
                      progress=progress)  # fmt: skip
    runs = _runs(fresh_postgres_url)
    assert sorted(runs["kind"]) == ["backtest", "replay"]  # the first day and the record
