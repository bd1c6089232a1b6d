"""ChannelGraph: loading both snapshot layouts, the CSR arrays, quirks and file errors."""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data.errors import (
    DataUnavailableError,
    DataValidationError,
    InvalidParameterError,
    NoRouteError,
)
from routing import ChannelGraph

HEADER = (
    "channel_id,source,target,capacity_sat,base_fee_msat,fee_rate_ppm,cltv_delta,"
    "htlc_min_msat,htlc_max_msat,disabled"
)
A = "02" + "a" * 64
B = "03" + "b" * 64
C = "02" + "c" * 64


def write_channels(path: Path, lines: list[str], header: str = HEADER) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("\n".join([header, *lines]) + "\n")
    return path


# ---------------------------------------------------------------- the real 2026 snapshot
def test_2026_counts_match_readme(graph):
    assert graph.n_nodes == 17_324
    assert graph.n_edges == 65_810  # enabled directions
    assert graph.n_channels == 33_893  # channels with at least one enabled direction
    assert graph.largest_scc().size == 6_191
    assert not graph.disabled.any()


def test_2026_edges_equal_enabled_rows(graph, raw_channels):
    enabled = raw_channels[raw_channels["disabled"] == 0]
    ours = graph.to_frame()
    cols = ["channel_id", "source", "target"]
    merged = ours.merge(enabled, on=cols, suffixes=("", "_raw"), validate="one_to_one")
    assert len(merged) == len(enabled) == graph.n_edges
    for col in ("capacity_sat", "base_fee_msat", "fee_rate_ppm", "cltv_delta"):
        np.testing.assert_array_equal(merged[col], merged[f"{col}_raw"].astype(np.int64))
    for col in ("htlc_min_msat", "htlc_max_msat"):
        np.testing.assert_array_equal(merged[col], merged[f"{col}_raw"].astype(np.int64))


def test_csr_structure(graph):
    src = graph.edge_source
    assert graph.indptr[0] == 0 and graph.indptr[-1] == graph.n_edges
    np.testing.assert_array_equal(np.diff(graph.indptr), np.bincount(src, minlength=graph.n_nodes))
    for u in (0, 1, 17, int(np.argmax(graph.out_degree))):
        out = graph.out_edges(u)
        assert (src[out] == u).all()
        assert (np.diff(graph.indices[out]) >= 0).all()  # sorted by target
    for e in (0, 1234, graph.n_edges - 1):
        u, v = graph.edge_source[e], graph.indices[e]
        assert graph.indptr[u] <= e < graph.indptr[u + 1]
        assert e in graph.edges_between(graph.node_ids[u], graph.node_ids[v])


def test_parallel_channels_are_separate_edges(graph, raw_channels):
    enabled = raw_channels[raw_channels["disabled"] == 0]
    counts = enabled.groupby(["source", "target"]).size()
    source, target = counts.idxmax()
    assert counts.max() > 1
    between = graph.edges_between(source, target)
    assert between.size == counts.max()
    assert len(set(graph.channel_id[between])) == between.size


def test_channel_arrays_pair_the_directions(graph):
    # both directions of a channel point to the same channel row, one from each end
    e = graph.edge_channel
    both = np.flatnonzero(np.bincount(e, minlength=graph.n_channels) == 2)
    ch = both[0]
    edges = np.flatnonzero(e == ch)
    assert sorted(graph.edge_is_node1[edges].tolist()) == [False, True]
    n1, n2 = graph.channel_node1[ch], graph.channel_node2[ch]
    assert str(graph.node_ids[n1]) < str(graph.node_ids[n2])
    assert graph.channel_capacity_sat[ch] == graph.capacity_sat[edges[0]]


def test_include_disabled_keeps_every_row(lightning_dir, raw_channels):
    full = ChannelGraph.from_csv(lightning_dir / "channels.csv.gz", include_disabled=True)
    assert full.n_edges == len(raw_channels) == 101_616
    assert full.n_channels == 50_808
    assert int(full.disabled.sum()) == int((raw_channels["disabled"] == 1).sum()) == 35_806
    # disabled rows carry no policy in this snapshot: zeros, htlc max = capacity
    dis = full.disabled
    assert (full.base_fee_msat[dis] == 0).all() and (full.cltv_delta[dis] == 0).all()
    np.testing.assert_array_equal(full.htlc_max_msat[dis], full.capacity_sat[dis] * 1000)


