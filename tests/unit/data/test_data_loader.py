"""The prompt loader: collate layout, seeded shuffling, and state round trips (mid-epoch and at epoch ends)."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from maxrl.config.yaml_tree import default_section
from maxrl.data.dataset import RLDataset
from maxrl.data.loader import build_dataloader, collate_prompts

# torchdata 0.11 calls a deprecated torch API when an iterator starts; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:'set_vital' is deprecated:UserWarning")

ROWS = 10
BATCH = 4  # drop_last: 2 batches per epoch


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, tiny_tokenizer):
    rows = [
        {
            "data_source": "openai/gsm8k",
            "prompt": [{"role": "user", "content": "what is " + " plus ".join(["1"] * (i + 1)) + "?"}],
            "ability": "math",
            "reward_model": {"style": "rule", "ground_truth": str(i + 1)},
            "extra_info": {"split": "train", "index": i},
        }
        for i in range(ROWS)
    ]
    path = tmp_path_factory.mktemp("loader") / "train.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    return RLDataset(str(path), tiny_tokenizer, default_section("data", {"max_prompt_length": 64, "apply_chat_template": False}))


def _indices(batches):
    return [list(batch["index"]) for batch in batches]


def test_collate_left_pads_to_max_prompt_length_and_keeps_per_sample_objects():
    items = [
        {
            "input_ids": torch.tensor([5, 6, 7]),
            "raw_prompt": [{"role": "user", "content": "a"}],
            "data_source": "s",
            "ground_truth": "1",
            "extra_info": {"k": 1},
            "index": 3,
        },
        {
            "input_ids": torch.tensor([8]),
            "raw_prompt": [{"role": "user", "content": "b"}],
            "data_source": "s",
            "ground_truth": "2",
            "extra_info": {"k": 2},
            "index": 4,
        },
    ]
    batch = collate_prompts(items, pad_token_id=0, pad_to=5)
    assert batch["input_ids"].tolist() == [[0, 0, 5, 6, 7], [0, 0, 0, 0, 8]]
    assert batch["attention_mask"].tolist() == [[0, 0, 1, 1, 1], [0, 0, 0, 0, 1]]
    assert batch["position_ids"].tolist() == [[0, 0, 0, 1, 2], [0, 0, 0, 0, 0]]
    assert batch["raw_prompt_ids"].shape == (2,) and batch["raw_prompt_ids"][0] == [5, 6, 7]
    assert batch["raw_prompt"].shape == (2,) and batch["raw_prompt"][1] == [{"role": "user", "content": "b"}]
    assert list(batch["ground_truth"]) == ["1", "2"] and list(batch["index"]) == [3, 4]
    assert batch["extra_info"][1] == {"k": 2}


def test_batches_match_the_dataset_items(dataset):
    loader = build_dataloader(dataset, default_section("data", {"seed": 7}), batch_size=BATCH, drop_last=True)
    batch = next(iter(loader))
    assert batch["input_ids"].shape == (BATCH, 64)
    for row, index in enumerate(batch["index"]):
        ids = dataset[index]["input_ids"]
        assert batch["input_ids"][row, -len(ids) :].tolist() == ids.tolist()
        assert batch["attention_mask"][row].sum() == len(ids)
        assert batch["ground_truth"][row] == str(index + 1)


def test_shuffle_is_seeded_and_each_epoch_draws_a_new_order(dataset):
    def two_epochs(seed):
        loader = build_dataloader(dataset, default_section("data", {"shuffle": True}), batch_size=BATCH, seed=seed, drop_last=True)
        return [_indices(loader) for _ in range(2)]

    first, second = two_epochs(3)
    assert two_epochs(3) == [first, second]
    assert first != second and two_epochs(4) != [first, second]
    assert all(len(set(sum(epoch, []))) == 2 * BATCH for epoch in (first, second))
    in_order = build_dataloader(dataset, default_section("data", {"shuffle": False}), batch_size=BATCH, drop_last=False)
    assert _indices(in_order) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def _run(loader, epochs_and_batches):
    """Iterate like the trainer (a fresh iter per epoch); stop after the given batch of the given epoch."""
    stop_epoch, stop_batch = epochs_and_batches
    seen = []
    for epoch in range(stop_epoch + 1):
        for number, batch in enumerate(loader):
            seen.append(list(batch["index"]))
            if epoch == stop_epoch and number == stop_batch:
                return seen
    return seen


@pytest.mark.parametrize(
    ("stop", "workers"),
    [((0, 0), 0), ((0, 1), 0), ((1, 0), 0), ((2, 1), 0), ((1, 0), 1)],
    ids=["mid-epoch", "end-of-epoch-0", "mid-epoch-1", "end-of-epoch-2", "mid-epoch-1-with-a-worker"],
)
def test_resumed_loader_yields_the_same_next_batches(dataset, stop, workers):
    config = default_section("data", {"seed": 11, "dataloader_num_workers": workers})
    reference = build_dataloader(dataset, config, batch_size=BATCH, drop_last=True)
    flat_expected = sum((_indices(reference) for _ in range(stop[0] + 2)), [])  # uninterrupted epochs

    interrupted = build_dataloader(dataset, config, batch_size=BATCH, drop_last=True)
    seen = _run(interrupted, stop)
    state = interrupted.state_dict()

    resumed = build_dataloader(dataset, config, batch_size=BATCH, drop_last=True)
    resumed.load_state_dict(state)
    rest = _indices(resumed)  # the remainder of the interrupted epoch (empty at an epoch end)
    while len(seen) + len(rest) < len(flat_expected):
        rest += _indices(resumed)
    assert seen + rest == flat_expected


def test_worker_processes_load_the_same_items(dataset):
    # torchdata draws one extra permutation when it starts worker processes, so the order depends on
    # data.dataloader_num_workers as well as data.seed; the items themselves do not.
    parallel = build_dataloader(
        dataset, default_section("data", {"seed": 5, "dataloader_num_workers": 1}), batch_size=BATCH, drop_last=False
    )
    seen = []
    for batch in parallel:
        for row, index in enumerate(batch["index"]):
            ids = dataset[index]["input_ids"]
            assert batch["input_ids"][row, -len(ids) :].tolist() == ids.tolist()
            seen.append(index)
    assert sorted(seen) == list(range(ROWS))


def test_batch_larger_than_the_dataset_is_refused(dataset):
    with pytest.raises(ValueError, match=r"batch_size=11 is larger than the dataset \(10 prompts"):
        build_dataloader(dataset, default_section("data", {}), batch_size=11, drop_last=True)
    assert len(build_dataloader(dataset, default_section("data", {}), batch_size=11, drop_last=False)) == 1
    assert np.array_equal(
        sorted(next(iter(build_dataloader(dataset, default_section("data", {}), 11, drop_last=False)))["index"]), range(10)
    )
