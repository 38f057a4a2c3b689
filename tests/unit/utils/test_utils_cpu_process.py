"""CPU worker process settings: kept freed memory stops page faults on reallocation; grouped-query sdpa is asked for."""

import os
import subprocess
import sys

import pytest

CHURN = """
import resource, sys
import torch
from maxrl.utils.cpu_process import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
torch.set_num_threads(1)
def churn():
    tensors = [torch.empty(16 << 20).fill_(1.0) for _ in range(2)]  # 64 MiB each (glibc maps these), freed on return
    return sum(float(tensor[0]) for tensor in tensors)
for _ in range(10):  # the kept heap settles within a few rounds
    churn()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    churn()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _page_faults(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", CHURN, mode], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_kept_memory_is_reused_without_faulting_it_in_again():
    default, kept = _page_faults("default"), _page_faults("keep")
    assert kept * 10 < default, f"page faults: {default} by default, {kept} with freed memory kept"


def test_grouped_query_sdpa_is_asked_for_unless_the_user_chose(monkeypatch):
    from maxrl.utils.cpu_process import use_grouped_query_sdpa

    monkeypatch.delenv("TRANSFORMERS_SDPA_FORCE_GQA", raising=False)
    use_grouped_query_sdpa()
    assert os.environ["TRANSFORMERS_SDPA_FORCE_GQA"] == "1"
    monkeypatch.setenv("TRANSFORMERS_SDPA_FORCE_GQA", "0")
    use_grouped_query_sdpa()
    assert os.environ["TRANSFORMERS_SDPA_FORCE_GQA"] == "0"
