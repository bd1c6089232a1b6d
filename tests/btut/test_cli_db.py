"""`btut db ...` against a real store (SQLite file and a real PostgreSQL server)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

import data.store as store_module
from btut.cli import main
from data import load_market_data
from data.store import ResultsStore


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cli.sqlite'}"
    return request.getfixturevalue("fresh_postgres_url")


def _save_real_run(url: str) -> int:
    frame = load_market_data("ES", "2017-03-26", "2017-03-27")[["price_eur_per_mwh", "load_mw"]]
    with ResultsStore(url) as store:
        saved = store.save_run(
            kind="data-check",
            zone="ES",
            config={"zone": "ES", "day": "2017-03-26"},
            intervals=frame,
            metrics={"mean_price_eur_per_mwh": float(frame["price_eur_per_mwh"].mean())},
        )
    return saved.run_id


def test_upgrade_runs_and_show(db_url, capsys):
    assert main(["db", "upgrade", "--db", db_url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["revision"]
    run_id = _save_real_run(db_url)
    assert main(["db", "runs", "--db", db_url, "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [r["run_id"] for r in runs] == [run_id] and runs[0]["zone"] == "ES"
    assert main(["db", "show", str(run_id), "--db", db_url, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    expected = load_market_data("ES", "2017-03-26", "2017-03-27")["price_eur_per_mwh"].mean()
    assert shown["metrics"]["mean_price_eur_per_mwh"] == pytest.approx(expected, rel=1e-15)
    # the same configuration again is not stored twice
    assert _save_real_run(db_url) == run_id
    with ResultsStore(db_url) as store:
        back = store.get_run(run_id).intervals_frame()
    assert len(back) == 23 and isinstance(back.index, pd.DatetimeIndex)


def test_show_of_a_malformed_backtest_record_shows_the_record(tmp_path, capsys) -> None:
    """A backtest record without its period (written by hand or by another tool): `db show`
    ended with an internal error (exit 70) once it read the backtest's days; it shows the
    record and says in one line why the days are left out."""
    url = f"sqlite:///{tmp_path / 'bt.sqlite'}"
    with ResultsStore(url) as store:
        saved = store.save_run(kind="backtest", zone="ES", config={"kind": "backtest"})
    for extra in ([], ["--json"]):
        assert main(["db", "show", str(saved.run_id), "--db", url, *extra]) == 0
        captured = capsys.readouterr()
        assert json.loads(captured.out)["kind"] == "backtest"
        assert captured.err == (
            f"btut: warning: backtest {saved.run_id}: its days cannot be read (KeyError: "
            "'start'); showing its record only\n"
        )


def test_unknown_run_and_unreachable_database_are_one_line_errors(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    assert main(["db", "upgrade", "--db", url]) == 0
    capsys.readouterr()
    assert main(["db", "show", "42", "--db", url]) == 3
    assert "no run with id 42" in capsys.readouterr().err
    assert main(["db", "runs", "--db", "postgresql://analyst:hunter2@127.0.0.1:1/btut"]) == 5
    captured = capsys.readouterr()
    assert "hunter2" not in captured.err + captured.out
    assert captured.err.count("\n") == 1 and captured.err.startswith("btut: error:")


def _fails(capsys, args: list[str], code: int) -> str:
    """``btut ARGS`` exits ``code`` with one ``btut: error:`` line and nothing on stdout."""
    rc = main(args)
    captured = capsys.readouterr()
    assert rc == code, captured.err
    assert captured.err.startswith("btut: error:") and captured.err.count("\n") == 1
    assert captured.out == ""
    return captured.err


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(folder.iterdir())
    }


def test_read_commands_do_not_create_a_missing_store(tmp_path, capsys, monkeypatch):
    typo = tmp_path / "sub" / "typo.sqlite"
    url = f"sqlite:///{typo}"
    for args in (["db", "runs"], ["db", "runs", "--kind", "replay"], ["db", "show", "1"]):
        err = _fails(capsys, [*args, "--db", url], 5)
        assert f"no results store at {typo}" in err
    err = _fails(capsys, ["report", "--run", "1", "-o", str(tmp_path / "r.html"), "--db", url], 5)
    assert "no results store" in err
    # the default store ($BTUT_HOME/btut.sqlite) is not created either
    monkeypatch.delenv("BTUT_DB_URL", raising=False)
    monkeypatch.setenv("BTUT_HOME", str(tmp_path / "home"))
    assert "no results store" in _fails(capsys, ["db", "runs"], 5)
    assert list(tmp_path.iterdir()) == []
    # writing commands still create it
    assert main(["db", "upgrade", "--db", url]) == 0
    assert typo.is_file()


def test_read_commands_do_not_migrate(tmp_path, capsys, monkeypatch):
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    url = f"sqlite:///{empty}"
    for args in (["db", "runs"], ["db", "show", "1"]):
        assert "btut db upgrade" in _fails(capsys, [*args, "--db", url], 5)
    assert _snapshot(tmp_path) == {"empty.sqlite": hashlib.sha256(b"").hexdigest()}

    stored = tmp_path / "old.sqlite"
    run_id = _save_real_run(f"sqlite:///{stored}")
    before = _snapshot(tmp_path)
    current = store_module.head_revision()
    monkeypatch.setattr(store_module, "head_revision", lambda: "9999_newer")  # store is "old"
    for args in (["db", "runs"], ["db", "show", str(run_id)]):
        err = _fails(capsys, [*args, "--db", f"sqlite:///{stored}"], 5)
        assert f"revision {current}, older" in err and "btut db upgrade" in err
    assert _snapshot(tmp_path) == before


def test_read_commands_leave_an_existing_store_unchanged(db_url, tmp_path, capsys):
    assert main(["db", "upgrade", "--db", db_url]) == 0
    run_id = _save_real_run(db_url)
    capsys.readouterr()
    before = _snapshot(tmp_path)
    assert main(["db", "runs", "--db", db_url]) == 0
    assert main(["db", "show", str(run_id), "--db", db_url]) == 0
    assert str(run_id) in capsys.readouterr().out
    assert _snapshot(tmp_path) == before  # same bytes, no -wal/-shm/lock files left


def test_runs_kind_must_be_a_known_kind(db_url, capsys):
    assert main(["db", "upgrade", "--db", db_url]) == 0
    run_id = _save_real_run(db_url)  # kind "data-check", saved through the library
    capsys.readouterr()
    for bad in ("bogus", "REPLAY", "", "replay "):
        err = _fails(capsys, ["db", "runs", "--kind", bad, "--db", db_url], 2)
        assert f"unknown run kind {bad!r}" in err
        assert "valid kinds: backtest, data-check, forecast_evaluation, replay" in err
    # the README's --kind forecast_evaluation on a store without any (it was exit 2)
    for kind in ("replay", "forecast_evaluation"):
        assert main(["db", "runs", "--kind", kind, "--db", db_url]) == 0
        assert capsys.readouterr().out.strip() == "no runs stored"
    assert main(["db", "runs", "--kind", "data-check", "--db", db_url, "--json"]) == 0
    assert [r["run_id"] for r in json.loads(capsys.readouterr().out)["runs"]] == [run_id]


@pytest.mark.parametrize("run_id", ["99999999999999999999", "9223372036854775808", "2147483648"])
def test_show_of_an_id_out_of_range_is_no_such_run(db_url, tmp_path, capsys, run_id):
    assert main(["db", "upgrade", "--db", db_url]) == 0
    capsys.readouterr()
    assert f"no run with id {run_id} " in _fails(capsys, ["db", "show", run_id, "--db", db_url], 3)
    out = tmp_path / "r.html"
    for flag in ("--run", "--backtest"):
        err = _fails(capsys, ["report", flag, run_id, "-o", str(out), "--db", db_url], 3)
        assert f"no run with id {run_id} " in err
    assert not out.exists()
