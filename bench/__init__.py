"""Benchmarks: `python -m bench` (or `make bench`). Results go to docs/benchmarks.md by hand."""
