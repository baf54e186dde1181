"""The benchmark harness (bench/) at a small scale: runs, request counts, replay and incremental exports."""
