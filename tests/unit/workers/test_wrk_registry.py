"""The rollout registry: lookup by name, built-in lazy import, clear errors."""

import pytest

from maxrl.workers.rollout import ROLLOUT_BACKENDS, build_rollout, register_rollout


def test_a_registered_backend_is_built_with_keyword_arguments():
    @register_rollout("wrk_test_echo")
    class Echo:
        def __init__(self, **kwargs):
            self.kwargs = kwargs

    try:
        backend = build_rollout("wrk_test_echo", config=None, tokenizer="tok", device="cpu")
        assert isinstance(backend, Echo) and backend.kwargs["tokenizer"] == "tok"
        with pytest.raises(ValueError, match="already registered"):
            register_rollout("wrk_test_echo")(type("Other", (), {}))
    finally:
        ROLLOUT_BACKENDS.pop("wrk_test_echo")


def test_hf_backend_registers_itself_on_first_use():
    from maxrl.workers.rollout.hf_rollout import HFRollout

    assert ROLLOUT_BACKENDS["hf"] is HFRollout


def test_unknown_backend_names_the_config_key_and_the_choices():
    with pytest.raises(ValueError, match=r"actor_rollout_ref.rollout.name='nope'.*'hf'.*'vllm'"):
        build_rollout("nope")
