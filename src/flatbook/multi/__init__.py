"""Several correlated instruments quoted by one maker, with an optional portfolio skew."""
