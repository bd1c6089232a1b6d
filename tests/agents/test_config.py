"""Agent configuration: defaults, validation (one-line errors), JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from agents.config import (
    DEFAULT_PARAMS,
    KIND_PARAMETERS,
    KINDS,
    PARAMETERS,
    AgentParams,
    Dist,
    PopulationConfig,
    TypeConfig,
)
from data.errors import InvalidParameterError


def test_default_config_is_valid_and_complete() -> None:
    cfg = PopulationConfig()
    assert cfg.type_names == KINDS
    assert sum(t.share for t in cfg.types) == pytest.approx(1.0)
    for t in cfg.types:
        assert set(t.params) == set(KIND_PARAMETERS[t.kind])
        for name, dist in t.params.items():
            lo, hi = dist.support
            spec = PARAMETERS[name]
            assert spec.contains(hi) or hi == float("inf")
            assert spec.contains(lo) or (lo == 0 and dist.family == "lognormal")
    assert cfg.retail_adder_eur_per_mwh >= 0 and cfg.export_discount_eur_per_mwh >= 0


def test_round_trip_through_json() -> None:
    cfg = PopulationConfig(
        types=(
            TypeConfig("consumer", 0.6, {"flex_cost_eur_per_kwh2": Dist.uniform(0.4, 0.1)}),
            TypeConfig("ev", 0.25, {"ev_need_kwh": 20.0}, name="ev_long", ev_charge_levels=(0, 1)),
            TypeConfig("pv_storage", 0.15, {"battery_kwh": Dist.lognormal(13.5, 0.2)}),
        ),
        noise=0.1,
        retail_adder_eur_per_mwh=80.0,
    )
    text = json.dumps(cfg.to_dict())
    back = PopulationConfig.from_dict(json.loads(text))
    assert back == cfg
    assert back.to_dict() == cfg.to_dict()
    assert back.type("ev_long").params["ev_need_kwh"] == Dist.fixed(20.0)
    assert back.type("ev_long").ev_charge_levels == (0.0, 1.0)


def test_from_dict_fills_defaults() -> None:
    cfg = PopulationConfig.from_dict({"types": [{"kind": "pv", "share": 1.0}]})
    assert cfg.types[0].params["pv_kwp"] == DEFAULT_PARAMS["pv"]["pv_kwp"]
    assert PopulationConfig.from_dict({}) == PopulationConfig()


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: PopulationConfig(types=(TypeConfig("pv", 0.5),)), "shares must sum to 1"),
        (  # "got 1" before: the sum is said to as many digits as it takes
            lambda: PopulationConfig(
                types=(TypeConfig("pv", 0.5), TypeConfig("consumer", 0.5000001))
            ),
            r"shares must sum to 1, got 1.0000001 ",
        ),
        (
            lambda: PopulationConfig(types=(TypeConfig("pv", 0.5), TypeConfig("pv", 0.5))),
            "unique",
        ),
        (lambda: PopulationConfig(types=()), "at least one type"),
        (lambda: PopulationConfig(noise=-0.1), "noise"),
        (lambda: PopulationConfig(noise=40.0), r"noise must be in \[0, 2\], got 40"),
        (lambda: PopulationConfig(retail_adder_eur_per_mwh=-1.0), "retail_adder"),
        (lambda: TypeConfig("wind", 1.0), "kind must be one of"),
        (lambda: TypeConfig("pv", 1.2), "share must be in"),
        (lambda: TypeConfig("pv", 1.0, {"pv_kwp": -2.0}), "pv_kwp must lie in"),
        (lambda: TypeConfig("pv", 1.0, {"pv_kwp": Dist.uniform(1.0, 2.0)}), "pv_kwp"),
        (
            lambda: TypeConfig("pv_storage", 1.0, {"eta_charge": Dist.uniform(0.95, 0.1)}),
            "eta_charge must lie in",
        ),
        (
            lambda: TypeConfig("pv_storage", 1.0, {"eta_discharge": Dist.lognormal(0.9, 0.1)}),
            "eta_discharge",
        ),
        (lambda: TypeConfig("pv_storage", 1.0, {"eta_charge": 0.0}), "eta_charge"),
        (lambda: TypeConfig("consumer", 1.0, {"gamma": 1.5}), "gamma"),
        # a dimensionless parameter has no unit after its range (was "(0, 1] 1")
        (
            lambda: TypeConfig("consumer", 1.0, {"alpha": 0.0}),
            r"alpha must lie in \(0, 1\], but the fixed distribution takes values in 0$",
        ),
        (
            lambda: AgentParams("pv", pv_kwp=-1.0),
            r"pv_kwp must lie in \[0, inf\) kWp, got -1$",
        ),
        (lambda: TypeConfig("consumer", 1.0, {"battery_kwh": 5.0}), "has no parameter"),
        (lambda: TypeConfig("ev", 1.0, ev_charge_levels=(0.3, 0.7)), "whole multiples"),
        (lambda: TypeConfig("ev", 1.0, ev_arrival_hour=8.0), "before the earliest deadline"),
        (lambda: TypeConfig("consumer", 1.0, dr_levels=4), "odd"),
        # found by an API audit: 10**6 + 1 levels were accepted; None types gave a TypeError
        (
            lambda: TypeConfig("consumer", 1.0, dr_levels=10**6 + 1),
            r"dr_levels must be an integer in \[1, 4001\], got 1000001$",
        ),
        (lambda: TypeConfig("consumer", 1.0, dr_levels=True), "dr_levels must be an integer"),
        (
            lambda: PopulationConfig.from_dict({"types": None}),
            "'types' must be a list of types, got None$",
        ),
        (lambda: PopulationConfig.from_dict({"types": 3}), "'types' must be a list of types"),
        (lambda: Dist("fixed", 1.0, 0.5), "spread 0"),
        (lambda: Dist("lognormal", -1.0, 0.5), "mean must be > 0"),
        (lambda: Dist("beta", 1.0, 0.5), "family"),
        (lambda: Dist("uniform", float("nan"), 0.5), "finite"),
        (lambda: PopulationConfig.from_dict({"types": [{"kind": "pv"}]}), "'share' is required"),
        (lambda: PopulationConfig.from_dict({"typo": 1}), "unknown key"),
        (
            lambda: PopulationConfig.from_dict(
                {"types": [{"kind": "pv", "share": 1, "params": {"pv_kwp": {"mean": 1, "x": 2}}}]}
            ),
            "unknown key",
        ),
        (lambda: AgentParams("pv_storage", battery_kwh=-1.0), "battery_kwh must lie in"),
        # found by a CLI audit: stored as runs with costs of -7e12 EUR / 148,000 EUR
        (
            lambda: TypeConfig("pv", 1.0, {"pv_kwp": Dist.lognormal(1e12, 0.3)}),
            r"type 'pv': pv_kwp mean 1e\+12 kWp is beyond a small prosumer's \(at most 1000 kWp\)$",
        ),
        # found by a CLI sweep: 1e308 stored a run with NaN costs, or failed with a raw
        # overflow warning and a misleading error
        (
            lambda: TypeConfig("consumer", 1.0, {"flex_cost_eur_per_kwh2": 1e308}),
            r"flex_cost_eur_per_kwh2 mean 1e\+308 EUR/kWh2 is beyond a small prosumer's "
            r"\(at most 100 EUR/kWh2\)$",
        ),
        (
            lambda: PopulationConfig(retail_adder_eur_per_mwh=1e308),
            r"retail_adder_eur_per_mwh must be in \[0, 10000\] EUR/MWh, got 1e\+308$",
        ),
        (
            lambda: PopulationConfig(export_discount_eur_per_mwh=1e20),
            r"export_discount_eur_per_mwh must be in \[0, 10000\] EUR/MWh, got 1e\+20$",
        ),
        (
            lambda: TypeConfig("ev", 1.0, ev_unmet_penalty_eur_per_kwh=1e308),
            r"ev_unmet_penalty_eur_per_kwh must be in \[0, 1000\] EUR/kWh, got 1e\+308$",
        ),
        (
            lambda: TypeConfig("ev", 1.0, {"ev_need_kwh": 100.0}),
            r"type 'ev': infeasible: the mean EV need is 100 kWh, but no EV of the type can "
            r"charge more than 94.91 kWh between 0 h and its deadline \(at most 1 x 11.1 kW "
            r"until 9 h, efficiency at most 0.95\)$",
        ),
    ],
)
def test_bad_values_raise_one_line_errors(build, match) -> None:
    with pytest.raises(InvalidParameterError, match=match) as info:
        build()
    assert "\n" not in str(info.value)


def test_the_range_ends_are_where_the_messages_say() -> None:
    """Each documented range from both sides (only values far outside were tested): an EV
    arrives in [0, 24), noise is in [0, 2], a population has at most 127 types (its agents'
    type index is an int8)."""
    with pytest.raises(InvalidParameterError, match=r"ev_arrival_hour must be in \[0, 24\)"):
        TypeConfig.default("consumer", ev_arrival_hour=24.0)
    assert TypeConfig.default("consumer", ev_arrival_hour=23.99).ev_arrival_hour == 23.99
    assert TypeConfig.default("consumer", ev_arrival_hour=0.0).ev_arrival_hour == 0.0
    assert PopulationConfig(noise=0.0).noise == 0.0
    assert PopulationConfig(noise=2.0).noise == 2.0
    with pytest.raises(InvalidParameterError, match=r"noise must be in \[0, 2\]"):
        PopulationConfig(noise=2.0001)

    def types(n: int) -> list[TypeConfig]:
        return [TypeConfig.default("consumer", name=f"c{i}", share=1.0 / n) for i in range(n)]

    assert len(PopulationConfig(types=types(127)).types) == 127
    with pytest.raises(InvalidParameterError, match="at most 127 types are supported, got 128"):
        PopulationConfig(types=types(128))


def test_agent_params_from_type_uses_means_and_neutral_values() -> None:
    t = TypeConfig.default("pv_storage")
    p = AgentParams.from_type(t, gamma=0.0)
    assert p.battery_kwh == pytest.approx(t.params["battery_kwh"].mean)
    assert p.gamma == 0.0
    assert p.ev_need_kwh == 0.0 and p.flex_cost_eur_per_kwh2 == 0.0
    assert AgentParams.from_type(TypeConfig.default("consumer")).eta_charge == 1.0
    assert json.loads(json.dumps(p.to_dict()))["kind"] == "pv_storage"


def test_ev_arrival_at_the_earliest_deadline_is_rejected() -> None:
    """Plugged in at the deadline leaves no time to charge: the arrival must be strictly
    before the earliest deadline (type) and before the agent's deadline."""
    deadline = {"ev_deadline_hour": Dist.uniform(7.5, 1.5)}  # deadlines in [6, 9]
    with pytest.raises(InvalidParameterError, match="before the earliest deadline 6"):
        TypeConfig("ev", 1.0, deadline, ev_arrival_hour=6.0)
    assert TypeConfig("ev", 1.0, deadline, ev_arrival_hour=5.9).ev_arrival_hour == 5.9
    with pytest.raises(InvalidParameterError, match="must be before ev_deadline_hour 7"):
        AgentParams("ev", ev_deadline_hour=7.0, ev_arrival_hour=7.0)
    assert AgentParams("ev", ev_deadline_hour=7.0, ev_arrival_hour=6.5).ev_arrival_hour == 6.5


