"""Payment-channel graph in compact array form (CSR over directed half-channels).

A Lightning channel has two directions ("half-channels"); each direction carries the fee
policy of its ``source`` node. :class:`ChannelGraph` stores the directions as a structure of
arrays sorted by (source, target), with a CSR index (``indptr``/``indices``) over nodes.
Parallel channels between the same two nodes stay separate edges.

Snapshot layouts (see ``shared/data/lightning/README.md``):

- primary (2026): ``channel_id`` key, no ``last_update``;
- 2021: ``short_channel_id`` key and a ``last_update`` column (unix seconds).

Missing values, per direction:

- ``htlc_min_msat`` empty -> 0 (no lower limit known);
- ``htlc_max_msat`` empty -> ``capacity_sat * 1000`` (the channel can never carry more);
- fee policy (``base_fee_msat``, ``fee_rate_ppm``, ``cltv_delta``) empty: allowed only on
  disabled directions (the 2026 snapshot leaves them empty there). With
  ``include_disabled=True`` such directions load with zero fees and zero cltv, so treat
  routes over disabled directions as what-if analysis only. An *enabled* direction without
  a fee policy makes the file invalid.

Extreme fees (the 2021 snapshot has base fees up to 4.2e9 msat and rates up to 3.3e9 ppm)
are kept as they are; they only make those edges expensive.

Refused as malformed (``DataValidationError`` naming the file, and the column and row where
there is one): a column name given twice; sat, msat, ppm and cltv values that are not whole
numbers, negative or >= 2**62; a ``last_update`` outside the BOLT 7 range 0..2**32-1 (unix
seconds); endpoints and ``node_id`` values that are not 33-byte hex pubkeys.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data.checks import clip_path, is_directory, is_regular, path_mode
from data.errors import (
    DataUnavailableError,
    DataValidationError,
    InvalidParameterError,
    NoRouteError,
)

CHANNELS_FILE = "channels.csv.gz"
NODES_FILE = "nodes.csv.gz"
KEY_COLUMNS = ("channel_id", "short_channel_id")
REQUIRED_COLUMNS = (
    "source",
    "target",
    "capacity_sat",
    "base_fee_msat",
    "fee_rate_ppm",
    "cltv_delta",
    "htlc_min_msat",
    "htlc_max_msat",
    "disabled",
)
_PUBKEY_PATTERN = r"0[23][0-9a-fA-F]{64}"
_INT_LIMIT = 2**62  # keeps every per-edge value and msat product well inside int64 / Python int
# capacity_sat * 1000 (msat) must stay inside int64 too: 4.6e15 sat, all bitcoin is 2.1e15
_CAPACITY_LIMIT_SAT = _INT_LIMIT // 1000
# Whole-number columns (the BOLT 7 fields are integers): a fraction would be cut off silently.
_WHOLE_COLUMNS = REQUIRED_COLUMNS[2:-1]  # capacity_sat ... htlc_max_msat (disabled is 0/1)
_TIMESTAMP_LIMIT = 2**32  # channel_update timestamps are u32 unix seconds (BOLT 7)
_MANGLED = re.compile(r".+\.\d+")  # pandas renames a repeated column "x" to "x.1", "x.2", ...


@dataclass(frozen=True)
class _PairIndex:
    """Parallel edges collapsed to unique directed node pairs (for the path search).

    ``start`` (P+1,) slices the edge arrays per pair (edges are sorted by (source, target));
    ``src``/``dst`` (P,) pair end points; ``indptr`` (n+1,) CSR over pairs by source;
    ``rev_perm`` (P,) orders pairs by target, ``rev_indptr`` (n+1,) and ``rev_src`` (P,)
    form the reverse CSR (int32, as scipy's csgraph wants).
    """

    start: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    indptr: np.ndarray
    rev_perm: np.ndarray
    rev_indptr: np.ndarray
    rev_src: np.ndarray
    dst_list: list[int]
    indptr_list: list[int]
    start_list: list[int]


class ChannelGraph:
    """Directed channel graph, one edge per usable half-channel (structure of arrays).

    Node arrays (n,): ``node_ids`` (pubkey strings), ``aliases``. ``node_index`` maps a
    pubkey to its index. Edge arrays (m,), sorted by (source, target): ``edge_source``,
    ``indices`` (target), ``channel_id`` (str), ``capacity_sat``, ``base_fee_msat``,
    ``fee_rate_ppm``, ``cltv_delta`` (blocks), ``htlc_min_msat``, ``htlc_max_msat``,
    ``disabled`` (bool), ``last_update`` (unix s, or None if the layout has none),
    ``edge_channel`` (index into the channel arrays) and ``edge_is_node1`` (True when the
    edge's source is the channel's ``node1``, the lesser pubkey). ``indptr`` (n+1,) is the
    CSR row pointer: the out-edges of node u are ``indptr[u]:indptr[u+1]``.

    Channel arrays (c,): ``channel_key``, ``channel_capacity_sat``, ``channel_node1``,
    ``channel_node2``. A channel is listed when at least one of its directions is kept.

    ``reference_capacity_sat`` is the largest public capacity; the router's capacity term
    1 − capacity/reference is clipped at 0 (leaf channels may be larger).

    Built directly from arrays, every array is checked (1-D, one value per edge, whole
    numbers in range, edge end points inside ``0..n-1``, no self-loop, htlc_min ≤ htlc_max):
    :class:`~data.errors.InvalidParameterError` names the first bad value.
    """

    # Set in __init__ through setattr (made read-only first).
    edge_channel: np.ndarray
    edge_is_node1: np.ndarray
    channel_key: np.ndarray
    channel_node1: np.ndarray
    channel_node2: np.ndarray
    channel_capacity_sat: np.ndarray

    def __init__(
        self,
        *,
        node_ids: np.ndarray,
        aliases: np.ndarray,
        edge_source: np.ndarray,
        edge_target: np.ndarray,
        channel_id: np.ndarray,
        capacity_sat: np.ndarray,
        base_fee_msat: np.ndarray,
        fee_rate_ppm: np.ndarray,
        cltv_delta: np.ndarray,
        htlc_min_msat: np.ndarray,
        htlc_max_msat: np.ndarray,
        disabled: np.ndarray,
        last_update: np.ndarray | None = None,
        reference_capacity_sat: int | None = None,
        source_name: str = "<arrays>",
    ) -> None:
        node_ids, aliases = _node_arrays(node_ids, aliases, source_name)
        n = int(node_ids.size)
        m = _one_dimensional(edge_source, "edge_source", None, source_name).size
        edge_source = _whole(edge_source, "edge_source", m, source_name, 0, n - 1)
        edge_target = _whole(edge_target, "edge_target", m, source_name, 0, n - 1)
        loops = edge_source == edge_target
        if loops.any():
            i = int(np.flatnonzero(loops)[0])
            raise InvalidParameterError(
                f"{source_name}: edge {i} is a self-loop (node {int(edge_source[i])})"
            )
        channel_id = _one_dimensional(channel_id, "channel_id", m, source_name).astype(str)
        capacity_sat = _whole(
            capacity_sat, "capacity_sat", m, source_name, 1, _CAPACITY_LIMIT_SAT - 1
        )
        base_fee_msat, fee_rate_ppm, cltv_delta, htlc_min_msat, htlc_max_msat = (
            _whole(a, name, m, source_name, 0, _INT_LIMIT - 1)
            for a, name in (
                (base_fee_msat, "base_fee_msat"),
                (fee_rate_ppm, "fee_rate_ppm"),
                (cltv_delta, "cltv_delta"),
                (htlc_min_msat, "htlc_min_msat"),
                (htlc_max_msat, "htlc_max_msat"),
            )
        )
        inverted = htlc_min_msat > htlc_max_msat
        if inverted.any():
            i = int(np.flatnonzero(inverted)[0])
            raise InvalidParameterError(
                f"{source_name}: edge {i}: htlc_min_msat {int(htlc_min_msat[i])} is above "
                f"htlc_max_msat {int(htlc_max_msat[i])}"
            )
        disabled = _flags(disabled, "disabled", m, source_name)
        if last_update is not None:  # -1: not known
            last_update = _whole(
                last_update, "last_update", m, source_name, -1, _TIMESTAMP_LIMIT - 1
            )
        if reference_capacity_sat is not None and not (
            isinstance(reference_capacity_sat, int | np.integer)
            and not isinstance(reference_capacity_sat, bool)
            and 0 < reference_capacity_sat < _CAPACITY_LIMIT_SAT
        ):
            raise InvalidParameterError(
                f"{source_name}: reference_capacity_sat must be a positive whole number of "
                f"satoshis or None, got {reference_capacity_sat!r}"
            )
        order = np.lexsort((channel_id, edge_target, edge_source))

        def _take(a: np.ndarray, dtype: Any) -> np.ndarray:
            out = np.ascontiguousarray(np.asarray(a)[order], dtype=dtype)
            out.flags.writeable = False
            return out

        self.source_name = source_name
        self.node_ids = node_ids
        self.node_ids.flags.writeable = False
        self.aliases = aliases
        self.aliases.flags.writeable = False
        self.node_index: dict[str, int] = dict(zip(self.node_ids.tolist(), range(n), strict=True))
        if len(self.node_index) != n:
            raise DataValidationError(f"{source_name}: duplicate node ids")
        self.edge_source = _take(edge_source, np.int64)
        self.indices = _take(edge_target, np.int64)
        self.channel_id = _take(channel_id, str)
        self.capacity_sat = _take(capacity_sat, np.int64)
        self.base_fee_msat = _take(base_fee_msat, np.int64)
        self.fee_rate_ppm = _take(fee_rate_ppm, np.int64)
        self.cltv_delta = _take(cltv_delta, np.int64)
        self.htlc_min_msat = _take(htlc_min_msat, np.int64)
        self.htlc_max_msat = _take(htlc_max_msat, np.int64)
        self.disabled = _take(disabled, bool)
        self.last_update = None if last_update is None else _take(last_update, np.int64)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.edge_source, minlength=n), out=indptr[1:])
        indptr.flags.writeable = False
        self.indptr = indptr

        # Channels: one row per key, endpoints ordered by pubkey (node1 = lesser).
        keys, edge_channel = np.unique(self.channel_id, return_inverse=True)
        edge_channel = edge_channel.astype(np.int64)
        c = keys.size
        is_node1 = self.node_ids[self.edge_source] < self.node_ids[self.indices]
        node1_of_edge = np.where(is_node1, self.edge_source, self.indices)
        node2_of_edge = np.where(is_node1, self.indices, self.edge_source)
        ch_node1 = np.full(c, -1, dtype=np.int64)
        ch_node2 = np.full(c, -1, dtype=np.int64)
        ch_cap = np.zeros(c, dtype=np.int64)
        ch_node1[edge_channel] = node1_of_edge
        ch_node2[edge_channel] = node2_of_edge
        ch_cap[edge_channel] = self.capacity_sat
        bad = (
            (ch_node1[edge_channel] != node1_of_edge)
            | (ch_node2[edge_channel] != node2_of_edge)
            | (ch_cap[edge_channel] != self.capacity_sat)
        )
        if bad.any():
            key = keys[edge_channel[np.flatnonzero(bad)[0]]]
            raise DataValidationError(
                f"{source_name}: channel {str(key)!r} has directions with different end points "
                "or capacities"
            )
        counts = np.bincount(edge_channel * 2 + (~is_node1), minlength=2 * c)
        if (counts > 1).any():
            key = keys[int(np.flatnonzero(counts > 1)[0]) // 2]
            raise DataValidationError(
                f"{source_name}: channel {str(key)!r} lists a direction twice"
            )
        for name, arr in (
            ("edge_channel", edge_channel),
            ("edge_is_node1", is_node1),
            ("channel_key", keys),
            ("channel_node1", ch_node1),
            ("channel_node2", ch_node2),
            ("channel_capacity_sat", ch_cap),
        ):
            arr.flags.writeable = False
            setattr(self, name, arr)
        if reference_capacity_sat is None:
            reference_capacity_sat = int(self.capacity_sat.max()) if self.n_edges else 1
        self.reference_capacity_sat = int(max(reference_capacity_sat, 1))
        self._pairs: _PairIndex | None = None
        self._structure: Any = None
        self._scc: np.ndarray | None = None
        self._cache: dict[Any, Any] = {}  # router caches (float copies, scipy matrices)

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_csv(cls, path: str | Path, *, include_disabled: bool = False) -> ChannelGraph:
        """Load a snapshot: a directory holding ``channels.csv.gz`` or the channels file.

        Aliases come from ``nodes.csv.gz`` beside the channels file when it exists (every
        node listed there becomes a graph node, even without channels). Disabled directions
        are dropped unless ``include_disabled``. Raises ``DataUnavailableError`` if the
        file is missing and ``DataValidationError`` if it is malformed.
        """
        if not isinstance(path, str | os.PathLike):
            raise InvalidParameterError(
                f"path must be a snapshot folder or channels file, got {type(path).__name__}"
            )
        path = Path(path)
        what = "channel snapshot"
        is_dir = is_directory(path_mode(path, what, DataUnavailableError))
        channels_path = path / CHANNELS_FILE if is_dir else path
        if not is_regular(path_mode(channels_path, what, DataUnavailableError)):
            raise DataUnavailableError(f"channel snapshot not found: {clip_path(channels_path)}")
        frame = _read_csv(channels_path, dtype={"channel_id": str, "short_channel_id": str})
        _restore_header(channels_path, frame)
        nodes_path = channels_path.parent / NODES_FILE
        nodes = None
        if nodes_path != channels_path and is_regular(
            path_mode(nodes_path, "node aliases", DataUnavailableError)
        ):
            nodes = _read_csv(nodes_path, dtype=str, keep_default_na=False)
            _restore_header(nodes_path, nodes)
        return cls._build(
            frame,
            nodes=nodes,
            include_disabled=include_disabled,
            source_name=str(channels_path),
            nodes_name=str(nodes_path),
        )

    @classmethod
    def from_frame(
        cls,
        channels: pd.DataFrame,
        *,
        nodes: pd.DataFrame | None = None,
        include_disabled: bool = False,
        source_name: str = "<frame>",
    ) -> ChannelGraph:
        """Build from a channels frame in the snapshot layout (one row per direction).

        ``nodes`` (optional) has ``node_id`` and ``alias`` columns. Blank ``htlc_min_msat``
        -> 0, blank ``htlc_max_msat`` -> ``capacity_sat * 1000``.
        """
        if not isinstance(channels, pd.DataFrame):
            raise InvalidParameterError(
                "channels must be a pandas DataFrame with columns channel_id|short_channel_id, "
                f"{', '.join(REQUIRED_COLUMNS)}; got {type(channels).__name__}"
            )
        if nodes is not None and not isinstance(nodes, pd.DataFrame):
            raise InvalidParameterError(
                f"nodes must be a pandas DataFrame with columns node_id, alias; "
                f"got {type(nodes).__name__}"
            )
        return cls._build(
            channels,
            nodes=nodes,
            include_disabled=include_disabled,
            source_name=source_name,
            nodes_name=f"{source_name} (nodes)",
        )

    @classmethod
    def _build(
        cls,
        df: pd.DataFrame,
        *,
        nodes: pd.DataFrame | None,
        include_disabled: bool,
        source_name: str,
        nodes_name: str,
    ) -> ChannelGraph:
        """:meth:`from_frame` after the type checks; ``nodes_name`` labels the nodes' errors."""
        key_col = next((k for k in KEY_COLUMNS if k in df.columns), None)
        missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
        if key_col is None:
            missing.insert(0, "channel_id|short_channel_id")
        if missing:
            raise DataValidationError(f"{source_name}: missing columns {', '.join(missing)}")
        _check_unique_columns(df, source_name)
        if nodes is not None:
            if "node_id" not in nodes.columns:
                raise DataValidationError(f"{nodes_name}: no 'node_id' column")
            _check_unique_columns(nodes, nodes_name)
        if len(df) == 0:
            raise DataValidationError(f"{source_name}: no channel rows")
        src = df["source"].astype(str).to_numpy()
        dst = df["target"].astype(str).to_numpy()
        key = df[key_col].astype(str).to_numpy()
        if df[key_col].isna().any():
            raise DataValidationError(f"{source_name}: empty {key_col}")
        for col, values in (("source", src), ("target", dst)):
            _check_pubkeys(values, col, source_name)
        if (src == dst).any():
            row = int(np.flatnonzero(src == dst)[0])
            raise DataValidationError(f"{source_name}: row {row + 2}: self-loop channel")

        num = {c: _numeric(df, c, source_name) for c in REQUIRED_COLUMNS[2:]}
        cap = num["capacity_sat"]
        if np.isnan(cap).any() or (cap <= 0).any():
            raise DataValidationError(f"{source_name}: capacity_sat must be a positive number")
        dis = num["disabled"]
        if np.isnan(dis).any() or not np.isin(dis, (0, 1)).all():
            raise DataValidationError(f"{source_name}: disabled must be 0 or 1")
        disabled = dis == 1
        policy_blank = (
            np.isnan(num["base_fee_msat"])
            | np.isnan(num["fee_rate_ppm"])
            | np.isnan(num["cltv_delta"])
        )
        if (policy_blank & ~disabled).any():
            row = int(np.flatnonzero(policy_blank & ~disabled)[0])
            raise DataValidationError(
                f"{source_name}: row {row + 2}: enabled direction without a fee policy"
            )
        for col in REQUIRED_COLUMNS[2:]:
            vals = num[col]
            finite = vals[~np.isnan(vals)]
            limit = _CAPACITY_LIMIT_SAT if col == "capacity_sat" else _INT_LIMIT
            if (finite < 0).any() or (finite >= limit).any():
                raise DataValidationError(f"{source_name}: {col} out of range (0..{limit - 1})")
        for col in _WHOLE_COLUMNS:
            vals = num[col]
            frac = vals != np.floor(vals)  # NaN (blank) compares unequal: drop it below
            frac &= ~np.isnan(vals)
            if frac.any():
                row = int(np.flatnonzero(frac)[0])
                raise DataValidationError(
                    f"{source_name}: row {row + 2} (channel {str(key[row])!r}): {col} "
                    f"{float(vals[row])!r} is not a whole number"
                )
        cap_i = cap.astype(np.int64)
        htlc_min = np.where(np.isnan(num["htlc_min_msat"]), 0, num["htlc_min_msat"])
        blank_max = np.isnan(num["htlc_max_msat"])  # blank: the capacity, in int64 exactly
        htlc_max = np.where(
            blank_max, cap_i * 1000, np.where(blank_max, 0, num["htlc_max_msat"]).astype(np.int64)
        )
        inverted = htlc_min.astype(np.int64) > htlc_max  # no amount could ever pass
        if inverted.any():
            row = int(np.flatnonzero(inverted)[0])
            raise DataValidationError(
                f"{source_name}: row {row + 2} (channel {str(key[row])!r}): htlc_min_msat "
                f"{int(htlc_min[row])} is above htlc_max_msat {int(htlc_max[row])}"
            )
        last_update = None
        if "last_update" in df.columns:
            lu = _numeric(df, "last_update", source_name)
            bad_lu = (lu < 0) | (lu >= _TIMESTAMP_LIMIT)  # NaN (blank) is neither
            if bad_lu.any():
                row = int(np.flatnonzero(bad_lu)[0])
                raise DataValidationError(
                    f"{source_name}: row {row + 2} (channel {str(key[row])!r}): last_update "
                    f"{float(lu[row])!r} is out of range (unix seconds 0..{_TIMESTAMP_LIMIT - 1})"
                )
            fractional = (lu != np.floor(lu)) & ~np.isnan(lu)  # BOLT 7: whole seconds
            if fractional.any():
                row = int(np.flatnonzero(fractional)[0])
                raise DataValidationError(
                    f"{source_name}: row {row + 2} (channel {str(key[row])!r}): last_update "
                    f"{float(lu[row])!r} is not a whole number of seconds"
                )
            last_update = np.where(np.isnan(lu), -1, lu).astype(np.int64)

        keep = np.ones(len(df), dtype=bool) if include_disabled else ~disabled
        node_list: list[str] = []
        aliases: list[str] = []
        if nodes is not None:
            node_ids = nodes["node_id"].astype(str).to_numpy()
            _check_pubkeys(node_ids, "node_id", nodes_name)
            node_list = node_ids.tolist()
            aliases = (
                nodes["alias"].fillna("").astype(str).tolist()
                if "alias" in nodes.columns
                else [""] * len(node_list)
            )
            if len(set(node_list)) != len(node_list):
                row = int(np.flatnonzero(pd.Series(node_ids).duplicated().to_numpy())[0])
                raise DataValidationError(
                    f"{nodes_name}: row {row + 2}: nodes file lists a node twice"
                )
        known = set(node_list)
        extra = sorted((set(src) | set(dst)) - known)
        node_list += extra
        aliases += [""] * len(extra)
        index = {v: i for i, v in enumerate(node_list)}
        src_idx = np.fromiter((index[v] for v in src[keep]), dtype=np.int64, count=int(keep.sum()))
        dst_idx = np.fromiter((index[v] for v in dst[keep]), dtype=np.int64, count=int(keep.sum()))

        def fill0(col: str) -> np.ndarray:
            return np.nan_to_num(num[col][keep], nan=0.0).astype(np.int64)

        ref = int(cap_i[~disabled].max()) if (~disabled).any() else int(cap_i.max())
        return cls(
            node_ids=np.array(node_list, dtype=str),
            aliases=np.array(aliases, dtype=str),
            edge_source=src_idx,
            edge_target=dst_idx,
            channel_id=key[keep].astype(str),
            capacity_sat=cap_i[keep],
            base_fee_msat=fill0("base_fee_msat"),
            fee_rate_ppm=fill0("fee_rate_ppm"),
            cltv_delta=fill0("cltv_delta"),
            htlc_min_msat=htlc_min[keep].astype(np.int64),
            htlc_max_msat=htlc_max[keep].astype(np.int64),
            disabled=disabled[keep],
            last_update=None if last_update is None else last_update[keep],
            reference_capacity_sat=ref,
            source_name=source_name,
        )

    # ------------------------------------------------------------------ basics
    @property
    def n_nodes(self) -> int:
        """Number of nodes (including nodes without kept edges)."""
        return int(self.node_ids.size)

    @property
    def n_edges(self) -> int:
        """Number of directed edges (half-channels) kept."""
        return int(self.indices.size)

    @property
    def n_channels(self) -> int:
        """Number of channels with at least one kept direction."""
        return int(self.channel_key.size)

    @property
    def out_degree(self) -> np.ndarray:
        """(n,) number of out-edges per node (parallel channels counted)."""
        return np.diff(self.indptr)

    @property
    def in_degree(self) -> np.ndarray:
        """(n,) number of in-edges per node (parallel channels counted)."""
        return np.bincount(self.indices, minlength=self.n_nodes)

    def node(self, node: str | int) -> int:
        """Index of a node given as pubkey or index; ``NoRouteError('unknown_node')`` if absent."""
        if isinstance(node, (int, np.integer)) and not isinstance(node, bool):
            if 0 <= int(node) < self.n_nodes:
                return int(node)
            raise NoRouteError(f"unknown node index {int(node)}", reason="unknown_node")
        idx = self.node_index.get(str(node))
        if idx is None:
            raise NoRouteError(f"unknown node {str(node)[:70]!r}", reason="unknown_node")
        return idx

    def out_edges(self, node: str | int) -> np.ndarray:
        """Edge indices leaving ``node`` (sorted by target)."""
        u = self.node(node)
        return np.arange(self.indptr[u], self.indptr[u + 1])

    def edges_between(self, u: str | int, v: str | int) -> np.ndarray:
        """Edge indices u -> v (parallel channels), possibly empty."""
        a, b = self.node(u), self.node(v)
        lo, hi = int(self.indptr[a]), int(self.indptr[a + 1])
        tg = self.indices[lo:hi]
        return lo + np.flatnonzero(tg == b)

    @property
    def capacity_msat(self) -> np.ndarray:
        """(m,) capacity per edge in msat (int64)."""
        return self.capacity_sat * 1000

    def to_dict(self) -> dict[str, Any]:
        """Counts and totals (JSON-able)."""
        return {
            "source": self.source_name,
            "n_nodes": self.n_nodes,
            "n_edges": self.n_edges,
            "n_channels": self.n_channels,
            "n_disabled_edges": int(self.disabled.sum()),
            "total_capacity_sat": int(self.channel_capacity_sat.sum()),
            "reference_capacity_sat": self.reference_capacity_sat,
            "largest_scc_nodes": int(self.largest_scc().size),
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per directed edge, in the snapshot's column names (pubkeys as strings)."""
        frame = pd.DataFrame(
            {
                "channel_id": self.channel_id.astype(str),
                "source": self.node_ids[self.edge_source].astype(str),
                "target": self.node_ids[self.indices].astype(str),
                "capacity_sat": self.capacity_sat,
                "base_fee_msat": self.base_fee_msat,
                "fee_rate_ppm": self.fee_rate_ppm,
                "cltv_delta": self.cltv_delta,
                "htlc_min_msat": self.htlc_min_msat,
                "htlc_max_msat": self.htlc_max_msat,
                "disabled": self.disabled.astype(np.int64),
            }
        )
        if self.last_update is not None:
            frame["last_update"] = self.last_update
        return frame

    def __repr__(self) -> str:
        return (
            f"ChannelGraph(nodes={self.n_nodes}, edges={self.n_edges}, "
            f"channels={self.n_channels}, source={self.source_name!r})"
        )

    # ------------------------------------------------------------------ structure
    def structure_csr(self) -> Any:
        """(n, n) scipy CSR with one entry (1.0) per directed node pair, cached.

        Parallel channels are merged: scipy 1.17's strongly-connected-components routine
        does not terminate on a matrix with duplicate entries.
        """
        if self._structure is None:
            from scipy.sparse import csr_matrix

            pairs = self.pair_index()
            self._structure = csr_matrix(
                (
                    np.ones(pairs.dst.size),
                    pairs.dst.astype(np.int32),
                    pairs.indptr.astype(np.int32),
                ),
                shape=(self.n_nodes, self.n_nodes),
            )
        return self._structure

    def reachable_from(self, node: str | int) -> np.ndarray:
        """(n,) bool: nodes reachable from ``node`` over the kept edges (any amount)."""
        from scipy.sparse.csgraph import breadth_first_order

        u = self.node(node)
        order = breadth_first_order(
            self.structure_csr(), u, directed=True, return_predecessors=False
        )
        out = np.zeros(self.n_nodes, dtype=bool)
        out[order] = True
        return out

    def largest_scc(self) -> np.ndarray:
        """Sorted node indices of the largest strongly connected component (kept edges)."""
        if self._scc is None:
            from scipy.sparse.csgraph import connected_components

            if self.n_edges == 0:
                self._scc = np.zeros(1, dtype=np.int64)
            else:
                _, labels = connected_components(
                    self.structure_csr(), directed=True, connection="strong"
                )
                sizes = np.bincount(labels)
                self._scc = np.flatnonzero(labels == int(np.argmax(sizes))).astype(np.int64)
            self._scc.flags.writeable = False
        return self._scc

    def pair_index(self) -> _PairIndex:
        """Parallel edges grouped into unique directed pairs (built once, cached)."""
        if self._pairs is None:
            m, n = self.n_edges, self.n_nodes
            if m:
                new = np.ones(m, dtype=bool)
                new[1:] = (self.edge_source[1:] != self.edge_source[:-1]) | (
                    self.indices[1:] != self.indices[:-1]
                )
                first = np.flatnonzero(new)
            else:
                first = np.zeros(0, dtype=np.int64)
            start = np.append(first, m).astype(np.int64)
            src = self.edge_source[first]
            dst = self.indices[first]
            indptr = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
            rev_perm = np.argsort(dst, kind="stable")
            rev_indptr = np.zeros(n + 1, dtype=np.int32)
            np.cumsum(np.bincount(dst, minlength=n), out=rev_indptr[1:])
            self._pairs = _PairIndex(
                start=start,
                src=src,
                dst=dst,
                indptr=indptr,
                rev_perm=rev_perm,
                rev_indptr=rev_indptr,
                rev_src=src[rev_perm].astype(np.int32),
                dst_list=dst.tolist(),
                indptr_list=indptr.tolist(),
                start_list=start.tolist(),
            )
        return self._pairs

    def dead_end_edges(self) -> np.ndarray:
        """(m,) bool: edges leaving a node whose channels all go to one neighbour.

        Such a node can only start or end a loopless path, so the router drops these edges
        unless the node is the sender (it leaves them in for the recipient's side, which
        only needs edges *into* it). Cached.
        """
        mask = self._cache.get("dead_end_edges")
        if mask is None:
            pairs = self.pair_index()
            n = self.n_nodes
            ends = np.unique(np.concatenate([pairs.src * n + pairs.dst, pairs.dst * n + pairs.src]))
            neighbours = np.bincount(ends // n, minlength=n)
            mask = neighbours[self.edge_source] == 1
            mask.flags.writeable = False
            self._cache["dead_end_edges"] = mask
        return mask

    # ------------------------------------------------------------------ derived graphs
    def with_leaf_nodes(
        self,
        leaf_ids: Sequence[str],
        attach_to: Sequence[str | int] | np.ndarray,
        capacity_sat: Sequence[int] | np.ndarray | int,
        *,
        base_fee_msat: int = 0,
        fee_rate_ppm: int = 0,
        cltv_delta: int = 40,
        key_prefix: str = "leaf:",
    ) -> ChannelGraph:
        """A new graph with leaf nodes, each joined to one routing node by a private channel.

        Both directions of a leaf channel get the given policy (default: zero fees,
        htlc 0..capacity). ``capacity_sat`` is one value or one per leaf. Leaf ids must be
        new. The reference capacity of the public graph is kept.
        """
        leaf_ids = [str(x) for x in leaf_ids]
        k = len(leaf_ids)
        if len(set(leaf_ids)) != k or any(x in self.node_index for x in leaf_ids):
            raise InvalidParameterError("leaf ids must be unique and not already graph nodes")
        attach = np.array([self.node(a) for a in attach_to], dtype=np.int64)
        if attach.size != k:
            raise InvalidParameterError("attach_to must give one routing node per leaf")
        cap = np.broadcast_to(np.asarray(capacity_sat, dtype=np.int64), (k,))
        if k and (cap <= 0).any():
            raise InvalidParameterError("leaf capacity_sat must be positive")
        leaf_idx = self.n_nodes + np.arange(k, dtype=np.int64)
        keys = np.array([f"{key_prefix}{x}" for x in leaf_ids], dtype=str)

        def both(a: np.ndarray | int, dtype: Any = np.int64) -> np.ndarray:
            a = np.broadcast_to(np.asarray(a, dtype=dtype), (k,))
            return np.concatenate([a, a])

        lu = None
        if self.last_update is not None:
            lu = np.concatenate([self.last_update, np.full(2 * k, -1, dtype=np.int64)])
        return ChannelGraph(
            node_ids=np.concatenate([self.node_ids, np.array(leaf_ids, dtype=str)]),
            aliases=np.concatenate([self.aliases, np.array(leaf_ids, dtype=str)]),
            edge_source=np.concatenate([self.edge_source, leaf_idx, attach]),
            edge_target=np.concatenate([self.indices, attach, leaf_idx]),
            channel_id=np.concatenate([self.channel_id, keys, keys]),
            capacity_sat=np.concatenate([self.capacity_sat, cap, cap]),
            base_fee_msat=np.concatenate([self.base_fee_msat, both(base_fee_msat)]),
            fee_rate_ppm=np.concatenate([self.fee_rate_ppm, both(fee_rate_ppm)]),
            cltv_delta=np.concatenate([self.cltv_delta, both(cltv_delta)]),
            htlc_min_msat=np.concatenate([self.htlc_min_msat, both(0)]),
            htlc_max_msat=np.concatenate([self.htlc_max_msat, both(cap * 1000)]),
            disabled=np.concatenate([self.disabled, np.zeros(2 * k, dtype=bool)]),
            last_update=lu,
            reference_capacity_sat=self.reference_capacity_sat,
            source_name=self.source_name,
        )

    def to_networkx(self) -> Any:
        """``networkx.MultiDiGraph`` (interop only): nodes carry ``alias``, edges are keyed by
        channel id and carry the policy columns."""
        import networkx as nx

        g = nx.MultiDiGraph()
        g.add_nodes_from(
            (str(v), {"alias": str(a)}) for v, a in zip(self.node_ids, self.aliases, strict=True)
        )
        ids = self.node_ids
        g.add_edges_from(
            (
                str(ids[u]),
                str(ids[v]),
                str(cid),
                {
                    "capacity_sat": int(cap),
                    "base_fee_msat": int(bf),
                    "fee_rate_ppm": int(fr),
                    "cltv_delta": int(cl),
                    "htlc_min_msat": int(hmin),
                    "htlc_max_msat": int(hmax),
                    "disabled": bool(dis),
                },
            )
            for u, v, cid, cap, bf, fr, cl, hmin, hmax, dis in zip(
                self.edge_source.tolist(),
                self.indices.tolist(),
                self.channel_id.tolist(),
                self.capacity_sat.tolist(),
                self.base_fee_msat.tolist(),
                self.fee_rate_ppm.tolist(),
                self.cltv_delta.tolist(),
                self.htlc_min_msat.tolist(),
                self.htlc_max_msat.tolist(),
                self.disabled.tolist(),
                strict=True,
            )
        )
        return g


#: Compressions pandas would read through Python code while it parses (``.gz`` is gunzipped
#: here first).
_OTHER_COMPRESSIONS = (".bz2", ".zip", ".xz", ".zst", ".tar")


def _read_csv(path: Path, **kwargs: Any) -> pd.DataFrame:
    """The CSV at ``path`` (gzipped for ``.gz``), parsed from bytes in memory.

    pandas parsing a gzip stream calls Python's ``gzip`` reader for every chunk, and a
    Ctrl-C that lands there comes out as a ``ParserError`` (a "cannot read CSV" here), the
    interrupt lost; from bytes no Python code runs while it parses.
    """
    try:
        source: Any = path
        if path.suffix.lower() not in _OTHER_COMPRESSIONS:
            raw = path.read_bytes()
            source = io.BytesIO(gzip.decompress(raw) if path.suffix.lower() == ".gz" else raw)
        return pd.read_csv(source, low_memory=False, **kwargs)  # one dtype per column
    except (OSError, ValueError, UnicodeDecodeError, EOFError, zlib.error) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataValidationError(f"{path}: cannot read CSV ({first})") from exc


def _restore_header(path: Path, frame: pd.DataFrame) -> None:
    """Give ``frame`` the file's own column names, repeats included (checked later).

    pandas renames a repeated column ("x" -> "x.1"), so the raw header is read again, only
    when a column name looks renamed.
    """
    if not any(_MANGLED.fullmatch(str(c)) for c in frame.columns):
        return
    header = _read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False)
    if len(header) and header.shape[1] == frame.shape[1]:
        frame.columns = pd.Index(header.iloc[0].astype(str).tolist())


def _one_dimensional(value: Any, name: str, size: int | None, source_name: str) -> np.ndarray:
    """``value`` as a 1-D array of ``size`` values (any size if None); InvalidParameterError
    naming ``name`` otherwise."""
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise InvalidParameterError(
            f"{source_name}: {name} must be a 1-D array, got shape {arr.shape}"
        )
    if size is not None and arr.size != size:
        raise InvalidParameterError(
            f"{source_name}: {name} has {arr.size} values, edge_source has {size}"
        )
    return arr


def _whole(value: Any, name: str, size: int, source_name: str, low: int, high: int) -> np.ndarray:
    """``value`` as int64 (m,): whole numbers in ``low..high`` (integers, or floats that are
    whole); InvalidParameterError naming ``name`` and the first offending edge otherwise."""
    arr = _one_dimensional(value, name, size, source_name)
    if arr.dtype.kind not in "iuf" or arr.dtype == np.float16:
        raise InvalidParameterError(
            f"{source_name}: {name} must hold whole numbers, got dtype {arr.dtype}"
        )
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.floor(arr))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InvalidParameterError(
                f"{source_name}: {name}[{i}] is {float(arr[i])!r}, not a whole number"
            )
    out_of_range = (arr < low) | (arr > high)
    if out_of_range.any():
        i = int(np.flatnonzero(out_of_range)[0])
        raise InvalidParameterError(
            f"{source_name}: {name}[{i}] is {arr[i].item()!r}, outside {low}..{high}"
        )
    return arr.astype(np.int64)


def _flags(value: Any, name: str, size: int, source_name: str) -> np.ndarray:
    """``value`` as bool (m,): booleans, or whole numbers 0 and 1."""
    arr = _one_dimensional(value, name, size, source_name)
    if arr.dtype == bool:
        return arr
    return _whole(arr, name, size, source_name, 0, 1).astype(bool)


def _node_arrays(node_ids: Any, aliases: Any, source_name: str) -> tuple[np.ndarray, np.ndarray]:
    """The node ids and aliases as str arrays (n,) of the same length."""
    ids = _one_dimensional(node_ids, "node_ids", None, source_name).astype(str)
    names = _one_dimensional(aliases, "aliases", None, source_name).astype(str)
    if names.size != ids.size:
        raise InvalidParameterError(
            f"{source_name}: aliases has {names.size} values, node_ids has {ids.size}"
        )
    return ids, names


def _check_unique_columns(frame: pd.DataFrame, source_name: str) -> None:
    dup = frame.columns[frame.columns.duplicated()].unique()
    if len(dup):
        raise DataValidationError(
            f"{source_name}: duplicate column names: {', '.join(map(str, dup))}"
        )


def _check_pubkeys(values: np.ndarray, col: str, source_name: str) -> None:
    """DataValidationError naming the first row whose value is no 33-byte hex pubkey."""
    unique = pd.Series(pd.unique(values), dtype=object)  # check each pubkey once
    # a blank cell is NaN, and fullmatch of NaN is NaN, which astype(bool) counted as valid
    ok = unique.str.fullmatch(_PUBKEY_PATTERN).fillna(False).astype(bool)
    bad = unique[~ok.to_numpy()]
    if len(bad):
        first, column = bad.iloc[0], pd.Series(values, dtype=object)
        rows = column.isna() if not isinstance(first, str) else column == first
        row = int(np.flatnonzero(rows.to_numpy())[0])
        blank = "" if isinstance(first, str) else " (blank)"
        raise DataValidationError(
            f"{source_name}: row {row + 2}: {col} is not a 33-byte hex pubkey{blank}"
        )


def _numeric(df: pd.DataFrame, col: str, source_name: str) -> np.ndarray:
    """Column as float64 (NaN for blanks); DataValidationError for non-numbers."""
    try:
        return pd.to_numeric(df[col], errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise DataValidationError(f"{source_name}: column {col} is not numeric") from exc


def load_channel_graph(path: str | Path, *, include_disabled: bool = False) -> ChannelGraph:
    """Shorthand for :meth:`ChannelGraph.from_csv`."""
    return ChannelGraph.from_csv(path, include_disabled=include_disabled)


def node_indices(graph: ChannelGraph, nodes: Iterable[str | int]) -> np.ndarray:
    """(k,) node indices of pubkeys or indices; NoRouteError('unknown_node') if any is absent."""
    return np.array([graph.node(v) for v in nodes], dtype=np.int64)
