"""maxrl: Maximum Likelihood Reinforcement Learning for language models."""

__version__ = "0.1.0"
