"""maxrl against TRL's GRPOTrainer at the same work (``python -m benchmarks.run --suite trl``, and on the real
SmolLM2-135M-Instruct ``--suite trl-real``).

`spec` describes a workload as plain data (`spec.Workload` and the file that carries it with its prompts
to TRL's side); `workloads` names the two: the toy (`workload`, a random-init 4M-parameter model) and the
real model (`smollm2`). Those modules and `spec` are the only ones both venvs import: TRL runs in a venv
of its own (``bash benchmarks/trl/setup_venv.sh``), as a subprocess executing `runner`, which imports
nothing of maxrl. `inputs` writes the model folder, the maxrl parquet and the workload file, `runs`
starts and measures one process of either framework (`maxrl_side`, `trl_side`), and `interleaved` runs
them in rotated rounds and forms the paired ratios.
"""
