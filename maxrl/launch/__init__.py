"""Launch helpers: a Ray cluster per job (local or Slurm), used by every experiment launcher."""
