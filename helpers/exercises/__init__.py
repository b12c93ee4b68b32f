"""Exercise checkers, one module per notebook (ex03_tracing holds 03_tracing's checkers)."""
