"""The driver: Hydra entry point, the step loop, validation, checkpoints, tracking and plots."""
