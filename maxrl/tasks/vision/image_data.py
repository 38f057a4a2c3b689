"""Image classification sets (ImageNet-256, CIFAR-10/100) from the Hugging Face hub or a local folder.

A local folder may hold any of the layouts `datasets` knows:
* the output of ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk`` (read with ``load_from_disk``);
* parquet files, e.g. a downloaded copy of the hub repository (``data/train-00000-of-00040.parquet``, ...);
* an image folder: ``<split>/<class name>/<image file>``.
For the last two, ``load_dataset(folder)`` infers the format and the splits from the file names.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from maxrl.tasks.vision.offline_data import ClassificationData
from maxrl.tasks.vision.transforms import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    CIFAR100_MEAN,
    CIFAR100_STD,
    CifarTransform,
    Transform,
    imagenet_transform,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImagePreset:
    """Where a dataset lives on the hub and how its images are preprocessed."""

    hub_id: str
    train_split: str
    eval_split: str
    label_column: str
    kind: str  # "cifar10" | "cifar100" | "imagenet": selects the preprocessing


IMAGE_PRESETS: dict[str, ImagePreset] = {
    "cifar10": ImagePreset("uoft-cs/cifar10", "train", "test", "label", "cifar10"),
    "cifar100": ImagePreset("uoft-cs/cifar100", "train", "test", "fine_label", "cifar100"),
    "imagenet": ImagePreset("benjamin-paine/imagenet-1k-256x256", "train", "validation", "label", "imagenet"),
}


def build_transform(kind: str, train: bool) -> Transform:
    if kind == "cifar10":
        return CifarTransform(train, CIFAR10_MEAN, CIFAR10_STD)
    if kind == "cifar100":
        return CifarTransform(train, CIFAR100_MEAN, CIFAR100_STD)
    if kind == "imagenet":
        return imagenet_transform(train)
    raise ValueError(f"unknown preprocessing kind {kind!r}; expected cifar10, cifar100 or imagenet")


def load_split(source: str, split: str):
    """One split of a hub dataset id or of a local folder, as a `datasets.Dataset`."""
    import datasets

    path = Path(source).expanduser()
    if not path.exists():
        if source.startswith(("/", ".", "~")):
            raise FileNotFoundError(f"data.data_dir={source!r} does not exist")
        logger.info("loading %s split %r from the Hugging Face hub", source, split)
        return datasets.load_dataset(source, split=split)
    if (path / "dataset_dict.json").exists() or (path / "state.json").exists():
        loaded = datasets.load_from_disk(str(path))
    else:
        loaded = datasets.load_dataset(str(path))
    if isinstance(loaded, datasets.Dataset):
        raise ValueError(
            f"{path} holds a single split without a name; save a DatasetDict (or use <split>/ sub-folders) "
            f"so that split {split!r} can be found"
        )
    if split not in loaded:
        raise ValueError(
            f"{path} has splits {sorted(loaded)}, not {split!r}; set data.train_split / data.eval_split"
        )
    return loaded[split]


def find_image_column(dataset, requested: str | None) -> str:
    """The requested column, or the only column with an `Image` feature."""
    import datasets

    if requested:
        if requested not in dataset.column_names:
            raise ValueError(f"data.image_column={requested!r} is not a column of {dataset.column_names}")
        return requested
    image_columns = [name for name, feature in dataset.features.items() if isinstance(feature, datasets.Image)]
    if len(image_columns) != 1:
        raise ValueError(
            f"cannot tell which column holds the images among {dataset.column_names} "
            f"(Image-typed columns: {image_columns}); set data.image_column"
        )
    return image_columns[0]


def find_label_column(dataset, preferred: str, requested: str | None) -> str:
    """The requested column, else the preset's, else ``label`` (the name `imagefolder` gives)."""
    for name in (requested, preferred, "label"):
        if name and name in dataset.column_names:
            return name
    raise ValueError(f"no label column among {dataset.column_names}; set data.label_column")


def count_classes(dataset, label_column: str) -> int:
    """From the ClassLabel feature when there is one, else 1 + the largest label."""
    import datasets

    feature = dataset.features[label_column]
    if isinstance(feature, datasets.ClassLabel):
        return feature.num_classes
    return int(max(dataset[label_column])) + 1


class HFImageDataset(torch.utils.data.Dataset):
    """(preprocessed image tensor, label) pairs read lazily from a `datasets.Dataset`."""

    def __init__(self, dataset, image_column: str, label_column: str, transform: Transform):
        self.dataset = dataset.select_columns([image_column, label_column])
        self.image_column, self.label_column, self.transform = image_column, label_column, transform

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        row = self.dataset[int(index)]
        label = int(row[self.label_column])
        if label < 0:
            raise ValueError(
                f"row {index} has label {label}: this split is unlabelled (e.g. ImageNet's test split); "
                "use a labelled split for data.eval_split"
            )
        return self.transform(row[self.image_column]), label


def load_image_classification(
    name: str,
    data_dir: str | None = None,
    hub_id: str | None = None,
    train_split: str | None = None,
    eval_split: str | None = None,
    image_column: str | None = None,
    label_column: str | None = None,
) -> ClassificationData:
    """Train and eval splits of a preset (``cifar10``, ``cifar100``, ``imagenet``), preprocessed for it."""
    if name not in IMAGE_PRESETS:
        raise ValueError(f"unknown image dataset {name!r}; expected one of {sorted(IMAGE_PRESETS)}")
    preset = IMAGE_PRESETS[name]
    source = data_dir or hub_id or preset.hub_id
    splits = {"train": train_split or preset.train_split, "eval": eval_split or preset.eval_split}
    raw = {role: load_split(source, split) for role, split in splits.items()}
    image_col = find_image_column(raw["train"], image_column)
    label_col = find_label_column(raw["train"], preset.label_column, label_column)
    num_classes = count_classes(raw["train"], label_col)
    wrapped = {
        role: HFImageDataset(dataset, image_col, label_col, build_transform(preset.kind, train=role == "train"))
        for role, dataset in raw.items()
    }
    first_image, _ = wrapped["eval"][0]
    return ClassificationData(wrapped["train"], wrapped["eval"], num_classes, tuple(first_image.shape))
