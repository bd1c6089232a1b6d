"""Tests of market.mfg: the finite MFG object and its exact forward/backward operations.

References are independent of the library's passes: explicit Python loops over
(t, s, a, s') for the forward pass and policy values, brute-force enumeration of every
deterministic policy for the best response and the exploitability, and a Monte Carlo
particle simulation for the mean field.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from data.errors import InvalidParameterError
from market.mfg import (
    BestResponse,
    FiniteMFG,
    _clip_gap,
    best_response,
    exploitability,
    mean_field,
    policy_from_mean_field,
    policy_value,
    q_values,
    uniform_policy,
)

# --------------------------------------------------------------------------- helpers


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def random_game(
    seed: int,
    S: int,
    A: int,
    T: int,
    *,
    mf: bool = True,
    terminal: bool = True,
    sparse: str | None = None,
) -> FiniteMFG:
    """A random game whose rewards, transitions (with structural zeros) and terminal reward
    depend on the mean field (unless ``mf=False``). ``sparse``: None (dense (S, A, S)) or a
    scipy sparse format name for the (S*A, S) transition ("csr", "csr_matrix", "coo")."""
    rng = np.random.default_rng(seed)
    k = 1.0 if mf else 0.0
    R = rng.normal(size=(T, S, A))
    K = k * rng.normal(size=(T, S, A, S, A))
    W = rng.normal(size=(T, S, A, S))
    M = k * rng.normal(size=(T, S, A, S, S, A))
    zero = rng.random((T, S, A, S)) < 0.3
    np.put_along_axis(zero, W.argmax(axis=-1)[..., None], False, axis=-1)  # >= 1 allowed
    G = rng.normal(size=S)
    H = k * rng.normal(size=(S, S))

    def reward(t: int, L: np.ndarray) -> np.ndarray:
        return R[t] + np.einsum("sapb,pb->sa", K[t], L)

    def dense(t: int, L: np.ndarray) -> np.ndarray:
        logits = W[t] + np.einsum("sapqb,qb->sap", M[t], L)
        return _softmax(np.where(zero[t], -np.inf, logits))

    def transition(t: int, L: np.ndarray) -> Any:
        P = dense(t, L)
        if sparse is None:
            return P
        flat = P.reshape(S * A, S)
        if sparse == "csr":
            return sp.csr_array(flat)
        if sparse == "csr_matrix":
            return sp.csr_matrix(flat)
        return sp.coo_array(flat)

    return FiniteMFG(
        T,
        S,
        A,
        _softmax(rng.normal(size=S)),
        reward,
        transition,
        terminal_reward=(lambda mu: G + H @ mu) if terminal else None,
        name=f"random-{seed}",
    )


def random_policy(seed: int, game: FiniteMFG) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.ones(game.n_actions), size=(game.horizon, game.n_states))


def dense_P(game: FiniteMFG, t: int, L_t: np.ndarray) -> np.ndarray:
    P = game.transition(t, L_t)
    if sp.issparse(P):
        P = P.toarray().reshape(game.n_states, game.n_actions, game.n_states)
    return np.asarray(P, dtype=float)


def ref_forward(game: FiniteMFG, policy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean field by explicit loops; returns (L (T, S, A), mu_T (S,))."""
    T, S, A = game.horizon, game.n_states, game.n_actions
    mu = [float(x) for x in game.initial_distribution]
    L = np.zeros((T, S, A))
    for t in range(T):
        for s in range(S):
            for a in range(A):
                L[t, s, a] = mu[s] * policy[t, s, a]
        P = dense_P(game, t, L[t].copy())
        nxt = [0.0] * S
        for s in range(S):
            for a in range(A):
                for s2 in range(S):
                    nxt[s2] += L[t, s, a] * P[s, a, s2]
        mu = nxt
    return L, np.array(mu)


def ref_mu_T(game: FiniteMFG, L: np.ndarray) -> np.ndarray:
    T, S, A = game.horizon, game.n_states, game.n_actions
    P = dense_P(game, T - 1, L[T - 1].copy())
    out = np.zeros(S)
    for s in range(S):
        for a in range(A):
            for s2 in range(S):
                out[s2] += L[T - 1, s, a] * P[s, a, s2]
    return out


