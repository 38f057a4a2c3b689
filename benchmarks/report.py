"""Writing a run's results: the JSON as measured, and a Markdown page of tables rendered from it.

Every table is followed by the machine's load average at the start and the end of its section.
"""

from __future__ import annotations

import json
from pathlib import Path

from maxrl.utils.atomic import write_text_atomic

__all__ = ["render_markdown", "write_report"]

SUMMED_ROLES = ("ray", "other")
"""Process roles shown as one summed row in the memory table."""


def write_report(results: dict, out_dir: str | Path) -> tuple[Path, Path]:
    """``results.json`` and ``results.md`` in `out_dir`; returns their paths."""
    out_dir = Path(out_dir)
    json_path, markdown_path = out_dir / "results.json", out_dir / "results.md"
    write_text_atomic(json_path, json.dumps(results, indent=2) + "\n")
    write_text_atomic(markdown_path, render_markdown(results))
    return json_path, markdown_path


# --------------------------------------------------------------------------- formatting
def _num(value: float, digits: int = 3) -> str:
    """`value` to `digits` significant digits, without exponent notation for everyday magnitudes."""
    if value == 0 or not 1e-3 <= abs(value) < 1e7:
        return f"{value:.{digits}g}"
    decimals = max(digits - 1 - int(f"{abs(value):e}".split("e")[1]), 0)
    return f"{value:.{decimals}f}"


def _opt(value: float | None) -> str:
    return "-" if value is None else _num(value)


def _spread(summary: dict) -> str:
    return f"{_num(summary['median'])} [{_num(summary['q1'])}, {_num(summary['q3'])}]"


def _range(summary: dict) -> str:
    return f"{_num(summary['median'])} [{_num(summary['min'])}, {_num(summary['max'])}]"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _load_line(results: dict, section: str) -> list[str]:
    load = results.get("load", {}).get(section)
    if not load:
        return []
    start, end = (" / ".join(_num(value) for value in load[key]) for key in ("start", "end"))
    return ["", f"Load average (1/5/15 min) at start: {start}; at end: {end}."]


# --------------------------------------------------------------------------- sections
def _machine(results: dict) -> list[str]:
    machine = results["machine"]
    libraries = ", ".join(f"{name} {version}" for name, version in machine["libraries"].items() if version)
    return [
        f"# maxrl benchmarks: suite `{results['suite']}`",
        "",
        f"Command: `{results['command']}`; started {results['started_at']}, took {_num(results['duration_s'])} s.",
        *([f"Config overrides on every run: `{' '.join(results['overrides'])}`."] if results.get("overrides") else []),
        "",
        f"Machine: {machine['cpu']}, {machine['usable_cores']} usable of {machine['logical_cores']} logical cores, "
        f"{machine['memory_gib']} GiB; {machine['os']}; Python {machine['python']}; {libraries}; "
        f"code at {machine['git_revision']}.",
    ]


def _components(results: dict) -> list[str]:
    comparisons = results.get("components")
    if not comparisons:
        return []
    shape = results["components_shape"]
    rows = [
        [
            f"{c['name']}",
            c["baseline"],
            f"{_spread(c['rate'])}",
            f"{_spread(c['baseline_rate'])}",
            _spread(c["ratio"]),
            ", ".join(_num(ratio) for ratio in c["trial_ratios"]),
            f"{100 * c['overhead']:+.1f}%",
            _spread(c["cpu_ratio"]) if c.get("cpu_ratio") else "-",
        ]
        for c in comparisons
    ]
    fewer_trials = any(len(c["trial_ratios"]) != results["trials"] for c in comparisons)
    return [
        "",
        "## Framework calls against their baselines",
        "",
        f"{shape['prompts']} maze prompts x n={shape['n']}, {shape['response_length']} generated tokens per sample "
        f"(no early stop), one worker. {results['trials']} trial(s) of {results['repeats']} paired rounds "
        f"after {results['warmup']} warm-up round(s), each trial with a fresh worker process and fresh "
        "baselines"
        + (" (rows listing fewer trial medians ran fewer trials: the vLLM comparison runs one, on one engine)"
           if fewer_trials else "")
        + ". Rates in tokens/s (generated tokens for rollout, all sequence tokens otherwise) and ratios: "
        "median [quartiles] over all rounds of all trials; time ratio = framework / baseline wall time per "
        "token, paired per round; trial medians = each trial's median time ratio, whose spread is the "
        "process-to-process variation (one trial's quartiles do not show it); CPU ratio = the same as the "
        "time ratio for CPU seconds summed over the driver and its child processes (robust to other load, "
        "blind to waiting).",
        "",
        *_table(["framework call", "baseline", "framework rate", "baseline rate", "time ratio",
                 "trial medians", "overhead", "CPU ratio"], rows),
        *_load_line(results, "components"),
    ]


