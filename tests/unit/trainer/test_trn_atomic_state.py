"""The atomic-write helper and the JSON state codec that checkpoints are made of."""

import json
import random

import numpy as np
import pytest
import torch

from maxrl.utils.atomic import atomic_path, replace_dir, stale_temporaries, write_text_atomic
from maxrl.utils.safe_state import CheckpointError, encode, load_json_state, save_json_state


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "table.md"
    write_text_atomic(path, "old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.md"]


def test_atomic_path_keeps_the_suffix_and_stale_temporaries_are_found(tmp_path):
    path = tmp_path / "plot.png"
    with atomic_path(path) as tmp:
        assert tmp.suffix == ".png" and tmp.parent == tmp_path
        tmp.write_bytes(b"png")
        (tmp_path / tmp.name.replace(".tmp", "9.tmp")).write_bytes(b"a killed write")
    assert path.read_bytes() == b"png"
    assert len(stale_temporaries(path)) == 1


def test_replace_dir_swaps_in_the_new_folder(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("old")
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "new.txt").write_text("new")
    replace_dir(tmp_path / "new", tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["new.txt"]


def test_rng_states_round_trip_exactly(tmp_path):
    random.seed(3)
    np.random.seed(3)
    torch.manual_seed(3)
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    save_json_state(tmp_path / "state.json", state)
    expected = (random.random(), np.random.rand(), torch.rand(1))
    loaded = load_json_state(tmp_path / "state.json")
    random.setstate(loaded["python"])
    np.random.set_state(loaded["numpy"])
    torch.set_rng_state(loaded["torch"])
    assert (random.random(), np.random.rand(), torch.rand(1)) == expected


def test_types_come_back_as_they_went_in(tmp_path):
    state = {1: (2, "x"), "__tuple__": [None, True, 1.5], "bf16": torch.ones(2, 3, dtype=torch.bfloat16),
             "empty": torch.zeros(0, 4), "scalar": torch.tensor(7), "array": np.arange(6, dtype=np.int16).reshape(2, 3)}
    save_json_state(tmp_path / "state.json", state)
    loaded = load_json_state(tmp_path / "state.json")
    assert loaded[1] == (2, "x") and loaded["__tuple__"] == [None, True, 1.5]
    for key in ("bf16", "empty", "scalar"):
        assert loaded[key].dtype == state[key].dtype and torch.equal(loaded[key], state[key])
    assert loaded["array"].dtype == np.int16 and (loaded["array"] == state["array"]).all()


def test_what_json_cannot_hold_is_named_when_saving(tmp_path):
    with pytest.raises(TypeError, match=r"state.json\['loader'\]\[0\]: object values cannot be stored"):
        save_json_state(tmp_path / "state.json", {"loader": [object()]})
    with pytest.raises(TypeError, match="dtype object cannot be stored"):
        encode(np.array([None]))


def test_a_record_no_save_could_write_is_refused(tmp_path):
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"rng": {"__ndarray__": {"dtype": "|O", "shape": [1], "data": ""}}}))
    with pytest.raises(CheckpointError, match=f"{path} holds a malformed entry: a numpy array of dtype object"):
        load_json_state(path)
    path.write_text(json.dumps({"rng": {"__tensor__": {"dtype": "nn", "shape": [1], "data": ""}}}))
    with pytest.raises(CheckpointError, match="unknown tensor dtype 'nn'"):
        load_json_state(path)
    with pytest.raises(CheckpointError, match=f"{tmp_path / 'absent.json'} is missing"):
        load_json_state(tmp_path / "absent.json")
