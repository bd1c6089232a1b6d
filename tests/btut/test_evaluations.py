"""``btut forecast evaluate`` stores its scores and test forecasts as a run that can be found
again (``btut db runs``, ``btut.load_run``), once per configuration, and stores nothing when
it fails or is told not to."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import btut
import data
from btut.cli import main
from btut.evaluations import KIND, scores_of
from data import load_market_data
from forecasting.metrics import crps_normal, crps_student_t

TRAIN, TEST = "2016-01-08:2016-02-28", "2016-02-29:2016-03-03"
ARGS = ["forecast", "evaluate", "-z", "ES", "--target", "load_mw", "--train", TRAIN]
SMALL = ["--test", TEST, "--hidden", "8", "--json"]


def _evaluate(capsys: pytest.CaptureFixture[str], *extra: str) -> dict:
    assert main([*ARGS, *SMALL, *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_evaluation_is_stored_once_and_reads_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    first = _evaluate(capsys, "--db", url)
    assert first["created"] is True and isinstance(first["run_id"], int)
    again = _evaluate(capsys, "--db", url)  # same configuration: the same run
    assert again["run_id"] == first["run_id"] and again["created"] is False
    for model, scores in first["models"].items():  # seeded: the same scores (not timings)
        assert {**again["models"][model], "fit_s": 0} == {**scores, "fit_s": 0}

    run = btut.load_run(first["run_id"], db=url)
    assert run.kind == KIND and run.zone == "ES"
    assert run.config["train"] == TRAIN and run.config["test"] == TEST
    models = run.config["models"]
    assert set(models) == set(first["models"]) == {"student_t", "gaussian", "seasonal_naive", "tso"}
    assert models["student_t"]["class"] == "StudentTForecaster"
    assert models["student_t"]["params"]["hidden"] == [8]  # the option
    assert models["gaussian"]["params"]["max_epochs"] == 200  # a default, recorded too
    # every score of the --json object is stored (a null DM p-value is not)
    table = scores_of(run.metrics)
    for model, scores in first["models"].items():
        for key, value in scores.items():
            if value is None:
                assert f"{model}.{key}" not in run.metrics
            else:
                assert table.loc[model, key] == value

    # the stored forecasts give the stored scores again (CRPS recomputed from them)
    frame = run.intervals
    n = first["models"]["student_t"]["n_intervals"]
    assert len(frame) == n == 4 * 24
    data = load_market_data("ES", "2016-02-29", "2016-03-04")["load_mw"]
    np.testing.assert_array_equal(frame["load_mw"].to_numpy(), data.loc[frame.index].to_numpy())
    y = frame["load_mw"].to_numpy()
    t = crps_student_t(y, frame["student_t_mu"], frame["student_t_sigma"], frame["student_t_nu"])
    assert np.mean(t) == pytest.approx(first["models"]["student_t"]["crps"], rel=1e-12)
    assert "gaussian_nu" not in frame.columns  # a normal head: no finite nu
    g = crps_normal(y, frame["gaussian_mu"], frame["gaussian_sigma"])
    assert np.mean(g) == pytest.approx(first["models"]["gaussian"]["crps"], rel=1e-12)

    # a different configuration is a new run; the listing finds both by kind
    other = _evaluate(capsys, "--db", url, "--seed", "1")
    assert other["run_id"] != first["run_id"] and other["created"] is True
    assert main(["db", "runs", "--kind", KIND, "--db", url, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["runs"]
    assert sorted(r["run_id"] for r in listed) == sorted([first["run_id"], other["run_id"]])

    # the HTML report is for replays: a clear refusal
    assert main(["report", "--run", str(first["run_id"]), "--db", url, "-o", "-"]) == 3
    err = capsys.readouterr().err
    assert "is of kind 'forecast_evaluation', not a replay" in err and err.count("\n") == 1


def test_text_output_names_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    assert main([*ARGS, "--test", TEST, "--hidden", "8", "--db", url]) == 0
    assert "stored as run 1 (btut db show 1)" in capsys.readouterr().out


def test_options_without_effect_are_said(capsys: pytest.CaptureFixture[str]) -> None:
    """--warm-epochs without --recalibrate, and a --recalibrate of at least the test
    period's days, change nothing: one warning line each (they were silent, found by a CLI
    audit), and the scores equal the plain run's."""
    plain = _evaluate(capsys, "--no-store")
    assert main([*ARGS, *SMALL, "--no-store", "--warm-epochs", "3", "--recalibrate", "9"]) == 0
    captured = capsys.readouterr()
    said = [ln for ln in captured.err.splitlines() if ln.startswith("btut: warning:")]
    assert said == [
        "btut: warning: --recalibrate 9 is at least the test period's 4 day(s): one fit, as "
        "without it"
    ]
    keys = ("crps", "mae", "coverage_80", "coverage_95", "dm_pvalue_vs_student_t")

    def scores(result: dict) -> dict:  # all but the timings
        return {m: {k: s[k] for k in keys} for m, s in result["models"].items()}

    assert scores(json.loads(captured.out)) == scores(plain)
    assert main([*ARGS, *SMALL, "--no-store", "--warm-epochs", "3"]) == 0
    said = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("btut: warning:")]
    assert said == ["btut: warning: --warm-epochs has no effect without --recalibrate (one fit)"]
    # bad input with it: the one error line only
    assert main([*ARGS[:2], "-z", "XX", *ARGS[4:], *SMALL, "--no-store", "--warm-epochs", "3"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("btut: error: unknown zone 'XX'") and err.count("\n") == 1


def test_an_option_without_effect_is_not_part_of_the_identity() -> None:
    """--warm-epochs changes nothing without --recalibrate (one fit), so two such runs are
    the same evaluation: one stored run, not two. With recalibration it is a real setting
    (storing it always passed every test)."""
    from btut.evaluations import evaluation_config
    from data.store import config_hash
    from forecasting import SeasonalNaiveForecaster

    base = {
        "zone": "ES",
        "target": "load_mw",
        "train": ("2016-01-08", "2016-02-29"),
        "test": ("2016-03-01", "2016-03-04"),
        "source": None,
        "models": {"seasonal_naive": SeasonalNaiveForecaster()},
        "seed": 0,
    }

    def config(recalibrate: int | None, warm_epochs: int) -> dict:
        return evaluation_config(**base, recalibrate=recalibrate, warm_epochs=warm_epochs)

    assert config(None, 5)["warm_epochs"] is None
    assert config_hash(config(None, 5)) == config_hash(config(None, 3))
    assert config_hash(config(2, 5)) != config_hash(config(2, 3))
    assert config_hash(config(2, 5)) != config_hash(config(None, 5))


def test_no_store_and_bad_input_store_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BTUT_HOME", str(tmp_path / "home"))  # the default store
    out = _evaluate(capsys, "--no-store")
    assert out["run_id"] is None and out["created"] is None
    store = tmp_path / "typo" / "store.sqlite"
    bad = [
        (["--test", "2016-02-20:2016-03-03"], 2),  # overlaps the training period
        (["--test", "2031-01-01:2031-01-07"], 3),  # outside the data
        (["--test", TEST, "--models", "gaussian"], 2),  # no student_t
    ]
    for extra, code in bad:
        assert main([*ARGS, *extra, "--db", f"sqlite:///{store}"]) == code
        err = capsys.readouterr().err
        assert err.startswith("btut: error: ") and err.count("\n") == 1
    assert main([*ARGS, "--test", TEST, "--no-store", "--db", f"sqlite:///{store}"]) == 2
    assert "drop it or --no-store" in capsys.readouterr().err
    assert main([*ARGS, "--test", TEST, "--db", "postgresql://u:secret@:bad:port/x"]) == 2
    assert "could not parse the database URL" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # neither the default store nor --db's


def test_recalibrated_evaluation_records_the_parameters_as_first_fitted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refits warm-start the networks (``max_epochs`` = ``--warm-epochs``) in place: the
    stored configuration is the models' as first fitted, whatever the number of refits, and
    a CSV source is identified by its bytes, not by its path (a copy in another folder was
    evaluated and stored again)."""
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    csv = tmp_path / "energy_dataset.csv"  # the bundled ES file, as a user's CSV
    bundled = Path(data.__file__).parent / "bundled" / "spain_energy_2015_2017.csv.gz"
    csv.write_bytes(gzip.decompress(bundled.read_bytes()))
    out = _evaluate(capsys, "--db", url, "--recalibrate", "2", "--source", str(csv))
    run = btut.load_run(out["run_id"], db=url)
    for name in ("student_t", "gaussian"):
        params = run.config["models"][name]["params"]
        assert params["max_epochs"] == 200 and params["warm_start"] is False
    assert run.config["warm_epochs"] == 5 and run.config["recalibrate_every_days"] == 2
    assert run.config["source_sha256"] == hashlib.sha256(csv.read_bytes()).hexdigest()
    # an edited file (the last price of 2017, outside the window) is another configuration
    text = csv.read_text()
    assert text.endswith(",12.4,23.95\n")
    csv.write_text(text[: -len("23.95\n")] + "23.96\n")
    again = _evaluate(capsys, "--db", url, "--recalibrate", "2", "--source", str(csv))
    assert again["created"] is True and again["run_id"] != out["run_id"]
    assert run.config["source"] == "file"  # not the path: the same bytes elsewhere are the run
    assert run.metrics["source_path"] == str(csv.resolve())  # kept with it
    moved = tmp_path / "elsewhere" / "copy.csv"
    moved.parent.mkdir()
    moved.write_bytes(csv.read_bytes())
    third = _evaluate(capsys, "--db", url, "--recalibrate", "2", "--source", str(moved))
    assert third["created"] is False and third["run_id"] == again["run_id"]
