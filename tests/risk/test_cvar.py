"""Exact discrete VaR / CVaR: hand-computed values, the RU LP reference, batches, bad input."""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
import pytest

import risk
from data.errors import InvalidParameterError
from risk import cvar, cvar_lp, mean_cvar, value_at_risk

# ``risk.cvar`` is the function; the module is reached through sys.modules.
cvar_module = sys.modules["risk.cvar"]


def _brute_cvar(x: np.ndarray, alpha: float, w: np.ndarray | None = None) -> float:
    """min over the atoms z of z + E[(L - z)+]/alpha (the RU minimum sits on an atom)."""
    x = np.asarray(x, dtype=float)
    p = np.full(x.size, 1.0 / x.size) if w is None else np.asarray(w, float) / np.sum(w)
    return min(z + float(p @ np.maximum(x - z, 0.0)) / alpha for z in x[p > 0])


# --------------------------------------------------------------------------------------------
# hand-computed examples
# --------------------------------------------------------------------------------------------

# losses 1, 2, 3, 4 with mass 1/4 each:
#   alpha = 0.1 : P(L > 4) = 0 <= 0.1 < P(L > 3) = 0.25 -> VaR 4; the tail is 0.1 of atom 4 -> 4
#   alpha = 0.25: P(L > 3) = 0.25 <= 0.25 -> VaR 3; the tail is exactly atom 4 -> CVaR 4
#   alpha = 0.3 : VaR 3 (P(L > 2) = 0.5 > 0.3); tail = atom 4 (0.25) + 0.05 of atom 3:
#                 CVaR = (0.25*4 + 0.05*3) / 0.3 = 1.15 / 0.3 = 3.8333...
#   alpha = 0.5 : P(L > 2) = 0.5 -> VaR 2; tail = atoms 3, 4 -> CVaR 3.5
#   alpha = 0.6 : VaR 2 (P(L > 1) = 0.75 > 0.6); CVaR = (0.25*4 + 0.25*3 + 0.1*2)/0.6 = 3.25
#   alpha = 0.75: P(L > 1) = 0.75 -> VaR 1; tail = atoms 2, 3, 4 -> CVaR 3
#   alpha = 1   : VaR = smallest loss 1; CVaR = mean 2.5
EQUAL_1234 = [
    (0.1, 4.0, 4.0),
    (0.25, 3.0, 4.0),
    (0.3, 3.0, 1.15 / 0.3),
    (0.5, 2.0, 3.5),
    (0.6, 2.0, 1.95 / 0.6),
    (0.75, 1.0, 3.0),
    (1.0, 1.0, 2.5),
]

# losses 1, 2, 3, 4 with weights 0.1, 0.2, 0.3, 0.4 (or 1, 2, 3, 4: normalised):
#   alpha = 0.05: VaR 4, CVaR 4
#   alpha = 0.4 : P(L > 3) = 0.4 <= 0.4 -> VaR 3; the tail is exactly atom 4 -> CVaR 4
#   alpha = 0.5 : VaR 3 (P(L > 2) = 0.7 > 0.5); CVaR = (0.4*4 + 0.1*3) / 0.5 = 3.8
#   alpha = 0.8 : P(L > 2) = 0.7 <= 0.8 -> VaR 2; CVaR = (0.4*4 + 0.3*3 + 0.1*2)/0.8 = 3.375
#   alpha = 1   : VaR 1; CVaR = mean = 0.1 + 0.4 + 0.9 + 1.6 = 3
WEIGHTED_1234 = [
    (0.05, 4.0, 4.0),
    (0.4, 3.0, 4.0),
    (0.5, 3.0, 3.8),
    (0.8, 2.0, 3.375),
    (1.0, 1.0, 3.0),
]


