"""LoRA (`maxrl.workers.lora`): merged weights equal the adapted model, their names are the plain model's
(what the hf and vllm rollouts load), the weight-sync check tells a merged sync from an unmerged one, the
adapters switch off to the base model, and the export loads with Transformers and peft."""

import pytest
import torch
from omegaconf import OmegaConf
from peft import PeftModel
from transformers import AutoModelForCausalLM

from maxrl.workers.log_probs import ForwardOptions, response_log_probs
from maxrl.workers.lora import (
    ADAPTER_DIR,
    LoraSettings,
    adapters_disabled,
    add_adapters,
    merged_parameters,
    write_lora_export,
)
from maxrl.workers.rollout import build_rollout
from maxrl.workers.rollout.vllm_sync_check import WeightSyncError, check_weight_sync
from maxrl.workers.rollout.vllm_weights import tied_parameter_aliases, with_aliases

SETTINGS = LoraSettings(rank=4, alpha=8.0)


def load(model_dir):
    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()


@pytest.fixture()
def adapted(tiny_model_dir):
    """The tiny model with adapters whose B is non-zero (after init it is zero: merged = base)."""
    model = load(tiny_model_dir)
    wrapped = add_adapters(model, SETTINGS, seed=0)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if ".lora_B." in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.1)
    return model, wrapped


def merged_model(model_dir, adapted_model):
    plain = load(model_dir)
    state = dict(merged_parameters(adapted_model.named_parameters(), SETTINGS.scale))
    result = plain.load_state_dict(state, strict=False)
    assert result.missing_keys == ["lm_head.weight"] and not result.unexpected_keys  # tied to the embeddings
    return plain


def test_settings_follow_the_model_keys():
    assert LoraSettings.from_config(OmegaConf.create({"lora_rank": 0})) is None
    settings = LoraSettings.from_config(OmegaConf.create(
        {"lora_rank": 8, "lora_alpha": 32, "target_modules": ["q_proj", "v_proj"], "lora_dropout": 0.05}
    ))
    assert settings == LoraSettings(8, 32.0, ("q_proj", "v_proj"), 0.05)
    assert settings.scale == 4.0
    assert settings.peft_config().target_modules == {"q_proj", "v_proj"}


def test_only_adapters_train_and_their_init_is_seeded(tiny_model_dir, adapted):
    model, _ = adapted
    trainable = [name for name, parameter in model.named_parameters() if parameter.requires_grad]
    assert trainable and all(".lora_A." in name or ".lora_B." in name for name in trainable)
    assert not any("lm_head" in name or "embed" in name for name in trainable)  # all-linear leaves them out
    state = torch.get_rng_state()
    first, second = (add_adapters(load(tiny_model_dir), SETTINGS, seed=5) for _ in range(2))
    assert torch.equal(torch.get_rng_state(), state)
    for (name, a), (_, b) in zip(first.named_parameters(), second.named_parameters()):
        assert torch.equal(a, b), name


def test_merged_weights_give_the_adapted_logits_in_fp32(tiny_model_dir, adapted, prompt_batch):
    model, _ = adapted
    plain = merged_model(tiny_model_dir, model)
    inputs = {key: prompt_batch[key] for key in ("input_ids", "attention_mask", "position_ids")}
    with torch.no_grad():
        expected, got = model(**inputs).logits, plain(**inputs).logits
        base = load(tiny_model_dir)(**inputs).logits
    assert (expected - base).abs().max() > 1e-2  # the adapters do change the model
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_merged_names_are_what_both_rollout_backends_load(tiny_model_dir, adapted):
    model, _ = adapted
    plain = load(tiny_model_dir)
    names = [name for name, _ in merged_parameters(model.named_parameters(), SETTINGS.scale)]
    assert sorted(names) == sorted(name for name, _ in plain.named_parameters())  # the hf rollout's model
    # vLLM gets every alias of a tied tensor too (its own lm_head): same as in a full fine-tune
    aliases = tied_parameter_aliases(plain.config)
    merged = merged_parameters(model.named_parameters(), SETTINGS.scale)
    sent = dict(with_aliases(merged, aliases))
    assert set(sent) == set(plain.state_dict())
    assert torch.equal(sent["lm_head.weight"], sent["model.embed_tokens.weight"])