def test_documented_defaults() -> None:
    """The module doc's defaults: shares 0.5/0.2/0.15/0.15, noise 0.15, retail adder 60 and
    export discount 15 EUR/MWh, alpha 0.1, gamma uniform on [0, 0.6]."""
    cfg = PopulationConfig()
    assert {t.name: t.share for t in cfg.types} == {
        "consumer": 0.5,
        "pv": 0.2,
        "pv_storage": 0.15,
        "ev": 0.15,
    }
    assert (cfg.noise, cfg.retail_adder_eur_per_mwh, cfg.export_discount_eur_per_mwh) == (
        0.15,
        60.0,
        15.0,
    )
    for t in cfg.types:
        assert t.params["alpha"] == Dist.fixed(0.1)
        assert t.params["gamma"].support == (0.0, 0.6)


def test_plausible_means_and_a_feasible_ev_at_the_edge() -> None:
    """The plausibility bounds apply to means, not supports (a lognormal is unbounded), and
    an EV type whose mean need equals what its fastest, latest EV can charge is feasible."""
    TypeConfig("pv", 1.0, {"pv_kwp": Dist.lognormal(1000.0, 2.0)})  # mean at the bound
    reach = 7.4 * (7.5 - 0.0) * 0.92
    ev = {"ev_need_kwh": reach, "ev_max_kw": 7.4, "ev_deadline_hour": 7.5, "eta_charge": 0.92}
    # a lognormal charger power has no upper end: never infeasible by this rule
    TypeConfig("ev", 1.0, {**ev, "ev_need_kwh": 1e3, "ev_max_kw": Dist.lognormal(7.4, 0.2)})
    TypeConfig("ev", 1.0, ev)
    with pytest.raises(InvalidParameterError, match="infeasible"):
        TypeConfig("ev", 1.0, {**ev, "ev_need_kwh": reach * (1 + 1e-9)})
    # a later arrival and a half-power top level shrink what can be charged
    late = reach * (7.5 - 3.0) / 7.5
    TypeConfig("ev", 1.0, {**ev, "ev_need_kwh": late}, ev_arrival_hour=3.0)
    with pytest.raises(InvalidParameterError, match="infeasible"):
        TypeConfig("ev", 1.0, {**ev, "ev_need_kwh": late * 1.001}, ev_arrival_hour=3.0)
    half = {**ev, "ev_need_kwh": reach / 2 * 1.001}
    TypeConfig("ev", 1.0, half)
    with pytest.raises(InvalidParameterError, match=r"at most 0.5 x 7.4 kW"):
        TypeConfig("ev", 1.0, half, ev_charge_levels=(0.0, 0.25, 0.5))