def ref_values(
    game: FiniteMFG, policy: np.ndarray | None, L: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(Q (T, S, A), V (T+1, S)) of ``policy`` (optimal if None) against frozen L, by loops."""
    T, S, A = game.horizon, game.n_states, game.n_actions
    V = np.zeros((T + 1, S))
    Q = np.zeros((T, S, A))
    if game.terminal_reward is not None:
        V[T] = game.terminal_reward(ref_mu_T(game, L))
    for t in range(T - 1, -1, -1):
        r = game.reward(t, L[t].copy())
        P = dense_P(game, t, L[t].copy())
        for s in range(S):
            for a in range(A):
                Q[t, s, a] = r[s, a] + sum(P[s, a, s2] * V[t + 1, s2] for s2 in range(S))
            if policy is None:
                V[t, s] = max(Q[t, s])
            else:
                V[t, s] = sum(policy[t, s, a] * Q[t, s, a] for a in range(A))
    return Q, V


def ref_J(game: FiniteMFG, policy: np.ndarray, L: np.ndarray) -> float:
    _, V = ref_values(game, policy, L)
    return float(sum(game.initial_distribution[s] * V[0, s] for s in range(game.n_states)))


def deterministic_policies(game: FiniteMFG):
    T, S, A = game.horizon, game.n_states, game.n_actions
    eye = np.eye(A)
    for choice in itertools.product(range(A), repeat=T * S):
        yield eye[np.array(choice).reshape(T, S)]


def brute_force_best(game: FiniteMFG, L: np.ndarray) -> tuple[float, np.ndarray]:
    best, arg = -np.inf, None
    for pol in deterministic_policies(game):
        v = ref_J(game, pol, L)
        if v > best:
            best, arg = v, pol
    assert arg is not None
    return best, arg


SMALL = [(2, 2, 2), (3, 2, 2), (2, 2, 3), (3, 2, 3)]  # (S, A, T)


# --------------------------------------------------------------------------- forward pass


@pytest.mark.parametrize("sparse", [None, "csr"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mean_field_matches_explicit_loops(seed: int, sparse: str | None) -> None:
    game = random_game(seed, 3, 2, 4, sparse=sparse)
    pol = random_policy(seed + 100, game)
    L = mean_field(game, pol)
    L_ref, _ = ref_forward(game, pol)
    assert L.shape == (4, 3, 2)
    np.testing.assert_allclose(L, L_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(L.sum(axis=(1, 2)), 1.0, rtol=0, atol=1e-12)
    assert (L >= 0).all()


def test_mean_field_matches_monte_carlo() -> None:
    """B independent populations of n particles, each period acting with the policy and
    moving with transition(t, L^n_t) at their own empirical L^n_t: L^n_t -> L_t at rate
    1/sqrt(n). The mean over the B populations is compared with L_t within 5 standard
    errors estimated from the spread between the populations, which includes the
    fluctuations carried over from earlier periods through transition(t, L^n_t) (up to 1.2x
    the one-period binomial error here). The O(1/n) bias of one population is not
    detectable with 2000 populations of 5000 (under 2 of their standard errors in every
    cell), so it is under 2 sqrt(40 / 2000) = 0.3 of this test's standard errors."""
    game = random_game(7, 3, 2, 3, terminal=False)
    pol = random_policy(8, game)
    S, A, T = 3, 2, 3
    B, n = 40, 5000
    rng = np.random.default_rng(9)
    pop = np.repeat(np.arange(B), n)  # the population of each particle
    states = rng.choice(S, size=B * n, p=game.initial_distribution)
    L = mean_field(game, pol)
    for t in range(T):
        cum_pi = np.cumsum(pol[t], axis=1)[states]
        actions = np.minimum((rng.random(B * n)[:, None] > cum_pi).sum(axis=1), A - 1)
        L_emp = np.zeros((B, S, A))
        np.add.at(L_emp, (pop, states, actions), 1.0 / n)
        dev = L_emp - L[t]
        se = dev.std(axis=0, ddof=1) / np.sqrt(B)
        assert (se > 0).all()
        # 5 standard errors (t with 39 degrees of freedom: ~1e-5 two-sided per cell)
        z = np.abs(dev.mean(axis=0)) / se
        assert z.max() <= 5.0, (t, z, L_emp.mean(axis=0), L[t])
        P = np.stack([dense_P(game, t, L_emp[b]) for b in range(B)])
        cum_P = np.cumsum(P[pop, states, actions], axis=1)
        states = np.minimum((rng.random(B * n)[:, None] > cum_P).sum(axis=1), S - 1)


def test_fixed_sparse_transitions_are_cached_safely() -> None:
    """A transition returned again as the same object is transposed and checked once (the
    results equal a fresh game's); ``check_outputs="always"`` caches nothing, so a matrix
    changed in place between passes is seen; copies (pickling for Dask) start clean."""
    import copy

    import cloudpickle

    base = random_game(5, 4, 3, 5, mf=False, sparse="csr")
    flat = np.full((4, 3), 1.0 / 12)  # mf=False: the transitions ignore the mean field
    fixed = [sp.csr_matrix(base.transition(t, flat)) for t in range(5)]
    mu0 = base.initial_distribution

    def make(check: str) -> FiniteMFG:
        return FiniteMFG(5, 4, 3, mu0, base.reward, lambda t, L: fixed[t], check_outputs=check)

    pol = random_policy(6, base)
    game = make("first")
    first = [mean_field(game, pol) for _ in range(3)]  # plain, then cached transposes
    for L in first[1:]:
        np.testing.assert_array_equal(L, first[0])
    np.testing.assert_allclose(first[0], mean_field(base, pol), rtol=1e-12, atol=1e-15)
    for clone in (copy.deepcopy(game), cloudpickle.loads(cloudpickle.dumps(game))):
        np.testing.assert_array_equal(mean_field(clone, pol), first[0])

    always = make("always")
    mean_field(always, pol)
    mean_field(always, pol)
    old = fixed[0].copy()
    fixed[0].indices[:] = 0  # every state moves to state 0 from now on (in place)
    try:
        L = mean_field(always, pol)
        assert L[1].sum(axis=1)[0] == pytest.approx(1.0)
    finally:
        fixed[0] = old


def test_transition_called_with_current_mean_field() -> None:
    """The forward pass evaluates transition(t, L_t) at the L_t it is building."""
    base = random_game(3, 3, 2, 3)
    seen: dict[int, np.ndarray] = {}

    def transition(t: int, L: np.ndarray) -> Any:
        seen[t] = np.array(L)
        return base.transition(t, L)

    game = FiniteMFG(3, 3, 2, base.initial_distribution, base.reward, transition)
    pol = random_policy(4, game)
    L = mean_field(game, pol)
    for t in range(3):
        np.testing.assert_array_equal(seen[t], L[t])


def test_callables_receive_read_only_mean_field() -> None:
    def reward(t: int, L: np.ndarray) -> np.ndarray:
        L[0, 0] = 99.0  # must not be able to corrupt the engine's arrays
        return np.zeros((2, 2))

    P = np.full((2, 2, 2), 0.5)
    game = FiniteMFG(2, 2, 2, [0.5, 0.5], reward, lambda t, L: P)
    with pytest.raises(ValueError, match="read-only"):
        exploitability(game, uniform_policy(game))


# --------------------------------------------------------------------------- backward pass


@pytest.mark.parametrize(("S", "A", "T"), SMALL)
@pytest.mark.parametrize("seed", [11, 12])
def test_best_response_matches_brute_force(S: int, A: int, T: int, seed: int) -> None:
    game = random_game(seed, S, A, T)
    L = mean_field(game, random_policy(seed + 1, game))
    best, _ = brute_force_best(game, L)
    br = best_response(game, L)
    assert isinstance(br, BestResponse)
    assert br.value == pytest.approx(best, rel=1e-12, abs=1e-12)
    # the policy returned is deterministic and attains the brute-force maximum
    assert br.policy.shape == (T, S, A)
    assert set(np.unique(br.policy)) <= {0.0, 1.0}
    np.testing.assert_array_equal(br.policy.sum(axis=-1), 1.0)
    assert ref_J(game, br.policy, L) == pytest.approx(best, rel=1e-12, abs=1e-12)
    _, V_ref = ref_values(game, None, L)
    assert br.values.shape == (T + 1, S)
    np.testing.assert_allclose(br.values, V_ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_policy_value_and_q_values_match_loops(seed: int) -> None:
    game = random_game(seed, 3, 3, 3)
    L = mean_field(game, random_policy(seed, game))
    pol = random_policy(seed + 1, game)
    assert policy_value(game, pol, L) == pytest.approx(ref_J(game, pol, L), rel=1e-12, abs=1e-12)
    Q_pi_ref, _ = ref_values(game, pol, L)
    np.testing.assert_allclose(q_values(game, L, pol), Q_pi_ref, rtol=1e-12, atol=1e-12)
    Q_star_ref, V_star_ref = ref_values(game, None, L)
    Q_star = q_values(game, L)
    np.testing.assert_allclose(Q_star, Q_star_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(Q_star.max(axis=-1), V_star_ref[:-1], rtol=1e-12, atol=1e-12)


def test_policy_value_of_the_frozen_field_not_the_policy_field() -> None:
    """J(pi, L) uses the frozen L for rewards and transitions, not the mean field of pi."""
    game = random_game(31, 2, 2, 2)
    pol = random_policy(1, game)
    L1 = mean_field(game, pol)
    L2 = mean_field(game, random_policy(2, game))
    v1, v2 = policy_value(game, pol, L1), policy_value(game, pol, L2)
    assert v1 == pytest.approx(ref_J(game, pol, L1), rel=1e-12)
    assert v2 == pytest.approx(ref_J(game, pol, L2), rel=1e-12)
    assert v1 != pytest.approx(v2, rel=1e-6)


def test_terminal_reward_on_final_distribution_by_hand() -> None:
    """Two cells, one move: s' = a. Reward 0, terminal payoff -mu_T(s) (crowd aversion)."""
    P = np.zeros((2, 2, 2))
    P[:, 0, 0] = 1.0
    P[:, 1, 1] = 1.0
    game = FiniteMFG(
        1,
        2,
        2,
        [0.25, 0.75],
        lambda t, L: np.zeros((2, 2)),
        lambda t, L: P,
        terminal_reward=lambda mu: -mu,
    )
    all_to_0 = np.zeros((1, 2, 2))
    all_to_0[..., 0] = 1.0
    L = mean_field(game, all_to_0)
    np.testing.assert_allclose(L[0], [[0.25, 0.0], [0.75, 0.0]])
    assert policy_value(game, all_to_0, L) == pytest.approx(-1.0)
    br = best_response(game, L)
    np.testing.assert_array_equal(br.policy[0, :, 1], 1.0)  # go to the empty cell
    assert br.value == pytest.approx(0.0)
    np.testing.assert_allclose(br.values[1], [-1.0, 0.0])
    assert exploitability(game, all_to_0) == pytest.approx(1.0)
    # a 40/60 split: payoffs -0.4 / -0.6, best is -0.4, average is -(0.4^2 + 0.6^2)
    split = np.broadcast_to([0.4, 0.6], (1, 2, 2)).copy()
    assert exploitability(game, split) == pytest.approx(-0.4 + (0.16 + 0.36))
    # the 50/50 split is the equilibrium
    assert exploitability(game, uniform_policy(game)) == pytest.approx(0.0, abs=1e-15)


def test_ties_go_to_lowest_action() -> None:
    S, A, T = 3, 4, 2
    r = np.zeros((S, A))
    r[:, 1:] = 1.0
    r[0, 3] = 1.0 + 1e-15  # near-tie (rounding level): still a tie
    r[1, 2] = 1.0 + 1e-9  # a real difference
    P = np.full((S, A, S), 1.0 / S)
    game = FiniteMFG(T, S, A, np.full(S, 1 / S), lambda t, L: r, lambda t, L: P)
    br = best_response(game, mean_field(game, uniform_policy(game)))
    np.testing.assert_array_equal(br.policy.argmax(axis=-1), [[1, 2, 1], [1, 2, 1]])


# --------------------------------------------------------------------------- exploitability


@pytest.mark.parametrize(("S", "A", "T"), SMALL)
@pytest.mark.parametrize("seed", [41, 42])
def test_exploitability_matches_brute_force(S: int, A: int, T: int, seed: int) -> None:
    game = random_game(seed, S, A, T)
    pol = random_policy(seed + 7, game)
    L, _ = ref_forward(game, pol)
    best, _ = brute_force_best(game, L)
    expected = best - ref_J(game, pol, L)
    assert expected > 1e-6  # a random policy in a random game is exploitable
    assert exploitability(game, pol) == pytest.approx(expected, rel=1e-10, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    S=st.integers(1, 4),
    A=st.integers(1, 3),
    T=st.integers(1, 4),
    sharp=st.booleans(),
)
def test_exploitability_is_non_negative(seed: int, S: int, A: int, T: int, sharp: bool) -> None:
    game = random_game(seed, S, A, T, terminal=seed % 2 == 0)
    pol = random_policy(seed, game)
    if sharp:  # near-deterministic policies, including the best response to their own field
        pol = best_response(game, mean_field(game, pol)).policy
    e = exploitability(game, pol)
    assert e >= 0.0
    if A == 1:
        assert e == pytest.approx(0.0, abs=1e-12)  # nothing to deviate to


@pytest.mark.parametrize("seed", [51, 52, 53])
def test_exploitability_zero_without_mean_field_dependence(seed: int) -> None:
    """Without mean-field dependence the game is an MDP: its optimal policy is an
    equilibrium (exploitability 0) and any other policy is exploitable."""
    game = random_game(seed, 4, 3, 3, mf=False)
    pol = random_policy(seed, game)
    assert exploitability(game, pol) > 1e-3
    br = best_response(game, mean_field(game, pol))
    assert exploitability(game, br.policy) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("fmt", ["csr", "csr_matrix", "coo"])
def test_dense_and_sparse_transitions_agree(fmt: str) -> None:
    dense = random_game(61, 4, 3, 3)
    sparse = random_game(61, 4, 3, 3, sparse=fmt)
    pol = random_policy(5, dense)
    L_d, L_s = mean_field(dense, pol), mean_field(sparse, pol)
    np.testing.assert_allclose(L_s, L_d, rtol=1e-13, atol=1e-15)
    br_d, br_s = best_response(dense, L_d), best_response(sparse, L_d)
    np.testing.assert_array_equal(br_s.policy, br_d.policy)
    np.testing.assert_allclose(br_s.values, br_d.values, rtol=1e-13, atol=1e-13)
    assert policy_value(sparse, pol, L_d) == pytest.approx(policy_value(dense, pol, L_d), 1e-13)
    np.testing.assert_allclose(q_values(sparse, L_d), q_values(dense, L_d), 1e-13, 1e-13)
    e_d, e_s = exploitability(dense, pol), exploitability(sparse, pol)
    assert e_d > 0
    assert e_s == pytest.approx(e_d, rel=1e-12, abs=1e-13)


def test_transitions_reused_within_cache_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """One exploitability evaluation calls transition(t, .) once per t when the transitions
    fit the cache, and recomputes the ones that do not fit, with identical results."""
    import market.mfg as mfg

    base = random_game(81, 3, 2, 4)
    calls: list[int] = []

    def transition(t: int, L: np.ndarray) -> Any:
        calls.append(t)
        return base.transition(t, L)

    game = FiniteMFG(
        4,
        3,
        2,
        base.initial_distribution,
        base.reward,
        transition,
        terminal_reward=base.terminal_reward,
    )
    pol = random_policy(1, game)
    e_cached = exploitability(game, pol)
    assert sorted(calls) == [0, 1, 2, 3]
    one = 3 * 2 * 3 * 8  # bytes of one dense (S, A, S) transition
    for budget, n_calls in [(0, 8), (2 * one, 6)]:
        calls.clear()
        monkeypatch.setattr(mfg, "_CACHE_BYTES", budget)
        assert exploitability(game, pol) == e_cached
        assert len(calls) == n_calls


def test_clip_gap_only_forgives_rounding() -> None:
    game = random_game(0, 2, 2, 2)
    assert _clip_gap(game, 1.0, 1.0 + 1e-15, 1.0) == 0.0
    assert _clip_gap(game, 1.5, 1.0, 1.0) == 0.5
    with pytest.raises(AssertionError, match="negative exploitability"):
        _clip_gap(game, 1.0, 1.0 + 1e-6, 1.0)


def test_policy_from_mean_field_regenerates_flow() -> None:
    game = random_game(71, 3, 2, 3, mf=False)
    pol = random_policy(1, game)
    pol[1, 0] = [1.0, 0.0]
    L = mean_field(game, pol)
    back = policy_from_mean_field(L)
    np.testing.assert_allclose(back, pol, rtol=1e-12)
    np.testing.assert_allclose(mean_field(game, back), L, rtol=1e-12, atol=1e-15)
    # unreached states take the fallback (uniform by default)
    L0 = L.copy()
    L0[2, 1] = 0.0
    L0[2] /= L0[2].sum()
    np.testing.assert_allclose(policy_from_mean_field(L0)[2, 1], [0.5, 0.5])
    fb = np.zeros_like(L0)
    fb[..., 1] = 1.0
    np.testing.assert_allclose(policy_from_mean_field(L0, fallback=fb)[2, 1], [0.0, 1.0])


@pytest.mark.parametrize(
    ("fallback", "match"),
    [
        # found by review: a fallback of 5s gave rows summing to 10, not a policy
        (np.full((1, 2, 2), 5.0), "fallback rows must sum to 1"),
        (np.tile([1.5, -0.5], (1, 2, 1)), "fallback has a negative probability"),
        (np.full((1, 2, 2), np.nan), "fallback has non-finite entries"),
        (np.full((1, 2, 3), 1 / 3), "fallback must have shape"),
        ("abc", "fallback is not numeric"),
    ],
)
def test_policy_from_mean_field_refuses_a_bad_fallback(fallback: Any, match: str) -> None:
    L = np.array([[[0.5, 0.5], [0.0, 0.0]]])  # state 1 unreached: its row is the fallback
    with pytest.raises(InvalidParameterError, match=match):
        policy_from_mean_field(L, fallback=fallback)


@pytest.mark.parametrize("L", ["abc", [[[0.5, None]]], np.zeros((2, 2))])
def test_policy_from_mean_field_refuses_a_bad_flow(L: Any) -> None:
    with pytest.raises(InvalidParameterError, match="L "):
        policy_from_mean_field(L)


# --------------------------------------------------------------------------- validation


def _ok_P(S: int = 2, A: int = 2) -> np.ndarray:
    return np.full((S, A, S), 1.0 / S)


def _make(**kw: Any) -> FiniteMFG:
    args: dict[str, Any] = {
        "horizon": 2,
        "n_states": 2,
        "n_actions": 2,
        "initial_distribution": [0.5, 0.5],
        "reward": lambda t, L: np.zeros((2, 2)),
        "transition": lambda t, L: _ok_P(),
    }
    args.update(kw)
    return FiniteMFG(**args)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"horizon": 0}, "horizon"),
        ({"horizon": 1.5}, "horizon"),
        ({"horizon": True}, "horizon"),
        ({"n_states": 0}, "n_states"),
        ({"n_actions": -1}, "n_actions"),
        ({"initial_distribution": [0.5, 0.4]}, "sum to 1"),
        ({"initial_distribution": [1.5, -0.5]}, "non-negative"),
        ({"initial_distribution": [1.0]}, "shape"),
        ({"initial_distribution": [np.nan, 1.0]}, "non-finite"),
        ({"initial_distribution": ["a", "b"]}, "not numeric"),
        ({"reward": 3}, "reward must be callable"),
        ({"transition": None}, "transition must be callable"),
        ({"terminal_reward": 1.0}, "terminal_reward"),
        ({"check_outputs": "never"}, "check_outputs"),
    ],
)
def test_constructor_validation(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match) as info:
        _make(**kw)
    assert "\n" not in str(info.value)


