"""Paths the operating system cannot look at (a name too long, a symlink loop, a parent that
is a file) given as a data file, a channel snapshot or a store: one line naming the path
and the reason, the exit of that kind of input, nothing written. They were exit 70
"internal error: OSError: [Errno 36] File name too long" (the whole name echoed) or
"RuntimeError: Symlink loop", or a symlink loop as "no such data file"."""

from __future__ import annotations

from pathlib import Path

import pytest

from btut.cli import main
from data.checks import clip_path, path_mode
from data.errors import DataUnavailableError

LONG = "a" * 300  # longer than NAME_MAX (255) on every Linux file system


def _bad_paths(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    loop = tmp_path / "loop_a"
    loop.symlink_to(tmp_path / "loop_b")
    (tmp_path / "loop_b").symlink_to(loop)
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    return {
        "long": (tmp_path / f"{LONG}.csv", "File name too long"),
        "loop": (loop, "Too many levels of symbolic links"),
        "under_a_file": (plain / "x.csv", "Not a directory"),
    }


def _line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("btut: error: "), err
    assert "internal error" not in err and "Traceback" not in err
    assert len(err) < 400, err  # the 300-character name is cut in the middle
    return err


@pytest.mark.parametrize("case", ["long", "loop", "under_a_file"])
def test_a_data_source_that_cannot_be_read(case: str, tmp_path: Path, capsys) -> None:
    path, reason = _bad_paths(tmp_path)[case]
    args = ["--zone", "ES", "--start", "2017-06-14", "--end", "2017-06-15", "--source", str(path)]
    assert main(["data", "show", *args]) == 3
    assert _line(capsys) == f"btut: error: cannot read data file {clip_path(path)}: {reason}"


@pytest.mark.parametrize("case", ["long", "loop", "under_a_file"])
def test_a_channel_snapshot_that_cannot_be_read(case: str, tmp_path: Path, capsys) -> None:
    path, reason = _bad_paths(tmp_path)[case]
    expected = f"btut: error: cannot read channel snapshot {clip_path(path)}: {reason}"
    assert main(["route", "-n", "5", "--graph", str(path)]) == 3
    assert _line(capsys) == expected
    db = tmp_path / "runs.db"
    argv = ["replay", "-n", "50", "--route", "--graph", str(path), "--db", f"sqlite:///{db}"]
    assert main(argv) == 3
    assert _line(capsys) == expected
    assert not db.exists()


@pytest.mark.parametrize("case", ["long", "loop", "under_a_file"])
@pytest.mark.parametrize("command", [["db", "runs"], ["db", "show", "1"], ["compare", "1", "2"]])
def test_a_store_that_cannot_be_read(case: str, command, tmp_path: Path, capsys) -> None:
    path, reason = _bad_paths(tmp_path)[case]
    before = sorted(tmp_path.iterdir())
    assert main([*command, "--db", f"sqlite:///{path}"]) == 5
    assert _line(capsys) == f"btut: error: cannot read results store {clip_path(path)}: {reason}"
    assert sorted(tmp_path.iterdir()) == before


def test_path_mode_and_clip_path(tmp_path: Path) -> None:
    """None for nothing there, the mode otherwise; the middle of a long path is cut."""
    assert path_mode(tmp_path / "absent", "x", DataUnavailableError) is None
    assert path_mode(tmp_path, "x", DataUnavailableError) == tmp_path.stat().st_mode
    with pytest.raises(DataUnavailableError, match=r"^x 'a\\x00b' is not a valid path"):
        path_mode("a\0b", "x", DataUnavailableError)
    long = "/start/" + "m" * 500 + "/end.csv"
    shown = clip_path(long)
    assert len(shown) <= 120 and shown.startswith("/start/mm") and shown.endswith("m/end.csv")
    assert "..." in shown and clip_path("short.csv") == "short.csv"
