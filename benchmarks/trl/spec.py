"""What one comparison step does, as plain data that both venvs read: the `Workload`.

The benchmark (maxrl's venv) writes a workload with its prompt rows to one JSON file (`write_workload_file`);
TRL's runner in ``.venv-trl`` reads it back (`read_workload_file`), so both sides train on the same shape,
prompts and scorer without the runner importing maxrl. Standard library only.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["Workload", "read_workload_file", "write_workload_file"]


@dataclass(frozen=True)
class Workload:
    """The work of one RL step, identical for both frameworks.

    Every sample is exactly `response_tokens` long (eos is suppressed until then on both sides), so both
    do the same arithmetic whatever the model writes. `module` names the importable module whose
    ``trl_reward`` (TRL's signature) and ``compute_score`` (maxrl's ``custom_reward_function``) score a
    response alike; ``chat_template`` says whether prompts are chat messages put through the
    tokenizer's chat template (else plain text whose tokens are the prompt).
    """

    name: str
    description: str  # one paragraph for the report
    module: str
    prompts_per_step: int
    samples_per_prompt: int
    response_tokens: int
    max_prompt_tokens: int
    temperature: float
    learning_rate: float
    chat_template: bool

    @property
    def samples_per_step(self) -> int:
        return self.prompts_per_step * self.samples_per_prompt

    def to_dict(self) -> dict:
        return asdict(self)


def write_workload_file(path: str | Path, workload: Workload, prompts: list[dict]) -> Path:
    """`workload` and TRL's dataset rows (``prompt`` plus any column the reward reads) as one JSON file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"workload": workload.to_dict(), "prompts": prompts}, indent=1) + "\n")
    return path


def read_workload_file(path: str | Path) -> tuple[Workload, list[dict]]:
    data = json.loads(Path(path).read_text())
    return Workload(**data["workload"]), data["prompts"]