def _bad_rows() -> np.ndarray:
    P = _ok_P()
    P[1, 0] = [0.7, 0.7]
    return P


def _negative() -> np.ndarray:
    P = _ok_P()
    P[0, 1] = [1.5, -0.5]
    return P


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"reward": lambda t, L: np.zeros((2, 3))}, r"reward\(t=1, L\) must return shape"),
        ({"reward": lambda t, L: np.full((2, 2), np.inf)}, "non-finite"),
        ({"transition": lambda t, L: np.full((2, 2), 0.5)}, "shape"),
        ({"transition": lambda t, L: _bad_rows()}, r"row \(s=1, a=0\) sums to 1.4"),
        ({"transition": lambda t, L: _negative()}, "negative probability"),
        ({"transition": lambda t, L: np.full((2, 2, 2), np.nan)}, "non-finite"),
        ({"transition": lambda t, L: sp.csr_array(np.full((2, 2), 0.5))}, "sparse"),
        ({"transition": lambda t, L: sp.csr_array(_bad_rows().reshape(4, 2))}, "sum to 1"),
        ({"terminal_reward": lambda mu: np.zeros(3)}, "terminal_reward"),
        ({"terminal_reward": lambda mu: np.array([np.nan, 0.0])}, "terminal_reward"),
    ],
)
def test_output_validation(kw: dict[str, Any], match: str) -> None:
    game = _make(**kw)
    with pytest.raises(InvalidParameterError, match=match) as info:
        exploitability(game, uniform_policy(game))
    assert "\n" not in str(info.value)


