"""The schema is the one description of every key: it covers the YAML exactly, and types and rules come from it."""

import typing
from dataclasses import dataclass

import pytest
from omegaconf import OmegaConf, ValidationError

from maxrl.config import compose_config
from maxrl.config.schema import field_problems, schema_keys, typed_config
from maxrl.config.schema.fields import knob, section
from maxrl.config.schema.keys import walk
from maxrl.config.schema.validate import typed_schema
from maxrl.config.yaml_tree import leaf_keys, yaml_defaults


def test_every_yaml_key_has_a_schema_field_and_every_field_a_yaml_key():
    in_yaml = set(leaf_keys(yaml_defaults()))
    declared = {path for path, key in schema_keys().items() if not key.added}
    assert sorted(in_yaml - declared) == [], "YAML keys without a field in maxrl/config/schema/"
    assert sorted(declared - in_yaml) == [], "schema fields without a YAML default (or mark them added=True)"


def test_keys_added_with_plus_are_absent_from_the_yaml_and_nullable():
    added = [key for key in schema_keys().values() if key.added]
    assert {key.path for key in added} >= {"actor_rollout_ref.rollout.micro_batch_size"}
    assert not {key.path for key in added} & set(leaf_keys(yaml_defaults()))
    assert all(key.optional for key in added)


def test_every_key_has_a_one_line_help():
    missing = [path for path, key in schema_keys().items() if not key.help.strip() or "\n" in key.help]
    assert missing == []


def test_the_yaml_defaults_satisfy_their_own_fields_and_checking_changes_nothing():
    config = compose_config([])
    before = OmegaConf.to_yaml(config)
    assert field_problems(config) == {}
    assert OmegaConf.to_yaml(config) == before


@pytest.mark.parametrize(
    "override, expected",
    [
        ("trainer.seed=abc", "trainer.seed='abc' must be an integer"),
        ("data.shuffle=maybe", "data.shuffle='maybe' must be true or false"),
        ("actor_rollout_ref.actor.entropy_coeff=much", "actor_rollout_ref.actor.entropy_coeff='much' must be a number"),
        ("trainer.total_epochs=1.5", "trainer.total_epochs=1.5 must be a positive integer"),
        ("data.max_prompt_length=null", "data.max_prompt_length=None must be a positive integer"),
        ("actor_rollout_ref.actor.checkpoint.save_contents=model", "save_contents='model' must be a list"),
        ("actor_rollout_ref.model.override_config=5", "actor_rollout_ref.model.override_config=5 must be a mapping"),
        ("actor_rollout_ref.actor.ppo_micro_batch_size=8",
         "actor_rollout_ref.actor.ppo_micro_batch_size=8 must be null: the deprecated global micro-batch; use "
         "ppo_micro_batch_size_per_gpu"),
    ],
)
def test_a_value_of_the_wrong_type_or_range_names_the_key_and_what_it_must_be(override, expected):
    problems = field_problems(compose_config([override]))
    assert any(expected in problem for problem in problems.values()), problems


def test_an_interpolated_key_is_checked_at_its_resolved_value():
    problems = field_problems(compose_config(["actor_rollout_ref.actor.ppo_max_token_len_per_gpu=0"]))
    assert "actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu" in problems
    assert "critic.forward_max_token_len_per_gpu" not in problems  # interpolates critic's own budget


def test_every_problem_is_reported_not_only_the_first():
    problems = field_problems(compose_config(["trainer.seed=x", "data.train_batch_size=0", "algorithm.gamma=2"]))
    assert set(problems) == {"trainer.seed", "data.train_batch_size", "algorithm.gamma"}


def test_null_is_refused_where_the_field_is_not_optional_and_accepted_where_it_is():
    assert "trainer.nnodes" in field_problems(compose_config(["trainer.nnodes=null"]))
    assert field_problems(compose_config(["trainer.total_training_steps=null", "data.val_batch_size=null"])) == {}


def test_the_typed_config_holds_every_key_with_its_declared_type():
    typed = typed_config(compose_config(["critic.optim.lr=1", "+algorithm.floor=0.1",
                                         "+actor_rollout_ref.actor.policy_loss.knob=2"]))
    assert typed.actor_rollout_ref.rollout.micro_batch_size is None  # added with + and absent: null, no .get
    assert isinstance(typed.critic.optim.lr, float)
    assert typed.algorithm.floor == 0.1 and typed.actor_rollout_ref.actor.policy_loss.knob == 2


def test_types_are_ones_omegaconf_can_check():
    supported = {int, float, bool, str, typing.Any}
    for key in schema_keys().values():
        assert key.type in supported or typing.get_origin(key.type) in (list, dict), key.path


def test_a_key_named_like_a_python_keyword_is_declared_under_another_attribute():
    @dataclass
    class Pipeline:
        enable: bool = knob("on or off")

    @dataclass
    class Root:
        async_: Pipeline = section(Pipeline, "a section whose key is a keyword", key="async")

    assert [item.path for item in walk(Root)] == ["async", "async.enable"]
    typed = typed_schema(Root)
    assert list(typed) == ["async"]
    OmegaConf.update(typed, "async.enable", "true")
    assert typed["async"].enable is True
    with pytest.raises(ValidationError):
        OmegaConf.update(typed, "async.enable", "maybe")
