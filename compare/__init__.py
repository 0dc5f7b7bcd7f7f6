"""Compare how news outlets cover the same story."""
