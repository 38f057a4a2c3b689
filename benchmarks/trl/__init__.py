"""maxrl against TRL's GRPOTrainer at the same work (``python -m benchmarks.run --suite trl``).

`workload` describes the work and is the only module shared by both sides: TRL runs in a venv of its
own (``bash benchmarks/trl/setup_venv.sh``), as a subprocess executing `runner`, which imports nothing
of maxrl. `inputs` writes the model folder and the maxrl parquet, `runs` starts and measures one
process of either framework (`maxrl_side`, `trl_side`), and `interleaved` runs them in rotated
rounds and forms the paired ratios.
"""
