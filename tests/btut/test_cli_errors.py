"""Bad input at the command line: one line on stderr, a non-zero exit, no work, nothing
written (usage errors, seeds, amounts, config files, executor options, warnings)."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import btut
import btut.executors
from btut import MAX_SEED
from btut.cli import main
from btut.executors import check_executor
from data.errors import InvalidParameterError, StorageError


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("btut: error: "), err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["replay", "-n", "ten"], "'--agents' / '-n'"),
        (["replay", "--bogus"], "No such option: --bogus (see 'btut replay --help')"),
        (["bogus"], "No such command 'bogus' (see 'btut --help')"),
        (["backtest", "-z", "ES"], "Missing option '--start'"),
        (["replay", "--seed", str(MAX_SEED + 1)], f"less than or equal to {MAX_SEED}"),
        (["route", "--seed", "-1"], "greater than or equal to 0"),
        (
            [
                "forecast",
                "evaluate",
                "-z",
                "ES",
                "--target",
                "load_mw",
                "--train",
                "a:b",
                "--test",
                "c:d",
                "--seed",
                "99999999999999999999",
            ],
            "'--seed'",
        ),
    ],
)
def test_usage_errors_are_one_line(argv, expected, capsys) -> None:
    assert main(argv) == 2
    assert expected in _one_error_line(capsys)


def test_seeds_amounts_and_config_files_are_checked(tmp_path: Path, capsys) -> None:
    with pytest.raises(InvalidParameterError, match=f"seed must be at most {MAX_SEED}"):
        btut.replay("ES", "2017-06-14", agents=10, seed=MAX_SEED + 1, store=False)
    assert main(["route", "-n", "2", "-a", "99999999999999999999999"]) == 2
    assert "21 million BTC" in _one_error_line(capsys)
    bad = tmp_path / "config.json"
    bad.write_bytes(b"\xff\xfe{}")
    assert main(["replay", "-n", "10", "--config", str(bad)]) == 2
    assert "is not UTF-8 text" in _one_error_line(capsys)


def test_executor_options() -> None:
    check_executor("local", None, None)
    check_executor("dask", "tcp://10.0.0.5:8786", None)
    check_executor("dask", "scheduler-host:8786", None)
    check_executor("dask", None, 2)
    check_executor("dask", None, np.int64(2))
    check_executor("dask", "[::1]:8786", None)
    check_executor("dask", "TCP://h:8786", None)
    for args, match in [
        (("threads", None, None), "executor must be one of local, dask"),
        (("local", "tcp://h:1", None), r"a scheduler \(--scheduler\) needs the dask executor"),
        (("local", None, 2), r"n_workers \(--workers\) needs the dask executor"),
        (("dask", "tcp://h:1", 2), "brings its own workers"),
        (("dask", None, 0), r"n_workers \(--workers\) must be an integer >= 1"),
        (("dask", None, True), r"n_workers \(--workers\) must be an integer >= 1"),
        (("dask", "not a url", None), "must be a Dask address"),
        (("dask", "", None), "must be a Dask address"),
    ]:
        with pytest.raises(InvalidParameterError, match=match):
            check_executor(*args)


def test_replay_checks_the_store_before_the_work(monkeypatch, tmp_path: Path, capsys) -> None:
    import btut.replaying

    def no_work(*args, **kwargs):
        raise AssertionError("work was done before the store URL was checked")

    monkeypatch.setattr(btut.replaying, "_run_day", no_work)
    monkeypatch.setattr(btut.replaying, "_forecast", no_work)
    assert main(["replay", "-n", "10", "--db", "not a url"]) == 2
    assert "could not parse the database URL" in _one_error_line(capsys)
    assert main(["replay", "-n", "10", "--workers", "0"]) == 2
    assert "n_workers (--workers) needs the dask executor" in _one_error_line(capsys)
    # bad input fails before the store is opened: no store file is created
    store = tmp_path / "never.sqlite"
    assert main(["replay", "-n", "10", "-z", "XX", "--db", f"sqlite:///{store}"]) == 3
    assert "unknown zone 'XX'" in _one_error_line(capsys)
    assert main(["replay", "-n", "10", "--day", "2019-06-14", "--db", f"sqlite:///{store}"]) == 3
    assert "outside the ES data" in _one_error_line(capsys)
    assert not store.exists() and not list(tmp_path.iterdir())


def test_dask_on_a_small_market_warns_in_one_line(tmp_path: Path, capsys, other_lines) -> None:
    db = f"sqlite:///{tmp_path / 'r.sqlite'}"
    # the scheduler is never contacted below the shard threshold: said, not silently ignored
    argv = ["replay", "-n", "50", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9"]
    assert main([*argv, "--db", db, "--json"]) == 0
    err = capsys.readouterr().err
    warning = [line for line in other_lines(err) if line.startswith("btut: warning:")]
    assert len(warning) == 1 and "these 50 clear in this process" in warning[0], err


def test_backtest_with_an_unreachable_scheduler_writes_nothing(monkeypatch, tmp_path) -> None:
    short = functools.partial(btut.executors.dask_client, timeout_s=2)
    monkeypatch.setattr(btut.executors, "dask_client", short)
    db = f"sqlite:///{tmp_path / 'bt.sqlite'}"
    with pytest.raises(StorageError, match="cannot reach the Dask scheduler"):
        btut.backtest(
            "ES",
            "2017-06-12",
            "2017-06-14",
            agents=50,
            db=db,
            executor="dask",
            scheduler="tcp://127.0.0.1:9",
        )
    assert not list(tmp_path.iterdir())  # not even an empty store or its lock file


def test_ctrl_c_is_exit_130_and_one_line(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "btut",
            "replay",
            "-n",
            "3000",
            "--start",
            "2017-06-01",
            "--end",
            "2017-06-08",  # a week: far longer than the 4 s below on any machine
            "--db",
            f"sqlite:///{tmp_path / 'r.sqlite'}",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CI": "true"},
        # as from a terminal: SIGINT not ignored (a parent that ignores it, e.g. after some
        # library set SIG_IGN, passes that on and the child would never see the Ctrl-C)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(4.0)  # inside the replay (it takes well over 10 s)
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    # 130, or death by the signal itself (a shell reports that as 130 too); never success
    assert proc.returncode in (130, -signal.SIGINT), err
    assert err.strip().splitlines()[-1] == "btut: aborted (interrupted)", err
    assert "Traceback" not in err


def test_data_fetch_names_a_bad_zone_or_window_before_the_missing_key(monkeypatch, capsys):
    monkeypatch.delenv("ENTSOE_API_KEY", raising=False)
    assert main(["data", "fetch", "-z", "XX", "--start", "2017-01-01", "--end", "2017-01-02"]) == 3
    assert "unknown zone 'XX'" in _one_error_line(capsys)
    assert main(["data", "fetch", "-z", "ES", "--start", "2017-01-02", "--end", "2017-01-01"]) == 2
    assert "must be after start" in _one_error_line(capsys)
    assert main(["data", "fetch", "-z", "ES", "--start", "2017-01-01", "--end", "2017-01-02"]) == 2
    assert "ENTSOE_API_KEY is not set" in _one_error_line(capsys)


def test_replay_says_when_it_replays_implausible_values(tmp_path: Path, capsys) -> None:
    import gzip

    from data.loader import bundled_path

    with gzip.open(bundled_path("spain_energy_2015_2017.csv.gz"), "rt") as fh:
        header, *rows = fh.read().splitlines()
    col = header.split(",").index("price actual")
    rows = [r for r in rows if r.startswith(("2017-06-12", "2017-06-13", "2017-06-14"))]
    fields = rows[-10].split(",")
    fields[col] = "100000"  # EUR/MWh: far above any real day-ahead price
    rows[-10] = ",".join(fields)
    path = tmp_path / "spain_spike.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    db = f"sqlite:///{tmp_path / 'r.sqlite'}"
    argv = ["replay", "-n", "20", "--day", "2017-06-14", "--source", str(path), "--db", db]
    assert main([*argv, "--json"]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("btut: warning:")]
    assert lines == [
        "btut: warning: ES price_eur_per_mwh: 1 value(s) outside the plausible range [-500, 4000]",
        "btut: warning: ES: no Student-t load forecast (only 2 day(s) of history): agents plan "
        "on load_forecast_mw and solar_forecast_mw, and their risk leaves out the load "
        "forecast's error",
    ], err


def test_python_api_types_are_checked(tmp_path: Path) -> None:
    import data
    import routing

    with pytest.raises(InvalidParameterError, match="source must be a CSV path"):
        data.load_market_data("ES", "2016-01-01", "2016-02-01", source=5)
    with pytest.raises(InvalidParameterError, match="resolution must be one of"):
        data.load_market_data("ES", "2016-01-01", "2016-02-01", resolution="bogus")
    with pytest.raises(InvalidParameterError, match="snapshot folder or channels file"):
        routing.load_channel_graph(5)
    with pytest.raises(InvalidParameterError, match="wait_timeout_s must be"):
        btut.backtest(
            "ES",
            "2017-06-12",
            "2017-06-13",
            agents=10,
            wait_timeout_s=-1,
            db=f"sqlite:///{tmp_path / 'x.sqlite'}",
        )
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("debug", [False, True])
def test_debug_adds_the_traceback_and_keeps_the_exit_code(
    debug: bool, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``BTUT_DEBUG=1`` only adds the traceback: a cron job sees the same exit code."""
    if debug:
        monkeypatch.setenv("BTUT_DEBUG", "1")
    else:
        monkeypatch.delenv("BTUT_DEBUG", raising=False)
    show = ["data", "show", "--zone", "XX", "--start", "2017-01-01", "--end", "2017-01-02"]
    assert main(show) == 3  # unknown zone: data unavailable
    err = capsys.readouterr().err
    assert ("Traceback" in err) is debug
    assert err.strip().splitlines()[-1].startswith("btut: error: unknown zone")

    def boom(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("btut.cli._load", boom)
    assert (
        main(["data", "show", "--zone", "ES", "--start", "2017-01-01", "--end", "2017-01-02"]) == 70
    )
    err = capsys.readouterr().err
    assert ("Traceback" in err) is debug
    assert err.strip().splitlines()[-1].startswith("btut: internal error: RuntimeError: a bug")


def test_unknown_forecast_target_is_a_bad_parameter(capsys: pytest.CaptureFixture[str]) -> None:
    """A misspelt --target is exit 2 before any data is read; a known column the zone's data
    lacks is exit 3 (data unavailable)."""
    period = ["--train", "2015-01-01:2015-12-31", "--test", "2016-01-01:2016-01-07"]
    assert main(["forecast", "evaluate", "-z", "ES", "--target", "laod_mw", *period]) == 2
    assert "unknown --target 'laod_mw'" in _one_error_line(capsys)
    assert main(["forecast", "evaluate", "-z", "ES", "--target", "price_usd_per_mwh", *period]) == 3
    assert "no 'price_usd_per_mwh' column" in _one_error_line(capsys)
    # a published forecast is known before its day (and was its own model input): refused
    for column in ("price_forecast_eur_per_mwh", "load_forecast_mw"):
        assert main(["forecast", "evaluate", "-z", "ES", "--target", column, *period]) == 2
        assert f"--target {column} is a published day-ahead forecast" in _one_error_line(capsys)


def test_inputs_that_crashed_with_exit_70_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by a bad-input audit: each of these was an 'internal error' (exit 70: an
    OverflowError, a RecursionError, an out-of-memory network) or hung on reading a FIFO."""
    db = f"sqlite:///{tmp_path / 'store.sqlite'}"
    for day in ("9999-12-31", "0001-01-01"):
        assert main(["replay", "--day", day, "--db", db]) == 2
        assert f"day {day} is outside 1900-01-01 .. 2199-12-31" in _one_error_line(capsys)
    args = ["forecast", "evaluate", "--zone", "ES", "--target", "load_mw", "--no-store"]
    assert main([*args, "--train", "2015-01-01:2016-12-31", "--test", "2017-01-01:9999-12-31"]) == 2
    assert "--test end 9999-12-31 is outside" in _one_error_line(capsys)
    periods = ["--train", "2016-01-01:2016-02-29", "--test", "2016-03-01:2016-03-02"]
    assert main([*args, *periods, "--hidden", "100000000"]) == 2
    assert "at most 4096 units" in _one_error_line(capsys)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    assert main(["replay", "--db", db, "--config", str(deep)]) == 2
    assert "nested too deeply" in _one_error_line(capsys)
    fifo = tmp_path / "config.fifo"
    os.mkfifo(fifo)  # opening it for reading would block until a writer comes
    assert main(["replay", "--db", db, "--config", str(fifo)]) == 2
    assert "is not a regular file" in _one_error_line(capsys)
    assert main(["replay", "--db", db, "--config", "/dev/zero"]) == 2
    assert "is not a regular file" in _one_error_line(capsys)
    assert not (tmp_path / "store.sqlite").exists()


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///",
        "sqlite:///:memory:",
        "sqlite:///file::memory:?uri=true",
        "sqlite:///file:x?mode=memory&uri=true",
    ],
)
@pytest.mark.parametrize("command", [["db", "upgrade"], ["db", "runs"], ["replay", "-n", "5"]])
def test_an_in_memory_store_is_refused(command, url, capsys) -> None:
    """It would report 'stored as run 1' and keep nothing (found by a CLI audit)."""
    assert main([*command, "--db", url]) == 2
    assert "is an in-memory SQLite database" in _one_error_line(capsys)


@pytest.mark.parametrize("value", ["inf", "0", "-3", "nan"])
def test_recency_halflife_must_be_positive_and_finite(value, capsys) -> None:
    """'inf' reached the store before failing as 'cannot be stored as canonical JSON'."""
    argv = ["forecast", "evaluate", "-z", "ES", "--target", "load_mw", "--no-store"]
    period = ["--train", "2015-01-01:2015-12-31", "--test", "2016-01-01:2016-01-07"]
    assert main([*argv, *period, "--recency-halflife", value]) == 2
    assert "--recency-halflife must be a positive finite number" in _one_error_line(capsys)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("argv", [["data", "zones"], ["data", "zones", "--json"]])
def test_a_full_disk_on_stdout_is_an_output_error(argv) -> None:
    """Was 'internal error: OSError' (exit 70): now the output error of the README (exit 5)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # as in CI
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "btut", *argv],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            env=env,
        )
    assert proc.returncode == 5, proc.stderr
    assert proc.stderr == "btut: error: cannot write the output: No space left on device\n"