def test_aliases_from_nodes_file(graph):
    node = "0200000000727d3b67513c916f16975e3bf8f3304cf3fcf0ed855e2ae41888f461"
    assert graph.aliases[graph.node(node)] == "lightningspore.com"


def test_to_networkx_multidigraph(make_graph):
    g = make_graph([(1, 0, 1, 1000, 1, 1), (2, 0, 1, 2000, 2, 2), (1, 1, 0, 1000, 3, 3)])
    nxg = g.to_networkx()
    assert nxg.is_multigraph() and nxg.is_directed()
    assert nxg.number_of_edges() == 3
    a, b = str(g.node_ids[0]), str(g.node_ids[1])
    assert set(nxg[a][b]) == {"1", "2"}
    assert nxg[a][b]["2"]["capacity_sat"] == 2000


# ---------------------------------------------------------------- the 2021 layout
def test_2021_layout(lightning_dir):
    folder = lightning_dir / "snapshot-2021-04-16"
    raw = pd.read_csv(folder / "channels.csv.gz", dtype={"short_channel_id": str})
    g = ChannelGraph.from_csv(folder)
    enabled = raw[raw["disabled"] == 0]
    assert g.n_edges == len(enabled)
    assert g.n_channels == enabled["short_channel_id"].nunique() == 29_479
    assert g.largest_scc().size == 5_320
    assert g.last_update is not None
    assert "x" in str(g.channel_id[0])  # real short_channel_ids
    row = raw[raw["htlc_max_msat"].isna()].iloc[0]  # the one update without htlc_maximum
    cid, src = row["short_channel_id"], row["source"]
    frame = ChannelGraph.from_csv(folder, include_disabled=True).to_frame()
    hit = frame[(frame["channel_id"] == cid) & (frame["source"] == src)].iloc[0]
    assert hit["htlc_max_msat"] == row["capacity_sat"] * 1000
    lu = frame.set_index(["channel_id", "source"])["last_update"]
    assert lu[(cid, src)] == row["last_update"]
    # extreme fee outliers are kept as they are
    assert int(g.fee_rate_ppm.max()) == int(enabled["fee_rate_ppm"].max())


# ---------------------------------------------------------------- quirks on small files
def test_blank_htlc_values(tmp_path):
    path = write_channels(
        tmp_path / "channels.csv.gz",
        [f"7,{A},{B},5000,1000,10,40,,,0", f"7,{B},{A},5000,0,1,40,2000,3000000,0"],
    )
    g = ChannelGraph.from_csv(path)
    e_ab = g.edges_between(A, B)[0]
    e_ba = g.edges_between(B, A)[0]
    assert g.htlc_min_msat[e_ab] == 0 and g.htlc_max_msat[e_ab] == 5_000_000
    assert g.htlc_min_msat[e_ba] == 2000 and g.htlc_max_msat[e_ba] == 3_000_000
    assert list(g.aliases) == ["", ""]  # no nodes file


def test_the_largest_capacity_stays_inside_int64_in_msat(tmp_path):
    cap = 2**62 // 1000 - 1  # sat; twice all the bitcoin there is
    path = write_channels(
        tmp_path / "channels.csv.gz",
        [f"7,{A},{B},{cap},0,0,40,,,0", f"7,{B},{A},{cap},0,1,40,0,,0"],
    )
    g = ChannelGraph.from_csv(path)
    assert g.capacity_msat.tolist() == [cap * 1000] * 2
    assert g.htlc_max_msat.tolist() == [cap * 1000] * 2


def test_disabled_direction_dropped(tmp_path):
    write_channels(
        tmp_path / "channels.csv.gz",
        [f"1,{A},{B},5000,1,1,40,0,5000000,0", f"1,{B},{A},5000,,,,,,1"],
    )
    g = ChannelGraph.from_csv(tmp_path)
    assert g.n_edges == 1 and g.n_channels == 1 and g.n_nodes == 2
    assert g.edges_between(B, A).size == 0
    with pytest.raises(NoRouteError) as err:
        g.node("02" + "f" * 64)
    assert err.value.reason == "unknown_node"


def test_blank_last_update_is_minus_one(tmp_path):
    header = HEADER.replace("channel_id", "short_channel_id") + ",last_update"
    write_channels(
        tmp_path / "channels.csv.gz",
        [f"1x2x3,{A},{B},5000,1,1,40,0,5000000,0,", f"1x2x3,{B},{A},5000,1,1,40,0,5000000,0,17"],
        header=header,
    )
    g = ChannelGraph.from_csv(tmp_path)
    assert g.last_update[g.edges_between(A, B)[0]] == -1  # unknown, not the 1970 epoch
    assert g.last_update[g.edges_between(B, A)[0]] == 17
    # capacity in msat: 5000 sat x 1000
    np.testing.assert_array_equal(g.capacity_msat, [5_000_000, 5_000_000])


