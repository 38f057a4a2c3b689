"""The agent loop's bookkeeping, exactly: which tokens an episode holds, which are trained, where the log-probs
and rewards sit, when it ends, and what each tool failure turns into.

The backend here is a script (each call returns given turns), so every expected token is known; the loop
runs its real environment: the call pool, the tools of ``agent_helpers`` and the tiny ChatML template.
`test_agt_token_drift.py` runs the same loop on the real hf backend.
"""

import math

import pytest
import torch
from agent_helpers import write_interaction_config, write_tool_config

from maxrl.agents.loop import AgentLoop, left_padded
from maxrl.agents.settings import MultiTurnSettings
from maxrl.data.batch import Batch
from maxrl.utils.tiny_models import build_tiny_tokenizer
from maxrl.workers.rollout.base import SamplingParams


class ScriptedBackend:
    """A stand-in for a rollout backend whose call c answers every row with ``turns[c]`` (a text), the
    sampler's log-prob of the j-th token of a turn being ``-(j + 1) / 100``. It records its calls."""

    def __init__(self, tokenizer, turns):
        self.turns = [tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for text in turns]
        self.calls = []

    def generate(self, prompts, sampling):
        turn = self.turns[min(len(self.calls), len(self.turns) - 1)]
        self.calls.append((prompts, sampling))
        rows = len(prompts) * sampling.n
        length = min(len(turn), sampling.max_tokens)
        responses = torch.zeros((rows, sampling.max_tokens), dtype=torch.long)
        mask = torch.zeros_like(responses)
        log_probs = torch.zeros((rows, sampling.max_tokens))
        responses[:, :length] = torch.tensor(turn[:length])
        mask[:, :length] = 1
        log_probs[:, :length] = -torch.arange(1, length + 1) / 100
        return Batch({"responses": responses, "response_mask": mask, "rollout_log_probs": log_probs})


CALL = '<tool_call>{"name": "echo", "arguments": {"text": "ab"}}</tool_call>'


@pytest.fixture(scope="module")
def tokenizer():
    return build_tiny_tokenizer()


@pytest.fixture(scope="module")
def configs(tmp_path_factory):
    root = tmp_path_factory.mktemp("agent_configs")
    tools = write_tool_config(
        root / "tools.yaml", ("EchoTool", "echo", {"repeat": 2}), ("CountingTool", "count", {}),
        ("FailingTool", "fail", {}), ("SleepingTool", "sleep", {}), ("FailingCreateTool", "broken", {}),
    )
    interactions = write_interaction_config(root / "interactions.yaml", ("talk", "KeepTalking"), ("stop", "StopAfter"))
    return tools, interactions


def prompts_of(tokenizer, rows, extra_info=None):
    messages = [[{"role": "user", "content": text}] for text in rows]
    ids = [tokenizer(tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=False),
                     add_special_tokens=False)["input_ids"] for m in messages]
    extra = extra_info or [{} for _ in rows]
    return left_padded(ids, tokenizer.pad_token_id).union(Batch(non_tensors={"raw_prompt": messages, "extra_info": extra}))


def run(tokenizer, settings, turns, rows=("what is 1 + 2",), n=1, max_tokens=200, extra_info=None):
    loop = AgentLoop(settings, tokenizer, True, tokenizer.pad_token_id)
    try:
        backend = ScriptedBackend(tokenizer, turns)
        sampling = SamplingParams(n=n, max_tokens=max_tokens, stop_token_ids=(tokenizer.eos_token_id,), seed=7)
        return loop.run(prompts_of(tokenizer, rows, extra_info), sampling, backend.generate), backend, loop
    finally:
        loop.close()


def ids(tokenizer, text):
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def inserted_segments(tokenizer, out, row=0):
    """The decoded runs of inserted (mask 0) tokens of a row's response."""
    real, trained = out.attends[row].bool(), out.trained[row]
    segments, current = [], []
    for token, is_real, is_trained in zip(out.responses[row].tolist(), real.tolist(), trained.tolist()):
        if is_real and not is_trained:
            current.append(token)
        elif current:
            segments.append(tokenizer.decode(current))
            current = []
    return segments + ([tokenizer.decode(current)] if current else [])


