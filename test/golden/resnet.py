"""torchvision ResNet-18 with the two stems the project uses, and loading the deterministic weights.

Stems (num_classes 10 for both):
    cifar     conv1 = Conv2d(3, 64, 3, stride 1, padding 1, bias False), maxpool = Identity (no params)
    imagenet  torchvision's standard stem: conv1 7x7 stride 2 padding 3, maxpool 3x3 stride 2 padding 1
The state_dict names are torchvision's in both cases (conv1.weight, bn1.running_mean, layer1.0.conv1.weight...).
"""

import numpy as np
import torch
import torch.nn as nn
import torchvision

import weights

STEMS = {"cifar": 32, "imagenet": 64}
NUM_CLASSES = 10


def build_resnet18(stem):
    """A fresh torchvision resnet18 (torch's default init, drawn from torch's global RNG)."""
    if stem not in STEMS:
        raise ValueError(f"unknown stem {stem!r}; expected one of {sorted(STEMS)}")
    model = torchvision.models.resnet18(num_classes=NUM_CLASSES)
    if stem == "cifar":
        model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    return model


def input_shape(stem, batch=2):
    side = STEMS[stem]
    return (batch, 3, side, side)


def deterministic_state(model, seed):
    """{name: float32 numpy array} for every state_dict entry but num_batches_tracked."""
    return {name: weights.generate(seed, name, shape, kind, fan_in) for name, shape, kind, fan_in in weights.param_specs(model)}


def load_state(model, state):
    """Loads float arrays (and zeroed num_batches_tracked) with load_state_dict(strict=True)."""
    full = {}
    for name, tensor in model.state_dict().items():
        if name.endswith("num_batches_tracked"):
            value = state.get(name)
            full[name] = torch.tensor(0 if value is None else int(np.asarray(value).reshape(())), dtype=torch.long)
        else:
            if name not in state:
                raise KeyError(f"missing tensor {name}")
            full[name] = torch.from_numpy(np.array(state[name], dtype=np.float32))
    extra = sorted(set(state) - set(full))
    if extra:
        raise KeyError(f"unexpected tensors {extra}")
    model.load_state_dict(full, strict=True)
    return model
