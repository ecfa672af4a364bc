"""Benchmarks run by hand, never in CI (pytest does not collect this folder)."""
