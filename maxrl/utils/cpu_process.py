"""Settings of a CPU worker process that make the same computation faster.

**Freed memory kept** (`keep_freed_memory`). PyTorch's CPU allocator is plain ``malloc``/``free``.
glibc serves a large tensor (more than a few hundred KiB) from fresh ``mmap`` pages and gives them back to the kernel when it is freed, so the next
tensor of that size faults every 4 KiB page in again and the kernel zeroes it: a training step of the
4M-parameter benchmark model took about 130 thousand page faults (7 with memory kept;
`python -m benchmarks.trl.profile_step` prints the count). Asking malloc to keep what is freed (no
``mmap`` for large blocks, no trimming of the heap's top) makes the step reuse the same memory
without faults. Peak memory is that of the step's busiest moment either way (fragmentation aside);
the process just does not shrink between steps. CUDA tensors have their own caching allocator.

**Grouped-query attention in sdpa** (`use_grouped_query_sdpa`). For a model with fewer key/value heads
than query heads, transformers copies the keys and values once per query head before calling sdpa
whenever it passes a mask, because CUDA's fused kernels take no mask with grouped heads. torch's CPU
kernel takes the groups itself (``enable_gqa``), with the same result and without the copies or the
sum of their gradients: an update of the TRL benchmark's work took 1.25 s instead of 1.30 s
(`python -m benchmarks.trl.profile_step`; ``TRANSFORMERS_SDPA_FORCE_GQA=0`` gives the copying path). transformers reads
``TRANSFORMERS_SDPA_FORCE_GQA`` at every call; a release without it ignores it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

__all__ = ["keep_freed_memory", "use_grouped_query_sdpa"]

logger = logging.getLogger(__name__)

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # glibc's mallopt parameters (malloc.h)
_NEVER_TRIM = 2**31 - 1  # mallopt takes an int: trim only a free top over 2 GiB


def keep_freed_memory() -> bool:
    """Set glibc's malloc to keep freed memory in this process; False (and nothing changed) where the C
    library has no ``mallopt`` (musl, macOS)."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        logger.info("keep_freed_memory: this C library has no mallopt; freed memory goes back as usual")
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM))


def use_grouped_query_sdpa() -> None:
    """Ask transformers to hand grouped key/value heads to sdpa as they are (CPU processes only: on CUDA a
    masked grouped call falls back to the slow math kernel). A value the user set is kept."""
    os.environ.setdefault("TRANSFORMERS_SDPA_FORCE_GQA", "1")
