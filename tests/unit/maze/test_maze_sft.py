"""Supervised warm start: answer-only labels, micro-batch invariance, learning, HF checkpoints, resume."""

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from maxrl.tasks.maze.make_data import make_dataset
from maxrl.tasks.maze.sft import SFTConfig, SFTTrainer, config_from_args, cpu_quickstart, train_sft
from maxrl.tasks.maze.sft.data import IGNORE_INDEX, TokenizedMazes, batch_rows
from maxrl.tasks.maze.sft.evaluate import answer_loss_sum, max_answer_tokens
from maxrl.tasks.maze.sft.model import build_model

TINY_MODEL = dict(hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2, num_kv_heads=1)


@pytest.fixture(scope="module")
def maze_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("maze7")
    make_dataset(out, num_mazes=240, size=7, seed=0, test_size=8, progress=False)
    return out


def tiny_config(maze_data, output_dir, **overrides) -> SFTConfig:
    settings = dict(
        train_data=str(maze_data / "train.parquet"),
        test_data=str(maze_data / "test.json"),
        output_dir=str(output_dir),
        batch_size=8,
        micro_batch_size=4,
        learning_rate=3e-3,
        max_steps=6,
        eval_every=0,
        eval_n=2,
        eval_ks=(1, 2),
        save_every=3,
        keep_last=0,
        progress=False,
        num_threads=1,
        **TINY_MODEL,
    )
    return SFTConfig(**{**settings, **overrides})


def test_labels_cover_only_the_answer(maze_data):
    data = TokenizedMazes.load(maze_data / "test.json", max_length=512)
    batch = data.collate(np.array([0, 1, 2]))
    for row in range(3):
        length, start = int(data.lengths[row]), int(data.answer_starts[row])
        ids, labels = batch["input_ids"][row], batch["labels"][row]
        assert int(ids[start - 1]) == 6, "the token before the answer is PATH_START"
        assert (labels[:start] == IGNORE_INDEX).all() and (labels[length:] == IGNORE_INDEX).all()
        assert torch.equal(labels[start:length], ids[start:length])
        assert ids[length - 2 : length].tolist() == [7, 2], "answers end in DONE <eos>"
        assert batch["attention_mask"][row].sum() == length


def test_batches_are_a_function_of_seed_and_step():
    first_epoch = np.concatenate([batch_rows(s, 20, 8, seed=1) for s in range(2)])
    assert len(set(first_epoch.tolist())) == 16, "no repeats within an epoch"
    assert np.array_equal(batch_rows(3, 20, 8, seed=1), batch_rows(3, 20, 8, seed=1))
    assert not np.array_equal(batch_rows(2, 20, 8, seed=1), batch_rows(0, 20, 8, seed=1)), "new epoch, new order"


def test_loss_does_not_depend_on_micro_batch_size(maze_data, tmp_path):
    def gradient(micro_batch_size):
        trainer = SFTTrainer(tiny_config(maze_data, tmp_path / str(micro_batch_size), micro_batch_size=micro_batch_size))
        metrics = trainer.train_step()
        return metrics["train/loss"], metrics["train/grad_norm"]

    loss_1, norm_1 = gradient(1)
    loss_8, norm_8 = gradient(8)
    assert loss_1 == pytest.approx(loss_8, rel=1e-5) and norm_1 == pytest.approx(norm_8, rel=1e-4)


def test_training_lowers_the_loss_and_writes_loadable_hf_checkpoints(maze_data, tmp_path):
    config = tiny_config(maze_data, tmp_path, max_steps=12, eval_at_start=True, save_every=6, keep_last=1)
    final = train_sft(config)
    assert final == tmp_path / "checkpoint-12"
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == ["checkpoint-12"], "keep_last=1"
    assert not list(tmp_path.glob(".*")), "no temporary folders left behind"
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if "eval/loss" in r]
    assert [r["step"] for r in evals] == [0, 12]
    assert evals[-1]["eval/loss"] < evals[0]["eval/loss"] - 0.3
    assert {"eval/pass@1", "eval/pass@2", "eval/optimal_pass@1", "eval/optimal_pass@2"} <= set(evals[-1])
    assert all(0.0 <= evals[-1][f"eval/pass@{k}"] <= 1.0 for k in (1, 2))

    model = AutoModelForCausalLM.from_pretrained(str(final))
    tokenizer = AutoTokenizer.from_pretrained(str(final))
    assert type(model).__name__ == "Qwen2ForCausalLM" and model.config.vocab_size == 32
    assert model.config.tie_word_embeddings and model.config.hidden_size == 32
    assert list(model.generation_config.eos_token_id) == [2, 7] and model.generation_config.pad_token_id == 0
    assert tokenizer.convert_tokens_to_ids(["<pad>", "DONE", "RIGHT"]) == [0, 7, 16]
    prompt = json.loads((maze_data / "test.json").read_text())[0]["sequence"].split("PATH_START")[0] + "PATH_START"
    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    out = model.generate(ids, max_new_tokens=3, do_sample=False)
    assert out.shape[1] <= ids.shape[1] + 3


