"""Evaluation of a maze policy: sample answers and score them with the RL verifier.

Each test maze gets ``n`` sampled answers (``model.generate``, stopping at ``DONE`` or ``<eos>``, with room
for the longest path the maze size allows). Success is the RL reward and ``optimal`` success is reaching the
goal in the fewest moves; both are reported as unbiased pass@k (``maxrl.algorithms.pass_at_k``). This fixes
two flaws of the paper's SFT evaluation: a 64-token cap that cut long 17x17 paths short, and a success test
that differed from the RL reward.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from transformers import PreTrainedModel

from maxrl.algorithms import pass_at_k
from maxrl.tasks.maze.encoding import NEWLINE
from maxrl.tasks.maze.sft.data import IGNORE_INDEX, TokenizedMazes
from maxrl.tasks.maze.sft.model import PAD_ID, STOP_IDS
from maxrl.tasks.maze.tokenizer import VOCAB
from maxrl.tasks.maze.verifier import compute_score


def max_answer_tokens(sequence: str) -> int:
    """Tokens the longest possible answer needs: a perfect ``s x s`` maze has ``2m^2 - 1`` open squares
    (``m = (s-1)/2``), so a path makes at most ``2m^2 - 2`` moves; then ``DONE``."""
    m = (sequence.split().count(NEWLINE) - 1) // 2
    return 2 * m * m - 1


def answer_loss_sum(model: PreTrainedModel, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Summed next-token cross-entropy over the labelled (answer) tokens, and how many there are."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    targets = batch["labels"][:, 1:]
    loss = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), ignore_index=IGNORE_INDEX, reduction="sum"
    )
    return loss, int((targets != IGNORE_INDEX).sum())


@torch.no_grad()
def evaluate_loss(model: PreTrainedModel, data: TokenizedMazes, rows: np.ndarray, batch_size: int, device) -> float:
    """Mean answer-token cross-entropy of ``rows`` under teacher forcing."""
    model.eval()
    total, count = 0.0, 0
    for begin in range(0, len(rows), batch_size):
        batch = {k: v.to(device) for k, v in data.collate(rows[begin : begin + batch_size]).items()}
        loss, tokens = answer_loss_sum(model, batch)
        total, count = total + float(loss), count + tokens
    return total / max(count, 1)


@torch.no_grad()
def sample_answers(
    model: PreTrainedModel,
    prompts: list[list[int]],
    max_new_tokens: int,
    temperature: float,
    batch_size: int,
    device,
) -> list[str]:
    """One sampled answer per prompt (repeat a prompt to sample it several times), decoded to words."""
    model.eval()
    answers = []
    for begin in range(0, len(prompts), batch_size):
        chunk = prompts[begin : begin + batch_size]
        width = max(len(p) for p in chunk)
        input_ids = torch.tensor([[PAD_ID] * (width - len(p)) + p for p in chunk], device=device)
        attention_mask = (torch.arange(width, device=device) >= torch.tensor(
            [width - len(p) for p in chunk], device=device
        )[:, None]).long()  # fmt: skip
        output = model.generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            do_sample=True,
            temperature=temperature,
            top_k=0,
            top_p=1.0,
            max_new_tokens=max_new_tokens,
            eos_token_id=STOP_IDS,
            pad_token_id=PAD_ID,
        )
        for row in output[:, width:].tolist():
            answers.append(" ".join(VOCAB[i] for i in row if i != PAD_ID))
    return answers


def evaluate_sampling(
    model: PreTrainedModel,
    data: TokenizedMazes,
    rows: np.ndarray,
    n: int,
    ks: tuple[int, ...],
    temperature: float,
    batch_size: int,
    device,
) -> dict[str, float]:
    """pass@k of success and of optimal success over ``rows``, plus the mean answer length in words."""
    prompts = [data.prompt_ids(row) for row in rows for _ in range(n)]
    truths = [data.sequences[row] for row in rows for _ in range(n)]
    budget = max(max_answer_tokens(data.sequences[row]) for row in rows)
    answers = sample_answers(model, prompts, budget, temperature, batch_size, device)
    scores = [compute_score(answer, truth) for answer, truth in zip(answers, truths)]
    solved = np.array([s["score"] for s in scores]).reshape(len(rows), n)
    optimal = np.array([s["optimal"] for s in scores]).reshape(len(rows), n)
    metrics = {}
    for name, outcome in (("pass", solved), ("optimal_pass", optimal)):
        correct = outcome.sum(axis=1).astype(np.int64)
        for k in ks:
            metrics[f"{name}@{k}"] = float(np.mean(pass_at_k(np.full(len(rows), n), correct, k)))
    metrics["answer_tokens_mean"] = float(np.mean([len(a.split()) for a in answers]))
    return metrics
