"""Seeded population sampling into a structure of arrays (one numpy array per parameter).

``sample_population(config, n_agents, seed=...)`` draws every agent's type and parameters
without creating a Python object per agent:

* **Types** are assigned by stratification: each type gets exactly ``floor(share * N)`` agents,
  the remaining ones go to the largest fractional parts (ties: earlier types), and the
  assignment (an int8 array) is shuffled in place with the seed. Any contiguous slice is
  thus a random sample, which is what sharding needs.
* **Parameters** of each type are drawn from that type's :class:`agents.config.Dist` with a
  random stream keyed by (seed, type name, parameter name): changing one type's configuration
  leaves the draws of the others unchanged (only the shuffled positions depend on the counts).
  The draws are written to the type's agents in agent order (i.i.d. draws in any fixed order
  are i.i.d.; a boolean-mask scatter is sequential, unlike a random gather).
  A kind's unused parameters hold their neutral value (``PARAMETERS[...].neutral``).
* **Storage**: float32 for every parameter (7 significant digits are far below the
  uncertainty of any of them) and int8 ``type_index``: 14 x 4 + 1 = 57 bytes per agent, so
  10^7 agents take 570 MB (544 MiB). Sampling works in float32; its peak extra memory is one
  boolean mask per type (1 byte per agent each) and one type's draws.

The arrays are read-only; ``Population.slice`` gives views for streaming or sharding.
"""

from __future__ import annotations

import math
import numbers
import zlib
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from agents.config import (
    _SHARE_TOL,
    KIND_PARAMETERS,
    PARAMETERS,
    AgentParams,
    Dist,
    PopulationConfig,
    TypeConfig,
    _settings,
)
from data.errors import InvalidParameterError
from data.seeds import check_seed

__all__ = ["PARAM_DTYPE", "Population", "sample_population", "stratified_counts"]

PARAM_DTYPE = np.float32
"""Storage dtype of every per-agent parameter."""

MAX_FRAME_ROWS = 1_000_000
"""``Population.to_frame`` refuses larger populations unless ``limit`` is raised."""


MAX_AGENTS = 1_000_000_000
"""Largest population ``sample_population`` draws (beyond 10^7, the largest measured in
``benchmarks/bench_clearing.py``, memory decides: the parameters take 57 bytes an agent,
measured on 10^6)."""


def stratified_counts(shares: np.ndarray | list[float], n: int) -> np.ndarray:
    """Exact integer counts summing to ``n`` closest to ``shares * n`` (largest remainder).

    shares: (T,) non-negative, summing to 1 (within 1e-9); n: an integer >= 0. Ties in the
    remainders go to earlier entries. Anything else is an ``InvalidParameterError``.
    """
    try:
        s = np.asarray(shares, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"shares must be numbers, got {shares!r}") from None
    if s.ndim != 1 or s.size == 0 or not np.all(np.isfinite(s)) or np.any(s < 0):
        raise InvalidParameterError(
            f"shares must be a non-empty 1-D array of finite numbers >= 0, got {shares!r}"
        )
    if abs(math.fsum(s) - 1.0) > _SHARE_TOL:
        raise InvalidParameterError(f"shares must sum to 1, got {math.fsum(s):.6g}")
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise InvalidParameterError(f"n must be an integer >= 0, got {n!r}")
    if n > 2**53:  # shares * n in float64: exact integers only up to 2^53
        raise InvalidParameterError(f"n must be at most 2**53, got {n!r}")
    n = int(n)
    s = s / s.sum()
    raw = s * n
    counts = np.floor(raw).astype(np.int64)
    left = int(n - counts.sum())
    if left > 0:
        order = np.argsort(-(raw - counts), kind="stable")
        counts[order[:left]] += 1
    return counts


def _stream(seed: int, *keys: str) -> np.random.Generator:
    """Random stream keyed by the seed and names (stable across processes and versions)."""
    spawn_key = tuple(zlib.crc32(k.encode()) for k in keys)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=spawn_key))


