"""Torch parts of the neural forecasters: MLP body, Student-t / Gaussian heads, the
negative log-likelihoods and a seeded, early-stopped training loop (CPU).

Imported lazily by ``forecasting.models`` so that ``import forecasting`` stays light.

Network: ``hidden`` layers of Linear → GELU (→ Dropout), then a linear head, plus a linear
skip path from the (standardised) inputs to the head outputs, initialised at zero. The skip
lets the location follow a near-linear input such as the TSO's forecast exactly while the
MLP learns the corrections (on ES load 2017 it cut the CRPS by ~3 %).

Heads (outputs of the last linear layer ``a, b, c`` per interval, standardised units):

* Student-t: ``mu = a``, ``sigma = softplus(b) + SIGMA_EPS``,
  ``nu = 2 + softplus(c) + NU_EPS`` (so ``nu > 2`` strictly: finite variance).
* Gaussian: ``mu = a``, ``sigma = softplus(b) + SIGMA_EPS``.

The head biases start at ``sigma = 1`` and ``nu = 2 + NU_INIT`` (the target is
standardised, so a unit scale is the right order of magnitude).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

SIGMA_EPS = 1e-4
NU_EPS = 1e-2
NU_INIT = 8.0

_LOG_PI = math.log(math.pi)
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def student_t_nll(
    y: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor, nu: torch.Tensor
) -> torch.Tensor:
    """Elementwise −log p(y) of the location-scale Student-t(mu, sigma, nu):
    ``−lgamma((ν+1)/2) + lgamma(ν/2) + ½log(νπ) + log σ + (ν+1)/2 · log1p(z²/ν)``,
    ``z = (y − μ)/σ``. Same shape as the broadcast inputs."""
    z = (y - mu) / sigma
    return (
        torch.lgamma(nu / 2)
        - torch.lgamma((nu + 1) / 2)
        + 0.5 * (torch.log(nu) + _LOG_PI)
        + torch.log(sigma)
        + 0.5 * (nu + 1) * torch.log1p(z * z / nu)
    )


def gaussian_nll(y: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Elementwise −log p(y) of the normal N(mu, sigma²)."""
    z = (y - mu) / sigma
    return _HALF_LOG_2PI + torch.log(sigma) + 0.5 * z * z