def test_a_tool_turn_is_generated_tokens_then_inserted_tokens_then_the_next_turn(tokenizer, configs):
    tools, _ = configs
    out, backend, loop = run(tokenizer, MultiTurnSettings(tool_config_path=str(tools), call_workers=1), [CALL, "3"], n=2)
    turn1 = ids(tokenizer, CALL) + [tokenizer.eos_token_id]
    inserted = loop.renderer.inserted_ids([{"role": "tool", "content": "abab"}], tokenizer.eos_token_id)
    turn2 = ids(tokenizer, "3") + [tokenizer.eos_token_id]
    expected = turn1 + inserted + turn2
    for row in range(2):  # both samples of the prompt
        length = int(out.attends[row].sum())
        assert out.responses[row, :length].tolist() == expected
        assert out.trained[row, :length].tolist() == [1] * len(turn1) + [0] * len(inserted) + [1] * len(turn2)
        assert out.attends[row, length:].sum() == 0 and out.trained[row, length:].sum() == 0
        expected_log_probs = [-(j + 1) / 100 for j in range(len(turn1))] + [0.0] * len(inserted) + \
                             [-(j + 1) / 100 for j in range(len(turn2))]
        torch.testing.assert_close(out.log_probs[row, :length], torch.tensor(expected_log_probs))
        # The tool's reward (0.25) sits on the last token of the turn that called it.
        assert out.turn_rewards[row].nonzero().flatten().tolist() == [len(turn1) - 1]
        assert math.isclose(float(out.turn_rewards[row].sum()), 0.25)
    assert out.fields["episode_assistant_turns"].tolist() == [2, 2]
    assert out.fields["episode_user_turns"].tolist() == [1, 1]
    assert out.fields["episode_tool_calls"].tolist() == [1, 1]
    assert out.fields["episode_truncated"].tolist() == [0, 0]
    # Turn 1 samples both episodes of the prompt in one call (n = 2); turn 2 continues each episode (n = 1)
    # from its own tokens, left-padded, with positions counting from 0 and a fresh seed.
    (first, first_sampling), (second, second_sampling) = backend.calls
    assert len(first) == 1 and first_sampling.n == 2 and first_sampling.seed == 7
    assert len(second) == 2 and second_sampling.n == 1 and second_sampling.seed not in (None, 7)
    context = first["input_ids"][0][first["attention_mask"][0].bool()].tolist() + turn1 + inserted
    assert second["input_ids"][0][second["attention_mask"][0].bool()].tolist() == context
    assert second["position_ids"][0, -1] == len(context) - 1
    assert second_sampling.max_tokens == 200 - len(turn1) - len(inserted)


def test_turn_limits_end_episodes(tokenizer, configs):
    tools, _ = configs
    settings = MultiTurnSettings(tool_config_path=str(tools), max_assistant_turns=3, call_workers=1)
    out, backend, _ = run(tokenizer, settings, [CALL], max_tokens=1000)
    assert out.fields["episode_assistant_turns"].tolist() == [3] and len(backend.calls) == 3
    assert out.fields["episode_user_turns"].tolist() == [2]  # the third call is never answered
    out, _, _ = run(tokenizer, MultiTurnSettings(tool_config_path=str(tools), max_user_turns=1, call_workers=1), [CALL],
                    max_tokens=1000)
    assert out.fields["episode_assistant_turns"].tolist() == [2] and out.fields["episode_user_turns"].tolist() == [1]


def test_the_response_budget_covers_every_turn_and_truncation_is_flagged(tokenizer, configs):
    tools, _ = configs
    turn1 = len(ids(tokenizer, CALL)) + 1
    # The budget ends inside the inserted tool answer: cut there, flagged.
    out, backend, _ = run(tokenizer, MultiTurnSettings(tool_config_path=str(tools), call_workers=1), [CALL], max_tokens=turn1 + 3)
    assert int(out.attends[0].sum()) == turn1 + 3 and out.trained[0].tolist() == [1] * turn1 + [0] * 3
    assert out.fields["episode_truncated"].tolist() == [1] and len(backend.calls) == 1
    # The budget ends inside a model turn: cut there (its last token is no stop token), flagged.
    out, _, _ = run(tokenizer, MultiTurnSettings(tool_config_path=str(tools), call_workers=1), [CALL], max_tokens=turn1 - 2)
    assert out.trained[0].tolist() == [1] * (turn1 - 2) and out.fields["episode_truncated"].tolist() == [1]
    assert out.fields["episode_user_turns"].tolist() == [0]