def test_an_empty_hidden_layer_list_is_refused(capsys) -> None:
    """'--hidden ""' quietly meant the default 64,64 (found by a CLI audit)."""
    argv = ["forecast", "evaluate", "-z", "ES", "--target", "load_mw", "--no-store"]
    period = ["--train", "2015-01-01:2015-12-31", "--test", "2016-01-01:2016-01-07"]
    assert main([*argv, *period, "--hidden", ""]) == 2
    assert "--hidden must be comma-separated integers, got ''" in _one_error_line(capsys)


def test_numbers_that_round_to_zero_print_without_a_sign() -> None:
    from btut.cli import _fmt

    assert [_fmt(-0.0), _fmt(-0.0004), _fmt(-0.0004, ".1%")] == ["0.000", "0.000", "0.0%"]
    assert [_fmt(-0.0006), _fmt(-2.5), _fmt(-1e-9, ".2g")] == ["-0.001", "-2.500", "-1e-09"]
    assert _fmt(float("nan")) == "n/a"
    assert [_fmt(-0.0001, "+.3f"), _fmt(0.0001, "+.3f"), _fmt(-0.2, "+.3f")] == [
        "+0.000",
        "+0.000",
        "-0.200",
    ]


def test_forecast_evaluate_says_which_values_are_implausible(tmp_path, capsys) -> None:
    """Four loads of 1e308 MW in the history gave only 'no test interval has both a load_mw
    value and forecasts' (found by a CLI audit): the range finding is now said first."""
    import gzip

    from data.loader import bundled_path

    with gzip.open(bundled_path("spain_energy_2015_2017.csv.gz"), "rt") as fh:
        lines = fh.read().splitlines()
    header = lines[0].split(",")
    load = header.index("total load actual")
    kept = [lines[0]]
    for ln in lines[1:]:
        if ln.startswith("2017-06"):
            if ln.startswith("2017-06-02 0") and int(ln[12]) < 4:
                cells = ln.split(",")
                cells[load] = "1e308"
                ln = ",".join(cells)
            kept.append(ln)
    path = tmp_path / "huge.csv"
    path.write_text("\n".join(kept) + "\n")
    argv = ["forecast", "evaluate", "-z", "ES", "--target", "load_mw", "--no-store"]
    period = ["--train", "2017-06-08:2017-06-12", "--test", "2017-06-13:2017-06-14"]
    main([*argv, *period, "--source", str(path), "--models", "student_t"])
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "btut: warning: ES load_mw: 4 value(s) outside the plausible range [0, 200000]"