@pytest.mark.parametrize(("alpha", "var", "cv"), EQUAL_1234)
def test_equal_weights_by_hand(alpha: float, var: float, cv: float) -> None:
    losses = [4.0, 1.0, 3.0, 2.0]  # order does not matter
    assert value_at_risk(losses, alpha) == var
    assert cvar(losses, alpha) == pytest.approx(cv, abs=1e-12)
    # explicit equal weights take the weighted path and agree
    assert value_at_risk(losses, alpha, [2.0] * 4) == var
    assert cvar(losses, alpha, [2.0] * 4) == pytest.approx(cv, abs=1e-12)
    assert cvar_lp(losses, alpha) == pytest.approx(cv, abs=1e-7)


@pytest.mark.parametrize(("alpha", "var", "cv"), WEIGHTED_1234)
@pytest.mark.parametrize("weights", [[0.1, 0.2, 0.3, 0.4], [1, 2, 3, 4]])
def test_weighted_by_hand(alpha: float, var: float, cv: float, weights: list[float]) -> None:
    losses = [1.0, 2.0, 3.0, 4.0]
    assert value_at_risk(losses, alpha, weights) == var
    assert cvar(losses, alpha, weights) == pytest.approx(cv, abs=1e-12)
    assert cvar_lp(losses, alpha, weights) == pytest.approx(cv, abs=1e-7)


def test_ties_split_the_boundary_atom() -> None:
    # losses 0, 10, 10, 20 (mass 1/4 each): atom 10 has mass 1/2.
    # alpha = 0.5: P(L > 10) = 0.25 <= 0.5 -> VaR 10; CVaR = (0.25*20 + 0.25*10)/0.5 = 15
    # alpha = 0.4: VaR 10;                            CVaR = (0.25*20 + 0.15*10)/0.4 = 16.25
    losses = [10.0, 0.0, 20.0, 10.0]
    assert value_at_risk(losses, 0.5) == 10.0
    assert cvar(losses, 0.5) == pytest.approx(15.0, abs=1e-12)
    assert cvar(losses, 0.4) == pytest.approx(16.25, abs=1e-12)
    # all mass on one value: VaR = CVaR = that value for every alpha
    for alpha in (0.01, 0.5, 1.0):
        assert value_at_risk([5.0, 5.0, 5.0], alpha) == 5.0
        assert cvar([5.0, 5.0, 5.0], alpha) == pytest.approx(5.0, abs=1e-12)


def test_exact_boundary_is_not_broken_by_rounding() -> None:
    # ten equally likely losses 1..10, alpha = 0.3: P(L > 7) = 0.3 <= 0.3 -> VaR 7 (not 8),
    # CVaR = (8 + 9 + 10)/3 = 9. 0.1 * 3 = 0.30000000000000004 and weights 0.1 (whose
    # cumulative sums are not exact) give the same answer.
    losses = np.arange(1.0, 11.0)
    for alpha in (0.3, 0.1 * 3):
        for weights in (None, np.full(10, 0.1), np.ones(10)):
            assert value_at_risk(losses, alpha, weights) == 7.0
            assert cvar(losses, alpha, weights) == pytest.approx(9.0, abs=1e-12)


def test_zero_weights_are_ignored() -> None:
    losses = [1.0, 100.0, 2.0, 3.0, -50.0]
    weights = [1.0, 0.0, 1.0, 1.0, 0.0]
    assert value_at_risk(losses, 0.1, weights) == 3.0
    assert cvar(losses, 0.1, weights) == pytest.approx(3.0)
    # alpha = 1: VaR is the smallest loss with positive weight, CVaR the mean
    assert value_at_risk(losses, 1.0, weights) == 1.0
    assert cvar(losses, 1.0, weights) == pytest.approx(2.0)
    assert mean_cvar(losses, 0.1, 0.0, weights) == pytest.approx(2.0)


def test_single_scenario() -> None:
    for alpha in (0.01, 1.0):
        assert value_at_risk([7.5], alpha) == 7.5
        assert cvar([7.5], alpha) == 7.5
        assert cvar([7.5], alpha, [3.0]) == 7.5
        assert cvar_lp([7.5], alpha) == 7.5


