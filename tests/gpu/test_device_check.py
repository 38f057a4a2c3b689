"""The device check's runner (tests/gpu/device_check.py), on CPU: how a pytest report becomes each item's
pass/fail with its figures, and which items share a process."""

from device_check import ITEMS, Item, batches, belongs, item_status, outcomes

REPORT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.gpu.test_gpu_fsdp" name="test_update" time="1.5">
  <properties><property name="max_abs_weight_diff" value="0.0"/></properties></testcase>
<testcase classname="tests.gpu.test_gpu_fsdp" name="test_offload" time="2.0">
  <failure message="AssertionError: held 40 MiB&#10;more">trace</failure></testcase>
<testcase classname="tests.gpu.test_gpu_vllm_rollout" name="test_sync[fp32]" time="0">
  <skipped type="pytest.skip" message="needs vLLM (.[gpu])"/></testcase>
<testcase classname="" name="tests.unit.controller.test_ctrl_methods" time="0">
  <error message="collection failure">ImportError</error></testcase>
</testsuite></testsuites>"""

FSDP = Item("fsdp", "", ("tests/gpu/test_gpu_fsdp.py",), cuda=True, most_s=60)
VLLM = Item("vllm_rollout", "", ("tests/gpu/test_gpu_vllm_rollout.py",), cuda=True, most_s=60, may_skip=True)
UNITS = Item("torch_compat_cpu", "", ("tests/unit/workers", "tests/unit/controller"), cuda=False, most_s=60)


def test_a_report_gives_each_test_its_outcome_first_message_line_and_figures(tmp_path):
    (tmp_path / "junit.xml").write_text(REPORT)
    tests = outcomes(tmp_path / "junit.xml")
    assert [(t["test"], t["outcome"], t["message"]) for t in tests] == [
        ("test_gpu_fsdp::test_update", "passed", ""),
        ("test_gpu_fsdp::test_offload", "failed", "AssertionError: held 40 MiB"),
        ("test_gpu_vllm_rollout::test_sync[fp32]", "skipped", "needs vLLM (.[gpu])"),
        ("test_ctrl_methods::tests.unit.controller.test_ctrl_methods", "error", "collection failure"),
    ]
    assert tests[0]["figures"] == {"max_abs_weight_diff": "0.0"}
    assert outcomes(tmp_path / "missing.xml") == []  # pytest died before writing it


def test_tests_go_to_their_item_and_decide_its_status(tmp_path):
    (tmp_path / "junit.xml").write_text(REPORT)
    tests = outcomes(tmp_path / "junit.xml")
    mine = {item.name: [t for t in tests if belongs(item, t)] for item in (FSDP, VLLM, UNITS)}
    assert [len(mine[name]) for name in ("fsdp", "vllm_rollout", "torch_compat_cpu")] == [2, 1, 1]
    assert item_status(FSDP, mine["fsdp"], 1, has_cuda=True) == "fail"
    assert item_status(UNITS, mine["torch_compat_cpu"], 1, has_cuda=False) == "fail"  # a collection error
    assert item_status(VLLM, mine["vllm_rollout"], 1, has_cuda=True) == "skip"  # vLLM may be absent
    assert item_status(FSDP, mine["fsdp"][:1], 0, has_cuda=True) == "pass"
    assert item_status(FSDP, [], None, has_cuda=True) == "timeout"
    assert item_status(FSDP, [], -11, has_cuda=True) == "fail"  # a crash before the report
    skipped = [{"outcome": "skipped"}]
    assert item_status(FSDP, skipped, 0, has_cuda=False) == "skip"  # no GPU here: a CUDA item skips
    assert item_status(FSDP, skipped, 0, has_cuda=True) == "fail"  # a GPU, yet the item did not run


def test_without_a_gpu_the_cuda_items_share_one_process():
    cpu_batches = batches(has_cuda=False)
    assert [item.name for item in cpu_batches[0]] == [item.name for item in ITEMS if item.cuda]
    assert all(len(batch) == 1 and not batch[0].cuda for batch in cpu_batches[1:])
    assert batches(has_cuda=True) == [(item,) for item in ITEMS]
