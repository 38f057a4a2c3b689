"""Fixtures for the worker unit tests: left-padded prompts, a config naming the tiny model, and a
one-rank process group."""

import pytest
import torch.distributed as dist
from omegaconf import OmegaConf

from maxrl.config import compose_config
from maxrl.data.batch import Batch


@pytest.fixture(scope="module")
def prompt_batch(tiny_tokenizer):
    """Three left-padded prompts of different lengths, with position ids counting valid tokens only."""
    encoded = tiny_tokenizer(["what is 12 + 30", "the answer", "how many apples does she have left"],
                             padding=True, return_tensors="pt")
    positions = (encoded["attention_mask"].cumsum(-1) - 1).clamp(min=0)
    return Batch({"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"],
                  "position_ids": positions})


@pytest.fixture(scope="module")
def rollout_config(tiny_model_dir):
    """The composed config (every YAML default) with the tiny model and an fp32 rollout. Not in struct mode,
    so that a test can merge in a key that users add with +, such as rollout.micro_batch_size."""
    config = compose_config([f"actor_rollout_ref.model.path={tiny_model_dir}", "actor_rollout_ref.rollout.dtype=fp32"])
    OmegaConf.set_struct(config, False)
    return config


@pytest.fixture(scope="module")
def stop_heavy_ids(tiny_tokenizer):
    """Many stop ids, so that random-weight samples end at varied lengths within a few tokens."""
    return tuple(range(40, 200)) + (tiny_tokenizer.eos_token_id,)



@pytest.fixture(scope="module")
def one_process_world(tmp_path_factory):
    """A gloo world of one rank, for code that all-reduces (reused if another module left one open)."""
    if dist.is_initialized():
        assert dist.get_world_size() == 1, "another test left a multi-rank process group in this process"
        yield
        return
    store = dist.FileStore(str(tmp_path_factory.mktemp("store") / "store"), 1)
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    yield
    dist.destroy_process_group()
