"""The estimator registry: declared needs, knob filtering, clear errors and user plugins."""

import ast
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import maxrl.algorithms as alg
from maxrl.algorithms import ADVANTAGE_ESTIMATORS, compute_advantage, get_advantage_spec, register_advantage

REQUIRED = {
    "maxrl": (2, ()), "vr_cond": (1, ()), "maclaurin": (1, ()), "cross_fitted_maclaurin": (1, ()),
    "oversample_subset_vr": (1, ()), "pkpo": (2, ()), "grpo": (2, ()), "rloo": (2, ()),
    "reinforce_plus_plus": (1, ()), "reinforce_plus_plus_baseline": (2, ()), "opo": (2, ()),
    "grpo_passk": (2, ()), "remax": (1, ("reward_baselines",)), "gae": (1, ("values",)),
}


def test_every_required_estimator_is_registered_with_its_needs():
    assert set(REQUIRED) <= set(ADVANTAGE_ESTIMATORS)
    assert "maclaurin_baseline" not in ADVANTAGE_ESTIMATORS  # biased (see docs/algorithms.md)
    for name, (min_group_size, extra_inputs) in REQUIRED.items():
        spec = get_advantage_spec(name)
        assert (spec.min_group_size, spec.extra_inputs) == (min_group_size, extra_inputs), name
        assert spec.fn is ADVANTAGE_ESTIMATORS[name]


def test_the_spec_says_which_estimators_are_already_divided_by_the_group_size():
    divided = {name for name in REQUIRED if get_advantage_spec(name).divided_by_group_size}
    assert divided == {"vr_cond", "maclaurin", "cross_fitted_maclaurin", "oversample_subset_vr"}


def test_registry_mapping_is_read_only():
    with pytest.raises(TypeError):
        ADVANTAGE_ESTIMATORS["x"] = lambda *a: None  # type: ignore[index]


def test_unknown_estimator_names_the_config_key():
    with pytest.raises(ValueError, match=r"algorithm\.adv_estimator.*known: \["):
        get_advantage_spec("nope")


def test_whole_algorithm_section_can_be_passed_as_knobs():
    rewards = torch.tensor([[1.0], [0.0], [1.0], [1.0]])
    mask = torch.ones_like(rewards)
    section = {"adv_estimator": "grpo", "gamma": 1.0, "lam": 1.0, "norm_adv_by_std_in_grpo": False,
               "pass_k": 1, "truncate_order": 16, "use_kl_in_reward": False, "kl_ctrl": {"type": "fixed"}}
    adv, _ = compute_advantage("grpo", rewards, mask, ["a", "a", "b", "b"], **section)
    torch.testing.assert_close(adv.flatten(), torch.tensor([0.5, -0.5, 0.0, 0.0]))


def test_group_ids_accept_numpy_object_arrays_tensors_and_tuples():
    rewards = torch.tensor([[1.0], [0.0], [0.0], [1.0]])
    mask = torch.ones_like(rewards)
    expected, _ = compute_advantage("rloo", rewards, mask, ["u1", "u2", "u1", "u2"])
    for ids in (np.array(["u1", "u2", "u1", "u2"], dtype=object), torch.tensor([7, 3, 7, 3]),
                [("p", 1), ("p", 2), ("p", 1), ("p", 2)]):
        torch.testing.assert_close(compute_advantage("rloo", rewards, mask, ids)[0], expected)


def test_missing_extra_input_is_a_clear_error():
    rewards = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=r"'gae' needs the extra input\(s\) \['values'\]"):
        compute_advantage("gae", rewards, torch.ones_like(rewards), [0, 1])
    with pytest.raises(ValueError, match=r"'values' must be a tensor of shape \(2, 3\)"):
        compute_advantage("gae", rewards, torch.ones_like(rewards), [0, 1], values=torch.zeros(2, 2))
    with pytest.raises(ValueError, match="reward_baselines"):
        compute_advantage("remax", rewards, torch.ones_like(rewards), [0, 1])


def test_shape_errors():
    rewards = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="response_mask must have the rewards' shape"):
        compute_advantage("maxrl", rewards, torch.ones(2, 2), [0, 0])
    with pytest.raises(ValueError, match="2 rows"):
        compute_advantage("maxrl", rewards, torch.ones(2, 3), [0, 0, 0])


def test_plugin_estimator_registers_and_receives_only_its_knobs():
    seen = {}

    @register_advantage("test_alg_plugin_scaled", min_group_size=2, extra_inputs=("weights",), override=True)
    def scaled(token_level_rewards, response_mask, group_ids, weights=None, scale: float = 1.0):
        seen.update(scale=scale)
        adv = token_level_rewards * weights.unsqueeze(-1) * scale * response_mask
        return adv, adv

    spec = get_advantage_spec("test_alg_plugin_scaled")
    assert (spec.min_group_size, spec.extra_inputs) == (2, ("weights",))
    rewards = torch.tensor([[1.0], [2.0]])
    adv, _ = compute_advantage("test_alg_plugin_scaled", rewards, torch.ones_like(rewards), ["g", "g"],
                               weights=torch.tensor([3.0, 4.0]), scale=0.5, unrelated_key="ignored")
    torch.testing.assert_close(adv.flatten(), torch.tensor([1.5, 4.0]))
    assert seen == {"scale": 0.5}
    with pytest.raises(ValueError, match="already registered"):
        register_advantage("test_alg_plugin_scaled")(scaled)
    with pytest.raises(ValueError, match=r"group 'g' \(rows \[0\]\) has 1 \(2 group\(s\) too small\)"):
        compute_advantage("test_alg_plugin_scaled", rewards, torch.ones_like(rewards), ["g", "h"],
                          weights=torch.ones(2))


def test_declared_extra_inputs_must_be_parameters():
    with pytest.raises(TypeError, match=r"extra inputs \['values'\]"):
        register_advantage("test_alg_plugin_bad", extra_inputs=("values",))(lambda r, m, g, scale=1.0: (r, r))


def test_policy_loss_registry():
    assert {"vanilla", "gspo"} <= set(alg.POLICY_LOSSES)
    with pytest.raises(ValueError, match=r"policy_loss\.loss_mode"):
        zeros = torch.zeros(1, 1)
        alg.compute_policy_loss("nope", zeros, zeros, zeros, torch.ones(1, 1))


def test_algorithms_import_only_torch_numpy_and_the_standard_library():
    package = Path(alg.__file__).parent
    allowed = {"torch", "numpy", "maxrl"} | set(sys.stdlib_module_names)
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = {node.module.split(".")[0]}
            else:
                continue
            assert roots <= allowed, f"{path.name} imports {roots - allowed}"
            if "maxrl" in roots and isinstance(node, ast.ImportFrom):
                assert node.module.startswith("maxrl.algorithms"), f"{path.name} imports {node.module}"
