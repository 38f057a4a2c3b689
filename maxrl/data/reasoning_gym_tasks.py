"""Easy reasoning-gym tasks with short numeric answers, for RL on a small model at CPU scale.

A preset is one reasoning-gym task at a fixed easy setting. The same presets, prompt and problem stream are
used by the task probe (`maxrl.experiments.task_probe`, which measures a model's pass@k on each) and by the
data preparation (`examples/maxrl_data_preprocess/reasoning_gym_short.py`), so the probe measures exactly
what a training run will see. Answers are whole numbers, scored by the last number of the response
(`maxrl.rewards.final_number`), under the data source ``reasoning_gym/<task>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SHORT_ANSWER_INSTRUCTION = "Give only the final answer."


@dataclass(frozen=True)
class Preset:
    """A reasoning-gym task and the config that makes it easy."""

    task: str
    config: dict = field(default_factory=dict)

    @property
    def data_source(self) -> str:
        return f"reasoning_gym/{self.task}"


PRESETS = {
    "arith_1d": Preset("basic_arithmetic", {"min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 1,
                                            "operators": ("+", "-"), "allow_parentheses": False,
                                            "allow_negation": False}),
    "arith_2d": Preset("basic_arithmetic", {"min_terms": 2, "max_terms": 2, "min_digits": 2, "max_digits": 2,
                                            "operators": ("+", "-"), "allow_parentheses": False,
                                            "allow_negation": False}),
    "chain_sum_3": Preset("chain_sum", {"min_terms": 3, "max_terms": 3, "min_digits": 1, "max_digits": 1}),
    "products_1d": Preset("products", {"min_digits": 1, "max_digits": 1}),
    "equations_easy": Preset("simple_equations", {"min_terms": 2, "max_terms": 2, "max_value": 10,
                                                  "operators": ("+", "-"), "operators_weights": (0.5, 0.5)}),
    "legs_easy": Preset("leg_counting", {"min_animals": 1, "max_animals": 2, "max_instances": 3}),
    "count_bits_7": Preset("count_bits", {"max_n": 127}),
    "letters_short": Preset("letter_counting", {"min_words": 3, "max_words": 5}),
}


def short_answer_prompt(question: str) -> list[dict]:
    """The question as one user message, asking for the bare answer (a 135M model rambles otherwise)."""
    return [{"role": "user", "content": f"{question.strip()}\n{SHORT_ANSWER_INSTRUCTION}"}]


def unique_problems(preset: Preset, count: int, seed: int) -> list[dict]:
    """The first ``count`` distinct questions of the preset's stream for ``seed`` (easy settings repeat)."""
    import reasoning_gym

    size, previous = count, -1
    while True:
        distinct = {}
        for entry in reasoning_gym.create_dataset(preset.task, size=size, seed=seed, **preset.config):
            distinct.setdefault(entry["question"], entry)
        if len(distinct) >= count:
            return list(distinct.values())[:count]
        if len(distinct) == previous:  # twice the stream gave no new question: the setting is exhausted
            raise ValueError(f"{preset.task} {preset.config} has fewer than {count} distinct questions "
                             f"({len(distinct)})")
        size, previous = 2 * size, len(distinct)