def test_tariffs_and_costs_at_their_bounds_are_accepted() -> None:
    cfg = PopulationConfig(retail_adder_eur_per_mwh=10_000.0, export_discount_eur_per_mwh=1e4)
    assert cfg.retail_adder_eur_per_mwh == cfg.export_discount_eur_per_mwh == 1e4
    TypeConfig("consumer", 1.0, {"flex_cost_eur_per_kwh2": Dist.lognormal(100.0, 1.0)})
    assert (
        TypeConfig("ev", 1.0, ev_unmet_penalty_eur_per_kwh=1e3).ev_unmet_penalty_eur_per_kwh == 1e3
    )


def test_dr_levels_up_to_the_bound_and_numpy_integers_are_accepted() -> None:
    assert TypeConfig("consumer", 1.0, dr_levels=np.int64(4001)).dr_levels == 4001
    assert type(TypeConfig("consumer", 1.0, dr_levels=np.int16(3)).dr_levels) is int


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("3", "pv_kwp must be a real number, got '3'"),  # was taken as 3.0
        (True, "pv_kwp must be a real number, got True"),  # was taken as 1.0
        (None, "pv_kwp must be a real number, got None"),  # was float()'s TypeError
        ("abc", "pv_kwp must be a real number, got 'abc'"),  # was float()'s ValueError
        pytest.param(10**400, "pv_kwp must be finite", id="10**400"),  # was OverflowError
    ],
)
def test_agent_params_from_type_checks_values_as_the_constructor_does(value, match) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        AgentParams.from_type(TypeConfig.default("pv"), pv_kwp=value)
    assert AgentParams.from_type(TypeConfig.default("pv"), pv_kwp=3).pv_kwp == 3.0


