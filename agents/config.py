"""Typed configuration of a prosumer population: agent kinds, parameter distributions, tariff.

Kinds (DESIGN.md section 3)
---------------------------
``consumer``    household load with demand response (adjust consumption at quadratic cost)
``pv``          household load and rooftop PV, no storage (no decision)
``pv_storage``  load, PV and a battery (energy, power, efficiencies, degradation cost)
``ev``          household load and an electric vehicle needing energy by a deadline

A population has one or more *types*, each of a kind, with a population share (shares sum to
1) and a distribution for every parameter of its kind. Parameters (physical units; the kinds
that use them; a kind's unused parameters are stored with a neutral value, see
:data:`PARAMETERS`):

=========================== ========== ==========================================================
name                        unit       meaning (kinds)
=========================== ========== ==========================================================
load_kwh_per_day            kWh        household consumption of the market day (all)
pv_kwp                      kWp        rooftop PV peak power (pv, pv_storage)
battery_kwh                 kWh        usable battery energy E (pv_storage)
battery_kw                  kW         battery power limit P, charge and discharge (pv_storage)
eta_charge                  1          charging efficiency in (0, 1] (pv_storage, ev)
eta_discharge               1          discharging efficiency in (0, 1] (pv_storage)
soc_initial                 1          state of charge at the start of the day, fraction of E
degradation_eur_per_kwh     EUR/kWh    battery wear per kWh of throughput, charge + discharge
ev_need_kwh                 kWh        energy the EV battery needs by the deadline (ev)
ev_max_kw                   kW         EV charger power limit (ev); levels are fractions of it
ev_deadline_hour            h          local clock hour by which the EV must be charged (ev)
flex_cost_eur_per_kwh2      EUR/kWh²   quadratic disutility of demand response (consumer), per
                                       hour: flex·r²/Δt for r kWh in an interval of Δt h
gamma                       1          risk weight in [0, 1]: (1-γ)·E + γ·CVaR_α (all)
alpha                       1          CVaR tail mass in (0, 1] (all)
=========================== ========== ==========================================================

Distributions (:class:`Dist`): ``fixed`` (the mean, spread 0), ``uniform`` (mean ± spread,
spread = half-width in the parameter's unit) and ``lognormal`` (given mean, spread = coefficient
of variation sd/mean). Validation checks that the distribution's whole support lies in the
parameter's range (so a lognormal efficiency is rejected: it is unbounded above).

Defaults (illustrative, a Spanish/central-European household; documented in
:data:`DEFAULT_PARAMS`): load 9 kWh/day (lognormal, cv 0.35); PV 4 kWp (pv) or 5 kWp
(pv_storage), cv 0.3; battery 10 kWh (cv 0.3) at 5 ± 1 kW, efficiencies 0.95 ± 0.02, start
at half charge, degradation 0.03 ± 0.01 EUR/kWh; EV need 12 kWh (cv 0.4), charger
7.4 ± 3.7 kW at levels (0, 0.5, 1) of it, deadline 06:00-09:00, charging efficiency
0.92 ± 0.03; flexibility cost 0.5 EUR/kWh² (cv 0.5); γ uniform on [0, 0.6]; α = 0.1.
Shares: consumer 0.5, pv 0.2, pv_storage 0.15, ev 0.15. Tariff: retail adder 60 EUR/MWh,
export discount 15 EUR/MWh; idiosyncratic noise 0.15 (relative, per interval).

Everything is frozen; ``to_dict``/``from_dict`` round-trip through JSON-able dicts (for storing a
run's configuration); bad values raise ``InvalidParameterError`` with a one-line message.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from data.checks import check_real
from data.errors import InvalidParameterError

__all__ = [
    "DEFAULT_PARAMS",
    "DEFAULT_SHARES",
    "KINDS",
    "KIND_PARAMETERS",
    "MAX_DR_LEVELS",
    "MAX_EV_UNMET_PENALTY",
    "MAX_NOISE",
    "MAX_TARIFF_EUR_PER_MWH",
    "PARAMETERS",
    "AgentParams",
    "Dist",
    "ParamSpec",
    "PopulationConfig",
    "TypeConfig",
]

KINDS: tuple[str, ...] = ("consumer", "pv", "pv_storage", "ev")
"""The agent kinds, in their canonical order."""

FAMILIES: tuple[str, ...] = ("fixed", "uniform", "lognormal")
"""Distribution families of :class:`Dist`."""

_SHARE_TOL = 1e-9

MAX_DR_LEVELS = 4001
"""Most demand-response levels of a consumer type: as many as the largest state grid the
agents' DP accepts (``agents.bidding._MAX_STATES``, the EV grid). Nothing documents a finer
bound; the default is 5."""

MAX_NOISE = 2.0
"""Largest idiosyncratic noise (sd of the log factor): at 2 the median factor is already
e^-2 = 0.14 and its sd 7.3 times its mean; far beyond, float32 factors underflow to zero
demand (at 40 every agent's profile was zero)."""

MAX_TARIFF_EUR_PER_MWH = 10_000.0
"""Largest retail adder or export discount (EUR/MWh), twice the width of the harmonised
day-ahead price range (-500 .. 4000); far beyond, the numerics break (1e308 overflowed)."""

MAX_EV_UNMET_PENALTY = 1_000.0
"""Largest EV unmet-energy penalty (EUR/kWh): a hundred times a value of lost load of
10 EUR/kWh; far beyond, the numerics break (1e308 overflowed)."""


@dataclass(frozen=True)
class ParamSpec:
    """One agent parameter: unit, allowed range and the neutral value for kinds not using it.

    The range is ``[low, high]`` with ``low_open``/``high_open`` making an end open.
    ``plausible_mean``: the largest mean a type of *small* prosumers may have (a config
    beyond it is a typo or another kind of market; the range itself may be unbounded).
    """

    name: str
    unit: str
    low: float
    high: float
    low_open: bool = False
    high_open: bool = False
    neutral: float = 0.0
    doc: str = ""
    plausible_mean: float = math.inf

    def contains(self, value: float) -> bool:
        """True when ``value`` lies in the allowed range."""
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return bool(above and below)

    def range_text(self) -> str:
        lo = "(" if self.low_open else "["
        hi = ")" if self.high_open else "]"
        return f"{lo}{self.low:g}, {self.high:g}{hi}"

    @property
    def unit_suffix(self) -> str:
        """`` kWh`` etc. after a value; nothing for a dimensionless parameter (unit ``1``)."""
        return "" if self.unit in ("", "1") else f" {self.unit}"


_INF = math.inf
#: Largest mean of a type of small prosumers (kWh/day, kWp, kWh, kW, EUR/kWh, kWh, kW).
_PLAUSIBLE_MEAN = {
    "load_kwh_per_day": 1e3,
    "pv_kwp": 1e3,
    "battery_kwh": 1e4,
    "battery_kw": 1e4,
    "degradation_eur_per_kwh": 10.0,
    "flex_cost_eur_per_kwh2": 100.0,
    "ev_need_kwh": 1e3,
    "ev_max_kw": 1e3,
}
PARAMETERS: Mapping[str, ParamSpec] = MappingProxyType(
    {
        p.name: dataclasses.replace(p, plausible_mean=_PLAUSIBLE_MEAN.get(p.name, _INF))
        for p in (
            ParamSpec("load_kwh_per_day", "kWh", 0.0, _INF, high_open=True, doc="daily load"),
            ParamSpec("pv_kwp", "kWp", 0.0, _INF, high_open=True, doc="PV peak power"),
            ParamSpec("battery_kwh", "kWh", 0.0, _INF, high_open=True, doc="battery energy"),
            ParamSpec("battery_kw", "kW", 0.0, _INF, high_open=True, doc="battery power"),
            ParamSpec("eta_charge", "1", 0.0, 1.0, low_open=True, neutral=1.0, doc="charge eff."),
            ParamSpec(
                "eta_discharge", "1", 0.0, 1.0, low_open=True, neutral=1.0, doc="discharge eff."
            ),
            ParamSpec("soc_initial", "1", 0.0, 1.0, doc="initial state of charge, fraction"),
            ParamSpec("degradation_eur_per_kwh", "EUR/kWh", 0.0, _INF, high_open=True, doc="wear"),
            ParamSpec("ev_need_kwh", "kWh", 0.0, _INF, high_open=True, doc="EV energy need"),
            ParamSpec("ev_max_kw", "kW", 0.0, _INF, high_open=True, doc="EV charger power"),
            ParamSpec(
                "ev_deadline_hour", "h", 0.0, 24.0, low_open=True, neutral=24.0, doc="deadline"
            ),
            ParamSpec(
                "flex_cost_eur_per_kwh2", "EUR/kWh2", 0.0, _INF, high_open=True, doc="DR cost"
            ),
            ParamSpec("gamma", "1", 0.0, 1.0, doc="risk weight"),
            ParamSpec("alpha", "1", 0.0, 1.0, low_open=True, neutral=1.0, doc="CVaR tail mass"),
        )
    }
)
"""Every per-agent parameter, in storage order."""

_COMMON = ("load_kwh_per_day", "gamma", "alpha")
KIND_PARAMETERS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "consumer": (*_COMMON, "flex_cost_eur_per_kwh2"),
        "pv": (*_COMMON, "pv_kwp"),
        "pv_storage": (
            *_COMMON,
            "pv_kwp",
            "battery_kwh",
            "battery_kw",
            "eta_charge",
            "eta_discharge",
            "soc_initial",
            "degradation_eur_per_kwh",
        ),
        "ev": (*_COMMON, "ev_need_kwh", "ev_max_kw", "ev_deadline_hour", "eta_charge"),
    }
)
"""The parameters each kind uses (the others are stored at their neutral value)."""


