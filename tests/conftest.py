"""Shared fixtures: an offline environment, one local Ray cluster per test run, tiny models."""

import pytest

from maxrl.utils.environment import set_offline_environment

# 2 cores shared by the test process and its Ray workers: one intra-op thread each avoids
# oversubscription, which slows small-tensor work by an order of magnitude here.
set_offline_environment({"OMP_NUM_THREADS": "1"})


@pytest.fixture(scope="session")
def ray_cluster():
    """One private local Ray instance shared by every test that needs it (actor start-up dominates)."""
    import ray

    for attempt in range(2):
        if ray.is_initialized():
            break
        try:
            ray.init(
                address="local",
                num_cpus=4,
                include_dashboard=False,
                log_to_driver=False,
                object_store_memory=512 * 1024**2,
            )
        except Exception as error:  # Ray's fixed 30 s raylet start-up wait can lapse on a loaded machine
            if attempt == 1 or "timed out during startup" not in str(error):
                raise
            ray.shutdown()
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A Hugging Face folder with a tiny BPE tokenizer (chat template) and a random tiny Qwen2."""
    from maxrl.utils.tiny_models import build_tiny_model_dir

    return build_tiny_model_dir(tmp_path_factory.mktemp("tiny_qwen2"))


@pytest.fixture(scope="session")
def tiny_tokenizer():
    """The same tokenizer as in `tiny_model_dir`, without building a model."""
    from maxrl.utils.tiny_models import build_tiny_tokenizer

    return build_tiny_tokenizer()
