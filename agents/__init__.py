"""Typed prosumer agents and populations (issue 6): not built yet."""
