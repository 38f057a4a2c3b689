"""A tool task: multiply two 3-digit numbers with a calculator tool (docs/multi_turn.md).

A tiny model cannot multiply 3-digit numbers in its head, so the calculator is necessary: a short supervised
warm start on synthetic transcripts teaches the format and, in a minority of them, the tool call; RL then
has to discover that calling the tool is what earns the reward. The answer is written ``#### <number>``.
Modules: `tokenizer` (a character-level tokenizer with a ChatML template), `data` (problems as verl
parquet), `scorer` (the reward), `warm_start` (the supervised stage).
"""

DATA_SOURCE = "calculator_multiply"