def test_resume_continues_from_the_saved_step_and_matches_an_uninterrupted_run(maze_data, tmp_path):
    straight = train_sft(tiny_config(maze_data, tmp_path / "straight"))
    interrupted = tmp_path / "interrupted"
    train_sft(tiny_config(maze_data, interrupted))
    shutil.rmtree(interrupted / "checkpoint-6")  # as if the run had died after the step-3 checkpoint
    trainer = SFTTrainer(tiny_config(maze_data, interrupted))
    assert trainer.step == 3
    resumed = trainer.run()
    assert resumed == interrupted / "checkpoint-6"
    expected, actual = load_file(straight / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert expected.keys() == actual.keys()
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], rtol=0, atol=0)
    assert SFTTrainer(tiny_config(maze_data, interrupted)).step == 6, "a finished run resumes at its end"
    assert train_sft(tiny_config(maze_data, interrupted)) == resumed


def test_answer_budget_covers_the_longest_possible_path():
    # 7x7: 3x3 lattice -> 17 open squares -> at most 16 moves, then DONE
    sequence = "GRID_START " + "WALL " * 7 + "NEWLINE " * 7 + "GRID_END PATH_START"
    assert max_answer_tokens(sequence) == 17


def test_loss_sum_counts_only_labelled_tokens(maze_data):
    data = TokenizedMazes.load(maze_data / "test.json", max_length=512)
    rows = np.array([0, 1])
    batch = data.collate(rows)
    model = build_model(SFTConfig(**TINY_MODEL))
    loss, tokens = answer_loss_sum(model, batch)
    assert tokens == int(sum(data.lengths[rows] - data.answer_starts[rows]))
    assert torch.isfinite(loss) and loss > 0


def test_command_line_builds_the_config(maze_data, tmp_path):
    config = config_from_args([
        "--train-data", str(maze_data / "train.json"), "--test-data", str(maze_data / "test.parquet"),
        "--output-dir", str(tmp_path), "--max-steps", "5", "--eval-ks", "1", "4", "--adam-betas", "0.9", "0.99",
        "--no-resume", "--hidden-size", "64",
    ])  # fmt: skip
    assert config.max_steps == 5 and config.eval_ks == (1, 4) and config.adam_betas == (0.9, 0.99)
    assert config.resume is False and config.hidden_size == 64 and config.num_layers == 4


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(batch_size=8, micro_batch_size=3), "multiple of micro_batch_size"),
        (dict(eval_ks=(1, 4), eval_n=2), "eval_ks"),
        (dict(train_data="missing.json"), "train_data=missing.json"),
        (dict(num_heads=3), "num_heads"),
        (dict(lr_scheduler="linear"), "lr_scheduler"),
    ],
)
def test_bad_settings_fail_before_any_work(maze_data, tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        tiny_config(maze_data, tmp_path, **overrides).validate()


def test_cpu_quickstart_preset_is_the_documented_command(maze_data, tmp_path):
    train, test = str(maze_data / "train.parquet"), str(maze_data / "test.parquet")
    documented = config_from_args([
        "--train-data", train, "--test-data", test, "--output-dir", str(tmp_path),
        "--hidden-size", "128", "--intermediate-size", "512", "--num-layers", "2", "--batch-size", "32",
        "--micro-batch-size", "32", "--learning-rate", "1e-3", "--max-steps", "250", "--eval-every", "50",
        "--eval-n", "16", "--eval-ks", "1", "4", "16", "--save-every", "250", "--num-threads", "1",
    ])  # fmt: skip
    assert cpu_quickstart(train, test, str(tmp_path)) == documented
