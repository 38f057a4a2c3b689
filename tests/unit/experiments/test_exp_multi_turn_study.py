"""The multi-turn study's summary: pass@1 and tool-call rate from each run's metrics, the rate only where
the run could call a tool, and the single-attempt pass@1 of the maze."""

import json

import pytest

from maxrl.experiments.multi_turn_study import main, summarise
from maxrl.experiments.run_configs import DONE_MARKER


def write_run(run_dir, pass_at_1, tool_rate, tool_config):
    run_dir.mkdir(parents=True)
    rows = [{"step": 10 * i, "val/task/pass@1": p, "val-multi_turn/tool_call_rate": tool_rate[i]}
            for i, p in enumerate(pass_at_1)]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    tool_line = f"tool_config_path: {tool_config}" if tool_config else "tool_config_path: null"
    (run_dir / "config.yaml").write_text(f"actor_rollout_ref:\n  rollout:\n    multi_turn:\n      {tool_line}\n")
    (run_dir / DONE_MARKER).touch()


@pytest.fixture
def study(tmp_path):
    for seed, end in ((1, 0.8), (2, 0.9)):
        write_run(tmp_path / "calculator" / f"rl_maxrl_seed{seed}", [0.2, end], [0.25, 0.95], "tools.yaml")
        write_run(tmp_path / "maze_attempts" / f"rl_grpo_seed{seed}", [0.07, 0.09], [0.0, 0.0], None)
    single = tmp_path / "maze_attempts" / "rl_grpo_seed1" / "single_attempt"
    single.mkdir()
    (single / "metrics.jsonl").write_text(json.dumps({"step": 20, "val/task/pass@1": 0.05}) + "\n")
    return tmp_path


def test_the_tool_call_rate_is_reported_only_where_a_tool_could_be_called(study, tmp_path):
    summary = summarise(study)
    calculator = summary["calculator"]["maxrl"]
    assert calculator["pass@1_end"] == pytest.approx({"mean": 0.85, "min": 0.8, "max": 0.9, "seeds": 2})
    assert calculator["tool_call_rate_end"]["mean"] == pytest.approx(0.95)
    maze = summary["maze_attempts"]["grpo"]
    assert "tool_call_rate_end" not in maze and maze["runs"][1]["tool_call_rate"] == [None, None]
    assert "single_attempt_pass@1_end" not in maze  # only seed 1 has one: no spread over a partial set
    main([str(study), "--out", str(tmp_path / "out")])
    table = (tmp_path / "out" / "table.md").read_text()
    assert "| maze_attempts | grpo | 2 | 0.070 (0.070–0.070) | 0.090 (0.090–0.090) | — | — | — |" in table
    assert "| calculator | maxrl | 2 | 0.200 (0.200–0.200) | 0.850 (0.800–0.900) | 0.250" in table
