"""BTUT application layer: the ``btut`` command line and (later) replay, backtest, reports."""
