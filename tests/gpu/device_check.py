"""The device check's runner (started by tests/gpu/device_check.sh; tests/gpu/README.md says how).

Each item is a set of pytest tests run in a pytest process of its own (an in-process engine keeps its device
memory until its process ends), all items within one time budget. Without a GPU every CUDA test skips, so the
CUDA items share one process there (each test module is still imported: a missing package still fails). For every test it prints PASS, FAIL or
SKIP with the figures the test recorded (pytest's ``record_property``), and it writes the whole output to
``device_check.log`` and the results to ``summary.json`` in the output folder. The check passes when no test
failed and, on a machine with a GPU, every CUDA item ran (only the vLLM item may skip, where vLLM is absent).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Item:
    name: str
    what: str
    tests: tuple[str, ...]
    cuda: bool
    most_s: int  # the longest the item may take, within what is left of the budget
    may_skip: bool = False  # on a GPU machine too (vLLM is not part of the device image)


LOCAL_RUN = "tests/integration/trainer/test_trn_local_backend.py::test_a_one_worker_run_hosts_its_worker_in_the_driver_and_imports_no_ray"

ITEMS = (
    Item("forward_layouts", "CUDA forward layouts (trimmed, shared-prompt) equal the padded forward in fp32 and "
         "bf16; the shared-prompt hf rollout draws what the repeated cache draws", ("tests/gpu/test_gpu_forward_layouts.py",),
         cuda=True, most_s=90),
    Item("fsdp", "a one-rank FSDP2 update on NCCL equals the plain update; offload moves the shards, gradients and "
         "optimizer state off the device", ("tests/gpu/test_gpu_fsdp.py",), cuda=True, most_s=60),
    Item("lora", "LoRA updates on the GPU and a merged export equal to peft's merge", ("tests/gpu/test_gpu_lora.py",),
         cuda=True, most_s=90),
    Item("maze_20_steps", "a 20-step maze run through the local worker group: pass@k before and after, step time",
         ("tests/gpu/test_gpu_maze.py",), cuda=True, most_s=150),
    Item("vllm_rollout", "the vllm rollout on the GPU", ("tests/gpu/test_gpu_vllm_rollout.py",), cuda=True,
         most_s=90, may_skip=True),
    Item("vllm_worker", "the worker with vLLM on the GPU", ("tests/gpu/test_gpu_vllm_worker.py",), cuda=True,
         most_s=90, may_skip=True),
    Item("local_run_cpu", "a maze run through the local worker group on CPU, importing no Ray", (LOCAL_RUN,),
         cuda=False, most_s=150),
    Item("torch_compat_cpu", "the CPU unit tests of the code these items touch, on this torch",
         ("tests/unit/workers", "tests/unit/algorithms", "tests/unit/controller", "tests/unit/rewards",
          "tests/unit/config"), cuda=False, most_s=240),
)


def outcomes(junit_xml: Path) -> list[dict]:
    """One entry per test case of a JUnit XML report: its id, outcome, message and recorded figures."""
    if not junit_xml.is_file():
        return []
    results = []
    for case in ElementTree.parse(junit_xml).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            found = case.find(tag)
            if found is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                message = (found.get("message") or "").splitlines()[0][:300] if found.get("message") else ""
                break
        figures = {prop.get("name"): prop.get("value") for prop in case.iter("property")}
        module = case.get("classname") or case.get("name")  # a collection error names its module only
        results.append({"test": f"{module.rsplit('.', 1)[-1]}::{case.get('name')}", "module": module,
                        "outcome": outcome, "message": message, "figures": figures,
                        "time_s": round(float(case.get("time", 0.0)), 2)})
    return results


def batches(has_cuda: bool) -> list[tuple[Item, ...]]:
    """The items that share a pytest process: none on a GPU machine; without a GPU, the CUDA items."""
    if has_cuda:
        return [(item,) for item in ITEMS]
    return [tuple(item for item in ITEMS if item.cuda), *((item,) for item in ITEMS if not item.cuda)]


def belongs(item: Item, test: dict) -> bool:
    """Whether `test` (an entry of `outcomes`) comes from one of `item`'s paths."""
    return any(test["module"].startswith(path.split("::")[0].removesuffix(".py").replace("/", "."))
               for path in item.tests)