def test_merge_refuses_what_it_cannot_merge(adapted):
    model, _ = adapted
    named = list(model.named_parameters())
    without_b = [(name, p) for name, p in named if not name.endswith("q_proj.lora_B.default.weight")]
    with pytest.raises(ValueError, match="incomplete adapted layers"):
        list(merged_parameters(without_b, SETTINGS.scale))
    with pytest.raises(ValueError, match="unexpected adapter parameter"):
        list(merged_parameters([("model.x.lora_magnitude_vector.default.weight", named[0][1])], SETTINGS.scale))


@pytest.mark.parametrize(("targets", "message"), [
    (("lm_head",), "tied to"),
    (("embed_tokens",), "nn.Linear layers only"),
])
def test_tied_and_non_linear_targets_are_refused(tiny_model_dir, targets, message):
    with pytest.raises(ValueError, match=message):
        add_adapters(load(tiny_model_dir), LoraSettings(4, 8.0, targets), seed=0)


def test_adapters_off_is_the_base_model_and_training_resumes_after(tiny_model_dir, adapted, prompt_batch):
    model, wrapped = adapted
    inputs = {key: prompt_batch[key] for key in ("input_ids", "attention_mask", "position_ids")}
    with torch.no_grad(), adapters_disabled(wrapped):
        off = model(**inputs).logits
        assert torch.equal(off, load(tiny_model_dir)(**inputs).logits)
    assert all(p.requires_grad for name, p in model.named_parameters() if ".lora_" in name)
    assert not torch.equal(model(**inputs).logits, off)


def lora_rollout_config(rollout_config):
    return OmegaConf.merge(rollout_config, {"actor_rollout_ref": {"model": {"share_prompt_prefix": True}}})


def test_weight_sync_check_tells_a_merged_sync_from_a_base_only_one(tiny_model_dir, adapted, rollout_config,
                                                                     tiny_tokenizer, prompt_batch):
    model, _ = adapted
    backend = build_rollout("hf", config=lora_rollout_config(rollout_config), tokenizer=tiny_tokenizer)

    def actor_log_probs(batch):  # through the KV-cache layout, on the adapted module itself
        with torch.no_grad():
            return response_log_probs(model, batch, 1.0, options=ForwardOptions(True, True))[0]

    backend.sync_weights(merged_parameters(model.named_parameters(), SETTINGS.scale))
    gap = check_weight_sync(backend, prompt_batch, actor_log_probs, tolerance=1e-3)
    assert next(iter(gap.values())) < 1e-4
    base_only = [(name.replace(".base_layer", ""), p) for name, p in model.named_parameters() if ".lora_" not in name]
    backend.sync_weights(base_only)
    with pytest.raises(WeightSyncError):
        check_weight_sync(backend, prompt_batch, actor_log_probs, tolerance=1e-3)


def test_export_writes_a_merged_model_and_the_adapter(tiny_model_dir, adapted, tiny_tokenizer, prompt_batch, tmp_path):
    model, _ = adapted
    state = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
    write_lora_export(tmp_path, state, model, SETTINGS, tiny_tokenizer, torch.float32)
    inputs = {key: prompt_batch[key] for key in ("input_ids", "attention_mask", "position_ids")}
    with torch.no_grad():
        expected = model(**inputs).logits
        merged = load(tmp_path)(**inputs).logits
        from_adapter = PeftModel.from_pretrained(load(tiny_model_dir), tmp_path / ADAPTER_DIR)(**inputs).logits
    torch.testing.assert_close(merged, expected, atol=1e-5, rtol=1e-5)
    assert torch.equal(from_adapter, expected)
    assert not any(".lora_" in name for name in load(tmp_path).state_dict())


def test_the_worker_modules_import_peft_only_when_adapters_are_built():
    """peft's import is seconds of every worker's start-up; a full fine-tune does not need it."""
    import subprocess
    import sys

    script = ("import sys\n"
              "import maxrl.workers.actor_rollout_ref_worker, maxrl.workers.checkpoint, maxrl.workers.lora\n"
              "from maxrl.workers.lora import LoraSettings\n"
              "print('peft' in sys.modules, end=' ')\n"
              "LoraSettings(rank=4).peft_config()\n"
              "print('peft' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "False True"
