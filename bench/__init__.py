"""Benchmarks: a scaled workload, a served emulator with latency, and the runner (python -m bench.run)."""
