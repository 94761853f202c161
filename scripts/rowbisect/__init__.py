"""scripts/batch_bisect.py's parts: rows (hooks, per-row re-runs, kernels), runs (models and
scenarios), ops (raw-op sweeps) and report (text and table output)."""