def test_an_in_memory_store_from_the_environment_is_refused(monkeypatch, capsys) -> None:
    monkeypatch.setenv("BTUT_DB_URL", "sqlite://")
    assert main(["db", "runs"]) == 2
    assert "BTUT_DB_URL 'sqlite://' is an in-memory SQLite database" in _one_error_line(capsys)


@pytest.mark.parametrize(
    "argv",
    [
        ["replay", "-z", " "],
        ["backtest", "-z", "", "--start", "2017-06-12", "--end", "2017-06-13"],
        ["data", "show", "-z", "", "--start", "2017-06-12", "--end", "2017-06-13"],
        ["data", "validate", "-z", "", "--start", "2017-06-12", "--end", "2017-06-13"],
        ["data", "fetch", "-z", "", "--start", "2017-06-12", "--end", "2017-06-13"],
        [
            "forecast",
            "evaluate",
            "-z",
            "",
            "--target",
            "load_mw",
            "--train",
            "2016-01-01:2016-02-01",
            "--test",
            "2016-02-02:2016-02-05",
        ],
    ],
)
def test_a_blank_zone_is_the_same_bad_parameter_everywhere(
    argv, tmp_path: Path, monkeypatch, capsys
) -> None:
    # a blank code is a bad parameter (exit 2) in every command, an unknown one is data
    # unavailable (exit 3); replay said exit 2 and data show exit 3 for the same ''
    monkeypatch.setenv("BTUT_DB_URL", f"sqlite:///{tmp_path / 'runs.db'}")
    monkeypatch.delenv("ENTSOE_API_KEY", raising=False)
    assert main(argv) == 2
    assert "zone must be a non-empty code such as 'ES'" in _one_error_line(capsys)
    assert not (tmp_path / "runs.db").exists()


