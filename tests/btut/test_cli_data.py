"""`btut data ...` through the installed console script and in-process."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from btut.cli import main

EXPECTED_ES_COLUMNS = {
    "price_eur_per_mwh",
    "price_forecast_eur_per_mwh",
    "load_mw",
    "load_forecast_mw",
    "solar_mw",
    "solar_forecast_mw",
    "wind_mw",
    "wind_forecast_mw",
}


REPO_ROOT = Path(__file__).resolve().parents[2]


def _this_tree(env: dict) -> dict:
    """``env`` with this tree's packages first on the path: the console script then runs
    the code under test, whatever the editable install points at."""
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return {**env, "PYTHONPATH": path}


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    exe = shutil.which("btut")
    assert exe, "the btut console script is not installed (pip install -e .)"
    return subprocess.run(
        [exe, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=_this_tree({**os.environ, **(env or {})}),
        stdin=subprocess.DEVNULL,
    )


def test_show_json_on_the_spring_dst_day():
    res = run_cli(
        "data", "show", "--zone", "ES", "--start", "2017-03-26", "--end", "2017-03-27", "--json"
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["n_rows"] == len(out["rows"]) == 23
    assert set(out["columns"]) == EXPECTED_ES_COLUMNS
    assert all(EXPECTED_ES_COLUMNS <= set(row) for row in out["rows"])
    assert out["rows"][0]["time_utc"] == "2017-03-25T23:00:00+00:00"
    assert out["validation"]["dst_days"] == [{"day": "2017-03-26", "intervals": 23}]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--zone", "XX", "--start", "2017-01-01", "--end", "2017-01-02"], 3, "unknown zone 'XX'"),
        (
            ["--zone", "ES", "--start", "2019-01-01", "--end", "2019-01-02"],
            3,
            "outside the ES data",
        ),
        (
            ["--zone", "ES", "--start", "2017-01-02", "--end", "2017-01-01"],
            2,
            "must be after start",
        ),
        (["--zone", "ES", "--start", "yesterday", "--end", "2017-01-01"], 2, "is not a date"),
        (
            [
                "--zone",
                "ES",
                "--start",
                "2017-01-01",
                "--end",
                "2017-01-02",
                "--source",
                "/nope.csv",
            ],
            3,
            "no such data file",
        ),
    ],
)
def test_bad_input_one_line_error_no_traceback(args, code, message):
    res = run_cli("data", "show", *args)
    assert res.returncode == code
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and lines[0].startswith("btut: error:")
    assert "Traceback" not in res.stderr


def test_malformed_csv(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("time,price actual,total load actual\n2017-01-01 00:00:00+01:00,abc,1\n")
    res = run_cli(
        "data",
        "validate",
        "--zone",
        "ES",
        "--start",
        "2017-01-01",
        "--end",
        "2017-01-02",
        "--source",
        str(bad),
    )
    assert res.returncode == 4
    assert "non-numeric value 'abc'" in res.stderr and "Traceback" not in res.stderr


def test_fetch_without_key_exits_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "ENTSOE_API_KEY"}
    env["BTUT_CACHE_DIR"] = str(tmp_path)
    res = subprocess.run(
        [
            shutil.which("btut"),
            "data",
            "fetch",
            "--zone",
            "ES",
            "--start",
            "2017-01-01",
            "--end",
            "2017-01-02",
        ],
        capture_output=True,
        text=True,
        env=_this_tree(env),
        timeout=60,
    )
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "ENTSOE_API_KEY is not set" in res.stderr
    assert not any(tmp_path.iterdir())


def test_zones_json_lists_bundled_coverage(capsys):
    assert main(["data", "zones", "--json"]) == 0
    zones = {z["zone"]: z for z in json.loads(capsys.readouterr().out)["zones"]}
    assert zones["ES"]["first_day"] == "2015-01-01" and zones["ES"]["last_day"] == "2017-12-31"
    assert zones["DE"]["tz"] == "Europe/Berlin" and "load_mw" not in zones["DE"]["columns"]
    assert zones["DE_LU"]["first_day"] == "2018-10-01"
    assert main(["data", "zones", "--all", "--json"]) == 0
    listed = {z["zone"]: z for z in json.loads(capsys.readouterr().out)["zones"]}
    assert {"PL", "SE_3", "NP", "PJM"} <= set(listed)
    # Nord Pool's system price and PJM are not ENTSO-E bidding zones: no live API for them
    assert listed["ES"]["entsoe_api"] is True and listed["SE_3"]["entsoe_api"] is True
    assert listed["NP"]["entsoe_api"] is False and listed["PJM"]["entsoe_api"] is False


def test_validate_json_reports_the_epftoolbox_autumn_gap(capsys):
    assert (
        main(
            [
                "data",
                "validate",
                "--zone",
                "DE",
                "--start",
                "2016-10-30",
                "--end",
                "2016-10-31",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["n_rows"] == 24
    assert out["validation"]["gaps"] == [
        {
            "start_utc": "2016-10-30T01:00:00+00:00",
            "end_utc": "2016-10-30T02:00:00+00:00",
            "missing_intervals": 1,
        }
    ]


def test_show_text_output(capsys):
    assert (
        main(["data", "show", "--zone", "ES", "--start", "2017-10-29", "--end", "2017-10-30"]) == 0
    )
    captured = capsys.readouterr()
    assert captured.out.count("2017-10-29 02:00") == 2  # both 02:00 hours of the long day
    assert "25 rows" in captured.err


def test_usage_error_is_not_a_traceback():
    res = run_cli("data", "show", "--zone", "ES")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "--start" in res.stderr


def test_a_row_off_the_hourly_grid_is_an_error(tmp_path, capsys):
    """A stray 09:15 row in an hourly file: `data validate` said "no findings" (exit 0) and a
    replay of the day then called the extra row a gap; now both name the timestamp, exit 4."""
    import gzip

    from data.loader import bundled_path

    with gzip.open(bundled_path("spain_energy_2015_2017.csv.gz"), "rt") as fh:
        lines = [ln for ln in fh.read().splitlines() if ln.startswith(("time,", "2017-06-1"))]
    nine = next(i for i, ln in enumerate(lines) if ln.startswith("2017-06-11 09:00:00+02:00"))
    lines.insert(
        nine + 1, "2017-06-11 09:15:00+02:00" + lines[nine][len("2017-06-11 09:00:00+02:00") :]
    )
    csv = tmp_path / "offgrid.csv"
    csv.write_text("\n".join(lines) + "\n")
    window = ["--zone", "ES", "--start", "2017-06-10", "--end", "2017-06-13", "--source", str(csv)]
    expected = "1 timestamp(s) off the 60min grid: 2017-06-11T07:15:00+00:00"
    assert main(["data", "validate", *window]) == 4
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines()[-1] == f"btut: error: {expected}"
    assert main(["data", "validate", *window, "--json"]) == 4
    captured = capsys.readouterr()
    report = json.loads(captured.out)["validation"]
    assert report["errors"] == [expected] and not report["ok"]
    assert captured.err == f"btut: error: {expected}\n"
    assert main(["replay", "--agents", "20", "--day", "2017-06-11", "--source", str(csv)]) == 4
    assert expected in capsys.readouterr().err
    # `data show` shows the rows, the stray one too, and then fails as validate (it said the
    # error as a warning and exit 0)
    for fmt in ([], ["--csv"], ["--json"]):
        assert main(["data", "show", *window, *fmt]) == 4
        captured = capsys.readouterr()
        assert "09:15" in captured.out or "07:15" in captured.out
        assert captured.err.strip().splitlines()[-1] == f"btut: error: {expected}"
        assert f"warning: {expected}" not in captured.err


def test_show_csv_is_read_back_by_source_and_replays_the_same_day(tmp_path, capsys):
    """An analyst exports a zone's data (`data show --csv`), may edit it, and replays on it:
    unedited, the replay is the bundled replay but for the source it names."""
    window = ["--zone", "ES", "--start", "2016-06-01", "--end", "2017-06-15"]
    assert main(["data", "show", *window, "--csv"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("time_utc,zone,price_eur_per_mwh,")
    assert "btut: warning: load_mw: 2 missing value(s)" in captured.err  # gaps still said
    csv = tmp_path / "es.csv"
    csv.write_text(captured.out)
    runs = []
    for source in ([], ["--source", str(csv)]):
        argv = ["replay", "-n", "300", "--json", "--db", f"sqlite:///{tmp_path / 'r.db'}"]
        assert main([*argv, *source]) == 0
        runs.append(json.loads(capsys.readouterr().out))
    assert runs[1]["details"]["config"].pop("source") == "file"  # identified by its bytes
    assert runs[0]["details"]["config"].pop("source") is None
    assert runs[1]["details"].pop("source_path") == str(csv.resolve())
    digest = hashlib.sha256(csv.read_bytes()).hexdigest()  # the data, not only its path
    assert runs[1]["details"]["config"].pop("source_sha256") == digest
    assert "source_sha256" not in runs[0]["details"]["config"]
    for run in runs:
        for key in ("run_id", "elapsed_s"):
            run.pop(key)
        run["details"].pop("config_hash")
    assert runs[1] == runs[0]


def test_show_csv_and_json_are_two_outputs(capsys):
    argv = ["data", "show", "-z", "ES", "--start", "2017-06-14", "--end", "2017-06-15"]
    assert main([*argv, "--csv", "--json"]) == 2
    err = capsys.readouterr().err
    assert err == "btut: error: --json and --csv are two outputs: give one of them\n"


def _btut_csv(tmp_path, rows: list[str]):
    """A btut-layout CSV (ES prices and load) holding ``rows`` under its header."""
    header = "time_utc,zone,price_eur_per_mwh,load_mw"
    path = tmp_path / "es.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _hourly_rows() -> list[str]:
    import pandas as pd

    times = pd.date_range("2017-06-09T22:00Z", periods=72, freq="h")
    return [
        f"{t:%Y-%m-%dT%H:%M:%SZ},ES,{50 + i % 7}.5,{25000 + 100 * (i % 24)}.0"
        for i, t in enumerate(times)
    ]


@pytest.mark.parametrize("kind", ["duplicate", "descending"])
def test_validate_reports_duplicates_and_disorder_like_rows_off_the_grid(tmp_path, capsys, kind):
    """`data validate` printed nothing but the error for a duplicate timestamp or rows in
    descending order (an off-grid row gave the report, then exit 4): now the report too,
    its ``duplicates`` filled, then exit 4; other commands still refuse the file."""
    rows = _hourly_rows()
    rows = [*rows, rows[5]] if kind == "duplicate" else rows[::-1]
    csv = _btut_csv(tmp_path, rows)
    window = ["--zone", "ES", "--start", "2017-06-10", "--end", "2017-06-13", "--source", str(csv)]
    assert main(["data", "validate", *window, "--json"]) == 4
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["n_rows"] == len(rows) and not report["validation"]["ok"]
    errors = report["validation"]["errors"]
    if kind == "duplicate":
        assert report["validation"]["duplicates"] == ["2017-06-10T03:00:00+00:00"]
        assert "1 duplicate timestamps: 2017-06-10T03:00:00+00:00" in errors
    else:
        assert report["validation"]["duplicates"] == [] and errors == ["index is not increasing"]
    assert captured.err == f"btut: error: {errors[0]}\n"
    assert main(["data", "validate", *window]) == 4  # the table, then the one line
    captured = capsys.readouterr()
    assert "rows at 60min" in captured.out and captured.err.startswith("btut: error: ")
    replay = ["replay", "-n", "10", "-z", "ES", "--day", "2017-06-11", "--source", str(csv)]
    for command in (["data", "show", *window, "--json"], replay):
        assert main(command) == 4
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.count("\n") == 1


def test_a_btut_file_with_only_a_header_says_it_has_no_rows(tmp_path, capsys):
    """It said "zone ES is not in file ... (btut layout; zones: )"."""
    csv = _btut_csv(tmp_path, [])
    window = ["--zone", "ES", "--start", "2017-06-10", "--end", "2017-06-13", "--source", str(csv)]
    assert main(["data", "show", *window]) == 3
    assert capsys.readouterr().err == "btut: error: file es.csv has no data rows (only a header)\n"


def _set_key(monkeypatch, key: str | None) -> None:
    """ENTSOE_API_KEY set to ``key``, or unset for None."""
    if key is None:
        monkeypatch.delenv("ENTSOE_API_KEY", raising=False)
    else:
        monkeypatch.setenv("ENTSOE_API_KEY", key)


def test_fetch_refuses_days_before_the_transparency_platform(monkeypatch, tmp_path, capsys):
    """1900 in Madrid is off the whole hour (local mean time): it said "start_utc 1900-06-01
    00:14:44+00:00 ... must be whole hours"; now the day is named before any key or query."""
    monkeypatch.setenv("BTUT_CACHE_DIR", str(tmp_path))
    expected = (
        "btut: error: start 1900-06-01 is before 2015-01-01, the first day ENTSO-E's "
        "Transparency Platform serves\n"
    )
    for key in ("fake", None):  # the day is said first, with or without a key
        _set_key(monkeypatch, key)
        args = ["data", "fetch", "--zone", "ES", "--start", "1900-06-01", "--end", "1900-06-02"]
        assert main(args) == 3
        assert capsys.readouterr().err == expected
    show = ["data", "show", "-z", "ES", "--start", "2014-12-31", "--end", "2015-01-02"]
    assert main([*show, "--source", "entsoe"]) == 3
    assert "start 2014-12-31 is before 2015-01-01" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("key", [None, "", "   "])
def test_a_missing_or_blank_key_is_one_message(monkeypatch, tmp_path, capsys, key):
    """Unset and whitespace-only ENTSOE_API_KEY gave two different wordings."""
    from data.entsoe_api import MISSING_KEY_MESSAGE

    monkeypatch.setenv("BTUT_CACHE_DIR", str(tmp_path))
    _set_key(monkeypatch, key)
    args = ["data", "fetch", "--zone", "ES", "--start", "2017-06-01", "--end", "2017-06-02"]
    assert main(args) == 2
    assert capsys.readouterr().err == f"btut: error: {MISSING_KEY_MESSAGE}\n"
    assert list(tmp_path.iterdir()) == []


def test_fetch_refuses_an_empty_cache_dir(monkeypatch, tmp_path, capsys):
    """``--cache-dir ""`` cached in ./entsoe (the working directory)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ENTSOE_API_KEY", "fake")
    args = ["data", "fetch", "-z", "ES", "--start", "2017-06-01", "--end", "2017-06-02"]
    assert main([*args, "--cache-dir", ""]) == 2
    err = capsys.readouterr().err
    assert err.startswith("btut: error: --cache-dir is an empty path") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