def test_largest_scc_is_the_largest_component(make_graph):
    # nodes 0 <-> 1 form a 2-node component, 2 -> 3 -> 4 -> 2 a 3-node cycle; 1 -> 2 joins
    # them one way only, so the strong components are {0, 1} and {2, 3, 4}
    g = make_graph(
        [
            ("a", 0, 1, 100, 0, 0),
            ("a", 1, 0, 100, 0, 0),
            ("b", 1, 2, 100, 0, 0),
            ("c", 2, 3, 100, 0, 0),
            ("d", 3, 4, 100, 0, 0),
            ("e", 4, 2, 100, 0, 0),
        ]
    )
    np.testing.assert_array_equal(g.largest_scc(), [2, 3, 4])
    assert g.to_dict()["largest_scc_nodes"] == 3


def test_degrees_and_dead_ends_by_hand(make_graph):
    # 0 <-> 1 twice (parallel), 1 <-> 2, 1 -> 3 only, 2 <-> 4: neighbours 0:{1} 1:{0,2,3}
    # 2:{1,4} 3:{1} 4:{2}; the edges leaving 0 and 4 (one neighbour each) are dead ends
    g = make_graph(
        [
            ("a", 0, 1, 100, 0, 0),
            ("a", 1, 0, 100, 0, 0),
            ("a2", 0, 1, 100, 0, 0),
            ("a2", 1, 0, 100, 0, 0),
            ("b", 1, 2, 100, 0, 0),
            ("b", 2, 1, 100, 0, 0),
            ("c", 1, 3, 100, 0, 0),
            ("d", 2, 4, 100, 0, 0),
            ("d", 4, 2, 100, 0, 0),
        ]
    )
    assert g.out_degree.tolist() == [2, 4, 2, 0, 1]
    assert g.in_degree.tolist() == [2, 3, 2, 1, 1]
    np.testing.assert_array_equal(g.dead_end_edges(), np.isin(g.edge_source, [0, 4]))


def test_reference_capacity_ignores_disabled_directions(tmp_path):
    write_channels(
        tmp_path / "channels.csv.gz",
        [
            f"1,{A},{B},5000,1,1,40,0,,0",
            f"1,{B},{A},5000,1,1,40,0,,0",
            f"2,{A},{C},9000,,,,,,1",  # larger, but disabled both ways
            f"2,{C},{A},9000,,,,,,1",
        ],
    )
    assert ChannelGraph.from_csv(tmp_path).reference_capacity_sat == 5000
    what_if = ChannelGraph.from_csv(tmp_path, include_disabled=True)
    assert what_if.n_edges == 4 and what_if.reference_capacity_sat == 5000


def test_missing_file(tmp_path):
    with pytest.raises(DataUnavailableError, match="not found"):
        ChannelGraph.from_csv(tmp_path / "nope")


