"""Tools, interactions and config files for the multi-turn tests.

Importable as ``from agent_helpers import ...`` from any test (pytest puts ``tests/`` on ``sys.path``); the
call pool's spawned processes inherit that path, so the classes here load there by their dotted names.
"""

import json
import time

import yaml

from maxrl.agents import Interaction, InteractionReply, Tool, ToolResult


class EchoTool(Tool):
    """Returns its ``text`` argument `config["repeat"]` times; counts its calls in the episode's state."""

    def create(self, **create_kwargs):
        return {"calls": 0, **create_kwargs}

    def execute(self, parameters, state, **execute_kwargs):
        state["calls"] += 1
        return ToolResult(str(parameters.get("text", "")) * int(self.config.get("repeat", 1)), reward=0.25)


class CountingTool(Tool):
    """Returns how many times it was called in this episode and the episode's create_kwargs."""

    def create(self, **create_kwargs):
        return {"calls": 0, "kwargs": create_kwargs}

    def execute(self, parameters, state, **execute_kwargs):
        state["calls"] += 1
        return json.dumps({"calls": state["calls"], "kwargs": state["kwargs"]}, sort_keys=True)


class FailingTool(Tool):
    def execute(self, parameters, state, **execute_kwargs):
        raise ValueError("the input is wrong")


class SleepingTool(Tool):
    def execute(self, parameters, state, **execute_kwargs):
        time.sleep(float(parameters.get("seconds", 60)))
        return "woke up"


class FailingCreateTool(Tool):
    def create(self, **create_kwargs):
        raise RuntimeError("cannot start")

    def execute(self, parameters, state, **execute_kwargs):
        return "unreachable"


class KeepTalking(Interaction):
    """Answers every assistant turn with ``again <turn>`` and never ends the episode; scores 0.5 per turn."""

    def start_interaction(self, **kwargs):
        return {"turn": 0, **kwargs}

    def generate_response(self, messages, state):
        state["turn"] += 1
        return InteractionReply(f"again {state['turn']}", done=False, score=0.5)


class StopAfter(Interaction):
    """Ends the episode after ``turns`` replies (from the row's interaction_kwargs)."""

    def start_interaction(self, turns=1, **kwargs):
        return {"left": int(turns)}

    def generate_response(self, messages, state):
        state["left"] -= 1
        return (state["left"] < 0, "go on", 1.0, {})


def schema(name, **properties):
    return {"type": "function", "function": {
        "name": name, "description": f"the {name} tool",
        "parameters": {"type": "object", "properties": {k: {"type": v} for k, v in properties.items()}},
    }}


def write_tool_config(path, *tools):
    """A verl-format tool config with ``(class name in this module, tool name, config)`` entries."""
    entries = [{"class_name": f"agent_helpers.{cls}", "config": config, "tool_schema": schema(name, text="string")}
               for cls, name, config in tools]
    path.write_text(yaml.safe_dump({"tools": entries}))
    return path


def write_interaction_config(path, *interactions):
    """A verl-format interaction config with ``(name, class name in this module)`` entries."""
    entries = [{"name": name, "class_name": f"agent_helpers.{cls}", "config": {}} for name, cls in interactions]
    path.write_text(yaml.safe_dump({"interaction": entries}))
    return path


def teach(model_dir, tokenizer, conversations, steps=80, lr=1e-2, seed=0):
    """Fine-tune the model in `model_dir` in place on ``(prompt messages, assistant text)`` pairs, so that a
    tiny random model answers with that text (e.g. a tool call) most of the time when sampling."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    examples = []
    for messages, answer in conversations:
        prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        ids = torch.tensor([prompt_ids + answer_ids])
        labels = torch.tensor([[-100] * len(prompt_ids) + answer_ids])
        examples.append((ids, labels))
    model.train()
    for step in range(steps):
        ids, labels = examples[step % len(examples)]
        loss = model(input_ids=ids, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.save_pretrained(model_dir)
    return float(loss.detach())


TOOL_CALL = '<tool_call>{"name": "count"}</tool_call>'
QUESTIONS = ["what is 1 + 2", "how many apples does she have left in total"]


def teach_tool_calls(model_dir, tokenizer):
    """Teach the tiny model in `model_dir` to call the ``count`` tool, also after a tool answer (so episodes
    have several turns); ~25 s on 2 cores."""
    answered = [{"role": "assistant", "content": TOOL_CALL}, {"role": "tool", "content": '{"calls": 1, "kwarg'}]
    conversations = [([{"role": "user", "content": q}], TOOL_CALL) for q in QUESTIONS]
    conversations.append(([{"role": "user", "content": QUESTIONS[0]}, *answered], TOOL_CALL))
    teach(model_dir, tokenizer, conversations, steps=240, lr=1e-2)


def sample_episodes(engine, tokenizer, root, n=4, max_tokens=320, seed=11):
    """Episodes of the ``count`` tool (answers cut to 12 characters, at most 3 model turns) sampled by `engine`
    through the agent loop for `QUESTIONS`, as the trainer's batch; and the loop's output."""
    from maxrl.agents.loop import AgentLoop, left_padded
    from maxrl.agents.settings import MultiTurnSettings
    from maxrl.data.batch import Batch
    from maxrl.workers.rollout.base import PROMPT_FIELDS, SamplingParams, assemble_rollout

    tools = write_tool_config(root / "tools.yaml", ("CountingTool", "count", {}))
    settings = MultiTurnSettings(tool_config_path=str(tools), max_assistant_turns=3, max_tool_response_length=12,
                                 call_workers=1)
    loop = AgentLoop(settings, tokenizer, True, tokenizer.pad_token_id)
    messages = [[{"role": "user", "content": q}] for q in QUESTIONS]
    ids = [tokenizer(tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=False),
                     add_special_tokens=False)["input_ids"] for m in messages]
    prompts = left_padded(ids, tokenizer.pad_token_id).union(
        Batch(non_tensors={"raw_prompt": messages, "extra_info": [{} for _ in messages]}))
    sampling = SamplingParams(n=n, max_tokens=max_tokens, stop_token_ids=(tokenizer.eos_token_id,), seed=seed)
    try:
        out = loop.run(prompts, sampling, engine.generate)
    finally:
        loop.close()
    batch = assemble_rollout(prompts.select(PROMPT_FIELDS).repeat(n), out.responses, out.trained, out.log_probs,
                             out.attends)
    return batch, out
