"""Mean-field engine and the energy market (issues 4 and 6): not built yet."""
