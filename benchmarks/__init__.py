"""abrkit benchmarks package."""