@pytest.mark.parametrize("call, kind, message", [
    ('<tool_call>{"name": "echo", "arguments": {"text": "ab"}</tool_call>', "bad_json", "Error: the tool call is not valid JSON"),
    ('<tool_call>{"name": "search", "arguments": {}}</tool_call>', "unknown_tool", "Error: there is no tool named 'search'; the tools are echo, count, fail, sleep, broken."),
    ('<tool_call>{"name": "fail", "arguments": {}}</tool_call>', "exception", "Error: tool 'fail' failed: ValueError: the input is wrong"),
    ('<tool_call>{"name": "sleep", "arguments": {"seconds": 30}}</tool_call>', "timeout", "Error: tool 'sleep' timed out: timed out after 1 s"),
    ('<tool_call>{"name": "broken", "arguments": {}}</tool_call>', "exception", "Error: tool 'broken' could not start: RuntimeError: cannot start"),
    (CALL + CALL, "too_many_calls", "Error: at most 1 tool call(s) per turn; this call was not run."),
])
def test_every_failure_is_a_message_to_the_model_and_a_count(tokenizer, configs, call, kind, message):
    tools, _ = configs
    settings = MultiTurnSettings(tool_config_path=str(tools), call_workers=1, call_timeout_s=1.0, max_tool_response_length=1000)
    out, _, _ = run(tokenizer, settings, [call, "ok"], max_tokens=1000)
    (answer,) = inserted_segments(tokenizer, out)
    assert message in answer
    assert out.fields[f"episode_errors_{kind}"].tolist() == [1]
    assert out.fields["episode_assistant_turns"].tolist() == [2]  # the episode went on after the error


def test_a_tool_keeps_its_state_through_an_episode_and_starts_from_the_rows_arguments(tokenizer, configs):
    tools, _ = configs
    call = '<tool_call>{"name": "count", "arguments": {}}</tool_call>'
    extra = [{"tools_kwargs": {"count": {"create_kwargs": {"seed": 5}}}}]
    out, _, _ = run(tokenizer, MultiTurnSettings(tool_config_path=str(tools), max_assistant_turns=3, call_workers=1),
                    [call], n=2, max_tokens=1000, extra_info=extra)
    for row in range(2):  # each episode has its own state
        answers = inserted_segments(tokenizer, out, row)
        assert '{"calls": 1, "kwargs": {"seed": 5}}' in answers[0] and '{"calls": 2, "kwargs": {"seed": 5}}' in answers[1]


def test_long_tool_answers_are_cut_on_the_configured_side(tokenizer, configs):
    tools, _ = configs
    call = '<tool_call>{"name": "echo", "arguments": {"text": "0123456789"}}</tool_call>'
    for side, kept in (("left", "01234...(truncated)..."), ("right", "...(truncated)...56789"), ("middle", "01...(truncated)...789")):
        settings = MultiTurnSettings(tool_config_path=str(tools), call_workers=1, max_tool_response_length=5,
                                     tool_response_truncate_side=side, max_assistant_turns=2)
        out, _, _ = run(tokenizer, settings, [call], max_tokens=1000)
        assert f"<tool_response>\n{kept}\n</tool_response>" in inserted_segments(tokenizer, out)[0]


def test_an_interaction_answers_turns_without_calls_and_scores_them(tokenizer, configs):
    _, interactions = configs
    extra = [{"interaction_kwargs": {"name": "stop", "turns": 2}}]
    out, _, _ = run(tokenizer, MultiTurnSettings(interaction_config_path=str(interactions), call_workers=1),
                    ["no call here"], max_tokens=1000, extra_info=extra)
    # StopAfter(turns=2) replies twice, then ends the episode at its third reply; each reply scores 1.
    assert out.fields["episode_assistant_turns"].tolist() == [3] and out.fields["episode_user_turns"].tolist() == [2]
    assert inserted_segments(tokenizer, out) == ["\n<|im_start|>user\ngo on<|im_end|>\n<|im_start|>assistant\n"] * 2
    turn_ends = (out.trained[0].diff(append=torch.tensor([0])) == -1).nonzero().flatten().tolist()
    assert out.turn_rewards[0].nonzero().flatten().tolist() == turn_ends and float(out.turn_rewards[0].sum()) == 3.0


def test_a_row_naming_an_unknown_interaction_is_refused(tokenizer, configs):
    _, interactions = configs
    with pytest.raises(ValueError, match=r"interaction_kwargs.name='chat' is not one of the configured interactions \['talk', 'stop'\]"):
        run(tokenizer, MultiTurnSettings(interaction_config_path=str(interactions), call_workers=1), ["x"],
            extra_info=[{"interaction_kwargs": {"name": "chat"}}])
