"""Data: the ``Batch`` currency, the verl-format parquet RL dataset, its resumable loader, data preparation.

Import the submodules directly (``maxrl.data.dataset``, ``maxrl.data.loader``, ``maxrl.data.batch``); this
package file imports nothing, so ``import maxrl.data.batch`` stays cheap.
"""
