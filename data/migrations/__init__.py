"""Alembic migrations of the BTUT results store (run by ``data.store.ResultsStore``)."""
