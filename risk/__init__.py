"""CVaR estimators and risk-adjusted objectives (issue 5): not built yet."""
