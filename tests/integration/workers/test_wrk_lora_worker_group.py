"""LoRA on two `ActorRolloutRefWorker` ranks (FSDP2 over gloo, in Ray) against one process with peft.

The group trains the adapters of the tiny Qwen2 with a KL loss, so its reference is the actor with the
adapters off. Checked against independent single-process code in float32: gradients of the adapters
(1e-5 relative), one update with two mini-batches (loss and grad norm 1e-5 relative, adapter update 1e-3 of
its norm, as in test_wrk_worker_group.py), log-probs, reference log-probs (the base model), samples drawn
from the merged weights (the weight-sync check runs at every generation), an adapter-only checkpoint with a
bitwise-exact resume, and the export (merged model and adapter folder).
"""

import lora_workers
import pytest
import torch
from peft import PeftModel
from ray import cloudpickle
from transformers import AutoModelForCausalLM

from maxrl.algorithms import agg_loss, compute_policy_loss, kl_penalty
from maxrl.config import compose_config
from maxrl.controller import ResourcePool, WorkerGroup
from maxrl.data.batch import Batch
from maxrl.workers import update_order
from maxrl.workers.lora import ADAPTER_DIR, LoraSettings, add_adapters
from maxrl.workers.rollout.vllm_sync_check import WEIGHT_SYNC_METRIC
from maxrl.workers.safe_dcp import read_metadata

WORLD_SIZE, N, RESPONSE_LENGTH, LR, SEED = 2, 2, 8, 1e-2, 7
cloudpickle.register_pickle_by_value(lora_workers)  # the Ray workers cannot import the tests folder

TEXTS = ["what is 12 + 30", "the answer", "how many apples does she have left", "sum of 7 and 8"]


@pytest.fixture(scope="module")
def config(tiny_model_dir):
    return compose_config([
        f"actor_rollout_ref.model.path={tiny_model_dir}",
        "actor_rollout_ref.model.lora_rank=4",
        "actor_rollout_ref.model.lora_alpha=8",
        "data.train_batch_size=4",
        f"data.max_response_length={RESPONSE_LENGTH}",
        "data.max_prompt_length=16",
        "trainer.device=cpu",
        f"trainer.seed={SEED}",
        f"trainer.n_gpus_per_node={WORLD_SIZE}",
        f"actor_rollout_ref.rollout.n={N}",
        "actor_rollout_ref.rollout.dtype=fp32",
        "actor_rollout_ref.rollout.check_weight_sync=true",
        "actor_rollout_ref.actor.dtype=fp32",
        "actor_rollout_ref.actor.ppo_mini_batch_size=2",
        "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=1",
        "actor_rollout_ref.actor.use_kl_loss=true",
        "actor_rollout_ref.actor.kl_loss_coef=0.1",
        "actor_rollout_ref.actor.entropy_coeff=0",
        f"actor_rollout_ref.actor.optim.lr={LR}",
    ])


@pytest.fixture(scope="module")
def group(ray_cluster, config):
    pool = ResourcePool(nnodes=1, per_node=WORLD_SIZE, device="cpu")
    with WorkerGroup(lora_workers.GradientProbe, pool, config, timeout_s=120, start_timeout_s=240) as workers:
        yield workers
    pool.shutdown()


def load(path):
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()


def single_process_model(model_dir, config):
    """The adapted model a single process builds from the same settings and seed."""
    model = load(model_dir)
    return model, add_adapters(model, LoraSettings.from_config(config.actor_rollout_ref.model), seed=SEED)


def make_prompts(tokenizer):
    encoded = tokenizer(TEXTS, padding=True, return_tensors="pt")
    positions = (encoded["attention_mask"].cumsum(-1) - 1).clamp(min=0)
    return Batch({"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"],
                  "position_ids": positions}, {"uid": [f"prompt{i}" for i in range(len(TEXTS))]})