def item_status(item: Item, tests: list[dict], returncode: int | None, has_cuda: bool) -> str:
    """pass | fail | skip | timeout for one item (a CUDA item skipped on a GPU machine fails the check)."""
    if any(test["outcome"] in ("failed", "error") for test in tests):
        return "fail"
    if returncode is None:
        return "timeout"
    if not tests and returncode not in (0, 5):  # pytest ended before writing its report (a crash)
        return "fail"
    ran = [test for test in tests if test["outcome"] == "passed"]
    if item.cuda and has_cuda and not ran and not item.may_skip:
        return "fail"
    return "pass" if ran else "skip"


def run_tests(paths: list[str], python: str, timeout_s: float, log) -> tuple[list[dict], int | None]:
    with tempfile.TemporaryDirectory() as folder:
        junit = Path(folder) / "junit.xml"
        command = [python, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", f"--junitxml={junit}",
                   "-o", "junit_family=xunit1", f"--timeout={max(int(timeout_s), 1)}", *paths]
        log.write(f"\n$ {' '.join(command)}\n")
        log.flush()
        try:
            returncode = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, timeout=timeout_s).returncode
        except subprocess.TimeoutExpired:
            returncode = None
        return outcomes(junit), returncode


def print_item(entry: dict, sharing: int) -> None:
    """The item's line, then one line per test: its outcome and figures (or why it did not pass)."""
    shared = f" with {sharing} other items" if sharing else ""
    print(f"== {entry['name']}: {entry['status'].upper()} in {entry['elapsed_s']:.0f} s{shared} ({entry['what']})",
          flush=True)
    for test in entry["tests"]:
        figures = " ".join(f"{name}={value}" for name, value in test["figures"].items())
        reason = f" ({test['message']})" if test["outcome"] != "passed" and test["message"] else ""
        print(f"   {test['outcome'].upper():7} {test['test']} {figures}{reason}", flush=True)


def describe_machine(python: str) -> dict:
    probe = ("import json, torch; cuda = torch.cuda.is_available(); print(json.dumps({'torch': torch.__version__, "
             "'cuda': cuda, 'gpu': torch.cuda.get_device_name(0) if cuda else None, "
             "'cuda_version': torch.version.cuda}))")
    found = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(found.stdout) | {"python": platform.python_version(), "host": platform.node()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for device_check.log and summary.json")
    parser.add_argument("--budget-s", type=float, default=480.0, help="the whole check's time limit")
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs pytest")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    machine = describe_machine(args.python)
    summary = {"machine": machine, "budget_s": args.budget_s, "items": []}
    print(f"device check: {machine}", flush=True)
    with open(args.out / "device_check.log", "w") as log:
        log.write(json.dumps(machine) + "\n")
        for batch in batches(machine["cuda"]):
            left = args.budget_s - (time.monotonic() - started)
            tests, returncode, elapsed = [], None, 0.0
            if left >= 10:
                batch_start = time.monotonic()
                tests, returncode = run_tests([path for item in batch for path in item.tests], args.python,
                                              min(sum(item.most_s for item in batch), left), log)
                elapsed = time.monotonic() - batch_start
            for item in batch:
                mine = [test for test in tests if belongs(item, test)]
                status = item_status(item, mine, returncode, machine["cuda"]) if left >= 10 else "not run (budget spent)"
                summary["items"].append({"name": item.name, "what": item.what, "status": status,
                                         "elapsed_s": round(elapsed, 1), "tests": mine})
                print_item(summary["items"][-1], len(batch) - 1)
    summary["elapsed_s"] = round(time.monotonic() - started, 1)
    summary["status"] = "pass" if all(item["status"] in ("pass", "skip") for item in summary["items"]) else "fail"
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"== device check: {summary['status'].upper()} in {summary['elapsed_s']:.0f} s "
          f"(budget {args.budget_s:.0f} s); {args.out / 'summary.json'}", flush=True)
    return 0 if summary["status"] == "pass" else 1


if __name__ == "__main__":
    sys.exit(main())
