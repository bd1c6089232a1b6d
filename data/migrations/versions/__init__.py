"""Alembic revision scripts of the BTUT results store."""
