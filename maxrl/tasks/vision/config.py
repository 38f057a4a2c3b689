"""The configuration of a classification-as-RL run: typed sections, overridden from the command line.

Overrides use OmegaConf's dotted ``key=value`` syntax, e.g.
``objective.name=maxrl objective.num_rollouts=1024 data.name=imagenet optim.lr=0.1``. Unknown keys and
values of the wrong type are rejected with the key's name before anything is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import DictConfig, OmegaConf

from maxrl.config.choices import KNOWN_BACKENDS
from maxrl.tasks.vision.models import MODEL_NAMES

OFFLINE_DATASETS = ("digits", "gaussian_mixture")
IMAGE_DATASETS = ("cifar10", "cifar100", "imagenet")


@dataclass
class DataConfig:
    name: str = "digits"  # digits | gaussian_mixture | cifar10 | cifar100 | imagenet
    data_dir: str | None = None  # local copy (save_to_disk, parquet or image folder); else the hub
    hub_id: str | None = None  # override the preset's hub repository
    train_split: str | None = None  # default: the preset's ("train")
    eval_split: str | None = None  # default: the preset's ("test" for CIFAR, "validation" for ImageNet)
    image_column: str | None = None  # default: the only Image-typed column
    label_column: str | None = None  # default: the preset's ("label", "fine_label" for CIFAR-100)
    num_workers: int = 0  # DataLoader worker processes per rank
    seed: int = 0  # split / generation seed of the offline sets
    mixture_classes: int = 250  # an untrained policy's pass rate is ~1/250, as ImageNet's is 1/1000
    mixture_dim: int = 32
    mixture_noise: float = 0.5
    mixture_train_per_class: int = 40
    mixture_eval_per_class: int = 10


@dataclass
class ModelConfig:
    name: str = "auto"  # auto (resnet50 for ImageNet, resnet_cifar for CIFAR, mlp otherwise) | mlp | ...
    hidden: int = 256  # MLP width
    depth: int = 2  # MLP hidden layers
    width: int = 32  # small CNN base width
    resnet_depth: int = 20  # CIFAR ResNet depth 6n+2
    channels_last: bool = True  # conv nets on CUDA only


@dataclass
class ObjectiveConfig:
    name: str = "maxrl"  # cross_entropy or an advantage estimator of maxrl.algorithms
    num_rollouts: int = 16  # labels sampled (with replacement) per image
    truncate_order: int | None = None  # maclaurin's order T; None = num_rollouts, as the paper's image script
    pass_k: int = 16  # pkpo's k (must not exceed num_rollouts)
    norm_adv_by_std_in_grpo: bool = True


@dataclass
class OptimConfig:
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    nesterov: bool = False
    warmup_epochs: float = 2.0  # linear warm-up length, then half-cosine to 0
    grad_clip: float | None = None  # max global grad norm; None = off


@dataclass
class TrainerConfig:
    output_dir: str = "outputs/vision"
    experiment_name: str = "vision"
    project: str = "maxrl-vision"
    batch_size: int = 256  # images per step, summed over ranks
    eval_batch_size: int = 1000  # per rank
    epochs: float = 20.0
    max_steps: int | None = None  # overrides epochs
    eval_every: int = 1000  # steps; also at step 0 and at the end
    save_every: int = 1000  # steps; also at the end; 0 disables checkpoints
    log_every: int = 10  # steps between train-metric lines
    resume: bool = True  # continue from output_dir/checkpoints/latest.pt when it exists
    seed: int = 69
    device: str = "auto"  # auto | cpu | cuda
    amp: bool = True  # bfloat16 autocast on CUDA
    pass_k_max: int = 1024  # evaluate pass@k for k = 1, 2, 4, ..., pass_k_max
    logger: list[str] = field(default_factory=lambda: ["console", "file"])  # + wandb, tensorboard
    dry_run: bool = False  # print the resolved config and exit


@dataclass
class VisionConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)


def build_config(overrides: list[str] | None = None) -> DictConfig:
    """The default config with dotted ``key=value`` overrides applied and checked.

    Every vision run starts here, so this is where the task's REINFORCE estimators join the shared registry
    (explicitly, never on import: `maxrl.tasks.vision.estimators`)."""
    from maxrl.tasks.vision.estimators import register_estimators

    register_estimators()
    config = OmegaConf.structured(VisionConfig)
    if overrides:
        malformed = [item for item in overrides if "=" not in item]
        if malformed:
            raise ValueError(f"overrides must look like key=value (e.g. optim.lr=0.1), got {malformed}")
        config = OmegaConf.merge(config, OmegaConf.from_dotlist(overrides))
    validate_config(config)
    return config


def validate_config(config: DictConfig) -> None:
    """Reject impossible settings early, naming the key to change."""
    from maxrl.tasks.vision.objectives import known_objectives

    problems = []
    if config.data.name not in OFFLINE_DATASETS + IMAGE_DATASETS:
        problems.append(f"data.name={config.data.name!r}: expected one of {OFFLINE_DATASETS + IMAGE_DATASETS}")
    if config.model.name not in ("auto", *MODEL_NAMES):
        problems.append(f"model.name={config.model.name!r}: expected auto or one of {MODEL_NAMES}")
    if config.objective.name not in known_objectives():
        problems.append(f"objective.name={config.objective.name!r}: expected one of {known_objectives()}")
    if config.objective.num_rollouts < 1:
        problems.append(f"objective.num_rollouts={config.objective.num_rollouts}: must be >= 1")
    if config.trainer.batch_size < 1 or config.trainer.eval_batch_size < 1:
        problems.append("trainer.batch_size and trainer.eval_batch_size must be >= 1")
    if config.trainer.max_steps is None and config.trainer.epochs <= 0:
        problems.append(f"trainer.epochs={config.trainer.epochs}: must be > 0 (or set trainer.max_steps)")
    if config.trainer.pass_k_max < 1:
        problems.append(f"trainer.pass_k_max={config.trainer.pass_k_max}: must be >= 1")
    unknown_loggers = set(config.trainer.logger) - set(KNOWN_BACKENDS)
    if unknown_loggers:
        problems.append(f"trainer.logger has unknown entries {sorted(unknown_loggers)}; use {KNOWN_BACKENDS}")
    if problems:
        raise ValueError("invalid vision config:\n  " + "\n  ".join(problems))
