"""Data CLI: paper JSON and verl parquet files that load, agree with each other, and convert."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from maxrl.tasks.maze import compute_score, decode_maze, split_sequence
from maxrl.tasks.maze.make_data import main

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("maze9")
    main(["--num-mazes", "300", "--size", "9", "--seed", "1", "--test-size", "20", "--output-dir", str(out), "--no-progress"])
    return out


def test_json_files_are_paper_format(data_dir):
    test = json.loads((data_dir / "test.json").read_text())
    train = json.loads((data_dir / "train.json").read_text())
    meta = json.loads((data_dir / "training_metadata.json").read_text())
    assert len(test) == 20 and meta["num_test"] == 20
    assert len(train) == meta["num_train"] == 300 - 20 - meta["duplicates_of_test_dropped"]
    for record in test + train:
        assert set(record) == {"sequence", "optimal_path_length"}
        maze = decode_maze(record["sequence"])
        assert maze.size == 9 and len(maze.path) == record["optimal_path_length"]
    test_prompts = {split_sequence(r["sequence"])[0] for r in test}
    assert len(test_prompts) == 20, "test mazes are distinct"
    assert not test_prompts & {split_sequence(r["sequence"])[0] for r in train}, "no test maze in train"
    assert meta["size"] == 9 and meta["seed"] == 1 and meta["algorithm"] == "prim"


def test_parquet_rows_are_verl_format_and_match_the_json(data_dir):
    for split in ("train", "test"):
        frame = pd.read_parquet(data_dir / f"{split}.parquet")
        records = json.loads((data_dir / f"{split}.json").read_text())
        assert len(frame) == len(records)
        assert list(frame.columns) == ["data_source", "prompt", "ability", "reward_model", "extra_info"]
        for index, (row, record) in enumerate(zip(frame.itertuples(), records)):
            prompt, _ = split_sequence(record["sequence"])
            assert row.data_source == "maze_9" and row.ability == "maze"
            assert [dict(m) for m in row.prompt] == [{"role": "user", "content": prompt}]
            assert dict(row.reward_model) == {"style": "rule", "ground_truth": record["sequence"]}
            assert dict(row.extra_info) == {
                "split": split, "index": index, "question": prompt, "answer": record["sequence"]
            }  # fmt: skip
            answer = record["sequence"].split("PATH_START")[1]
            assert compute_score(answer, row.reward_model["ground_truth"])["optimal"] == 1.0


def test_same_arguments_give_identical_files(data_dir, tmp_path):
    main(["--num-mazes", "300", "--size", "9", "--seed", "1", "--test-size", "20", "--output-dir", str(tmp_path),
          "--no-progress", "--formats", "json"])  # fmt: skip
    for name in ("train.json", "test.json"):
        assert (tmp_path / name).read_bytes() == (data_dir / name).read_bytes()
    assert not (tmp_path / "train.parquet").exists()


def test_json_to_parquet_converter_reproduces_the_generated_parquet(data_dir, tmp_path):
    for name in ("train.json", "test.json"):
        (tmp_path / name).write_bytes((data_dir / name).read_bytes())
    main(["--from-json", str(tmp_path), "--output-dir", str(tmp_path)])
    for split in ("train", "test"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / f"{split}.parquet"), pd.read_parquet(data_dir / f"{split}.parquet")
        )


def test_small_sizes_drop_training_repeats_of_test_mazes(tmp_path):
    meta = main(["--num-mazes", "400", "--size", "5", "--test-size", "3", "--output-dir", str(tmp_path), "--no-progress"])
    # a 5x5 grid has 4 mazes (spanning trees of a 2x2 lattice): most draws repeat a test maze
    assert meta["num_test"] == 3 and meta["duplicates_of_test_dropped"] > 200
    assert meta["num_train"] + meta["duplicates_of_test_dropped"] == 397  # every maze is test, train or dropped
    with pytest.raises(ValueError, match="fewer than test_size"):
        main(["--num-mazes", "400", "--size", "5", "--test-size", "5", "--output-dir", str(tmp_path / "x"),
              "--no-progress"])  # fmt: skip


def test_converter_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="train.json"):
        main(["--from-json", str(tmp_path), "--output-dir", str(tmp_path)])


def test_launcher_script_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "maze" / "generate_maze.py"), "--num-mazes", "12", "--size", "7", "--test-size",
         "2", "--output-dir", str(tmp_path), "--no-progress"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "training_metadata.json").read_text())["num_test"] == 2


def test_json_reader_counts_moves_when_the_length_field_is_missing(data_dir, tmp_path):
    from maxrl.tasks.maze.files import read_json_records

    records = json.loads((data_dir / "test.json").read_text())
    (tmp_path / "bare.json").write_text(json.dumps([{"sequence": r["sequence"]} for r in records]))
    lengths = [record.optimal_path_length for record in read_json_records(tmp_path / "bare.json")]
    assert lengths == [r["optimal_path_length"] for r in records]
    (tmp_path / "broken.json").write_text(json.dumps([{"text": "x"}]))
    with pytest.raises(ValueError, match="record 0 has no 'sequence'"):
        list(read_json_records(tmp_path / "broken.json"))


def test_excluded_mazes_never_reach_a_new_split(data_dir, tmp_path):
    """A test set of another seed, held out from an existing data set: none of its mazes is in the excluded
    files, and every dropped maze was one of theirs."""
    old = [data_dir / "train.parquet", data_dir / "test.parquet"]
    old_prompts = {row["question"] for path in old for row in pd.read_parquet(path)["extra_info"]}
    out = tmp_path / "heldout"
    metadata = main(["--size", "9", "--num-mazes", "300", "--test-size", "8", "--seed", "2", "--formats", "parquet",
                     "--no-progress", "--exclude", *map(str, old), "--out", str(out)])
    new_prompts = [row["question"] for row in pd.read_parquet(out / "test.parquet")["extra_info"]]
    assert len(new_prompts) == 8 and not set(new_prompts) & old_prompts
    assert metadata["excluded_dropped"] > 0  # 9x9 Prim mazes repeat often across seeds: the exclusion ran


def test_a_missing_excluded_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.parquet"):
        main(["--size", "5", "--num-mazes", "20", "--test-size", "2", "--no-progress", "--exclude",
              str(tmp_path / "nope.parquet"), "--out", str(tmp_path / "out")])
