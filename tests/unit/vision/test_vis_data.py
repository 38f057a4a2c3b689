"""Dataset loading: the offline sets, and CIFAR-style data from local folders in each supported layout."""

import datasets
import numpy as np
import pytest
import torch
from PIL import Image

from maxrl.tasks.vision.config import build_config
from maxrl.tasks.vision.data import load_classification_data
from maxrl.tasks.vision.image_data import load_image_classification
from maxrl.tasks.vision.offline_data import load_digits_data, make_gaussian_mixture_data
from maxrl.tasks.vision.transforms import CIFAR10_MEAN, CIFAR10_STD, CifarTransform

CLASS_NAMES = ["cat", "dog", "frog"]


def solid_image(value: int) -> Image.Image:
    """A 32x32 RGB image whose channels are (value, value + 1, value + 2): easy to recognise after loading."""
    array = np.zeros((32, 32, 3), dtype=np.uint8)
    array[..., 0], array[..., 1], array[..., 2] = value, value + 1, value + 2
    return Image.fromarray(array)


def fixture_rows(split: str) -> list[tuple[int, int]]:
    """(pixel value, label) pairs; the value encodes split and position so rows can be identified."""
    base = 10 if split == "train" else 100
    return [(base + 3 * index, index % 3) for index in range(6 if split == "train" else 3)]


def expected_pixel(value: int, channel: int) -> float:
    return ((value + channel) / 255 - CIFAR10_MEAN[channel]) / CIFAR10_STD[channel]


def write_image_folder(root):
    for split in ("train", "test"):
        for value, label in fixture_rows(split):
            folder = root / split / CLASS_NAMES[label]
            folder.mkdir(parents=True, exist_ok=True)
            solid_image(value).save(folder / f"{value:03d}.png")


def fixture_dataset_dict() -> datasets.DatasetDict:
    features = datasets.Features({"img": datasets.Image(), "label": datasets.ClassLabel(names=CLASS_NAMES)})
    return datasets.DatasetDict({
        split: datasets.Dataset.from_dict(
            {"img": [solid_image(v) for v, _ in fixture_rows(split)], "label": [y for _, y in fixture_rows(split)]},
            features=features,
        )
        for split in ("train", "test")
    })


def write_saved_dataset(root):
    fixture_dataset_dict().save_to_disk(str(root))


def write_parquet(root):
    (root / "data").mkdir(parents=True)
    for split, dataset in fixture_dataset_dict().items():
        dataset.to_parquet(str(root / "data" / f"{split}-00000-of-00001.parquet"))


@pytest.mark.parametrize("writer", [write_image_folder, write_saved_dataset, write_parquet])
def test_cifar_preset_loads_a_local_folder(tmp_path, writer):
    writer(tmp_path)
    data = load_image_classification("cifar10", data_dir=str(tmp_path))
    assert data.num_classes == 3 and data.input_shape == (3, 32, 32)
    assert (len(data.train), len(data.eval)) == (6, 3)
    eval_rows = [data.eval[i] for i in range(3)]  # row order depends on the layout, so compare sorted
    got = sorted((round(image[0, 0, 0].item(), 4), label) for image, label in eval_rows)
    want = sorted((round(expected_pixel(v, 0), 4), y) for v, y in fixture_rows("test"))
    assert got == want
    image, _ = data.eval[0]
    assert image.dtype == torch.float32
    for channel in range(3):  # solid images stay solid after the (non-augmenting) eval transform
        assert torch.allclose(image[channel], image[channel, 0, 0].expand(32, 32))


def test_data_config_reaches_the_image_loader(tmp_path):
    write_saved_dataset(tmp_path)
    config = build_config(["data.name=cifar10", f"data.data_dir={tmp_path}", "data.eval_split=train"])
    data = load_classification_data(config.data)
    assert len(data.eval) == 6


def test_missing_split_and_folder_are_explained(tmp_path):
    write_saved_dataset(tmp_path)
    with pytest.raises(ValueError, match="data.train_split"):
        load_image_classification("cifar10", data_dir=str(tmp_path), eval_split="validation")
    with pytest.raises(FileNotFoundError, match="data.data_dir"):
        load_image_classification("cifar10", data_dir=str(tmp_path / "missing"))


def test_cifar_training_augmentation_crops_and_flips_within_the_padded_image():
    array = np.arange(32 * 32 * 3, dtype=np.uint8).reshape(32, 32, 3)  # values repeat mod 256: fine here
    transform = CifarTransform(train=True, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    torch.manual_seed(0)
    original = torch.from_numpy(array).permute(2, 0, 1).float() / 255
    padded = torch.nn.functional.pad(original, [4] * 4)
    for _ in range(20):
        out = transform(Image.fromarray(array))
        assert out.shape == (3, 32, 32)
        windows = [padded[:, t : t + 32, s : s + 32] for t in range(9) for s in range(9)]
        assert any(torch.equal(out, w) or torch.equal(out, w.flip(-1)) for w in windows)


def test_digits_split_is_fixed_and_standardised():
    first, second = load_digits_data(seed=0), load_digits_data(seed=0)
    assert first.num_classes == 10 and first.input_shape == (1, 8, 8)
    assert len(first.train) + len(first.eval) == 1797 and len(first.eval) == 359
    assert torch.equal(first.train.tensors[0], second.train.tensors[0])
    train_inputs = first.train.tensors[0].flatten(1)
    assert train_inputs.mean(0).abs().max() < 1e-5
    assert set(first.eval.tensors[1].tolist()) == set(range(10))


def test_gaussian_mixture_is_deterministic_and_balanced():
    data = make_gaussian_mixture_data(num_classes=120, dim=8, train_per_class=3, eval_per_class=2, seed=5)
    again = make_gaussian_mixture_data(num_classes=120, dim=8, train_per_class=3, eval_per_class=2, seed=5)
    assert data.num_classes == 120 and data.input_shape == (8,)
    assert torch.equal(data.train.tensors[0], again.train.tensors[0])
    assert torch.equal(torch.bincount(data.train.tensors[1]), torch.full((120,), 3))
    assert torch.equal(torch.bincount(data.eval.tensors[1]), torch.full((120,), 2))
    with pytest.raises(ValueError, match="mixture"):
        make_gaussian_mixture_data(num_classes=1)