def plain_log_probs(model, batch):
    """Independent single-process log-probs: full logits, shift by one, log-softmax, gather."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                   position_ids=batch["position_ids"]).logits[:, -RESPONSE_LENGTH - 1: -1]
    return torch.log_softmax(logits.float(), -1).gather(-1, batch["responses"][..., None]).squeeze(-1)


@pytest.fixture(scope="module")
def start(group, tmp_path_factory, tiny_tokenizer):
    """The initial checkpoint and a batch sampled at the initial weights, with old and reference log-probs."""
    path = str(tmp_path_factory.mktemp("lora_ckpt") / "initial")
    group.save_checkpoint(path)
    samples = group.generate_sequences(make_prompts(tiny_tokenizer), step=0)
    batch = samples.union(group.compute_log_prob(samples)).union(group.compute_ref_log_prob(samples))
    advantages = torch.randn(len(batch), 1, generator=torch.Generator().manual_seed(0))
    return path, batch.union(Batch({"advantages": advantages.expand(-1, RESPONSE_LENGTH).clone()}))


def group_update(group, batch):
    metrics = group.update_actor(batch.reorder(update_order(len(batch), mini_batch_samples=4, world_size=WORLD_SIZE)))
    assert metrics[0] == metrics[1]
    return metrics[0]


def single_process_update(model, wrapped, batch, config):
    """Per mini-batch: policy loss + KL to the adapters-off model, backward, clip, AdamW on the adapters."""
    actor = config.actor_rollout_ref.actor
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=LR, betas=tuple(actor.optim.betas), weight_decay=actor.optim.weight_decay)
    losses, norms = [], []
    model.train()
    for mini in batch.split(2):
        mask = mini["response_mask"]
        with torch.no_grad(), wrapped.disable_adapter():
            reference = plain_log_probs(model, mini)
        log_prob = plain_log_probs(model, mini)
        pg_loss, _ = compute_policy_loss("vanilla", mini["old_log_probs"], log_prob, mini["advantages"], mask,
                                         "token-mean", clip_ratio=actor.clip_ratio, clip_ratio_c=actor.clip_ratio_c)
        kl = kl_penalty(log_prob, reference, actor.kl_loss_type)
        (pg_loss + actor.kl_loss_coef * agg_loss(kl, mask, "token-mean")).backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(trainable, actor.grad_clip)))
        losses.append(pg_loss.item())
        optimizer.step()
        optimizer.zero_grad()
    return sum(losses) / len(losses), sum(norms) / len(norms)


def adapters(model):
    return {name.removeprefix("base_model.model."): p.detach().clone() for name, p in model.named_parameters()
            if ".lora_" in name}


@pytest.fixture(scope="module")
def trained(group, start, config, tiny_model_dir, tmp_path_factory):
    """One update of the group from the start; its metrics, checkpoint and export."""
    path, batch = start
    group.load_checkpoint(path)
    metrics = group_update(group, batch)
    folder = tmp_path_factory.mktemp("lora_trained")
    group.save_checkpoint(str(folder / "checkpoint"))
    group.export_hf(str(folder / "huggingface"))
    return metrics, folder


def test_only_the_adapters_are_optimized_and_there_is_no_reference_copy(group):
    for layout in group.lora_layout():
        assert not layout["reference_copy"]
        assert layout["optimized"] and all(".lora_A." in n or ".lora_B." in n for n in layout["optimized"])


def test_reference_log_probs_at_the_start_are_the_base_model(start, tiny_model_dir):
    _, batch = start
    mask = batch["response_mask"].bool()
    with torch.no_grad():
        expected = plain_log_probs(load(tiny_model_dir), batch)
    torch.testing.assert_close(batch["ref_log_prob"][mask], expected[mask], atol=1e-5, rtol=0)


def test_update_on_two_ranks_equals_the_single_process_update(trained, start, config, tiny_model_dir):
    metrics, folder = trained
    model, wrapped = single_process_model(tiny_model_dir, config)
    initial = adapters(model)
    pg_loss, grad_norm = single_process_update(model, wrapped, start[1], config)
    assert metrics["actor/pg_loss"] == pytest.approx(pg_loss, rel=1e-5)
    assert metrics["actor/grad_norm"] == pytest.approx(grad_norm, rel=1e-5)
    got = adapters(PeftModel.from_pretrained(load(tiny_model_dir), folder / "huggingface" / ADAPTER_DIR))
    expected = adapters(model)
    step = torch.cat([(expected[n] - initial[n]).flatten() for n in initial])
    gap = torch.cat([(got[n] - expected[n]).flatten() for n in initial])
    assert gap.norm() <= 1e-3 * step.norm()


def test_gradients_log_probs_and_samples_after_training(group, trained, start, config, tiny_model_dir, tiny_tokenizer):
    """At the trained adapters (B != 0): gradients and log-probs equal one process; the rollout samples
    from the merged weights (sampler log-probs equal the actor's, weight-sync check passed)."""
    _, folder = trained
    _, batch = start
    group.load_checkpoint(str(folder / "checkpoint"))
    single = PeftModel.from_pretrained(load(tiny_model_dir), folder / "huggingface" / ADAPTER_DIR, is_trainable=True)
    mask = batch["response_mask"].bool()
    log_probs = plain_log_probs(single, batch)
    (log_probs * mask).sum().div(mask.sum()).backward()
    expected = {n.removeprefix("base_model.model."): p.grad for n, p in single.named_parameters() if p.grad is not None}
    for gradients in group.lora_gradients(batch):
        assert gradients.keys() == expected.keys() and len(expected) > 0
        for name, gradient in gradients.items():
            torch.testing.assert_close(gradient, expected[name], rtol=1e-5, atol=1e-6)
    computed = group.compute_log_prob(batch)["old_log_probs"]
    torch.testing.assert_close(computed[mask], log_probs.detach()[mask], atol=1e-5, rtol=0)
    with torch.no_grad():
        base = plain_log_probs(load(tiny_model_dir), batch)
    assert (computed - base)[mask].abs().max() > 1e-4  # trained away from the base, yet the reference is it
    torch.testing.assert_close(group.compute_ref_log_prob(batch)["ref_log_prob"][mask], base[mask], atol=1e-5, rtol=0)

    samples = group.generate_sequences(make_prompts(tiny_tokenizer), step=1)
    assert samples.meta[WEIGHT_SYNC_METRIC] < 1e-4
    sample_mask = samples["response_mask"].bool()
    with torch.no_grad():
        expected_samples = plain_log_probs(single, samples)
    torch.testing.assert_close(samples["rollout_log_probs"][sample_mask], expected_samples[sample_mask], atol=1e-5, rtol=0)


def test_export_loads_as_a_merged_model(trained, start, tiny_model_dir):
    _, folder = trained
    _, batch = start
    mask = batch["response_mask"].bool()
    single = PeftModel.from_pretrained(load(tiny_model_dir), folder / "huggingface" / ADAPTER_DIR)
    with torch.no_grad():
        merged, adapted = plain_log_probs(load(folder / "huggingface"), batch), plain_log_probs(single, batch)
        base = plain_log_probs(load(tiny_model_dir), batch)
    torch.testing.assert_close(merged[mask], adapted[mask], atol=1e-5, rtol=0)
    assert (merged - base)[mask].abs().max() > 1e-4


def test_checkpoint_holds_the_adapters_and_resumes_exactly(group, trained, start, tmp_path):
    _, folder = trained
    _, batch = start
    saved_keys = read_metadata(folder / "checkpoint").state_dict_metadata
    model_keys = [key for key in saved_keys if key.startswith("model.")]
    assert model_keys and all(".lora_A." in key or ".lora_B." in key for key in model_keys)
    assert any(key.startswith("optimizer.") for key in saved_keys)

    group.load_checkpoint(str(folder / "checkpoint"))
    saved = group.compute_log_prob(batch)["old_log_probs"]
    first = group_update(group, batch)
    after_first = group.compute_log_prob(batch)["old_log_probs"]
    assert not torch.equal(saved, after_first)
    group.load_checkpoint(str(folder / "checkpoint"))
    assert torch.equal(group.compute_log_prob(batch)["old_log_probs"], saved)
    assert group_update(group, batch) == first
    assert torch.equal(group.compute_log_prob(batch)["old_log_probs"], after_first)
