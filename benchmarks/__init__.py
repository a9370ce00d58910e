"""Benchmarks of lipexact: one command (``python -m benchmarks.run``) that writes a report of exact values,
upper and lower bounds and timings side by side. See ``benchmarks/README.md``."""