def _memory_rows(peaks: list[dict]) -> list[list[str]]:
    """One row per driver, worker and reward process; Ray's and other helper processes summed per role."""
    rows = [[f"{p['role']} (pid {p['pid']})", _num(p["peak_mib"])] for p in peaks if p["role"] not in SUMMED_ROLES]
    for role in SUMMED_ROLES:
        group = [p["peak_mib"] for p in peaks if p["role"] == role]
        if group:
            rows.append([f"{role}: {len(group)} processes, sum", _num(sum(group))])
    return rows


def _end_to_end(results: dict) -> list[str]:
    run = results.get("end_to_end")
    if not run:
        return []
    shape = run["shape"]
    step = run["phases"]["step"]["median"]
    phase_rows = [
        [name, _spread(summary), f"{100 * summary['median'] / step:.1f}%"]
        for name, summary in run["phases"].items()
    ]
    memory_rows = _memory_rows(run["memory"])
    return [
        "",
        "## One RL step, phase by phase",
        "",
        f"Quickstart shape: {shape['prompts']} maze prompts x n={shape['n']} on {shape['workers']} worker(s), "
        f"{shape['response_length']} tokens per sample; {run['measured_steps']} measured step(s) after "
        f"{run['warmup_steps']} warm-up step(s); {_num(run['tokens_per_step'])} tokens per step. "
        f"Start-up (workers, models, reward pool): {_num(run['startup_s'])} s. Seconds, median [quartiles]."
        + ("" if not run.get("cpu_s") else
           f" CPU seconds per step, all processes, over the {run['cpu_s']['count']} measured step(s) whose "
           f"start and end were seen: {_spread(run['cpu_s'])} ({_num(run['cpu_s']['median'] / step)} cores "
           "busy on average)."),
        "",
        *_table(["phase (timing_s/...)", "seconds", "share of step"], phase_rows),
        "",
        "Peak resident memory per process during the run (kernel high-water mark; for the long-lived driver, "
        "the largest resident set sampled during the run). Ray's own processes are summed.",
        "",
        *_table(["process", "peak RSS (MiB)"], memory_rows),
        *_load_line(results, "end_to_end"),
    ]


def _scaling_setting(results: dict) -> str:
    shape = results.get("scaling_shape")
    if shape is None:
        return ""
    return (f"{shape['prompts']} prompts, {shape['response_length']} tokens per sample (no early stop); the n sweep "
            f"on {shape['workers']} workers, the worker sweep at n = {shape['n']}; seconds per step, median "
            "[min, max] over the measured steps. ")


def _scaling(results: dict) -> list[str]:
    lines = []
    setting = _scaling_setting(results)
    by_n = results.get("scaling_n")
    if by_n:
        first = by_n[0]["n"]
        rows = [
            [str(r["n"]), str(r["samples"]), _range(r["step_s"]), _num(r["gen_s"]), _num(r["update_actor_s"]),
             _num(r["growth_per_unit"]), _num(r["step_growth_per_unit"]), _opt(r["cpu_s"]),
             _opt(r["cpu_growth_per_unit"]), _opt(r["cpu_step_growth_per_unit"])]
            for r in by_n
        ]
        lines += [
            "",
            "## Step time against rollout.n",
            "",
            f"{setting}Growth per unit = (t(n) / t({first})) / (n / {first}): at most 1 means no faster than "
            "linear; local = the same against the previous row. CPU s = CPU seconds of a step summed over all "
            "processes, with the same two growth measures (robust to other load).",
            "",
            *_table(["n", "samples", "step s", "gen s", "update s", "growth per unit", "local", "CPU s",
                     "CPU growth per unit", "CPU local"], rows),
            *_load_line(results, "scaling_n"),
        ]
    by_workers = results.get("scaling_workers")
    if by_workers:
        rows = [
            [str(r["workers"]), str(r["samples"]), _range(r["step_s"]), _num(r["gen_s"]), _num(r["update_actor_s"]),
             _num(1 / r["growth"]), _opt(r["cpu_s"])]
            for r in by_workers
        ]
        lines += [
            "",
            "## Step time against the number of workers",
            "",
            f"{setting}The same batch on each number of worker processes; speedup = t({by_workers[0]['workers']}) / t "
            "(wall time: only meaningful when the machine has idle cores); CPU s as above.",
            "",
            *_table(["workers", "samples", "step s", "gen s", "update s", "speedup", "CPU s"], rows),
            *_load_line(results, "scaling_workers"),
        ]
    return lines