def test_a_config_number_too_long_is_a_bad_parameter_and_a_bom_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An integer of 5000 digits was exit 70 (Python's limit on int(str)); a UTF-8 BOM was
    refused ("Unexpected UTF-8 BOM") although CSV sources accept one."""
    from btut.cli import _read_config

    db = f"sqlite:///{tmp_path / 'store.sqlite'}"
    huge = tmp_path / "huge.json"
    huge.write_text('{"noise": ' + "9" * 5000 + "}")
    assert main(["replay", "-n", "10", "--db", db, "--config", str(huge)]) == 2
    assert _one_error_line(capsys) == (
        f"btut: error: --config {huge} is not valid JSON: a number is too long"
    )
    bom = tmp_path / "bom.json"
    bom.write_bytes(b'\xef\xbb\xbf{"noise": 0.1}')
    assert _read_config(str(bom)) == {"noise": 0.1}
    assert not (tmp_path / "store.sqlite").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["route", "--graph", ""], "--graph is an empty path"),
        (["replay", "--route", "--graph", ""], "--graph is an empty path"),
        (["replay", "--graph", " "], "--graph is an empty path"),
        (["replay", "--config", ""], "--config is an empty path"),
        (["replay", "--graph", "g.csv"], "--graph needs --route"),
    ],
)
def test_empty_paths_and_a_graph_without_route_are_refused(
    argv, message, tmp_path: Path, monkeypatch, capsys
) -> None:
    """``--graph ""`` used the working directory (exit 3 "channel snapshot not found:
    ./channels.csv.gz"); a graph without --route said "a graph (--graph) needs route=True"."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BTUT_DB_URL", f"sqlite:///{tmp_path / 'runs.db'}")
    assert main(argv) == 2
    line = _one_error_line(capsys)
    assert line.startswith(f"btut: error: {message}"), line
    assert list(tmp_path.iterdir()) == []


def test_forecast_centre_is_checked_against_the_data_and_the_target(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--centre bogus`` was exit 3 "column(s) bogus not in the data" without naming the
    option; ``--centre load_mw`` for ``--target load_mw`` a misleading "too little data"."""
    args = ["forecast", "evaluate", "-z", "ES", "--target", "load_mw", "--no-store"]
    period = ["--train", "2016-01-01:2016-02-29", "--test", "2016-03-01:2016-03-02"]
    assert main([*args, *period, "--centre", "bogus"]) == 2
    line = _one_error_line(capsys)
    assert line.startswith("btut: error: --centre 'bogus' is not a column of the ES data")
    assert "load_forecast_mw" in line
    assert main([*args, *period, "--centre", "load_mw"]) == 2
    assert "--centre load_mw is the --target itself" in _one_error_line(capsys)
    # a measured column (unknown at the cut-off) said "too little data to fit: 0 day(s) with
    # load_mw values", and another quantity's forecast ran
    for other in ("solar_mw", "price_forecast_eur_per_mwh"):
        assert main([*args, *period, "--centre", other, "--hidden", "4"]) == 2
        assert _one_error_line(capsys) == (
            f"btut: error: centre={other!r} is not a published forecast of load_mw "
            "(load_forecast_mw)"
        )


@pytest.mark.parametrize("url", ["foo://bar", "FOO://u:secret@h/db", "sqlite+nodriver:///x.db"])
@pytest.mark.parametrize("command", [["db", "runs"], ["replay", "-n", "5"]])
def test_an_unknown_database_scheme_is_a_bad_parameter(
    command, url, tmp_path: Path, monkeypatch, capsys
) -> None:
    """It was exit 5 with SQLAlchemy's "NoSuchModuleError: Can't load plugin"."""
    monkeypatch.chdir(tmp_path)
    assert main([*command, "--db", url]) == 2
    line = _one_error_line(capsys)
    scheme = url.split("://")[0]
    assert f"unknown database URL scheme {scheme!r}" in line
    assert "SQLite (sqlite:///PATH) or PostgreSQL" in line and "secret" not in line
    monkeypatch.setenv("BTUT_DB_URL", url)
    assert main(command) == 2
    assert f"{scheme!r} in BTUT_DB_URL" in _one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("module", "url", "hint"),
    [
        # not btut[postgres]
        ("MySQLdb", "mysql://u@h/db", "install the MySQLdb package"),
        # btut[postgres] brings psycopg 3; postgresql+psycopg2:// needs psycopg2 itself
        (
            "psycopg2",
            "postgresql+psycopg2://u@127.0.0.1:9/db",
            "install the psycopg2 package, or use postgresql:// with btut[postgres] (psycopg 3)",
        ),
    ],
)
def test_a_known_dialect_without_its_driver_stays_a_store_error(module, url, hint, capsys) -> None:
    """A setup problem (exit 5), not a bad URL, with the package to install."""
    import importlib.util

    if importlib.util.find_spec(module) is not None:  # pragma: no cover
        pytest.skip(f"{module} is installed here")
    assert main(["db", "runs", "--db", url]) == 5
    line = _one_error_line(capsys)
    driver = url.split(":", 1)[0]
    assert f"database driver for {driver!r} is not installed" in line
    assert line.endswith(hint), line


def test_echoed_input_does_not_make_a_long_error_line(capsys) -> None:
    """A 100,000-character --zone made a 100 kB error line."""
    long = "X" * 100_000
    assert main(["data", "show", "-z", long, "--start", "2017-06-01", "--end", "2017-06-02"]) == 3
    line = _one_error_line(capsys)
    assert line.startswith(f"btut: error: unknown zone '{'X' * 57}'...; ") and len(line) < 200
    assert main(["data", "show", "-z", "ES", "--start", long, "--end", "2017-06-02"]) == 2
    line = _one_error_line(capsys)
    assert line == f"btut: error: start '{'X' * 56}... is not a date (YYYY-MM-DD)"


def test_a_huge_error_message_is_clipped_to_one_readable_line(monkeypatch, capsys) -> None:
    """A library message that echoes a long input whole (5,000 characters here) is cut at
    1,000 characters with its full length said (btut.cli._clipped; untested before)."""
    import data.store

    def refuse(self, *args, **kwargs):
        raise StorageError("x" * 4990 + " the end.")

    monkeypatch.setattr(data.store.ResultsStore, "__init__", refuse)
    assert main(["db", "runs", "--db", "sqlite:///unused.sqlite"]) == 5
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err == "btut: error: " + "x" * 1000 + "... (4,999 characters)\n"
