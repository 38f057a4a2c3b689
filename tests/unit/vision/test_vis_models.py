"""Model shapes, the CIFAR ResNet's depth rule, the torchvision message, and the LR schedule."""

import importlib.util

import pytest
import torch

from maxrl.tasks.vision.models import ResNetCIFAR, build_model, default_model_name
from maxrl.tasks.vision.optim import warmup_cosine_factor


@pytest.mark.parametrize(
    ("name", "input_shape"), [("mlp", (32,)), ("mlp", (1, 8, 8)), ("small_cnn", (3, 32, 32)), ("resnet_cifar", (3, 32, 32))]
)
def test_models_map_inputs_to_class_logits(name, input_shape):
    model = build_model(name, num_classes=7, input_shape=input_shape, resnet_depth=8, width=8, hidden=16)
    assert model(torch.randn(2, *input_shape)).shape == (2, 7)


def test_resnet_cifar_depth_is_six_n_plus_two():
    blocks = sum(1 for m in ResNetCIFAR(10, depth=20).modules() if type(m).__name__ == "BasicBlock")
    assert blocks == 9
    with pytest.raises(ValueError, match="6n\\+2"):
        ResNetCIFAR(10, depth=21)


def test_conv_models_reject_flat_inputs():
    with pytest.raises(ValueError, match="image inputs"):
        build_model("small_cnn", 10, (32,))


def test_defaults_follow_the_paper():
    assert default_model_name("imagenet") == "resnet50"
    assert default_model_name("cifar100") == "resnet_cifar"
    assert default_model_name("gaussian_mixture") == "mlp"


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is not None, reason="torchvision is installed")
def test_resnet50_without_torchvision_explains_the_install():
    with pytest.raises(ImportError, match="pip install torchvision"):
        build_model("resnet50", 1000, (3, 224, 224))


def test_warmup_then_half_cosine():
    total, warmup = 110, 10
    factors = [warmup_cosine_factor(step, total, warmup) for step in range(total + 1)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert factors[10] == pytest.approx(1.0)
    assert factors[60] == pytest.approx(0.5)
    assert factors[110] == pytest.approx(0.0, abs=1e-12)
    assert all(a >= b for a, b in zip(factors[10:], factors[11:]))
