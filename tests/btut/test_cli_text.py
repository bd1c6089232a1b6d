"""A user's own text (type names, file names, store URLs) is printed and drawn as it is: it
is neither rich markup on the console nor matplotlib mathtext in a report (an audit found
``[/]`` ending a replay with exit 70 after the run was stored, ``es[v2].csv`` printed as
``es.csv``, and ``$\\frac$`` crashing ``btut report``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import btut
from btut.cli import _print_replay, main
from data.loader import bundled_path

NAMES = ["EV $0.10 tariff vs $0.20", "pv [/] old", "bat [bold red]X", "ev $\\frac$"]
KINDS = ["consumer", "pv", "pv_storage", "ev"]


def _config(tmp_path: Path, names: list[str]) -> str:
    shares = [0.5, 0.2, 0.15, 0.15]
    types = [
        {"name": n, "kind": k, "share": s} for n, k, s in zip(names, KINDS, shares, strict=True)
    ]
    path = tmp_path / "types.json"
    path.write_text(json.dumps({"types": types}))
    return str(path)


def test_type_names_with_markup_and_dollars_print_and_report_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    config = _config(tmp_path, NAMES)
    assert main(["replay", "-n", "40", "--config", config, "--db", url]) == 0
    out = capsys.readouterr().out
    for name in NAMES:
        assert name in out
    assert "stored as run 1" in out
    page = tmp_path / "r.html"
    assert main(["report", "--run", "1", "--out", str(page), "--db", url]) == 0
    assert page.stat().st_size > 10_000
    assert "wrote" in capsys.readouterr().out


def test_a_type_name_longer_than_the_store_allows_is_refused_before_the_replay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It was refused only when the run was stored, after the whole replay."""
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    config = _config(tmp_path, ["c" * 65, "pv", "pv_storage", "ev"])
    assert main(["replay", "-n", "40", "--config", config, "--db", url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "at most 64 characters" in err
    assert not (tmp_path / "s.sqlite").exists()  # refused before the store was opened
    # without storing, any length is fine (the limit is the store's, not the engine's)
    long_names = json.loads(Path(config).read_text())
    result = btut.replay("ES", "2017-06-14", agents=40, config=long_names, store=False)
    assert "c" * 65 in result.per_type_frame().index
    from data.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="at most 64 characters to be stored"):
        btut.backtest("ES", "2017-06-14", "2017-06-15", agents=40, config=long_names, db=url)
    assert not (tmp_path / "s.sqlite").exists()  # a backtest always stores: refused first


def test_the_store_limit_on_type_names_is_the_configs() -> None:
    from agents.config import MAX_TYPE_NAME_CHARS
    from data.store import _NAME_MAX

    assert MAX_TYPE_NAME_CHARS == _NAME_MAX["agent_type"]


def test_a_file_name_with_brackets_is_printed_as_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "es[v2].csv"
    assert main(["data", "show", "--zone", "ES", "--start", "2017-06-14", "--end", "2017-06-15",
                 "--csv"]) == 0  # fmt: skip
    src.write_text(capsys.readouterr().out)
    args = ["--zone", "ES", "--start", "2017-06-14", "--end", "2017-06-15", "--source", str(src)]
    assert main(["data", "show", *args]) == 0
    assert f"({src})" in capsys.readouterr().out
    assert main(["data", "validate", *args]) == 0
    assert f"from {src}" in capsys.readouterr().out


def test_a_graph_folder_with_brackets_is_printed_as_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "g[bold]x[red]"
    folder.mkdir()
    shutil.copy(bundled_path("lightning/channels.csv.gz"), folder / "channels.csv.gz")
    assert main(["route", "--payments", "3", "--graph", str(folder)]) == 0
    assert str(folder) in capsys.readouterr().out


def test_a_replay_with_a_sampled_planner_says_which_market_cost_its_scores_use(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The printed market and planner costs did not give the printed price of anarchy when
    the planner sampled (it pairs the planner with the market's cost on the sample)."""
    result = btut.replay("ES", "2017-06-14", agents=200, max_exact_agents=50, store=False)
    (day,) = result.day_results
    _print_replay(result)
    out = " ".join(capsys.readouterr().out.split())
    assert (
        f"planner on a stratified sample on 1 of 1 day(s): its cost is within "
        f"+-{day.planner_error_bound_eur:.2f} EUR, and the scores compare it with the market's "
        f"cost on the same agents, {day.market_cost_used_eur:.2f} EUR"
    ) in out
    assert result.price_of_anarchy == pytest.approx(
        day.market_cost_used_eur / result.planner_cost_eur, rel=1e-12
    )


@pytest.mark.parametrize(
    ("rate", "shown"),
    [
        (0.9995, "0.9995"),
        (0.99999, "0.99999"),
        (0.5, "0.500"),
        (1.0, "1.000"),
        (0.0, "0.000"),
        (0.0004, "0.0004"),
    ],
)
def test_a_success_rate_with_a_failure_is_not_shown_as_one(rate: float, shown: str) -> None:
    """2 failed payments of 2,000 printed "by value 1.000" (0.9995)."""
    from btut.cli import _rate

    assert _rate(rate) == shown


def test_the_database_driver_s_own_log_lines_are_not_printed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A PostgreSQL server that died mid-write gave psycopg's "error ignored terminating
    <psycopg.Pipeline [BAD] ...>" through Python's last-resort handler, a second line beside
    the store's one-line error. BTUT's own warnings still print as one line each."""
    import logging

    from btut.cli import _log_warnings_as_lines

    driver = logging.getLogger("psycopg")
    before = (driver.propagate, driver.handlers[:])
    with _log_warnings_as_lines():
        driver.warning("error ignored terminating %s: the connection is lost", "<Pipeline>")
        logging.getLogger("data.store").warning("a note of the store")
    assert capsys.readouterr().err == "btut: warning: a note of the store\n"
    assert (driver.propagate, driver.handlers) == before


def test_local_time_labels_tell_the_autumn_dst_hours_apart() -> None:
    """The replay table printed "2017-10-29 02:00" twice on the autumn DST day (02:00 CEST,
    then 02:00 CET); a day whose labels repeat now shows each row's UTC offset."""
    import pandas as pd

    from btut.cli import _local_labels

    autumn = pd.date_range("2017-10-28 22:00", periods=25, freq="h", tz="UTC")
    labels = _local_labels(autumn, "Europe/Madrid")
    assert len(set(labels)) == 25
    assert labels[2:4] == ["2017-10-29 02:00+0200", "2017-10-29 02:00+0100"]
    assert labels[0] == "2017-10-29 00:00+0200" and labels[-1] == "2017-10-29 23:00+0100"
    summer = pd.date_range("2017-06-13 22:00", periods=24, freq="h", tz="UTC")
    assert _local_labels(summer, "Europe/Madrid")[:2] == ["2017-06-14 00:00", "2017-06-14 01:00"]
    spring = pd.date_range("2017-03-25 23:00", periods=23, freq="h", tz="UTC")
    labels = _local_labels(spring, "Europe/Madrid")
    assert labels[1:3] == ["2017-03-26 01:00", "2017-03-26 03:00"]  # 02:00 does not exist
    quarter = pd.date_range("2017-10-28 22:00", periods=100, freq="15min", tz="UTC")
    labels = _local_labels(quarter, "Europe/Madrid")
    assert len(set(labels)) == 100 and labels[8] == "2017-10-29 02:00+0200"
    assert labels[12] == "2017-10-29 02:00+0100"


def test_the_kappa_help_states_the_real_default() -> None:
    """`--kappa`'s help gave no default (the README says 400): it states the market's."""
    import re

    from btut.cli import KAPPA_HELP
    from market import DEFAULT_KAPPA

    (shown,) = re.findall(r"default (\d+(?:\.\d+)?)", KAPPA_HELP)
    assert float(shown) == DEFAULT_KAPPA