def _check_keys(data: Mapping[str, Any], allowed: set[str], what: str) -> None:
    if not isinstance(data, Mapping):
        raise InvalidParameterError(f"{what} must be a mapping, got {type(data).__name__}")
    unknown = sorted(set(map(str, data)) - allowed)
    if unknown:
        raise InvalidParameterError(
            f"{what}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})"
        )


# --------------------------------------------------------------------------------------------
# distributions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dist:
    """A parametric distribution given by its ``mean`` and ``spread``.

    ``family``: ``"fixed"`` (always ``mean``; spread must be 0), ``"uniform"`` (on
    ``[mean - spread, mean + spread]``: spread is the half-width, in the parameter's unit) or
    ``"lognormal"`` (mean ``mean`` > 0, coefficient of variation ``spread`` = sd/mean; spread 0
    is the point mass). Shorthands: :meth:`fixed`, :meth:`uniform`, :meth:`lognormal`.
    """

    family: str = "fixed"
    mean: float = 0.0
    spread: float = 0.0

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise InvalidParameterError(
                f"distribution family must be one of {', '.join(FAMILIES)}, got {self.family!r}"
            )
        mean = check_real(self.mean, f"{self.family} mean")
        spread = check_real(self.spread, f"{self.family} spread")
        if spread < 0:
            raise InvalidParameterError(f"{self.family} spread must be >= 0, got {spread:g}")
        if self.family == "fixed" and spread != 0:
            raise InvalidParameterError(f"a fixed distribution has spread 0, got {spread:g}")
        if self.family == "lognormal" and mean <= 0:
            raise InvalidParameterError(f"a lognormal mean must be > 0, got {mean:g}")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "spread", spread)

    @classmethod
    def fixed(cls, value: float) -> Dist:
        return cls("fixed", value, 0.0)

    @classmethod
    def uniform(cls, mean: float, half_width: float) -> Dist:
        return cls("uniform", mean, half_width)

    @classmethod
    def lognormal(cls, mean: float, cv: float) -> Dist:
        return cls("lognormal", mean, cv)

    @property
    def std(self) -> float:
        """Standard deviation, in the parameter's unit."""
        if self.family == "uniform":
            return self.spread / math.sqrt(3.0)
        if self.family == "lognormal":
            return self.spread * self.mean
        return 0.0

    @property
    def support(self) -> tuple[float, float]:
        """(lowest, highest) value the distribution can take (lognormal: (0, inf))."""
        if self.family == "uniform":
            return self.mean - self.spread, self.mean + self.spread
        if self.family == "lognormal" and self.spread > 0:
            return 0.0, math.inf
        return self.mean, self.mean

    def lognormal_params(self) -> tuple[float, float]:
        """(mu, sigma) of log X for the lognormal family."""
        sigma2 = math.log1p(self.spread**2)
        return math.log(self.mean) - 0.5 * sigma2, math.sqrt(sigma2)

    def check_for(self, spec: ParamSpec, where: str) -> None:
        """Raise unless the whole support lies in the parameter's range."""
        lo, hi = self.support
        # lognormal support (0, inf) is open at 0: fine for ranges starting at 0
        lo_ok = spec.contains(lo) or (self.family == "lognormal" and lo == 0 and spec.low <= 0)
        hi_ok = spec.contains(hi) or (hi == math.inf and spec.high == math.inf)
        if not (lo_ok and hi_ok):
            shown = f"{lo:g}" if lo == hi else f"[{lo:g}, {hi:g}]"
            if self.family == "lognormal" and self.spread > 0:
                shown = "(0, inf)"
            raise InvalidParameterError(
                f"{where}: {spec.name} must lie in {spec.range_text()}{spec.unit_suffix}, "
                f"but the {self.family} distribution takes values in {shown}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "mean": self.mean, "spread": self.spread}

    @classmethod
    def from_dict(cls, data: Any, what: str = "distribution") -> Dist:
        """From ``{"family", "mean", "spread"}`` (spread optional) or a bare number (fixed)."""
        if isinstance(data, Dist):
            return data
        try:
            if isinstance(data, numbers.Real) and not isinstance(data, bool):
                return cls.fixed(float(data))
            _check_keys(data, {"family", "mean", "spread"}, what)
            if "mean" not in data:
                raise InvalidParameterError(f"{what}: 'mean' is required")
            return cls(str(data.get("family", "fixed")), data["mean"], data.get("spread", 0.0))
        except InvalidParameterError as exc:  # say whose distribution it is (once)
            text = str(exc)
            raise InvalidParameterError(
                text if text.startswith(what) else f"{what}: {text}"
            ) from None


# --------------------------------------------------------------------------------------------
# defaults
# --------------------------------------------------------------------------------------------

_D = Dist
DEFAULT_PARAMS: Mapping[str, Mapping[str, Dist]] = MappingProxyType(
    {
        "consumer": MappingProxyType(
            {
                "load_kwh_per_day": _D.lognormal(9.0, 0.35),
                "gamma": _D.uniform(0.3, 0.3),
                "alpha": _D.fixed(0.1),
                "flex_cost_eur_per_kwh2": _D.lognormal(0.5, 0.5),
            }
        ),
        "pv": MappingProxyType(
            {
                "load_kwh_per_day": _D.lognormal(9.0, 0.35),
                "gamma": _D.uniform(0.3, 0.3),
                "alpha": _D.fixed(0.1),
                "pv_kwp": _D.lognormal(4.0, 0.3),
            }
        ),
        "pv_storage": MappingProxyType(
            {
                "load_kwh_per_day": _D.lognormal(9.0, 0.35),
                "gamma": _D.uniform(0.3, 0.3),
                "alpha": _D.fixed(0.1),
                "pv_kwp": _D.lognormal(5.0, 0.3),
                "battery_kwh": _D.lognormal(10.0, 0.3),
                "battery_kw": _D.uniform(5.0, 1.0),
                "eta_charge": _D.uniform(0.95, 0.02),
                "eta_discharge": _D.uniform(0.95, 0.02),
                "soc_initial": _D.fixed(0.5),
                "degradation_eur_per_kwh": _D.uniform(0.03, 0.01),
            }
        ),
        "ev": MappingProxyType(
            {
                "load_kwh_per_day": _D.lognormal(9.0, 0.35),
                "gamma": _D.uniform(0.3, 0.3),
                "alpha": _D.fixed(0.1),
                "ev_need_kwh": _D.lognormal(12.0, 0.4),
                "ev_max_kw": _D.uniform(7.4, 3.7),
                "ev_deadline_hour": _D.uniform(7.5, 1.5),
                "eta_charge": _D.uniform(0.92, 0.03),
            }
        ),
    }
)
"""Default parameter distributions of each kind (physical units, see the module doc)."""

DEFAULT_SHARES: Mapping[str, float] = MappingProxyType(
    {"consumer": 0.5, "pv": 0.2, "pv_storage": 0.15, "ev": 0.15}
)
"""Default population shares of the four kinds."""


# --------------------------------------------------------------------------------------------
# types
# --------------------------------------------------------------------------------------------


#: Longest type name that can be stored, in characters: the results store's limit for an
#: agent type (``data.store``; a test holds the two equal, ``agents`` does not import the
#: store). A replay that stores checks it before its work (``btut.replaying``).
MAX_TYPE_NAME_CHARS = 64


@dataclass(frozen=True)
class TypeConfig:
    """One agent type: its ``kind``, population ``share`` and parameter distributions.

    ``params`` maps the kind's parameter names (:data:`KIND_PARAMETERS`) to :class:`Dist`;
    missing ones take the kind's default (:data:`DEFAULT_PARAMS`), so ``params={}`` is the
    default type. ``name`` (default: the kind) identifies the type in a population; several
    types may share a kind. Kind-level settings (not sampled per agent):

    * ``dr_max_fraction``: consumer demand response per interval is at most this fraction of the
      interval's expected load, up or down (default 0.2); ``dr_levels`` (odd, >= 1): number of
      equally spaced adjustment levels in [-max, +max] the DP chooses from (default 5, at most
      :data:`MAX_DR_LEVELS`).
    * ``ev_charge_levels``: EV charging levels as fractions of ``ev_max_kw``, including 0, each a
      whole multiple of the smallest positive one (default (0, 0.5, 1)); ``ev_arrival_hour``:
      local hour from which the EV is plugged in (default 0, the start of the day);
      ``ev_unmet_penalty_eur_per_kwh``: cost of each kWh still missing at the deadline
      (default 1.0, above any retail price seen in the bundled data, so the need is met
      whenever it can be).
    """

    kind: str
    share: float
    params: Mapping[str, Dist] = field(default_factory=dict)
    name: str = ""
    dr_max_fraction: float = 0.2
    dr_levels: int = 5
    ev_charge_levels: tuple[float, ...] = (0.0, 0.5, 1.0)
    ev_arrival_hour: float = 0.0
    ev_unmet_penalty_eur_per_kwh: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidParameterError(
                f"agent kind must be one of {', '.join(KINDS)}, got {self.kind!r}"
            )
        name = self.name or self.kind
        if not isinstance(name, str) or not name.strip():
            raise InvalidParameterError(f"type name must be a non-empty string, got {name!r}")
        object.__setattr__(self, "name", name)
        where = f"type {name!r}"
        share = check_real(self.share, f"{where}: share")
        if not 0.0 <= share <= 1.0:
            raise InvalidParameterError(f"{where}: share must be in [0, 1], got {share:g}")
        object.__setattr__(self, "share", share)
        if not isinstance(self.params, Mapping):
            raise InvalidParameterError(f"{where}: params must be a mapping of name -> Dist")
        allowed = KIND_PARAMETERS[self.kind]
        extra = sorted(set(self.params) - set(allowed))
        if extra:
            raise InvalidParameterError(
                f"{where}: kind {self.kind} has no parameter(s) {', '.join(map(str, extra))} "
                f"(it has: {', '.join(allowed)})"
            )
        merged: dict[str, Dist] = {}
        for pname in allowed:
            raw = self.params.get(pname, DEFAULT_PARAMS[self.kind][pname])
            dist = Dist.from_dict(raw, f"{where}: {pname}")
            spec = PARAMETERS[pname]
            dist.check_for(spec, where)
            if dist.mean > spec.plausible_mean:
                raise InvalidParameterError(
                    f"{where}: {pname} mean {dist.mean:g}{spec.unit_suffix} is beyond a small "
                    f"prosumer's (at most {spec.plausible_mean:g}{spec.unit_suffix})"
                )
            merged[pname] = dist
        object.__setattr__(self, "params", MappingProxyType(merged))
        self._check_settings(where)

    def _check_settings(self, where: str) -> None:
        frac = check_real(self.dr_max_fraction, f"{where}: dr_max_fraction")
        if not 0.0 <= frac <= 1.0:
            raise InvalidParameterError(f"{where}: dr_max_fraction must be in [0, 1], got {frac:g}")
        object.__setattr__(self, "dr_max_fraction", frac)
        levels = self.dr_levels
        if (
            isinstance(levels, bool)
            or not isinstance(levels, numbers.Integral)
            or not 1 <= levels <= MAX_DR_LEVELS
        ):
            raise InvalidParameterError(
                f"{where}: dr_levels must be an integer in [1, {MAX_DR_LEVELS}], got {levels!r}"
            )
        if levels % 2 == 0:
            raise InvalidParameterError(
                f"{where}: dr_levels must be odd (0 is a level), got {levels}"
            )
        object.__setattr__(self, "dr_levels", int(levels))
        try:
            ev_levels = tuple(
                check_real(v, f"{where}: ev_charge_levels") for v in self.ev_charge_levels
            )
        except TypeError:
            raise InvalidParameterError(
                f"{where}: ev_charge_levels must be a sequence of fractions"
            ) from None
        if not ev_levels or any(not 0.0 <= v <= 1.0 for v in ev_levels):
            raise InvalidParameterError(
                f"{where}: ev_charge_levels must be fractions in [0, 1], got {list(ev_levels)}"
            )
        ev_levels = tuple(sorted(set(ev_levels) | {0.0}))
        positive = [v for v in ev_levels if v > 0]
        if positive:
            step = positive[0]
            if any(abs(v / step - round(v / step)) > 1e-9 for v in positive):
                raise InvalidParameterError(
                    f"{where}: ev_charge_levels must be whole multiples of the smallest positive "
                    f"level {step:g}, got {list(ev_levels)}"
                )
        object.__setattr__(self, "ev_charge_levels", ev_levels)
        arrival = check_real(self.ev_arrival_hour, f"{where}: ev_arrival_hour")
        if not 0.0 <= arrival < 24.0:
            raise InvalidParameterError(
                f"{where}: ev_arrival_hour must be in [0, 24), got {arrival:g}"
            )
        if self.kind == "ev":
            lo, _ = self.params["ev_deadline_hour"].support
            if arrival >= lo:
                raise InvalidParameterError(
                    f"{where}: ev_arrival_hour {arrival:g} must be before the earliest deadline "
                    f"{lo:g}"
                )
        object.__setattr__(self, "ev_arrival_hour", arrival)
        if self.kind == "ev":  # some EV of the type must be able to charge the mean need
            top = {k: d.support[1] for k, d in self.params.items()}
            hours = top["ev_deadline_hour"] - arrival
            reach = ev_levels[-1] * top["ev_max_kw"] * hours * top["eta_charge"]
            need = self.params["ev_need_kwh"].mean
            if need > reach:
                raise InvalidParameterError(
                    f"{where}: infeasible: the mean EV need is {need:g} kWh, but no EV of the "
                    f"type can charge more than {reach:.4g} kWh between {arrival:g} h and its "
                    f"deadline (at most {ev_levels[-1]:g} x {top['ev_max_kw']:g} kW until "
                    f"{top['ev_deadline_hour']:g} h, efficiency at most {top['eta_charge']:g})"
                )
        penalty = check_real(
            self.ev_unmet_penalty_eur_per_kwh, f"{where}: ev_unmet_penalty_eur_per_kwh"
        )
        if not 0 <= penalty <= MAX_EV_UNMET_PENALTY:
            raise InvalidParameterError(
                f"{where}: ev_unmet_penalty_eur_per_kwh must be in [0, "
                f"{MAX_EV_UNMET_PENALTY:g}] EUR/kWh, got {penalty:g}"
            )
        object.__setattr__(self, "ev_unmet_penalty_eur_per_kwh", penalty)

    @classmethod
    def default(cls, kind: str, share: float | None = None, **overrides: Any) -> TypeConfig:
        """The default type of ``kind`` (share from :data:`DEFAULT_SHARES` unless given)."""
        if kind not in KINDS:
            raise InvalidParameterError(
                f"agent kind must be one of {', '.join(KINDS)}, got {kind!r}"
            )
        return cls(kind, DEFAULT_SHARES[kind] if share is None else share, **overrides)

    def mean_params(self) -> dict[str, float]:
        """Mean of every parameter (neutral values for those the kind does not use)."""
        return {
            name: (self.params[name].mean if name in self.params else spec.neutral)
            for name, spec in PARAMETERS.items()
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "share": self.share,
            "params": {k: v.to_dict() for k, v in self.params.items()},
            "dr_max_fraction": self.dr_max_fraction,
            "dr_levels": self.dr_levels,
            "ev_charge_levels": list(self.ev_charge_levels),
            "ev_arrival_hour": self.ev_arrival_hour,
            "ev_unmet_penalty_eur_per_kwh": self.ev_unmet_penalty_eur_per_kwh,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TypeConfig:
        """From :meth:`to_dict` output; ``kind`` and ``share`` required, the rest defaulted."""
        allowed = {f.name for f in fields(cls)}
        _check_keys(data, allowed, "type")
        for key in ("kind", "share"):
            if key not in data:
                raise InvalidParameterError(f"type {data.get('name', '?')!r}: {key!r} is required")
        kwargs = dict(data)
        name = str(kwargs.get("name") or kwargs["kind"])
        raw = kwargs.get("params", {}) or {}
        _check_keys(raw, set(PARAMETERS), f"type {name!r}: params")
        kwargs["params"] = {
            k: Dist.from_dict(v, f"type {name!r}: {k}") for k, v in dict(raw).items()
        }
        if "ev_charge_levels" in kwargs:
            levels = kwargs["ev_charge_levels"]
            if isinstance(levels, str | bytes) or not hasattr(levels, "__iter__"):
                raise InvalidParameterError(
                    f"type {name!r}: ev_charge_levels must be a list of fractions"
                )
            kwargs["ev_charge_levels"] = tuple(levels)
        return cls(**kwargs)


def default_types() -> tuple[TypeConfig, ...]:
    """The four default types with the default shares."""
    return tuple(TypeConfig.default(kind) for kind in KINDS)


@dataclass(frozen=True)
class PopulationConfig:
    """A population: its ``types`` (shares summing to 1), noise and grid tariff.

    ``noise``: idiosyncratic relative noise of each agent's load and PV per interval (the sd of
    the log of a mean-one lognormal factor; default 0.15, at most :data:`MAX_NOISE`). Tariff
    (DESIGN.md section 3): an agent short of energy buys at ``p_buy = price +
    retail_adder_eur_per_mwh`` (default 60), an agent long sells at ``p_sell = price -
    export_discount_eur_per_mwh`` (default 15); both >= 0 so that ``p_buy >= p_sell``.
    """

    types: tuple[TypeConfig, ...] = field(default_factory=default_types)
    noise: float = 0.15
    retail_adder_eur_per_mwh: float = 60.0
    export_discount_eur_per_mwh: float = 15.0

    def __post_init__(self) -> None:
        types = self.types
        if isinstance(types, TypeConfig) or not hasattr(types, "__iter__"):
            raise InvalidParameterError("types must be a sequence of TypeConfig")
        types = tuple(types)
        if not types:
            raise InvalidParameterError("a population needs at least one type")
        if len(types) > 127:
            raise InvalidParameterError(f"at most 127 types are supported, got {len(types)}")
        for t in types:
            if not isinstance(t, TypeConfig):
                raise InvalidParameterError(f"types must be TypeConfig, got {type(t).__name__}")
        names = [t.name for t in types]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise InvalidParameterError(f"type names must be unique, repeated: {', '.join(dup)}")
        total = math.fsum(t.share for t in types)
        if abs(total - 1.0) > _SHARE_TOL:
            raise InvalidParameterError(
                f"type shares must sum to 1, got {total:.12g} "
                f"({', '.join(f'{t.name}={t.share:g}' for t in types)})"
            )
        object.__setattr__(self, "types", types)
        noise = check_real(self.noise, "noise")
        if not 0 <= noise <= MAX_NOISE:
            raise InvalidParameterError(f"noise must be in [0, {MAX_NOISE:g}], got {noise:g}")
        object.__setattr__(self, "noise", noise)
        for attr in ("retail_adder_eur_per_mwh", "export_discount_eur_per_mwh"):
            value = check_real(getattr(self, attr), attr)
            if not 0 <= value <= MAX_TARIFF_EUR_PER_MWH:
                raise InvalidParameterError(
                    f"{attr} must be in [0, {MAX_TARIFF_EUR_PER_MWH:g}] EUR/MWh, got {value:g}"
                )
            object.__setattr__(self, attr, value)

    @property
    def type_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.types)

    def type(self, name: str) -> TypeConfig:
        """The type called ``name``."""
        for t in self.types:
            if t.name == name:
                return t
        raise InvalidParameterError(f"no type {name!r} (types: {', '.join(self.type_names)})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "types": [t.to_dict() for t in self.types],
            "noise": self.noise,
            "retail_adder_eur_per_mwh": self.retail_adder_eur_per_mwh,
            "export_discount_eur_per_mwh": self.export_discount_eur_per_mwh,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PopulationConfig:
        """From :meth:`to_dict` output; missing keys take the defaults (``types`` too)."""
        _check_keys(data, {f.name for f in fields(cls)}, "population config")
        kwargs = dict(data)
        if "types" in kwargs:
            raw = kwargs["types"]
            if isinstance(raw, Mapping | str | bytes) or not hasattr(raw, "__iter__"):
                raise InvalidParameterError(
                    f"population config: 'types' must be a list of types, got {raw!r}"
                )
            kwargs["types"] = tuple(TypeConfig.from_dict(t) for t in raw)
        return cls(**kwargs)


# --------------------------------------------------------------------------------------------
# one agent's parameters
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentParams:
    """Scalar parameters of one (representative) agent, with its type's settings.

    The input of :func:`agents.bidding.best_response`. Units as in :data:`PARAMETERS`; the
    settings as in :class:`TypeConfig`. Build from a type (:meth:`from_type`, the means) or a
    population (``Population.representative`` / ``Population.agent``).
    """

    kind: str
    load_kwh_per_day: float = 0.0
    pv_kwp: float = 0.0
    battery_kwh: float = 0.0
    battery_kw: float = 0.0
    eta_charge: float = 1.0
    eta_discharge: float = 1.0
    soc_initial: float = 0.0
    degradation_eur_per_kwh: float = 0.0
    ev_need_kwh: float = 0.0
    ev_max_kw: float = 0.0
    ev_deadline_hour: float = 24.0
    flex_cost_eur_per_kwh2: float = 0.0
    gamma: float = 0.0
    alpha: float = 1.0
    name: str = ""
    dr_max_fraction: float = 0.2
    dr_levels: int = 5
    ev_charge_levels: tuple[float, ...] = (0.0, 0.5, 1.0)
    ev_arrival_hour: float = 0.0
    ev_unmet_penalty_eur_per_kwh: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidParameterError(
                f"agent kind must be one of {', '.join(KINDS)}, got {self.kind!r}"
            )
        object.__setattr__(self, "name", self.name or self.kind)
        for pname, spec in PARAMETERS.items():
            value = check_real(getattr(self, pname), f"agent {self.name!r}: {pname}")
            if not spec.contains(value):
                raise InvalidParameterError(
                    f"agent {self.name!r}: {pname} must lie in "
                    f"{spec.range_text()}{spec.unit_suffix}, "
                    f"got {value:g}"
                )
            object.__setattr__(self, pname, value)
        # the settings are checked by building a TypeConfig from them (same rules, same messages)
        TypeConfig(
            self.kind,
            1.0,
            {},
            name=self.name,
            dr_max_fraction=self.dr_max_fraction,
            dr_levels=self.dr_levels,
            ev_charge_levels=tuple(self.ev_charge_levels),
            ev_arrival_hour=self.ev_arrival_hour if self.kind != "ev" else 0.0,
            ev_unmet_penalty_eur_per_kwh=self.ev_unmet_penalty_eur_per_kwh,
        )
        object.__setattr__(self, "ev_charge_levels", tuple(sorted({0.0, *self.ev_charge_levels})))
        if self.kind == "ev" and self.ev_arrival_hour >= self.ev_deadline_hour:
            raise InvalidParameterError(
                f"agent {self.name!r}: ev_arrival_hour {self.ev_arrival_hour:g} must be before "
                f"ev_deadline_hour {self.ev_deadline_hour:g}"
            )

    @classmethod
    def from_type(cls, type_config: TypeConfig, **values: float) -> AgentParams:
        """An agent of ``type_config`` at the parameter means, ``values`` overriding some.

        Parameters the kind does not use keep their neutral value.
        """
        params: dict[str, Any] = type_config.mean_params()  # PARAMETERS keys: all floats
        unknown = sorted(set(values) - set(PARAMETERS))
        if unknown:
            raise InvalidParameterError(f"unknown agent parameter(s): {', '.join(unknown)}")
        params.update(values)  # checked as numbers by __post_init__, as any AgentParams
        return cls(kind=type_config.kind, name=type_config.name, **params, **_settings(type_config))

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["ev_charge_levels"] = list(self.ev_charge_levels)
        return out


def _settings(type_config: TypeConfig) -> dict[str, Any]:
    return {
        "dr_max_fraction": type_config.dr_max_fraction,
        "dr_levels": type_config.dr_levels,
        "ev_charge_levels": type_config.ev_charge_levels,
        "ev_arrival_hour": type_config.ev_arrival_hour,
        "ev_unmet_penalty_eur_per_kwh": type_config.ev_unmet_penalty_eur_per_kwh,
    }
