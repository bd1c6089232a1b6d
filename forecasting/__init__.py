"""Probabilistic forecasting (issue 5): not built yet."""