def test_mean_cvar_mixes_mean_and_cvar() -> None:
    losses = [1.0, 2.0, 3.0, 4.0]
    # gamma = 0.4, alpha = 0.25: 0.6 * 2.5 + 0.4 * 4 = 3.1
    assert mean_cvar(losses, 0.25, 0.4) == pytest.approx(3.1)
    assert mean_cvar(losses, 0.25, 0.0) == pytest.approx(2.5)
    assert mean_cvar(losses, 0.25, 1.0) == pytest.approx(4.0)
    # weighted: mean 3, CVaR_0.5 = 3.8 -> 0.5 * 3 + 0.5 * 3.8 = 3.4
    assert mean_cvar(losses, 0.5, 0.5, [1, 2, 3, 4]) == pytest.approx(3.4)


@pytest.mark.parametrize("weighted", ["equal", "shared", "per_column"])
def test_losses_and_weights_near_the_largest_double(weighted: str) -> None:
    # Scaling losses or weights by a power of two is exact in floating point, so every
    # estimator must scale the same way bit for bit, up to the largest double (the sums and
    # products inside overflowed before: mean_cvar([1e308, 1e308], ...) was inf).
    rng = np.random.default_rng(7)
    x = rng.standard_normal((50, 3)) + 1.0
    x = 1.9 * x / np.abs(x).max()  # max |x| = 1.9
    w = {
        "equal": None,
        "shared": rng.uniform(0.0, 2.0, 50),
        "per_column": rng.uniform(0.0, 2.0, (50, 3)),
    }[weighted]
    big = 2.0**1023  # max |x * big| = 1.7e308, near the largest double (1.8e308)
    for alpha in (0.05, 0.3, 1.0):
        np.testing.assert_array_equal(
            value_at_risk(x * big, alpha, w), value_at_risk(x, alpha, w) * big
        )
        np.testing.assert_array_equal(cvar(x * big, alpha, w), cvar(x, alpha, w) * big)
        np.testing.assert_array_equal(
            mean_cvar(x * big, alpha, 0.4, w), mean_cvar(x, alpha, 0.4, w) * big
        )
        if w is not None:  # weights are normalised: their scale cannot matter
            np.testing.assert_array_equal(cvar(x, alpha, w * 2.0**1000), cvar(x, alpha, w))
            np.testing.assert_array_equal(
                mean_cvar(x * big, alpha, 0.4, w * 2.0**1000), mean_cvar(x, alpha, 0.4, w) * big
            )
    # VaR is one of the losses, a tiny one too, beside the largest double (scaled, 1e-300
    # rounded to 0)
    assert value_at_risk([1e-300, 1e308], 0.5) == 1e-300
    assert value_at_risk([1e-300, 1e308], 0.5, [1.0, 1.0]) == 1e-300
    assert mean_cvar([1e308, 1e308], 0.5, 0.5) == 1e308
    assert cvar([-1e308, 1e308], 0.5) == 1e308
    assert cvar([-1e308, 1e308], 1.0) == 0.0


def test_returns_python_float_for_1d() -> None:
    assert type(cvar([1.0, 2.0], 0.5)) is float
    assert type(value_at_risk([1.0, 2.0], 0.5, [1, 1])) is float
    assert type(mean_cvar([1.0, 2.0], 0.5, 0.5)) is float
    assert type(cvar_lp([1.0, 2.0], 0.5)) is float


def test_public_names() -> None:
    for name in (
        "cvar",
        "cvar_lp",
        "mean_cvar",
        "value_at_risk",
        "mean_cvar_objective",
        "minimize_mean_cvar",
        "MeanCVaRResult",
    ):
        assert name in risk.__all__
        assert hasattr(risk, name)


# --------------------------------------------------------------------------------------------
# against the Rockafellar-Uryasev LP and the brute-force minimum
# --------------------------------------------------------------------------------------------