def _draw(dist: Dist, n: int, rng: np.random.Generator) -> np.ndarray:
    """n float32 draws of ``dist``."""
    if dist.family == "fixed" or dist.spread == 0.0 or n == 0:
        return np.full(n, dist.mean, dtype=PARAM_DTYPE)
    if dist.family == "uniform":
        out = rng.random(n, dtype=np.float32)
        out *= np.float32(2.0 * dist.spread)
        out += np.float32(dist.mean - dist.spread)
        return out
    mu, sigma = dist.lognormal_params()
    out = rng.standard_normal(n, dtype=np.float32)
    out *= np.float32(sigma)
    out += np.float32(mu)
    np.exp(out, out=out)
    return out


@dataclass(frozen=True, eq=False)
class Population:
    """N agents as a structure of arrays: ``type_index`` (int8, N) and one float32 array of
    length N per parameter of :data:`agents.config.PARAMETERS` (units there).

    ``type_names[type_index[i]]`` is agent i's type, ``kinds`` the types' kinds; ``config`` is
    the configuration sampled from and ``seed`` the seed used (the generated one when sampling
    with ``seed=None``, so every population can be reproduced).
    """

    type_names: tuple[str, ...]
    kinds: tuple[str, ...]
    type_index: np.ndarray
    load_kwh_per_day: np.ndarray
    pv_kwp: np.ndarray
    battery_kwh: np.ndarray
    battery_kw: np.ndarray
    eta_charge: np.ndarray
    eta_discharge: np.ndarray
    soc_initial: np.ndarray
    degradation_eur_per_kwh: np.ndarray
    ev_need_kwh: np.ndarray
    ev_max_kw: np.ndarray
    ev_deadline_hour: np.ndarray
    flex_cost_eur_per_kwh2: np.ndarray
    gamma: np.ndarray
    alpha: np.ndarray
    config: PopulationConfig
    seed: int
    offset: int = 0

    # -- size ---------------------------------------------------------------------------
    @property
    def n_agents(self) -> int:
        return int(self.type_index.shape[0])

    def __len__(self) -> int:
        return self.n_agents

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(PARAMETERS)

    def param(self, name: str) -> np.ndarray:
        """The (N,) array of parameter ``name``."""
        if name not in PARAMETERS:
            raise InvalidParameterError(f"unknown agent parameter {name!r}")
        return getattr(self, name)

    def arrays(self) -> dict[str, np.ndarray]:
        """Every per-agent array by name (``type_index`` first)."""
        return {"type_index": self.type_index, **{p: self.param(p) for p in PARAMETERS}}

    @property
    def nbytes(self) -> int:
        """Bytes held by the per-agent arrays."""
        return int(sum(a.nbytes for a in self.arrays().values()))

    @property
    def bytes_per_agent(self) -> float:
        return self.nbytes / max(self.n_agents, 1)

    # -- types --------------------------------------------------------------------------
    def type_code(self, name: str) -> int:
        """Index of type ``name`` in ``type_names``."""
        try:
            return self.type_names.index(name)
        except ValueError:
            raise InvalidParameterError(
                f"no type {name!r} (types: {', '.join(self.type_names)})"
            ) from None

    def type_counts(self) -> dict[str, int]:
        """Number of agents of each type, by name (every type listed, zeros included)."""
        counts = np.bincount(self.type_index, minlength=len(self.type_names))
        return {name: int(c) for name, c in zip(self.type_names, counts, strict=True)}

    def mask(self, name: str) -> np.ndarray:
        """(N,) bool: agents of type ``name``."""
        return self.type_index == self.type_code(name)

    # -- views and summaries ------------------------------------------------------------
    def slice(self, start: int, stop: int) -> Population:
        """Agents ``start:stop`` as a view (no copy); ``offset`` records where they start.
        ``0 <= start <= stop`` (integers) with ``start <= n_agents``; a ``stop`` beyond the
        last agent ends at it (the last shard of a population)."""
        n = self.n_agents
        for name, v in (("start", start), ("stop", stop)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
                raise InvalidParameterError(f"slice {name} must be an integer >= 0, got {v!r}")
        if not start <= stop or start > n:
            raise InvalidParameterError(
                f"slice {start}:{stop} is not a range of the {n} agents (0 <= start <= stop, "
                f"start <= {n})"
            )
        start, stop = int(start), min(int(stop), n)
        arrays = {k: v[start:stop] for k, v in self.arrays().items()}
        return Population(
            type_names=self.type_names,
            kinds=self.kinds,
            config=self.config,
            seed=self.seed,
            offset=self.offset + start,
            **arrays,
        )

    def agent(self, i: int) -> AgentParams:
        """Agent ``i``'s parameters and its type's settings (float64)."""
        if isinstance(i, bool) or not isinstance(i, numbers.Integral):
            raise InvalidParameterError(f"agent index must be an integer, got {i!r}")
        if not -self.n_agents <= int(i) < self.n_agents:
            raise InvalidParameterError(f"agent index {i} out of range for {self.n_agents} agents")
        code = int(self.type_index[i])
        values = {p: float(self.param(p)[i]) for p in PARAMETERS}
        return self._params(code, values)

    def representative(
        self,
        name: str,
        *,
        mask: np.ndarray | None = None,
        index: np.ndarray | None = None,
        stat: str = "mean",
    ) -> AgentParams:
        """A representative agent of type ``name``: the ``stat`` (``"mean"`` or ``"median"``)
        of each parameter over the type's agents (restricted to ``mask`` (N,) bool, or to the
        sorted positions ``index`` of agents of that type, when given, e.g. a parameter
        bin). Float64 accumulation."""
        code = self.type_code(name)
        if index is not None:
            if mask is not None:
                raise InvalidParameterError("give mask or index, not both")
            idx = np.asarray(index)
            if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
                raise InvalidParameterError("index must be a 1-D array of agent positions")
            if idx.size and (idx[0] < 0 or idx[-1] >= self.n_agents or np.any(np.diff(idx) <= 0)):
                raise InvalidParameterError(
                    f"index must be sorted distinct positions in 0..{self.n_agents - 1}"
                )
            if (self.type_index[idx] != code).any():
                raise InvalidParameterError(f"index holds agents that are not of type {name!r}")
        else:
            sel = self.type_index == code
            if mask is not None:
                mask = np.asarray(mask, dtype=bool)
                if mask.shape != sel.shape:
                    raise InvalidParameterError(
                        f"mask must have shape {sel.shape}, got {mask.shape}"
                    )
                sel &= mask
            idx = np.flatnonzero(sel)
        if not idx.size:
            raise InvalidParameterError(f"no agent of type {name!r} in the selection")
        if stat not in ("mean", "median"):
            raise InvalidParameterError(f"stat must be 'mean' or 'median', got {stat!r}")
        tc = self.config.types[code]
        values = {}
        for p, spec in PARAMETERS.items():
            if p not in KIND_PARAMETERS[tc.kind] or tc.params[p].spread == 0.0:
                values[p] = spec.neutral  # ``_params`` sets these without looking at agents
                continue
            col = self.param(p)[idx]
            values[p] = float(
                col.mean(dtype=np.float64) if stat == "mean" else np.median(col.astype(np.float64))
            )
        return self._params(code, values)

    def _params(self, code: int, values: dict[str, float]) -> AgentParams:
        tc = self.config.types[code]
        for p, spec in PARAMETERS.items():  # float32 rounding can step outside a closed range
            values[p] = min(max(values[p], spec.low), spec.high)
            if p not in KIND_PARAMETERS[tc.kind]:
                values[p] = spec.neutral
            elif tc.params[p].spread == 0.0:  # a point mass: its exact value, not float32's
                values[p] = tc.params[p].mean
        params: dict[str, Any] = values  # PARAMETERS keys: all floats
        return AgentParams(kind=tc.kind, name=tc.name, **params, **_settings(tc))

    def to_frame(self, *, limit: int | None = MAX_FRAME_ROWS) -> pd.DataFrame:
        """One row per agent: ``type`` (categorical), ``kind`` and every parameter.

        Meant for small populations: raises ``InvalidParameterError`` above ``limit`` rows
        (``None``: no limit). The index is the agent number (``offset`` based).
        """
        if limit is not None and self.n_agents > limit:
            raise InvalidParameterError(
                f"to_frame is for small populations: {self.n_agents} agents > limit {limit}"
            )
        codes = self.type_index.astype(np.int16)
        kind_names = list(dict.fromkeys(self.kinds))
        kind_of_type = np.array([kind_names.index(k) for k in self.kinds], dtype=np.int16)
        frame = pd.DataFrame(
            {
                "type": pd.Categorical.from_codes(codes, categories=list(self.type_names)),
                "kind": pd.Categorical.from_codes(kind_of_type[codes], categories=kind_names),
                **{p: self.param(p) for p in PARAMETERS},
            },
            index=pd.RangeIndex(self.offset, self.offset + self.n_agents, name="agent"),
        )
        return frame

    def summary(self) -> pd.DataFrame:
        """Per type: ``count``, ``share`` and the mean of every parameter the kind uses
        (NaN for the others). Float64 accumulation, O(N)."""
        rows = []
        counts = self.type_counts()
        for code, (name, kind) in enumerate(zip(self.type_names, self.kinds, strict=True)):
            sel = self.type_index == code
            row: dict[str, Any] = {"type": name, "kind": kind, "count": counts[name]}
            row["share"] = counts[name] / max(self.n_agents, 1)
            for p in PARAMETERS:
                used = p in KIND_PARAMETERS[kind] and counts[name] > 0
                row[p] = float(self.param(p)[sel].mean(dtype=np.float64)) if used else np.nan
            rows.append(row)
        return pd.DataFrame(rows).set_index("type")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description (not the arrays): size, seed, counts, bytes, config."""
        return {
            "n_agents": self.n_agents,
            "seed": self.seed,
            "offset": self.offset,
            "type_counts": self.type_counts(),
            "nbytes": self.nbytes,
            "config": self.config.to_dict(),
        }


def sample_population(
    config: PopulationConfig | None, n_agents: int, *, seed: int | None
) -> Population:
    """Sample ``n_agents`` agents of ``config`` (default config when None), seeded.

    Returns a read-only :class:`Population` (57 bytes per agent). Same config, N and seed give
    bit-identical arrays. ``seed=None`` draws fresh entropy and records it in ``.seed``.
    """
    if config is None:
        config = PopulationConfig()
    if not isinstance(config, PopulationConfig):
        raise InvalidParameterError(
            f"config must be a PopulationConfig, got {type(config).__name__}"
        )
    if isinstance(n_agents, bool) or not isinstance(n_agents, numbers.Integral) or n_agents < 1:
        raise InvalidParameterError(f"n_agents must be an integer >= 1, got {n_agents!r}")
    if n_agents > MAX_AGENTS:  # 10^13 agents asked numpy for 570 TB (MemoryError)
        raise InvalidParameterError(
            f"n_agents must be at most {MAX_AGENTS:,} ({MAX_AGENTS * 57 / 1e9:g} GB of "
            f"parameters), got {n_agents:,}"
        )
    n = int(n_agents)
    if seed is None:
        seed_value = int(np.random.SeedSequence().entropy)  # type: ignore[arg-type]
    else:
        seed_value = check_seed(seed)

    types: tuple[TypeConfig, ...] = config.types
    counts = stratified_counts([t.share for t in types], n)
    type_index = np.repeat(np.arange(len(types), dtype=np.int8), counts)
    _stream(seed_value, "assignment").shuffle(type_index)
    masks = [type_index == code for code in range(len(types))]  # 1 byte per agent each

    arrays: dict[str, np.ndarray] = {}
    for pname, spec in PARAMETERS.items():
        values = np.full(n, spec.neutral, dtype=PARAM_DTYPE)
        for code, t in enumerate(types):
            if pname in t.params:
                # i.i.d. draws written in agent order: any order of i.i.d. draws is i.i.d.
                draws = _draw(
                    t.params[pname], int(counts[code]), _stream(seed_value, t.name, pname)
                )
                values[masks[code]] = draws
        # float32 rounding may step just outside a closed range (e.g. eta 1.0000001)
        lo_v = np.float32(spec.low) if math.isfinite(spec.low) else None
        hi_v = np.float32(spec.high) if math.isfinite(spec.high) else None
        if lo_v is not None or hi_v is not None:
            np.clip(values, lo_v, hi_v, out=values)
        arrays[pname] = values
    del masks
    for a in (type_index, *arrays.values()):
        a.flags.writeable = False
    names = {f.name for f in fields(Population)}
    assert set(arrays) <= names
    return Population(
        type_names=config.type_names,
        kinds=tuple(t.kind for t in types),
        type_index=type_index,
        config=config,
        seed=seed_value,
        **arrays,
    )
