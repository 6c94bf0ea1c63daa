"""Error mitigation techniques: each builds the circuits it needs, then combines their results."""