class DistributionMLP(nn.Module):
    """MLP body (Linear → GELU → Dropout, per hidden layer), a linear head and a linear
    input → head skip path, with ``n_params`` outputs: 3 (Student-t: μ, σ, ν) or 2
    (Gaussian: μ, σ). ``fixed_location``: μ is 0 whatever the input (only the spread is
    learnt; the location output of the head is ignored)."""

    def __init__(
        self,
        n_in: int,
        hidden: Sequence[int],
        n_params: int,
        dropout: float = 0.0,
        fixed_location: bool = False,
    ) -> None:
        super().__init__()
        self.fixed_location = bool(fixed_location)
        layers: list[nn.Module] = []
        width = n_in
        for h in hidden:
            layers += [nn.Linear(width, int(h)), nn.GELU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = int(h)
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, n_params)
        self.skip = nn.Linear(n_in, n_params, bias=False)  # linear path input → head
        self.n_params = n_params
        with torch.no_grad():
            self.skip.weight.zero_()
            self.head.bias.zero_()
            self.head.bias[1] = math.log(math.expm1(1.0))  # softplus⁻¹(1): σ = 1
            if n_params == 3:
                self.head.bias[2] = math.log(math.expm1(NU_INIT))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(batch, n_in) → tuple of (batch,) tensors: (μ, σ, ν) or (μ, σ)."""
        out = self.head(self.body(x)) + self.skip(x)
        mu = torch.zeros_like(out[:, 0]) if self.fixed_location else out[:, 0]
        sigma = F.softplus(out[:, 1]) + SIGMA_EPS
        if self.n_params == 2:
            return mu, sigma
        nu = 2.0 + F.softplus(out[:, 2]) + NU_EPS
        return mu, sigma, nu

    def nll(self, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        """Mean negative log-likelihood of the (batch,) targets ``y`` (weighted by the
        (batch,) weights ``w`` if given: ``mean(w · nll)``)."""
        params = self(x)
        nll = gaussian_nll(y, *params) if self.n_params == 2 else student_t_nll(y, *params)
        return nll.mean() if w is None else (w * nll).mean()


@dataclass
class TrainResult:
    """Trained model (best validation weights restored) and per-epoch mean NLLs in
    standardised units."""

    model: DistributionMLP
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0


def train(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray | None,
    y_val: np.ndarray | None,
    *,
    n_params: int,
    hidden: Sequence[int],
    dropout: float,
    lr: float,
    weight_decay: float,
    max_epochs: int,
    patience: int,
    batch_size: int,
    seed: int,
    init_state: dict[str, torch.Tensor] | None = None,
    fixed_location: bool = False,
    w_train: np.ndarray | None = None,
) -> TrainResult:
    """Adam on shuffled mini-batches, early stopping on the validation NLL with
    ``patience`` epochs and the best weights restored (no validation: all ``max_epochs``,
    last weights). ``init_state``: start from these weights (a warm start) instead of a
    seeded initialisation; with validation data the starting weights count as epoch −1,
    so a warm start returns them (``best_epoch = -1``) unless an epoch is better.
    ``fixed_location``: see ``DistributionMLP``. ``w_train``: (n_train,) weights of the
    training rows in the loss (e.g. recency weights, mean 1; the validation NLL is
    unweighted). Seeded without touching torch's global
    RNG state."""
    xt = torch.as_tensor(x_train, dtype=torch.float32)
    yt = torch.as_tensor(y_train, dtype=torch.float32)
    wt = None if w_train is None else torch.as_tensor(w_train, dtype=torch.float32)
    xv = None if x_val is None else torch.as_tensor(x_val, dtype=torch.float32)
    yv = None if y_val is None else torch.as_tensor(y_val, dtype=torch.float32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DistributionMLP(xt.shape[1], hidden, n_params, dropout, fixed_location)
        if init_state is not None:
            model.load_state_dict(init_state)
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        gen = torch.Generator().manual_seed(seed)
        result = TrainResult(model)
        best, best_state, waited = math.inf, None, 0
        if init_state is not None and xv is not None:
            # a warm start keeps its starting weights unless an epoch beats them on the
            # validation days (otherwise many short refits drift towards overfitting)
            model.eval()
            with torch.no_grad():
                best = float(model.nll(xv, cast(torch.Tensor, yv)))  # y_val comes with x_val
            best_state, result.best_epoch = copy.deepcopy(model.state_dict()), -1
        n = len(yt)
        for epoch in range(max_epochs):
            model.train()
            perm = torch.randperm(n, generator=gen)
            total = 0.0
            for i in range(0, n, batch_size):
                idx = perm[i : i + batch_size]
                loss = model.nll(xt[idx], yt[idx], None if wt is None else wt[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            result.train_loss.append(total / n)
            if xv is None:
                result.best_epoch = epoch
                continue
            model.eval()
            with torch.no_grad():
                val = float(model.nll(xv, cast(torch.Tensor, yv)))  # y_val comes with x_val
            result.val_loss.append(val)
            if val < best:
                best, waited, result.best_epoch = val, 0, epoch
                best_state = copy.deepcopy(model.state_dict())
            else:
                waited += 1
                if waited >= patience:
                    break
        if best_state is not None:
            model.load_state_dict(best_state)
    model.eval()
    return result


def predict_params(model: DistributionMLP, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """(n, n_in) features → float64 arrays (μ, σ, ν) or (μ, σ), standardised units."""
    model.eval()
    with torch.no_grad():
        out = model(torch.as_tensor(x, dtype=torch.float32))
    return tuple(t.numpy().astype(np.float64) for t in out)