@pytest.mark.parametrize(
    ("dist", "message"),
    [
        (
            {"family": "normal", "mean": 3},
            "type 'pv': pv_kwp: distribution family must be one of fixed, uniform, lognormal, "
            "got 'normal'",
        ),
        ({"family": "lognormal", "mean": -3}, "type 'pv': pv_kwp: a lognormal mean must be > 0"),
        ({"family": "uniform", "mean": "3"}, "type 'pv': pv_kwp: uniform mean must be a real"),
        # a bare number (json.load reads NaN and Infinity) lost the prefix
        (float("nan"), "type 'pv': pv_kwp: fixed mean must be finite, got nan"),
        (float("inf"), "type 'pv': pv_kwp: fixed mean must be finite, got inf"),
        ({"mean": 1, "bogus": 2}, "type 'pv': pv_kwp: unknown key(s) bogus"),
        ("x", "type 'pv': pv_kwp must be a mapping, got str"),
    ],
)
def test_a_bad_distribution_in_a_config_names_its_type_and_parameter(dist, message) -> None:
    # the message said only "distribution family must be one of ...", not whose
    config = {"types": [{"kind": "pv", "share": 1.0, "params": {"pv_kwp": dist}}]}
    with pytest.raises(InvalidParameterError) as info:
        PopulationConfig.from_dict(config)
    assert str(info.value).startswith(message)