def _random_case(
    rng: np.random.Generator, case: int
) -> tuple[np.ndarray, float, np.ndarray | None]:
    n = int(rng.choice([1, 2, 3, 7, 20, 60, 150]))
    if case % 3 == 0:  # integer losses: many ties
        x = rng.integers(-5, 6, size=n).astype(float)
    elif case % 3 == 1:
        x = rng.normal(0.0, 10.0, size=n)
    else:  # heavy tail with a tied cluster
        x = np.concatenate([rng.standard_t(2.0, size=n - n // 2), np.full(n // 2, 1.5)])
    kind = case % 4
    if kind == 0:
        w = None
    elif kind == 1:
        w = rng.uniform(0.0, 1.0, size=n)
        w[rng.uniform(size=n) < 0.3] = 0.0  # some scenarios carry no mass
        if w.sum() == 0:
            w[0] = 1.0
    elif kind == 2:
        w = rng.integers(1, 5, size=n).astype(float)
    else:
        w = rng.lognormal(0.0, 2.0, size=n)
    if case % 5 == 0:  # a boundary alpha: the tail ends exactly on an atom
        alpha = float(rng.integers(1, n + 1)) / n if w is None else 1.0
    else:
        alpha = float(rng.choice([rng.uniform(0.001, 1.0), 0.05, 0.01, 1.0 / 3.0]))
    return x, alpha, w


@pytest.mark.parametrize("case", range(30))
def test_agrees_with_ru_lp(case: int) -> None:
    rng = np.random.default_rng(1000 + case)
    x, alpha, w = _random_case(rng, case)
    exact = cvar(x, alpha, w)
    assert exact == pytest.approx(cvar_lp(x, alpha, w), abs=1e-6)
    assert exact == pytest.approx(_brute_cvar(x, alpha, w), abs=1e-9)


def test_cvar_lp_with_clarabel() -> None:
    rng = np.random.default_rng(7)
    x = rng.integers(0, 10, size=50).astype(float)
    w = rng.uniform(size=50)
    assert cvar_lp(x, 0.1, w, solver="CLARABEL") == pytest.approx(cvar(x, 0.1, w), abs=1e-6)


def test_cvar_lp_names_the_shape_it_was_given() -> None:
    with pytest.raises(InvalidParameterError, match=r"1-D losses, got shape \(3, 2\)$"):
        cvar_lp(np.ones((3, 2)), 0.1)  # said (2, 3)


# --------------------------------------------------------------------------------------------
# batches: 2-D / N-D with axis
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", ["none", "shared", "per_column"])
@pytest.mark.parametrize("alpha", [0.05, 0.3, 1.0])
def test_batched_equals_per_column(weighted: str, alpha: float) -> None:
    rng = np.random.default_rng(3)
    n, m = 200, 7
    x = rng.integers(0, 20, size=(n, m)).astype(float)  # ties
    x[:, 3] = 4.0  # a constant column
    if weighted == "none":
        w, col_w = None, [None] * m
    elif weighted == "shared":
        w = rng.uniform(size=n)
        w[:20] = 0.0
        col_w = [w] * m
    else:
        w = rng.lognormal(size=(n, m))
        col_w = [w[:, j] for j in range(m)]
    for fn in (value_at_risk, cvar):
        batched = fn(x, alpha, w)
        assert isinstance(batched, np.ndarray)
        assert batched.shape == (m,)
        expected = [fn(x[:, j], alpha, col_w[j]) for j in range(m)]
        np.testing.assert_allclose(batched, expected, rtol=0, atol=1e-12)
        # the same with scenarios along the last axis
        wt = w.T if (w is not None and w.ndim == 2) else w
        np.testing.assert_allclose(fn(x.T, alpha, wt, axis=1), expected, rtol=0, atol=1e-12)
        np.testing.assert_allclose(fn(x.T, alpha, wt, axis=-1), expected, rtol=0, atol=1e-12)
    expected_mc = [mean_cvar(x[:, j], alpha, 0.3, col_w[j]) for j in range(m)]
    np.testing.assert_allclose(mean_cvar(x, alpha, 0.3, w), expected_mc, rtol=0, atol=1e-12)


def test_batched_3d() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 50, 4))  # (batch, scenarios, agents)
    w = rng.uniform(size=50)
    out = cvar(x, 0.1, w, axis=1)
    assert out.shape == (3, 4)
    for b in range(3):
        for j in range(4):
            assert out[b, j] == pytest.approx(cvar(x[b, :, j], 0.1, w), abs=1e-12)
    out = value_at_risk(x, 0.1, axis=1)
    assert out[2, 1] == value_at_risk(x[2, :, 1], 0.1)


def test_batched_without_agents() -> None:
    assert cvar(np.zeros((5, 0)), 0.1).shape == (0,)
    assert mean_cvar(np.zeros((5, 0)), 0.1, 0.5, np.ones(5)).shape == (0,)


# --------------------------------------------------------------------------------------------
# the O(n) weighted selection against the sort
# --------------------------------------------------------------------------------------------


def _sorted_reference(x: np.ndarray, alpha: float, w: np.ndarray) -> tuple[float, float]:
    """VaR and CVaR through the batched-sort path (a (n, 1) column)."""
    var = value_at_risk(x[:, None], alpha, w)[0]
    return float(var), float(cvar(x[:, None], alpha, w)[0])


@pytest.mark.parametrize("data", ["normal", "ties", "sorted", "reversed", "constant"])
@pytest.mark.parametrize("weights", ["uniform", "lognormal", "sparse", "one_heavy"])
def test_weighted_selection_matches_sort(data: str, weights: str) -> None:
    rng = np.random.default_rng(11)
    n = 12_000  # above the direct-sort cut-off: the bracketing rounds run
    assert n > cvar_module._SORT_BELOW
    x = {
        "normal": lambda: rng.normal(size=n),
        "ties": lambda: rng.integers(0, 7, size=n).astype(float),
        "sorted": lambda: np.sort(rng.normal(size=n)),
        "reversed": lambda: np.sort(rng.normal(size=n))[::-1].copy(),
        "constant": lambda: np.full(n, 2.5),
    }[data]()
    w = {
        "uniform": lambda: rng.uniform(size=n),
        "lognormal": lambda: rng.lognormal(0.0, 3.0, size=n),
        "sparse": lambda: np.where(rng.uniform(size=n) < 0.01, 1.0, 0.0),
        "one_heavy": lambda: np.where(np.arange(n) == n // 3, 1e6, 1.0),
    }[weights]()
    for alpha in (1e-5, 0.05, 0.5, 0.999):
        ref_var, ref_cv = _sorted_reference(x, alpha, w)
        assert value_at_risk(x, alpha, w) == ref_var
        assert cvar(x, alpha, w) == pytest.approx(ref_cv, rel=1e-12, abs=1e-12)


def test_weighted_selection_with_tiny_cutoffs(monkeypatch: pytest.MonkeyPatch) -> None:
    # tiny sample and cut-off: many rounds, failed brackets on both sides, the lo == hi exit
    monkeypatch.setattr(cvar_module, "_SORT_BELOW", 4)
    monkeypatch.setattr(cvar_module, "_SAMPLE_SIZE", 8)
    rng = np.random.default_rng(12)
    for trial in range(200):
        n = int(rng.integers(1, 400))
        x = rng.integers(0, int(rng.integers(1, 30)), size=n).astype(float)
        w = rng.uniform(size=n) * (rng.uniform(size=n) < 0.7)
        if w.sum() == 0:
            w[-1] = 1.0
        alpha = float(rng.choice([rng.uniform(1e-3, 1.0), 1.0, 0.5, 1.0 / n]))
        ref_var, ref_cv = _sorted_reference(x, alpha, w)
        assert value_at_risk(x, alpha, w) == ref_var, trial
        assert cvar(x, alpha, w) == pytest.approx(ref_cv, rel=1e-12, abs=1e-12), trial


def test_million_scenarios_exact() -> None:
    # speed is measured in benchmarks/bench_cvar.py, not here
    rng = np.random.default_rng(5)
    n = 1_000_000
    x = rng.standard_t(3.0, size=n)
    w = rng.uniform(size=n)
    for weights in (None, w):
        cv = cvar(x, 0.05, weights)
        order = np.argsort(x)
        xs = x[order]
        p = np.full(n, 1.0 / n) if weights is None else weights[order] / weights.sum()
        cum = np.cumsum(p)
        var = xs[np.searchsorted(cum, 1.0 - 0.05 - 1e-12)]
        assert cv == pytest.approx(var + p @ np.maximum(xs - var, 0.0) / 0.05, rel=1e-10)


# --------------------------------------------------------------------------------------------
# invalid input
# --------------------------------------------------------------------------------------------

FUNCS = [
    pytest.param(lambda x, a, w=None: value_at_risk(x, a, w), id="value_at_risk"),
    pytest.param(lambda x, a, w=None: cvar(x, a, w), id="cvar"),
    pytest.param(lambda x, a, w=None: mean_cvar(x, a, 0.5, w), id="mean_cvar"),
    pytest.param(lambda x, a, w=None: cvar_lp(x, a, w), id="cvar_lp"),
]

BAD = [
    ([1.0, np.nan], 0.1, None, "finite"),
    ([1.0, np.inf], 0.1, None, "finite"),
    ([], 0.1, None, "at least one scenario"),
    (np.empty((0, 3)), 0.1, None, "at least one scenario"),
    (3.0, 0.1, None, "scalar"),
    (["a", "b"], 0.1, None, "real numbers"),
    ([1.0, 2.0], 0.0, None, "alpha"),
    ([1.0, 2.0], -0.1, None, "alpha"),
    ([1.0, 2.0], 1.5, None, "alpha"),
    ([1.0, 2.0], float("nan"), None, "alpha"),
    ([1.0, 2.0], "0.1", None, "alpha"),
    ([1.0, 2.0], True, None, "alpha"),
    ([1.0, 2.0], 0.1, [1.0, -1.0], "non-negative"),
    ([1.0, 2.0], 0.1, [1.0, np.nan], "finite"),
    ([1.0, 2.0], 0.1, [0.0, 0.0], "positive"),
    ([1.0, 2.0], 0.1, [1.0, 2.0, 3.0], "length"),
    ([1.0, 2.0], 0.1, [[1.0, 2.0]], "shape"),
    ([1.0, 2.0], 0.1, ["x", "y"], "real numbers"),
]


@pytest.mark.parametrize("fn", FUNCS)
@pytest.mark.parametrize(("losses", "alpha", "weights", "match"), BAD)
def test_invalid_input(
    fn: Callable[..., object], losses: object, alpha: object, weights: object, match: str
) -> None:
    with pytest.raises(InvalidParameterError, match=match) as info:
        fn(losses, alpha, weights)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("gamma", [-0.1, 1.1, float("nan"), None])
def test_invalid_gamma(gamma: object) -> None:
    with pytest.raises(InvalidParameterError, match="gamma"):
        mean_cvar([1.0, 2.0], 0.1, gamma)  # type: ignore[arg-type]


def test_invalid_axis_and_shapes() -> None:
    x = np.zeros((4, 3))
    with pytest.raises(InvalidParameterError, match="axis"):
        cvar(x, 0.1, axis=2)
    with pytest.raises(InvalidParameterError, match="axis"):
        cvar(x, 0.1, axis=0.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="length 3 but losses have 4"):
        cvar(x, 0.1, np.ones(3))
    with pytest.raises(InvalidParameterError, match="shape"):
        cvar(x, 0.1, np.ones((3, 4)))
    w = np.ones((4, 3))
    w[:, 1] = 0.0  # one agent's weights sum to zero
    with pytest.raises(InvalidParameterError, match="positive"):
        cvar(x, 0.1, w)
    with pytest.raises(InvalidParameterError, match="1-D"):
        cvar_lp(x, 0.1)


# --------------------------------------------------------------------------------------------
# tail boundaries that fall exactly on an atom: every path, against a brute-force reference
# --------------------------------------------------------------------------------------------


def test_equal_weight_boundary_alphas_k_over_n() -> None:
    # alpha = k/n with n equally likely distinct losses: P(L > v) = k/n exactly for the
    # (k+1)-th largest loss, so VaR is that loss (the lower of the two candidate atoms, by the
    # documented tolerance) and CVaR is the mean of the k largest. k/n is rounded (0.29 * 100
    # = 28.999999999999996) and must not tip VaR to the next atom up.
    # Every k for small n; for larger n (to stay fast) the k whose k/n times n is not k in
    # floating point, where rounding can move the boundary, plus k = 1 and k = n.
    rng = np.random.default_rng(21)
    for n in range(1, 201):
        x = rng.permutation(n).astype(float) + rng.uniform(-0.4, 0.4, size=n)  # distinct
        xs = np.sort(x)
        ones = np.ones(n)
        ks = [k for k in range(1, n + 1) if n <= 30 or k in (1, n) or (k / n) * n != k]
        for k in ks:
            alpha = k / n
            expected = xs[n - 1 - k] if k < n else xs[0]
            assert value_at_risk(x, alpha) == expected, (n, k)
            assert value_at_risk(x, alpha, ones) == expected, (n, k)
            top_k_mean = float(xs[n - k :].sum()) / k
            assert cvar(x, alpha) == pytest.approx(top_k_mean, rel=1e-12, abs=1e-12), (n, k)


def _exact_tail_alphas(mass: int, total: int) -> list[float]:
    """The alphas (a few ulps around the ideal one) whose tolerance-inflated tail mass
    ``alpha * (1 + rtol) * total`` is exactly the integer ``mass``: a cumulative mass that
    equals the allowed mass with no rounding slack on either side."""
    rtol = cvar_module._MASS_RTOL
    alpha = mass / total / (1.0 + rtol)
    down = up = alpha
    candidates = [alpha]
    for _ in range(4):
        down, up = float(np.nextafter(down, 0.0)), float(np.nextafter(up, 1.0))
        candidates += [down, up]
    return [a for a in candidates if 0.0 < a <= 1.0 and a * (1.0 + rtol) * total == mass]


def _brute_var(x: np.ndarray, alpha: float, w: np.ndarray) -> float:
    """VaR from the definition: the smallest loss v with positive weight whose exceedance
    mass sum(w[x > v]) is at most ``alpha * (1 + rtol) * sum(w)``. Integer weights only, so
    every mass is exact and comparisons with the allowed mass have no rounding."""
    total = float(w.sum())
    allowed = alpha * (1.0 + cvar_module._MASS_RTOL) * total
    for v in np.unique(x[w > 0]):  # ascending
        if float(w[x > v].sum()) <= allowed:
            return float(v)
    raise AssertionError("unreachable: the largest loss has exceedance mass 0")


def _boundary_masses(x: np.ndarray, w: np.ndarray) -> list[int]:
    """The exceedance masses sum(w[x > v]) over the atoms v, excluding 0 and the total."""
    total = int(w.sum())
    masses = {int(w[x > v].sum()) for v in np.unique(x[w > 0])}
    return sorted(m for m in masses if 0 < m < total)


def test_exact_tail_boundary_by_hand() -> None:
    # losses 1, 2, 3, 4 with unit weights, alpha just below 1/4 so that the allowed mass
    # alpha * (1 + rtol) * 4 is exactly 1: P(L > 3) = 1/4 is allowed -> VaR 3 (not 4) on
    # every path. alpha is below 1/4, so the exact CVaR is 4 (the worst alpha of the mass lies
    # in atom 4); the RU formula at VaR 3 gives 3 + 1/(4 alpha) = 4 + rtol: the documented
    # error of at most rtol times the gap between the two atoms (1 here).
    rtol = cvar_module._MASS_RTOL
    alpha = 0.25 / (1.0 + rtol)
    assert alpha * (1.0 + rtol) * 4.0 == 1.0  # the construction is exact
    losses = np.array([1.0, 2.0, 3.0, 4.0])
    ones = np.ones(4)
    assert value_at_risk(losses, alpha, ones) == 3.0  # 1-D weighted (sort)
    assert value_at_risk(losses[:, None], alpha, ones)[0] == 3.0  # batched, shared weights
    assert value_at_risk(losses[:, None], alpha, ones[:, None])[0] == 3.0  # per-column
    assert value_at_risk(losses, alpha) == 3.0  # equal weights
    for w in (None, ones):
        assert cvar(losses, alpha, w) == pytest.approx(4.0, abs=rtol + 1e-12)
        assert cvar(losses[:, None], alpha, w)[0] == pytest.approx(4.0, abs=rtol + 1e-12)


def test_weighted_paths_agree_on_exact_tail_boundaries() -> None:
    # Integer weights (zeros included) and alphas whose allowed tail mass equals an
    # exceedance mass exactly: the 1-D sort, the batched sort (shared and per-column
    # weights) and the brute-force definition must all pick the lower atom.
    rng = np.random.default_rng(22)
    checked = 0
    for trial in range(60):
        n = int(rng.integers(2, 25))
        x = rng.integers(0, int(rng.integers(2, 12)), size=n).astype(float)  # ties
        w = rng.integers(0, 5, size=n).astype(float)
        if w.sum() == 0:
            w[0] = 1.0
        other = rng.permutation(x)  # a second column for the batch
        w2 = rng.integers(1, 4, size=n).astype(float)
        total = int(w.sum())
        for mass in _boundary_masses(x, w):
            for alpha in _exact_tail_alphas(mass, total):
                expected = _brute_var(x, alpha, w)
                assert value_at_risk(x, alpha, w) == expected, (trial, mass)
                batch = np.column_stack([x, other])
                shared = value_at_risk(batch, alpha, w)
                assert shared[0] == expected, (trial, mass)
                assert shared[1] == _brute_var(other, alpha, w), (trial, mass)
                per_column = value_at_risk(batch, alpha, np.column_stack([w, w2]))
                assert per_column[0] == expected, (trial, mass)
                # CVaR: exact up to the documented rtol times the gap between atoms
                ref_cv = _brute_cvar(x, alpha, w)
                tol = cvar_module._MASS_RTOL * float(np.ptp(x)) + 1e-12
                assert cvar(x, alpha, w) == pytest.approx(ref_cv, rel=1e-12, abs=tol)
                assert cvar(batch, alpha, w)[0] == pytest.approx(ref_cv, rel=1e-12, abs=tol)
                checked += 1
    assert checked > 200  # the exact constructions exist for most masses


def test_weighted_selection_on_exact_tail_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    # The bracketing selection with tiny cut-offs (many rounds, both bracket tests, the final
    # sort of what is left) at alphas whose allowed mass equals an exceedance mass exactly:
    # it must agree with the brute-force definition and with the batched sort.
    monkeypatch.setattr(cvar_module, "_SORT_BELOW", 4)
    monkeypatch.setattr(cvar_module, "_SAMPLE_SIZE", 8)
    rng = np.random.default_rng(23)
    checked = 0
    for trial in range(120):
        n = int(rng.integers(10, 300))
        x = rng.integers(0, int(rng.integers(2, 20)), size=n).astype(float)
        w = rng.integers(0, 4, size=n).astype(float)
        if w.sum() == 0:
            w[-1] = 1.0
        masses = _boundary_masses(x, w)
        if not masses:
            continue
        for mass in rng.choice(masses, size=min(3, len(masses)), replace=False):
            for alpha in _exact_tail_alphas(int(mass), int(w.sum()))[:1]:
                expected = _brute_var(x, alpha, w)
                assert value_at_risk(x, alpha, w) == expected, (trial, mass)
                assert value_at_risk(x[:, None], alpha, w)[0] == expected, (trial, mass)
                checked += 1
    assert checked > 200


def test_equal_weights_agree_with_unit_weights_on_the_tolerance_edge() -> None:
    """At an alpha whose inflated tail mass is exactly an integer k, equal weights and
    ``np.ones(n)`` give the same VaR (both compute ``alpha * (1 + rtol) * n`` in that
    order), equal to the definition's."""
    checked = 0
    for n in range(2, 120):
        x = np.arange(1.0, n + 1.0)
        ones = np.ones(n)
        for k in range(1, n):
            for a in _exact_tail_alphas(k, n):
                assert value_at_risk(x, a) == value_at_risk(x, a, ones) == _brute_var(x, a, ones)
                checked += 1
    assert checked > 1000
