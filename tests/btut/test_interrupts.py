"""Ctrl-C is exit 130 and one line, also when a library reports it as another exception."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import btut.entry
from btut.cli import main
from btut.interrupts import watch_interrupts

ABORTED = "btut: aborted (interrupted)"
VALIDATE = [
    "data",
    "validate",
    "-z",
    "ES",
    "--start",
    "2017-06-01",
    "--end",
    "2017-06-08",
    "--source",
]


def _interrupt_self() -> None:
    """Deliver a real SIGINT to this process and wait until Python's handler has run."""
    os.kill(os.getpid(), signal.SIGINT)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:  # the handler runs between two bytecodes
        time.sleep(0.01)
    pytest.fail("SIGINT was not delivered")


def test_an_interrupt_pandas_reports_as_a_parse_error_is_exit_130(
    june_csv, monkeypatch, capsys
) -> None:
    # pandas' C parser turns a KeyboardInterrupt raised while it reads its source into
    # ParserError("... Calling read(nbytes) on source failed ..."); seen in CI as
    # "btut: error: malformed CSV spain_energy_2015_2017.csv.gz: ..." and exit 4
    path = june_csv("june.csv")

    def interrupted_read(*args, **kwargs):
        try:
            _interrupt_self()
        except KeyboardInterrupt:
            raise pd.errors.ParserError(
                "Error tokenizing data. C error: Calling read(nbytes) on source failed. "
                "Try engine='python'."
            ) from None

    monkeypatch.setattr(pd, "read_csv", interrupted_read)
    code = main([*VALIDATE, str(path)])
    err = capsys.readouterr().err.strip()
    assert (code, err) == (130, ABORTED)


def test_the_same_parse_error_without_an_interrupt_stays_bad_data(
    june_csv, monkeypatch, capsys
) -> None:
    path = june_csv("june.csv")

    def failed_read(*args, **kwargs):
        raise pd.errors.ParserError("Error tokenizing data. C error: something else")

    monkeypatch.setattr(pd, "read_csv", failed_read)
    code = main([*VALIDATE, str(path)])
    err = capsys.readouterr().err.strip()
    assert code == 4
    assert err.startswith("btut: error: malformed CSV june.csv: Error tokenizing data"), err


def test_an_interrupt_while_the_command_line_loads_is_exit_130(monkeypatch, capsys) -> None:
    # an extension module cut off while it initialises raises ImportError
    # ("initialization failed"), which was exit 70, "internal error"; a bare
    # KeyboardInterrupt there printed a traceback
    real_import = __import__

    def interrupted_import(name, *args, **kwargs):
        if name == "btut.cli":
            try:
                _interrupt_self()
            except KeyboardInterrupt:
                raise ImportError("initialization failed") from None
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr("builtins.__import__", interrupted_import)
    assert btut.entry.main(["--help"]) == 130
    assert capsys.readouterr().err.strip() == ABORTED


def test_an_import_error_without_an_interrupt_is_raised(monkeypatch) -> None:
    real_import = __import__

    def broken_import(name, *args, **kwargs):
        if name == "btut.cli":
            raise ImportError("a broken install")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr("builtins.__import__", broken_import)
    with pytest.raises(ImportError, match="a broken install"):
        btut.entry.main(["--help"])


def test_the_watch_restores_the_handler_and_leaves_others_alone() -> None:
    before = signal.getsignal(signal.SIGINT)
    assert before is signal.default_int_handler  # Python's own, under pytest too
    with watch_interrupts() as outer:
        assert signal.getsignal(signal.SIGINT) is not before
        with watch_interrupts() as inner:  # the console script's watch, then the CLI's
            assert inner is outer
        with pytest.raises(KeyboardInterrupt):
            _interrupt_self()
        assert outer.interrupted
    assert signal.getsignal(signal.SIGINT) is before
    # an ignored SIGINT stays ignored (nohup, a background job)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with watch_interrupts() as watch:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            assert not watch.interrupted
    finally:
        signal.signal(signal.SIGINT, before)
    # the same for SIGTERM (ignored by a parent: the watch leaves it so)
    term_before = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with watch_interrupts():
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, term_before)


def test_an_interrupt_before_a_nonzero_exit_is_exit_130(monkeypatch, capsys) -> None:
    """A Ctrl-C that a command turned into another non-zero exit (a closed pipe's exit 1,
    say) is still an interrupt: exit 130 and the one line, whatever the code it ended with
    (the module's rule; only a 130 itself was tested)."""
    import btut.cli

    with watch_interrupts() as watch:
        watch.interrupted = True
        monkeypatch.setattr(btut.cli, "app", lambda **kwargs: 1)
        code = btut.cli._main(["db", "runs"], False, watch)
    assert code == 130
    assert capsys.readouterr().err.strip() == ABORTED


def test_the_console_script_and_python_m_use_the_entry() -> None:
    text = (Path(btut.entry.__file__).parents[1] / "pyproject.toml").read_text()
    assert 'btut = "btut.entry:main"' in text
    main_py = Path(btut.entry.__file__).with_name("__main__.py").read_text()
    assert "from btut.entry import main" in main_py
    assert sys.modules["btut.entry"] is btut.entry


def test_sigterm_is_an_interrupt_that_says_terminated() -> None:
    """SIGTERM killed the process at once (no handler): a report being written left its
    temporary file beside the target, and nothing said why the command stopped. Under the
    watch it raises KeyboardInterrupt (the same clean-up as Ctrl-C), and the command line
    says "terminated" with exit 143."""
    before = signal.getsignal(signal.SIGTERM)
    assert before == signal.SIG_DFL
    with watch_interrupts() as watch:
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
            pytest.fail("SIGTERM was not delivered")
        assert watch.interrupted and watch.terminated
        assert (watch.message, watch.exit_code) == ("btut: aborted (terminated)", 143)
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_sigterm_during_a_report_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    import btut

    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    run = btut.replay("ES", "2017-06-14", agents=20, db=url)
    target = tmp_path / "r.html"
    target.write_text("the old report")

    def terminated_fsync(fd: int) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        pytest.fail("SIGTERM was not delivered")

    monkeypatch.setattr(os, "fsync", terminated_fsync)
    code = main(["report", "--run", str(run.run_id), "--out", str(target), "--db", url])
    monkeypatch.undo()
    assert (code, capsys.readouterr().err) == (143, "btut: aborted (terminated)\n")
    assert target.read_text() == "the old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "s.sqlite"]