@pytest.mark.parametrize(
    ("lines", "header", "match"),
    [
        ([f"1,{A},{B},5000,1,1,40,0,1,0"], HEADER.replace(",cltv_delta", ""), "cltv_delta"),
        ([f"1,{A},{B},5000,1,1,40,0,1,0"], HEADER.replace("channel_id", "id"), "channel_id"),
        ([f"1,{A},zz,5000,1,1,40,0,1,0"], HEADER, "pubkey"),
        ([f"1,{A},{A},5000,1,1,40,0,1,0"], HEADER, "self-loop"),
        ([f"1,{A},{B},lots,1,1,40,0,1,0"], HEADER, "capacity_sat"),
        ([f"1,{A},{B},0,1,1,40,0,1,0"], HEADER, "capacity_sat"),
        ([f"1,{A},{B},5000,,1,40,0,1,0"], HEADER, "without a fee policy"),
        ([f"1,{A},{B},5000,1,1,40,0,1,2"], HEADER, "disabled"),
        ([f"1,{A},{B},5000,-1,1,40,0,1,0"], HEADER, "base_fee_msat"),
        ([f"1,{A},{B},5000,1,1,40,0,1,0", f"1,{A},{B},5000,2,1,40,0,1,0"], HEADER, "twice"),
        ([f"1,{A},{B},5000,1,1,40,0,1,0", f"1,{A},{C},5000,2,1,40,0,1,0"], HEADER, "end points"),
        ([f"1,{A},{B},5000,1,1,40,0,1,0", f"1,{B},{A},6000,2,1,40,0,1,0"], HEADER, "capacit"),
        ([], HEADER, "no channel rows"),
        # 10^16 sat is below 2**62 but 10^19 msat is not inside int64 (it wrapped to < 0)
        ([f"1,{A},{B},{10**16},1,1,40,0,,0"], HEADER, r"capacity_sat out of range \(0\.\."),
    ],
)
def test_malformed_files(tmp_path, lines, header, match):
    path = write_channels(tmp_path / "channels.csv.gz", lines, header)
    with pytest.raises(DataValidationError, match=match) as err:
        ChannelGraph.from_csv(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def assert_refused(path: Path, match: str, *, folder: Path | None = None) -> str:
    """Loading ``folder`` (or ``path``) gives a one-line DataValidationError naming ``path``."""
    with pytest.raises(DataValidationError, match=match) as err:
        ChannelGraph.from_csv(path if folder is None else folder)
    message = str(err.value)
    assert str(path) in message and "\n" not in message
    return message


GOOD = [f"7,{A},{B},5000,1000,10,40,1,5000000,0", f"7,{B},{A},5000,0,1,40,2000,3000000,0"]


@pytest.mark.parametrize(
    ("col", "value"),
    [
        ("capacity_sat", "5000.7"),
        ("base_fee_msat", "0.5"),
        ("fee_rate_ppm", "1.25"),
        ("cltv_delta", "40.1"),
        ("htlc_min_msat", "2000.001"),
        ("htlc_max_msat", "1.5e-3"),
    ],
)
def test_fractional_amounts_are_refused(tmp_path, col, value):
    # 5000.7 sat used to load as 5000: amounts are whole sat / msat (and ppm, blocks)
    fields = HEADER.split(",")
    row = GOOD[1].split(",")
    row[fields.index(col)] = value
    lines = [GOOD[0], ",".join(row)]
    if col == "capacity_sat":  # both directions carry the channel's capacity
        first = GOOD[0].split(",")
        first[fields.index(col)] = value
        lines[0] = ",".join(first)
    path = write_channels(tmp_path / "channels.csv.gz", lines)
    message = assert_refused(path, "not a whole number")
    row_no = 2 if col == "capacity_sat" else 3
    assert f"row {row_no} (channel '7'): {col} {float(value)!r}" in message


def test_whole_numbers_in_float_notation_still_load(tmp_path):
    path = write_channels(
        tmp_path / "channels.csv.gz",
        [f"7,{A},{B},5000.0,1e3,10,40,1,5e6,0", f"7,{B},{A},5000,0,1,40,2000,,0"],
    )
    g = ChannelGraph.from_csv(path)
    e = g.edges_between(A, B)[0]
    assert g.capacity_sat[e] == 5000 and g.base_fee_msat[e] == 1000
    assert g.htlc_max_msat[e] == 5_000_000


def test_duplicate_column_names_are_refused(tmp_path):
    # pandas reads the repeat as "capacity_sat.1" and the first column silently won
    path = write_channels(
        tmp_path / "channels.csv.gz",
        [line + ",5" for line in GOOD],
        header=HEADER + ",capacity_sat",
    )
    message = assert_refused(path, "duplicate column names: capacity_sat$")
    assert message.count("capacity_sat") == 1
    # the same for a frame (it used to say 'column capacity_sat is not numeric') ...
    frame = pd.read_csv(path, dtype={"channel_id": str})
    frame.columns = [*HEADER.split(","), "capacity_sat"]
    with pytest.raises(DataValidationError, match="duplicate column names: capacity_sat"):
        ChannelGraph.from_frame(frame)
    # ... and for the nodes file
    write_channels(tmp_path / "ok" / "channels.csv.gz", GOOD)
    nodes = write_channels(tmp_path / "ok" / "nodes.csv.gz", [f"{A},a,x"], "node_id,alias,alias")
    assert_refused(nodes, "duplicate column names: alias", folder=tmp_path / "ok")
    # a column whose own name looks renamed is no repeat
    write_channels(
        tmp_path / "v" / "channels.csv.gz", [line + ",1" for line in GOOD], HEADER + ",v.1"
    )
    assert ChannelGraph.from_csv(tmp_path / "v").n_edges == 2


@pytest.mark.parametrize("value", ["1e30", "-5", "4294967296", "inf"])
def test_last_update_out_of_range_is_refused(tmp_path, value):
    # 1e30 used to become -9223372036854775808 with only a numpy RuntimeWarning
    header = HEADER.replace("channel_id", "short_channel_id") + ",last_update"
    path = write_channels(
        tmp_path / "channels.csv.gz",
        [f"1x2x3,{A},{B},5000,1,1,40,0,5000000,0,17", f"1x2x3,{B},{A},5000,1,1,40,0,,0,{value}"],
        header=header,
    )
    message = assert_refused(path, "last_update")
    assert f"row 3 (channel '1x2x3'): last_update {float(value)!r} is out of range" in message


def test_a_fractional_last_update_is_refused_and_a_blank_is_none(tmp_path):
    """1618565632.5 was cut to whole seconds silently (a CLI audit); blank stays -1."""
    header = HEADER.replace("channel_id", "short_channel_id") + ",last_update"
    rows = [f"1x2x3,{A},{B},5000,1,1,40,0,5000000,0,", f"1x2x3,{B},{A},5000,1,1,40,0,,0,16.5"]
    path = write_channels(tmp_path / "channels.csv.gz", rows, header=header)
    message = assert_refused(path, "last_update")
    assert "row 3 (channel '1x2x3'): last_update 16.5 is not a whole number of seconds" in message
    rows[1] = rows[1].replace("16.5", "16")
    path = write_channels(tmp_path / "channels.csv.gz", rows, header=header)
    assert sorted(ChannelGraph.from_csv(path).last_update.tolist()) == [-1, 16]


def test_last_update_at_the_u32_limit_loads(tmp_path):
    header = HEADER.replace("channel_id", "short_channel_id") + ",last_update"
    path = write_channels(
        tmp_path / "channels.csv.gz",
        [f"1x2x3,{A},{B},5000,1,1,40,0,,0,0", f"1x2x3,{B},{A},5000,1,1,40,0,,0,4294967295"],
        header=header,
    )
    assert sorted(ChannelGraph.from_csv(path).last_update.tolist()) == [0, 4294967295]


@pytest.mark.parametrize("node", ["notapubkey", "", "04" + "a" * 64, "02" + "g" * 64, A + "00"])
def test_node_ids_must_be_pubkeys(tmp_path, node):
    # these used to become graph nodes (the 2026 nodes file has 17,324 valid ids)
    write_channels(tmp_path / "channels.csv.gz", GOOD)
    nodes = write_channels(tmp_path / "nodes.csv.gz", [f"{A},a", f'"{node}",b'], "node_id,alias")
    message = assert_refused(nodes, "node_id is not a 33-byte hex pubkey", folder=tmp_path)
    assert "nodes.csv.gz: row 3: node_id" in message
    # the same check for a nodes frame
    with pytest.raises(DataValidationError, match=r"\(nodes\): row 3: node_id is not a 33-byte"):
        ChannelGraph.from_frame(
            pd.read_csv(tmp_path / "channels.csv.gz", dtype={"channel_id": str}),
            nodes=pd.DataFrame({"node_id": [A, node], "alias": ["a", "b"]}),
        )


@pytest.mark.parametrize("column", ["source", "target"])
def test_a_blank_channel_endpoint_is_refused(tmp_path, column):
    """A blank cell read as NaN passed the pubkey check and crashed later (exit 70: '<' not
    supported between float and str), found by a CLI audit."""
    rows = [f"7,{A},{B},5000,1000,10,40,1,5000000,0", f"8,{B},{A},5000,0,1,40,2000,3000000,0"]
    rows[1] = rows[1].replace(B, "", 1) if column == "source" else rows[1].replace(A, "", 1)
    path = write_channels(tmp_path / "channels.csv.gz", rows)
    assert_refused(path, f"row 3: {column} is not a 33-byte hex pubkey \\(blank\\)")


def test_nodes_file_repeat_names_the_nodes_file(tmp_path):
    write_channels(tmp_path / "channels.csv.gz", GOOD)
    lines = [f"{A},a", f"{C},c", f"{A},b"]
    nodes = write_channels(tmp_path / "nodes.csv.gz", lines, "node_id,alias")
    assert_refused(nodes, "row 4: nodes file lists a node twice", folder=tmp_path)
    # valid nodes file: listed nodes (also those without channels) and aliases load
    write_channels(tmp_path / "nodes.csv.gz", [f"{A},a", f"{C},c"], "node_id,alias")
    g = ChannelGraph.from_csv(tmp_path)
    assert g.n_nodes == 3 and list(g.aliases) == ["a", "c", ""]


@pytest.mark.parametrize("bad", [[1, 2], None, "channels.csv"])
def test_from_frame_needs_a_data_frame(bad):
    # a list gave AttributeError: 'list' object has no attribute 'columns'
    with pytest.raises(InvalidParameterError, match="channels must be a pandas DataFrame"):
        ChannelGraph.from_frame(bad)


def test_from_frame_nodes_must_be_a_data_frame(make_graph):
    frame = make_graph([(1, 0, 1, 10_000, 1, 1)]).to_frame()
    with pytest.raises(InvalidParameterError, match="nodes must be a pandas DataFrame"):
        ChannelGraph.from_frame(frame, nodes=["x"])


def test_corrupt_gzip(tmp_path):
    path = tmp_path / "channels.csv.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(DataValidationError, match=r"channels\.csv\.gz"):
        ChannelGraph.from_csv(path)


def test_with_leaf_nodes(make_graph):
    g = make_graph([(1, 0, 1, 10_000, 1, 1), (1, 1, 0, 10_000, 1, 1)])
    leafy = g.with_leaf_nodes(["agent-0", "agent-1"], [0, 1], [50_000, 70_000])
    assert leafy.n_nodes == 4 and leafy.n_edges == 6 and leafy.n_channels == 3
    assert leafy.reference_capacity_sat == g.reference_capacity_sat == 10_000
    e = leafy.edges_between("agent-1", g.node_ids[1])[0]
    assert leafy.capacity_sat[e] == 70_000 and leafy.base_fee_msat[e] == 0
    assert leafy.htlc_max_msat[e] == 70_000_000
    assert leafy.edges_between(g.node_ids[0], "agent-0").size == 1


def test_an_htlc_minimum_above_the_maximum_is_refused(tmp_path):
    """No amount could pass such a direction; it loaded without comment."""
    lines = [GOOD[0], f"7,{B},{A},5000,0,1,40,3000001,3000000,0"]
    path = write_channels(tmp_path / "channels.csv.gz", lines)
    message = assert_refused(path, "htlc_min_msat")
    assert message.endswith(
        "row 3 (channel '7'): htlc_min_msat 3000001 is above htlc_max_msat 3000000"
    )
    # a blank maximum is the capacity: a minimum above it is refused too, equal loads
    lines = [GOOD[0], f"7,{B},{A},5000,0,1,40,5000001,,0"]
    path = write_channels(tmp_path / "channels.csv.gz", lines)
    assert "htlc_min_msat 5000001 is above htlc_max_msat 5000000" in assert_refused(path, "above")
    lines = [GOOD[0], f"7,{B},{A},5000,0,1,40,5000000,,0"]
    g = ChannelGraph.from_csv(write_channels(tmp_path / "channels.csv.gz", lines))
    assert g.htlc_min_msat.tolist() == [1, 5_000_000]


def _python_reads_while_loading(path: Path) -> int:
    """Python functions named read* called while ``ChannelGraph.from_csv`` loads ``path``."""
    calls = 0

    def profile(frame, event, arg):
        nonlocal calls
        if event == "call" and frame.f_code.co_name in ("read", "read1", "readinto", "readline"):
            calls += 1

    sys.setprofile(profile)
    try:
        ChannelGraph.from_csv(path)
    finally:
        sys.setprofile(None)
    return calls


@pytest.mark.parametrize("suffix", [".csv.gz", ".csv"])
def test_a_snapshot_is_parsed_without_python_reads_so_ctrl_c_stays_an_interrupt(
    lightning_dir, tmp_path, suffix
):
    # pandas reading a gzip stream or a file calls a Python read for every chunk; a Ctrl-C
    # that landed there came out as "cannot read CSV (Error tokenizing data ... Calling
    # read(nbytes) on source failed)" (1 of 6 timed SIGINTs on the 2026 snapshot). The count
    # must not grow with the file: 1,000 channels against all of them
    with gzip.open(lightning_dir / "channels.csv.gz", "rt") as fh:
        lines = fh.read().splitlines(keepends=True)
    counts = []
    for n in (1_000, len(lines) - 1):
        folder = tmp_path / f"{n}{suffix.replace('.', '_')}"
        folder.mkdir()
        text = "".join(lines[: n + 1])
        path = folder / f"channels{suffix}"
        if suffix.endswith(".gz"):
            path.write_bytes(gzip.compress(text.encode()))
        else:
            path.write_text(text)
        counts.append(_python_reads_while_loading(path))
    assert counts[0] == counts[1], counts
