"""Tests of the network heads of forecasting.nets: the map from the raw head outputs
``(a, b, c)`` to ``(mu, sigma, nu)``, checked against an independent numpy softplus."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from forecasting import nets

# raw head outputs, from far below zero (the bounds) to well inside softplus' exact range
RAW = np.array([-50.0, -10.0, -2.0, -0.5, 0.0, 0.3, 1.0, 3.0, 10.0])


def softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + e^x), independently of torch."""
    return np.log1p(np.exp(x))


def identity_head(n_params: int, fixed_location: bool = False) -> nets.DistributionMLP:
    """A float64 network whose raw head outputs are its inputs: head weights and biases 0,
    the skip path the identity."""
    torch.manual_seed(0)
    model = nets.DistributionMLP(n_params, (4,), n_params, fixed_location=fixed_location)
    model = model.double().eval()
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
        model.skip.weight.copy_(torch.eye(n_params, dtype=torch.float64))
    return model


def raw_grid(n_params: int) -> np.ndarray:
    """(len(RAW), n_params) raw outputs; column k cycles RAW with a different shift."""
    return np.stack([np.roll(RAW, 3 * k) for k in range(n_params)], axis=1)


@pytest.mark.parametrize("fixed_location", [False, True])
def test_student_t_head_maps_raw_outputs_by_softplus(fixed_location: bool) -> None:
    model = identity_head(3, fixed_location)
    raw = raw_grid(3)
    with torch.no_grad():
        mu, sigma, nu = (t.numpy() for t in model(torch.as_tensor(raw)))
    a, b, c = raw.T
    np.testing.assert_array_equal(mu, np.zeros_like(a) if fixed_location else a)
    np.testing.assert_allclose(sigma, softplus(b) + nets.SIGMA_EPS, rtol=1e-12, atol=0)
    np.testing.assert_allclose(nu, 2.0 + softplus(c) + nets.NU_EPS, rtol=1e-12, atol=0)
    # the bounds: sigma > 0 and nu > 2 (finite variance) however negative the raw output
    assert sigma.min() >= nets.SIGMA_EPS > 0
    assert nu.min() >= 2.0 + nets.NU_EPS > 2.0
    assert nu[c == -50.0][0] == pytest.approx(2.0 + nets.NU_EPS, abs=1e-15)
    assert sigma[b == -50.0][0] == pytest.approx(nets.SIGMA_EPS, abs=1e-15)
    # raw 0: softplus(0) = log 2
    assert sigma[b == 0.0][0] == pytest.approx(math.log(2.0) + nets.SIGMA_EPS, rel=1e-14)
    assert nu[c == 0.0][0] == pytest.approx(2.0 + math.log(2.0) + nets.NU_EPS, rel=1e-14)


def test_gaussian_head_maps_raw_outputs_by_softplus() -> None:
    model = identity_head(2)
    raw = raw_grid(2)
    with torch.no_grad():
        out = model(torch.as_tensor(raw))
    assert len(out) == 2
    mu, sigma = (t.numpy() for t in out)
    np.testing.assert_array_equal(mu, raw[:, 0])
    np.testing.assert_allclose(sigma, softplus(raw[:, 1]) + nets.SIGMA_EPS, rtol=1e-12, atol=0)
    assert sigma.min() >= nets.SIGMA_EPS > 0


@pytest.mark.parametrize("n_params", [2, 3])
def test_documented_initialisation_gives_unit_sigma_and_nu_init(n_params: int) -> None:
    """The head biases start at sigma = 1 and nu = 2 + NU_INIT: with the head weights
    zeroed (the skip path starts at zero), every input gives exactly those values."""
    torch.manual_seed(0)
    model = nets.DistributionMLP(5, (8, 8), n_params).double().eval()
    np.testing.assert_array_equal(model.skip.weight.detach().numpy(), 0.0)
    with torch.no_grad():
        model.head.weight.zero_()
        out = model(torch.randn(7, 5, dtype=torch.float64))
    np.testing.assert_array_equal(out[0].numpy(), 0.0)
    # the biases are float32 parameters: softplus⁻¹ holds to float32 precision
    np.testing.assert_allclose(out[1].numpy(), 1.0 + nets.SIGMA_EPS, rtol=1e-6)
    if n_params == 3:
        np.testing.assert_allclose(out[2].numpy(), 2.0 + nets.NU_INIT + nets.NU_EPS, rtol=1e-6)
