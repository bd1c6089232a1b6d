"""`btut db ...` against a real store (SQLite file and a real PostgreSQL server)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

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


def test_unknown_run_and_unreachable_database_are_one_line_errors(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    assert main(["db", "show", "42", "--db", url]) == 3
    assert "no run with id 42" in capsys.readouterr().err
    assert main(["db", "runs", "--db", "postgresql://analyst:hunter2@127.0.0.1:1/btut"]) == 5
    captured = capsys.readouterr()
    assert "hunter2" not in captured.err + captured.out
    assert captured.err.count("\n") == 1 and captured.err.startswith("btut: error:")
