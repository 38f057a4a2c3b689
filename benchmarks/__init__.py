"""Benchmarks: where an RL step's time goes, and how close each part is to the best the libraries do.

``python -m benchmarks.run --suite cpu`` (see `benchmarks.run`) times each framework call against a
baseline doing the same work directly with PyTorch / Transformers / vLLM in the same run (paired
rounds, repeated in several trials with a fresh worker process each; `benchmarks.suites` says how
many), times whole RL steps phase by phase with peak memory per process, and sweeps rollout.n and the
number of workers.
Results: ``results.json`` and ``results.md``; docs/performance.md explains them.
"""
