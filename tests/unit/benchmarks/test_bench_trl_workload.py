"""The TRL comparison's workload and inputs: deterministic, prompts of exactly 100 tokens through maxrl's own
data path, the same scorer on both sides, maxrl configs that compose (defaults pass no speed switch), and
the variable-length batch."""

import pytest
import torch

from benchmarks.suites import SUITES
from benchmarks.trl import workload
from benchmarks.trl.inputs import build_inputs
from benchmarks.trl.maxrl_side import PADDED, maxrl_overrides
from benchmarks.variable_length import (
    MAX_RESPONSE,
    MIN_RESPONSE,
    layouts,
    settings_dict,
    variable_length_batch,
)

SPEED_SWITCHES = ("use_remove_padding", "share_prompt_prefix", "use_dynamic_bsz", "max_token_len_per_gpu",
                  "cpu_threads_per_worker")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return build_inputs(tmp_path_factory.mktemp("trl_inputs"))


def test_prompts_are_deterministic_distinct_and_100_words():
    first, again = workload.prompt_texts(), workload.prompt_texts()
    assert first == again and len(first) == workload.NUM_PROMPTS and len(set(first)) == len(first)
    assert {len(text.split()) for text in first} == {workload.PROMPT_TOKENS}
    assert workload.prompt_texts(4, seed=1) != first[:4]


def test_vocabulary_and_scorer():
    assert len(workload.VOCAB) == workload.VOCAB_SIZE == 64 and len(set(workload.VOCAB)) == 64
    assert workload.score("w0 w1 w30 w40") == 0.5 and workload.score("") == 0.0 and workload.score("w60") == 0.0
    texts = ["w0 w1 w2", "w50 w3", ""]
    assert workload.trl_reward(texts) == [workload.compute_score("s", text, "") for text in texts] == [1.0, 0.5, 0.0]


def test_tokenizer_gives_exactly_100_tokens_without_special_tokens():
    tokenizer = workload.build_tokenizer()
    encoded = tokenizer(workload.prompt_texts(8))["input_ids"]  # TRL's call: special tokens allowed
    assert {len(ids) for ids in encoded} == {100}
    assert all(min(ids) >= 3 for ids in encoded)  # words only: no pad, eos or unk
    assert tokenizer.decode(encoded[0]) == workload.prompt_texts(1)[0]


def test_model_folder_and_maxrl_dataset(inputs):
    import json

    from maxrl.config import compose_config
    from maxrl.data.dataset import RLDataset
    from maxrl.trainer.main_ppo import load_tokenizer

    config = json.loads((inputs.model_dir / "config.json").read_text())
    assert (config["hidden_size"], config["num_hidden_layers"], config["num_attention_heads"],
            config["num_key_value_heads"], config["intermediate_size"], config["vocab_size"],
            config["tie_word_embeddings"]) == (256, 4, 4, 2, 1024, 64, True)
    tokenizer = load_tokenizer(str(inputs.model_dir))
    composed = compose_config(maxrl_overrides(inputs, 1, 2, inputs.root / "run"))
    dataset = RLDataset([str(inputs.train_file)], tokenizer, composed.data)
    assert len(dataset) == workload.NUM_PROMPTS
    assert [len(dataset[i]["input_ids"]) for i in range(8)] == [100] * 8
    assert dataset[0]["input_ids"].tolist() == workload.build_tokenizer()(workload.prompt_texts(1)[0])["input_ids"]
    assert workload.verl_rows()[3]["extra_info"] == {"index": 3}


def test_maxrl_defaults_pass_no_speed_switch_and_padded_turns_them_off(inputs):
    from maxrl.config import compose_config

    overrides = maxrl_overrides(inputs, 2, 4, inputs.root / "run")
    assert not [o for o in overrides if any(switch in o for switch in SPEED_SWITCHES)]
    config = compose_config(overrides)
    assert (config.data.train_batch_size, config.actor_rollout_ref.rollout.n,
            config.actor_rollout_ref.actor.ppo_mini_batch_size, config.data.max_response_length,
            config.data.max_prompt_length) == (8, 16, 8, 64, 100)
    assert config.actor_rollout_ref.rollout.ignore_eos and config.trainer.n_gpus_per_node == 2
    assert not config.actor_rollout_ref.actor.use_kl_loss and not config.algorithm.use_kl_in_reward
    assert config.actor_rollout_ref.actor.dtype == config.actor_rollout_ref.rollout.dtype == "fp32"
    padded = compose_config(maxrl_overrides(inputs, 1, 4, inputs.root / "run", PADDED))
    assert not padded.actor_rollout_ref.model.use_remove_padding
    assert not padded.actor_rollout_ref.model.share_prompt_prefix
    assert not padded.actor_rollout_ref.actor.use_dynamic_bsz


def test_variable_length_layouts_compose_with_equal_micro_batch_memory(inputs):
    from maxrl.config import compose_config

    padded, free = (compose_config(maxrl_overrides(inputs, 1, 1, inputs.root / "run", extra,
                                                   response_length=MAX_RESPONSE))
                    for extra in layouts().values())
    assert padded.actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu == 16
    assert not padded.actor_rollout_ref.rollout.log_prob_use_dynamic_bsz
    assert free.actor_rollout_ref.actor.use_dynamic_bsz and free.actor_rollout_ref.rollout.log_prob_use_dynamic_bsz
    assert free.actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu == 16 * (100 + 256)
    assert settings_dict()["token_budget"] == 16 * 356 and free.data.max_response_length == 256


def test_variable_length_batch():
    tokenizer = workload.build_tokenizer()
    batch = variable_length_batch(tokenizer)
    mask = batch["response_mask"]
    assert len(batch) == 128 and mask.shape == (128, MAX_RESPONSE) and batch["input_ids"].shape == (128, 356)
    lengths = mask.sum(dim=1)
    assert MIN_RESPONSE <= int(lengths.min()) < 40 and 220 < int(lengths.max()) <= MAX_RESPONSE
    assert bool((mask == (torch.arange(MAX_RESPONSE) < lengths[:, None]).long()).all())  # a prefix of each row
    assert bool((batch["responses"][mask == 0] == tokenizer.pad_token_id).all())
    assert bool((batch["advantages"][mask == 0] == 0).all())
    assert bool((batch["input_ids"][:16, :100] == batch["input_ids"][0, :100]).all())  # a prompt's 16 samples
    again = variable_length_batch(tokenizer)
    assert bool((again["responses"] == batch["responses"]).all() and (again["advantages"] == batch["advantages"]).all())


def test_trl_suites_run_their_own_sections():
    assert SUITES["trl"].sections == ("trl", "variable_length") and SUITES["trl"].trl.worker_layouts == (1, 2)
    assert SUITES["trl-quick"].trl.rounds == 1
    assert SUITES["cpu"].trl is None and "trl" not in SUITES["cpu"].sections
