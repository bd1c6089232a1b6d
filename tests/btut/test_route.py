"""`btut replay --route` and `btut route` on the bundled real Lightning snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import btut
from btut.cli import main
from btut.report import render_run_report
from data.store import ResultsStore

N = 300
DAY = "2017-06-14"


@pytest.fixture(scope="module")
def routed(tmp_path_factory: pytest.TempPathFactory):
    url = f"sqlite:///{tmp_path_factory.mktemp('route') / 'r.sqlite'}"
    return url, btut.replay("ES", DAY, agents=N, seed=4, db=url, route=True)


def test_db_show_text_reads_the_days_and_shortens_the_payments(routed, capsys) -> None:
    """`btut db show ID` printed a routed run's per-payment arrays (83 kB for 2,000 agents)
    and its per-day figures as one JSON string; the text now gives the days as JSON and one
    line for the arrays (`--json` keeps the stored record as it is)."""
    url, result = routed
    assert main(["db", "show", str(result.run_id), "--db", url]) == 0
    text = capsys.readouterr().out
    shown = json.loads(text)
    metrics = shown["metrics"]
    assert metrics["days_json"][0]["day"] == DAY  # parsed, not a string
    assert metrics["days_json"][0]["efficiency"] == result.day_results[0].summary()["efficiency"]
    assert metrics["routing_json"].startswith("per-payment arrays, ")
    assert f"btut db show {result.run_id} --json" in metrics["routing_json"]
    assert len(text) < 20_000
    assert main(["db", "show", str(result.run_id), "--db", url, "--json"]) == 0
    raw = json.loads(capsys.readouterr().out)["metrics"]
    assert isinstance(raw["days_json"], str) and isinstance(raw["routing_json"], str)
    payments = len(json.loads(raw["routing_json"])["latency_s"])
    assert payments == len(result.day_results[0].routing_payments) > 0


def test_replay_routes_one_netted_payment_per_agent(routed) -> None:
    url, result = routed
    r = result.routing
    assert r is not None and result.to_dict()["routing"] == dict(r)
    pay = result.day_results[0].routing_payments
    assert pay is not None and r["payments"] == len(pay) <= N
    assert pay["agent"].is_unique  # netted: one payment per agent for the day
    assert 0.9 <= r["success_rate"] <= 1.0 and r["successes"] == int(pay["success"].sum())
    assert 0 <= r["fee_pct_of_value"] < 5 and 0 < r["latency_p50_s"] <= r["latency_p95_s"]
    # buyers pay what they owe at the local price plus the operator's residual: net of what
    # sellers receive, that is the community's grid bill (independently from the intervals)
    frame = result.to_frame()
    bill = (
        frame["buy_eur_per_mwh"] * frame["import_market_kwh"]
        - frame["sell_eur_per_mwh"] * frame["export_market_kwh"]
    ).sum() / 1000
    signed = np.where(pay["direction"] == "pay", 1.0, -1.0) * pay["amount_eur"]
    assert signed.sum() == pytest.approx(bill, abs=1e-6 * N + 1e-3)
    # stored with the run, shown by the report
    run = btut.load_run(result.run_id, db=url)
    assert run.metrics["routing_success_rate"] == pytest.approx(r["success_rate"])
    assert run.config["routing"]["graph"] == "bundled:lightning-2026-02-03"
    sample = json.loads(str(run.metrics["routing_json"]))
    assert len(sample["latency_s"]) == len(pay) and not sample["sampled"]
    assert 'id="plot-routing"' in render_run_report(run)


def test_routing_changes_the_run_but_not_the_market(routed) -> None:
    _, result = routed
    plain = btut.replay("ES", DAY, agents=N, seed=4, store=False)
    assert plain.routing is None and "routing" not in plain.to_dict()
    assert plain.efficiency == result.efficiency
    assert plain.market_cost_eur == result.market_cost_eur
    assert plain.config != result.config  # a routed run is another stored run


def test_route_command_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["route", "--payments", "30", "--amount-sat", "10000", "--seed", "2", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    info = json.loads(captured.out)
    assert info["n_payments"] == 30 and info["nodes"] == 17_324
    assert 0 <= info["success_rate"] <= 1 and info["multipart"] is True
    again = main(["route", "--payments", "30", "--amount-sat", "10000", "--seed", "2", "--json"])
    assert again == 0
    repeat = json.loads(capsys.readouterr().out)
    assert {k: v for k, v in repeat.items() if k != "elapsed_s"} == {
        k: v for k, v in info.items() if k != "elapsed_s"
    }


def test_bad_routing_input_is_one_line_and_stores_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'x.sqlite'}"

    def fails(*args: str, code: int) -> str:
        rc = main(list(args))
        err = capsys.readouterr().err
        assert rc == code, err
        assert err.startswith("btut: error:") and err.count("\n") == 1
        return err

    assert "not found" in fails("replay", "-n", "50", "--route", "--graph", str(tmp_path / "no"),
                                "--db", url, code=3)  # fmt: skip
    no_route = fails("replay", "-n", "50", "--graph", "x", "--db", url, code=2)
    assert no_route == "btut: error: --graph needs --route\n"
    assert "at most" in fails("replay", "-n", "2000000", "--route", "--db", url, code=2)
    bad = tmp_path / "channels.csv"
    bad.write_text("source,target\nabc\n")
    assert fails("route", "--graph", str(bad), code=4)
    assert "amount-sat" in fails("route", "--amount-sat", "0", code=2)
    assert "payments" in fails("route", "--payments", "0", code=2)
    assert not Path(url.removeprefix("sqlite:///")).exists() or (
        ResultsStore(url).count_rows()["runs"] == 0
    )


def test_fees_of_a_batch_where_nothing_settled_read_na() -> None:
    """'fees n/a % of value' was printed when no payment succeeded (a CLI audit)."""
    from btut.cli import _fee_text

    assert _fee_text(None) == "n/a (nothing settled)"
    assert _fee_text(0.0415) == "0.0415 % of value"


def test_an_empty_graph_path_is_refused(tmp_path: Path, monkeypatch, capsys) -> None:
    """``--graph ""`` was the working directory: exit 3 "channel snapshot not found:
    ./channels.csv.gz"."""
    from btut.routes import load_graph
    from data.errors import InvalidParameterError

    monkeypatch.chdir(tmp_path)
    for empty in ("", " "):
        with pytest.raises(InvalidParameterError, match="graph is an empty path"):
            load_graph(empty)
    assert main(["route", "-n", "2", "--graph", ""]) == 2
    assert capsys.readouterr().err.startswith("btut: error: --graph is an empty path: give ")