def test_output_checks_first_call_or_always() -> None:
    """Transition contents are checked on the first call per t, or always on request."""
    calls = {"n": 0}

    def flaky(t: int, L: np.ndarray) -> np.ndarray:
        calls["n"] += 1
        return _ok_P() if calls["n"] <= 2 else _bad_rows()

    cheap = _make(transition=flaky)
    pol = uniform_policy(cheap)
    mean_field(cheap, pol)  # checks t = 0, 1 on valid outputs
    mean_field(cheap, pol)  # later outputs are only shape-checked
    calls["n"] = 0
    strict = _make(transition=flaky, check_outputs="always")
    mean_field(strict, pol)
    with pytest.raises(InvalidParameterError, match="sum to 1"):
        mean_field(strict, pol)


@pytest.mark.parametrize(
    ("policy", "match"),
    [
        (np.full((2, 2, 3), 1 / 3), "shape"),
        (np.full((2, 2, 2), 0.6), "sum to 1"),
        (np.tile([1.5, -0.5], (2, 2, 1)), "negative"),
        (np.full((2, 2, 2), np.nan), "non-finite"),
    ],
)
def test_policy_validation(policy: np.ndarray, match: str) -> None:
    game = _make()
    L = mean_field(game, uniform_policy(game))
    fns: list[Callable[[], Any]] = [
        lambda: mean_field(game, policy),
        lambda: exploitability(game, policy),
        lambda: policy_value(game, policy, L),
        lambda: q_values(game, L, policy),
    ]
    for fn in fns:
        with pytest.raises(InvalidParameterError, match=match):
            fn()


@pytest.mark.parametrize(
    ("L", "match"),
    [
        (np.full((1, 2, 2), 0.25), "shape"),
        (np.full((2, 2, 2), 0.3), "sum to 1"),
        (np.tile([[0.75, 0.5], [0.0, -0.25]], (2, 1, 1)), "non-negative"),
    ],
)
def test_mean_field_argument_validation(L: np.ndarray, match: str) -> None:
    game = _make()
    with pytest.raises(InvalidParameterError, match=match):
        best_response(game, L)
    with pytest.raises(InvalidParameterError, match=match):
        policy_value(game, uniform_policy(game), L)
    with pytest.raises(InvalidParameterError, match=match):
        q_values(game, L)


def test_game_attributes_and_repr() -> None:
    game = _make(name="demo", initial_distribution=(0.25, 0.75))
    assert (game.horizon, game.n_states, game.n_actions) == (2, 2, 2)
    assert game.shape == (2, 2, 2)
    np.testing.assert_array_equal(game.initial_distribution, [0.25, 0.75])
    assert not game.initial_distribution.flags.writeable
    assert "demo" in repr(game)
