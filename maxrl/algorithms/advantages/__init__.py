"""Advantage estimators; importing this package registers every built-in one."""

from maxrl.algorithms.advantages import baselines, grpo, maclaurin, maxrl, pkpo, returns  # noqa: F401
