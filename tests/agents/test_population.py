"""Population sampling: exact stratified counts, seeding, distributions, memory."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agents.config import KIND_PARAMETERS, PARAMETERS, Dist, PopulationConfig, TypeConfig
from agents.population import Population, sample_population, stratified_counts
from data.errors import InvalidParameterError


@pytest.fixture(scope="module")
def big() -> Population:
    return sample_population(PopulationConfig(), 200_000, seed=7)


def test_stratified_counts_are_exact() -> None:
    counts = stratified_counts([0.5, 0.2, 0.15, 0.15], 1003)
    assert counts.sum() == 1003
    assert np.all(np.abs(counts - np.array([0.5, 0.2, 0.15, 0.15]) * 1003) < 1)
    assert list(stratified_counts([1 / 3] * 3, 10)) == [4, 3, 3]


@pytest.mark.parametrize("n", [1, 7, 1003])
def test_type_counts_match_shares(n: int) -> None:
    cfg = PopulationConfig()
    pop = sample_population(cfg, n, seed=1)
    expected = stratified_counts([t.share for t in cfg.types], n)
    assert pop.type_counts() == dict(zip(cfg.type_names, map(int, expected), strict=True))
    assert len(pop) == n


def test_seeded_reproducibility() -> None:
    a = sample_population(None, 5000, seed=11)
    b = sample_population(None, 5000, seed=11)
    c = sample_population(None, 5000, seed=12)
    for name, arr in a.arrays().items():
        np.testing.assert_array_equal(arr, b.arrays()[name])
    assert not np.array_equal(a.load_kwh_per_day, c.load_kwh_per_day)
    fresh = sample_population(None, 100, seed=None)
    again = sample_population(None, 100, seed=fresh.seed)
    np.testing.assert_array_equal(fresh.gamma, again.gamma)


def test_other_types_draws_do_not_depend_on_one_types_config() -> None:
    base = PopulationConfig()
    changed = PopulationConfig(
        types=tuple(
            TypeConfig("consumer", t.share, {"flex_cost_eur_per_kwh2": Dist.fixed(2.0)})
            if t.kind == "consumer"
            else t
            for t in base.types
        )
    )
    a = sample_population(base, 3000, seed=5)
    b = sample_population(changed, 3000, seed=5)
    np.testing.assert_array_equal(a.type_index, b.type_index)
    np.testing.assert_array_equal(a.battery_kwh, b.battery_kwh)
    assert not np.array_equal(a.flex_cost_eur_per_kwh2, b.flex_cost_eur_per_kwh2)


def test_sample_means_match_the_configured_means(big: Population) -> None:
    for code, t in enumerate(big.config.types):
        sel = big.type_index == code
        n = int(sel.sum())
        for name, dist in t.params.items():
            values = big.param(name)[sel].astype(np.float64)
            tol = 5.0 * dist.std / math.sqrt(n) + 1e-6 * abs(dist.mean)
            assert abs(values.mean() - dist.mean) <= tol, (t.name, name)
            lo, hi = dist.support
            assert values.min() >= np.float32(lo) - 1e-6 and values.max() <= np.float32(hi) + 1e-6
            if dist.std > 0:  # the spread is right too, within five standard errors
                # SE of a sample sd: sqrt((m4 - s^4) / (4 s^2 n)), m4 the fourth central moment
                m4 = np.mean((values - values.mean()) ** 4)
                se = math.sqrt(max(m4 - values.var() ** 2, 0.0) / (4 * values.var() * n))
                assert abs(values.std() - dist.std) <= 5 * se + 1e-6 * dist.std, (t.name, name)
        for name, spec in PARAMETERS.items():
            if name not in KIND_PARAMETERS[t.kind]:
                assert np.all(big.param(name)[sel] == np.float32(spec.neutral)), (t.name, name)


def test_types_are_shuffled(big: Population) -> None:
    # a contiguous slice is a random sample: its type shares are close to the configured ones
    head = big.slice(0, 20_000).type_counts()
    for t in big.config.types:
        assert head[t.name] / 20_000 == pytest.approx(t.share, abs=0.02)


def test_memory_per_agent_is_small() -> None:
    n = 1_000_000
    pop = sample_population(None, n, seed=3)
    per_agent = 1 + 4 * len(PARAMETERS)  # int8 type + float32 per parameter
    assert pop.nbytes == n * per_agent
    assert pop.nbytes < 64 * 2**20  # < 64 MB for 10^6 agents, so 10^7 fit in < 640 MB
    assert pop.type_index.dtype == np.int8
    assert all(a.dtype == np.float32 for name, a in pop.arrays().items() if name != "type_index")


def test_arrays_are_read_only_and_slices_are_views(big: Population) -> None:
    with pytest.raises(ValueError):
        big.gamma[0] = 0.5
    part = big.slice(10, 20)
    assert len(part) == 10 and part.offset == 10
    assert np.shares_memory(part.gamma, big.gamma)
    assert part.agent(0) == big.agent(10)
    assert len(big.slice(len(big) - 5, len(big) + 100)) == 5  # the last shard ends at the end
    for lo, hi in ((5, 2), (-3, 5), (len(big) + 1, len(big) + 2), (0, 2.0)):  # gave 0 agents
        with pytest.raises(InvalidParameterError, match="slice"):
            big.slice(lo, hi)
    with pytest.raises(InvalidParameterError, match="agent index must be an integer"):
        big.agent("0")  # IndexError


def test_representative_frame_and_summary() -> None:
    pop = sample_population(None, 2000, seed=2)
    rep = pop.representative("pv_storage")
    sel = pop.mask("pv_storage")
    assert rep.kind == "pv_storage"
    assert rep.battery_kwh == pytest.approx(float(pop.battery_kwh[sel].mean(dtype=np.float64)))
    assert rep.alpha == 0.1  # a point mass keeps its exact value
    assert pop.representative("ev", stat="median").ev_need_kwh > 0
    frame = pop.to_frame()
    assert list(frame.columns[:2]) == ["type", "kind"] and len(frame) == 2000
    assert frame["type"].value_counts().to_dict() == pop.type_counts()
    summary = pop.summary()
    assert summary.loc["consumer", "count"] == pop.type_counts()["consumer"]
    assert np.isnan(summary.loc["consumer", "battery_kwh"])
    with pytest.raises(InvalidParameterError, match="small populations"):
        pop.to_frame(limit=100)
    with pytest.raises(InvalidParameterError, match="no type"):
        pop.representative("wind")
    # a bin by mask or by the positions of its agents: the same representative
    big = sel & (pop.battery_kwh > np.median(pop.battery_kwh[sel]))
    by_mask = pop.representative("pv_storage", mask=big)
    assert pop.representative("pv_storage", index=np.flatnonzero(big)) == by_mask
    assert by_mask.battery_kwh == pytest.approx(float(pop.battery_kwh[big].mean()), rel=1e-6)
    assert by_mask.battery_kwh > rep.battery_kwh
    with pytest.raises(InvalidParameterError, match="not of type"):
        pop.representative("pv_storage", index=np.flatnonzero(~sel)[:3])
    with pytest.raises(InvalidParameterError, match="not both"):
        pop.representative("pv_storage", mask=big, index=np.flatnonzero(big))


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_bad_population_size(n) -> None:
    with pytest.raises(InvalidParameterError, match="n_agents"):
        sample_population(None, n, seed=0)


def test_stratified_counts_give_the_leftovers_to_the_largest_remainders() -> None:
    # 1003 * (0.5, 0.2, 0.15, 0.15) = (501.5, 200.6, 150.45, 150.45): floors sum to 1001,
    # the 2 left go to the largest fractional parts, .6 (second) and .5 (first)
    assert list(stratified_counts([0.5, 0.2, 0.15, 0.15], 1003)) == [502, 201, 150, 150]
    # 10 * (0.15, 0.6, 0.25) = (1.5, 6, 2.5): one left, tie .5/.5 goes to the earlier entry
    assert list(stratified_counts([0.15, 0.6, 0.25], 10)) == [2, 6, 2]
    # 7 * (0.1, 0.3, 0.6) = (0.7, 2.1, 4.2): floors 0 + 2 + 4 = 6, one left to .7
    assert list(stratified_counts([0.1, 0.3, 0.6], 7)) == [1, 2, 4]


@pytest.mark.parametrize(
    ("shares", "n", "match"),
    [
        ([-0.5, 1.5], 3, "finite numbers >= 0"),  # gave [-1, 4]
        ([0.0, 0.0], 3, "sum to 1"),  # gave [-9223372036854775807] * 2
        ([0.2, 0.2], 10, "sum to 1"),  # gave [5, 5]
        ([[0.5, 0.5]], 2, "1-D"),  # gave a 2-D result
        ([], 2, "non-empty"),
        ([0.5, float("nan")], 2, "finite"),
        (["a", "b"], 2, "numbers"),
        ([0.5, 0.5], -1, "n must be an integer >= 0"),  # gave [0, -1]
        ([0.5, 0.5], 2.5, "n must be"),
        ([0.5, 0.5], True, "n must be"),
    ],
)
def test_stratified_counts_refuse_what_is_no_distribution(shares, n, match) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        stratified_counts(shares, n)
    assert list(stratified_counts([0.5, 0.5], np.int64(3))) == [2, 1]


def test_types_with_the_same_distribution_draw_independently() -> None:
    """Streams are keyed by the type name too: two types of one kind with identical
    distributions get independent draws, not the same sequence."""
    cfg = PopulationConfig(types=(TypeConfig("consumer", 0.5, name="a"),
                                  TypeConfig("consumer", 0.5, name="b")))  # fmt: skip
    pop = sample_population(cfg, 2000, seed=3)
    a = pop.load_kwh_per_day[pop.mask("a")].astype(np.float64)
    b = pop.load_kwh_per_day[pop.mask("b")].astype(np.float64)
    assert a.size == b.size == 1000
    # independent: correlation ~ N(0, 1/sqrt(1000) = 0.03); the same stream would give 1
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.15


def test_representative_median_is_the_median() -> None:
    pop = sample_population(None, 3001, seed=6)
    sel = pop.mask("ev")
    med = pop.representative("ev", stat="median")
    mean = pop.representative("ev", stat="mean")
    for name in ("ev_need_kwh", "load_kwh_per_day", "ev_max_kw"):
        values = pop.param(name)[sel].astype(np.float64)
        assert getattr(med, name) == pytest.approx(float(np.median(values)), rel=1e-12)
        assert getattr(mean, name) == pytest.approx(float(values.mean()), rel=1e-12)
    # lognormal need (cv 0.4): the median is below the mean by a visible margin
    assert med.ev_need_kwh < 0.97 * mean.ev_need_kwh


def test_population_sizes_beyond_the_limit_are_refused() -> None:
    """10^13 agents was a MemoryError (570 TB asked), n = 10^20 in stratified_counts an
    OverflowError; the replay's limit is the same number."""
    import btut.replaying
    from agents.population import MAX_AGENTS, stratified_counts

    assert btut.replaying.MAX_AGENTS == MAX_AGENTS
    with pytest.raises(InvalidParameterError, match="n_agents must be at most 1,000,000,000"):
        sample_population(None, 10**13, seed=1)
    with pytest.raises(InvalidParameterError, match=r"n must be at most 2\*\*53"):
        stratified_counts([0.5, 0.5], 10**20)
    assert stratified_counts([0.5, 0.5], 2**53).sum() == 2**53
