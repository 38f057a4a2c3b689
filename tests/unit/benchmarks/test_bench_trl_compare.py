"""The TRL comparison's pure parts: rotation, runs read back from records, paired ratios with known values,
the best layout, targets, the report's tables; and one real subprocess measured by `run_process`."""

import sys

import pytest

from benchmarks.machine import describe_machine
from benchmarks.process_tree import ProcessPeak
from benchmarks.report import render_markdown
from benchmarks.targets import evaluate_targets
from benchmarks.trl.interleaved import TRL, compare_rounds, rotated, summarize_comparison
from benchmarks.trl.runs import FrameworkRun, run_process
from benchmarks.trl.trl_side import trl_run_from_record

MIB = 2**20


def run_row(layout, round_index, step, gen, update, startup, memory_mib):
    run = FrameworkRun(layout, [step, step], {"gen": [gen] * 2, "update": [update] * 2,
                                               "other": [step - gen - update] * 2},
                       startup, [ProcessPeak("driver", 1, memory_mib * MIB)],
                       {"versions": {"trl": "1.16.0"}} if layout == TRL else {})
    return {"round": round_index, "position": 0, **run.to_dict()}


@pytest.fixture
def rows():
    """Two rounds; TRL 8 s/step then 12; maxrl 1 worker 4 then 4 (ratios 2, 3), 2 workers 2 then 3 (4, 4)."""
    return [
        run_row(TRL, 0, 8.0, 4.0, 3.0, 6.0, 1000), run_row("maxrl 1 worker", 0, 4.0, 1.0, 2.5, 12.0, 1500),
        run_row("maxrl 2 workers", 0, 2.0, 0.5, 1.0, 12.0, 2000),
        run_row(TRL, 1, 12.0, 6.0, 5.0, 6.0, 1000), run_row("maxrl 1 worker", 1, 4.0, 1.0, 2.5, 12.0, 500),
        run_row("maxrl 2 workers", 1, 3.0, 1.0, 1.5, 12.0, 1000),
    ]


def test_rotation_changes_the_order_every_round():
    names = [TRL, "maxrl 1 worker", "maxrl 2 workers"]
    assert [rotated(names, r)[0] for r in range(4)] == [TRL, "maxrl 1 worker", "maxrl 2 workers", TRL]
    assert sorted(rotated(names, 5)) == sorted(names)


def test_framework_run_medians_and_memory():
    run = FrameworkRun("maxrl 2 workers", [1.0, 3.0, 2.0], {"gen": [1, 1, 1], "update": [0.5] * 3, "other": [0] * 3},
                       5.0, [ProcessPeak("driver", 1, 100 * MIB), ProcessPeak("worker", 2, 300 * MIB)])
    assert run.median() == 2.0 and run.median("update") == 0.5
    assert run.peak_total_mib == 400 and run.peak_largest_mib == 300
    assert run.to_dict()["median_s"] == {"step": 2.0, "gen": 1, "update": 0.5, "other": 0}


def test_trl_record_becomes_a_run_with_named_phases():
    record = {"steps": [{"step": 1, "step_s": 30.0, "gen_s": 20.0, "generate_and_score_s": 21.0},
                        {"step": 2, "step_s": 10.0, "gen_s": 6.0, "generate_and_score_s": 6.5}],
              "first_step_begin_unix": 105.0, "process_start_unix": 100.5, "imports_done_unix": 103.0,
              "versions": {"trl": "1.16.0"}, "torch_threads": 2, "peak_rss_mib": 900.04}
    run = trl_run_from_record(record, warmup_steps=1, spawned_unix=100.0, memory=[])
    assert run.step_s == [10.0] and run.phases == {"gen": [6.0], "update": [3.5], "other": [0.5]}
    assert run.startup_s == 5.0 and run.details["import_s"] == 2.5 and run.details["self_peak_rss_mib"] == 900.0
    with pytest.raises(ValueError, match="none after 2 warm-up"):
        trl_run_from_record(record, warmup_steps=2, spawned_unix=100.0, memory=[])


def test_paired_ratios_and_best_layout(rows):
    ratios = compare_rounds(rows, "maxrl 1 worker")
    assert ratios["step"]["median"] == 2.5 and (ratios["step"]["min"], ratios["step"]["max"]) == (2.0, 3.0)
    assert ratios["startup"]["median"] == 0.5
    assert ratios["peak_total_mib"]["median"] == 1.0  # 1.5 and 0.5
    summary = summarize_comparison(rows)
    assert summary["best_layout"] == "maxrl 2 workers"  # medians 2.5 s against 4 s
    assert summary["ratios"]["maxrl 2 workers"]["step"]["median"] == 4.0
    assert summary["layouts"][TRL]["step"]["median"] == 10.0
    with pytest.raises(ValueError, match="no round ran both"):
        compare_rounds(rows[:1], "maxrl 1 worker")


def test_targets_and_report(rows):
    update = {"name": "update: padding-free, token budget", "baseline": "update: padded, fixed micro-batches",
              "rate": {"median": 300.0, "q1": 290.0, "q3": 310.0}, "baseline_rate": {"median": 100.0, "q1": 95.0,
                                                                                        "q3": 105.0},
              "gain": {"median": 3.0, "q1": 2.9, "q3": 3.1}}
    results = {
        "suite": "trl", "command": "python -m benchmarks.run --suite trl", "started_at": "2026-01-01T00:00:00+00:00",
        "duration_s": 60.0, "machine": describe_machine(), "load": {"trl": {"start": [1, 1, 1], "end": [2, 2, 2]}},
        "trl": {"rounds": 2, "warmup_steps": 1, "measured_steps": 2, "runs": rows,
                "summary": summarize_comparison(rows)},
        "variable_length": {"response_lengths": [8, 256], "micro_batch": 16, "token_budget": 5696,
                            "comparisons": [update]},
    }
    targets = evaluate_targets(results)
    assert [(t["value"], t["limit"], t["met"]) for t in targets] == [(4.0, 2.0, True), (1.5, 1.0, False),
                                                                      (3.0, 2.0, True)]
    assert "maxrl 2 workers, the best default layout" in targets[0]["target"]
    results["targets"] = targets
    page = render_markdown(results)
    for text in ("## TRL GRPOTrainer against maxrl, same work", "TRL 1.16.0 with gradient checkpointing off",
                 "| maxrl 2 workers (best) | 2.50 [2.25, 2.75] |", "| maxrl 1 worker | 2.50 [2.25, 2.75] |",
                 "## Variable-length responses", "budget of 5696 tokens",
                 "| update: padding-free, token budget | update: padded, fixed micro-batches | 300 [290, 310] "
                 "| 100 [95.0, 105] | 3.00 [2.90, 3.10] |", "Load average (1/5/15 min) at start"):
        assert text in page


def test_run_process_measures_a_subprocess_tree(tmp_path):
    code = ("import subprocess, sys; b = bytearray(64 * 2**20); "
            "subprocess.run([sys.executable, '-c', 'import time; time.sleep(1)'])")
    spawned, peaks = run_process([sys.executable, "-c", code], tmp_path / "ok.log")
    assert spawned > 0 and len(peaks) == 2 and peaks[0].role == "driver" and peaks[0].peak_bytes > 64 * MIB
    with pytest.raises(RuntimeError, match="exited with 3(.|\n)*last words"):
        run_process([sys.executable, "-c", "print('last words'); raise SystemExit(3)"], tmp_path / "bad.log")
