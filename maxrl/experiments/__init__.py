"""Studies built from finished runs (e.g. the maze comparison of MaxRL, GRPO and RLOO)."""