def _trl_layout_rows(summary: dict, runs: list[dict]) -> list[list[str]]:
    rows = []
    for layout, values in summary["layouts"].items():
        rows.append([layout + (" (best)" if layout == summary["best_layout"] else ""),
                     *(_spread(values[key]) for key in ("step", "gen", "update", "other", "startup")),
                     _num(values["peak_total_mib"]["median"]), _num(values["peak_largest_mib"]["median"]),
                     _opt(_median_step_cpu(runs, layout))])
    return rows


def _median_step_cpu(runs: list[dict], layout: str) -> float | None:
    """Median over the layout's runs of their CPU seconds per step (every process of the run), where known."""
    from statistics import median

    values = [run["details"].get("step_cpu_s") for run in runs if run["layout"] == layout]
    values = [value for value in values if value is not None]
    return median(values) if values else None


def _trl_ratio_rows(summary: dict) -> list[list[str]]:
    keys = ("step", "gen", "update", "other", "startup", "peak_total_mib", "peak_largest_mib")
    return [[layout, *(_spread(ratios[key]) for key in keys)] for layout, ratios in summary["ratios"].items()]


def _trl(results: dict) -> list[str]:
    comparison = results.get("trl")
    if not comparison:
        return []
    from benchmarks.trl.workloads import TOY

    summary = comparison["summary"]
    versions = next((run["details"]["versions"] for run in comparison["runs"] if run["layout"] == "TRL"), {})
    work = comparison.get("workload", TOY.to_dict())  # results before workloads had names: the toy
    samples = work["prompts_per_step"] * work["samples_per_prompt"]
    return [
        "",
        f"## TRL GRPOTrainer against maxrl, same work ({work['name']} workload)",
        "",
        f"{work['description']} TRL "
        f"{versions.get('trl', '?')} with gradient checkpointing off, one micro-batch of {samples}; maxrl with its "
        f"defaults. {comparison['rounds']} round(s), each one fresh process per layout in rotated order; each "
        f"run {comparison['warmup_steps']} warm-up and {comparison['measured_steps']} measured step(s). "
        "Seconds: median [quartiles] over the rounds of each run's median step; gen = the sampling call, "
        "update = forward, backward and optimizer step, other = the rest of the step; start-up = process spawn "
        "to the first step, imports included. Memory: peak RSS summed over the run's processes (an upper "
        "bound), and of its largest process, MiB. CPU s/step: CPU seconds of all the run's processes per measured "
        "step (maxrl: from the second step on; - where no step qualified).",
        "",
        *_table(["layout", "step s", "gen s", "update s", "other s", "start-up s", "peak total MiB",
                 "largest process MiB", "CPU s/step"], _trl_layout_rows(summary, comparison["runs"])),
        "",
        "Paired per round: TRL / maxrl for times (above 1: maxrl faster), maxrl / TRL for memory (below 1: "
        "maxrl smaller); median [quartiles] over the rounds.",
        "",
        *_table(["maxrl layout", "step", "gen", "update", "other", "start-up", "peak total", "largest process"],
                _trl_ratio_rows(summary)),
        *_load_line(results, "trl"),
    ]


def _variable_length(results: dict) -> list[str]:
    section = results.get("variable_length")
    if not section:
        return []
    rows = [[c["name"], c["baseline"], _spread(c["rate"]), _spread(c["baseline_rate"]), _spread(c["gain"])]
            for c in section["comparisons"]]
    low, high = section["response_lengths"]
    return [
        "",
        "## Variable-length responses: padding-free with a token budget against padded batches",
        "",
        f"The TRL comparison's model; 8 prompts of 100 tokens x 16 samples, response lengths uniform in "
        f"{low}..{high} (padded to {high}), one worker. Padded: no column trimming, no shared prompt, "
        f"{section['micro_batch']} samples per micro-batch; padding-free: maxrl's defaults with micro-batches by a "
        f"budget of {section['token_budget']} tokens (as many as a padded micro-batch). Rates in valid response "
        "tokens per second, median [quartiles] over paired rounds; gain = padded time / padding-free time, per "
        "round.",
        "",
        *_table(["pass", "baseline", "rate", "baseline rate", "gain"], rows),
        *_load_line(results, "variable_length"),
    ]


def _measured(target: dict) -> str:
    """The target's value, with the range of the trials' medians where it pools several."""
    spread = target["trial_range"]
    value = _num(target["value"])
    return value if spread is None else f"{value} (trials {_num(spread[0])}-{_num(spread[1])})"


def _targets(results: dict) -> list[str]:
    targets = results.get("targets")
    if not targets:
        return []
    rows = [[t["target"], _measured(t), "yes" if t["met"] else "**no**"] for t in targets]
    return ["", "## Targets", "", *_table(["target", "measured", "met"], rows)]


def render_markdown(results: dict) -> str:
    """The whole results page."""
    sections = (_machine, _components, _end_to_end, _scaling, _trl, _variable_length, _targets)
    return "\n".join(line for section in sections for line in section(results)) + "\n"
