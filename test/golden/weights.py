"""Deterministic ResNet weights and inputs from a counter-based hash (numpy, vectorised uint32).

The TypeScript twin is test/golden/deterministic-weights.ts; both must give bit-identical float32
values, and test/golden-weights.test.ts checks that they do. Change one only together with the other.

The recipe (all integer arithmetic is modulo 2**32):

    mix(x)  = x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16
              (Chris Wellons' "lowbias32" finaliser, a bijection on uint32)
    stream(name) = FNV-1a 32-bit of the UTF-8 bytes of the state_dict name
    key(seed, name) = mix(mix(seed ^ 0x9e3779b9) ^ stream(name))
    hash(seed, name, i) = mix(mix(i ^ key) + key)                  for element i (row-major)
    u = ((hash >> 8) - 2**23) / 2**23                              24 bits, u in [-1, 1), exact in float32

The tensor is identified by its name, not its position in the state_dict, so any subset of the
parameters can be generated in any order. Scaling is computed in float64 and rounded once to float32:

    kind          value                         used for
    weight        u / sqrt(fan_in)              conv (fan_in = in*kh*kw) and linear weights (fan_in = in)
    bias          u / sqrt(fan_in)              linear bias (fan_in = the layer's in_features)
    bn_weight     1 + 0.1 u                     BatchNorm weight (gamma)
    bn_bias       0.1 u                         BatchNorm bias (beta)
    running_mean  0.1 u                         BatchNorm running_mean
    running_var   1 + 0.5 |u|                   BatchNorm running_var
    input         2 u                           input batches, values in [-2, 2)

num_batches_tracked is not generated (it is the integer 0 before training).
"""

import numpy as np

MASK = 0xFFFFFFFF
SEED_SALT = 0x9E3779B9


def mix_int(x):
    """mix() on one Python int (used for the per-tensor key)."""
    x &= MASK
    x ^= x >> 16
    x = (x * 0x7FEB352D) & MASK
    x ^= x >> 15
    x = (x * 0x846CA68B) & MASK
    x ^= x >> 16
    return x


def mix_np(x):
    """mix() on a uint32 numpy array (wrapping multiplication)."""
    x = x.astype(np.uint32, copy=True)
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x7FEB352D)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x846CA68B)
    x ^= x >> np.uint32(16)
    return x


def name_stream(name):
    """FNV-1a 32-bit over the UTF-8 bytes of a name."""
    h = 0x811C9DC5
    for b in name.encode("utf-8"):
        h ^= b
        h = (h * 0x01000193) & MASK
    return h


def tensor_key(seed, name):
    return mix_int(mix_int((seed & MASK) ^ SEED_SALT) ^ name_stream(name))


def hash_u32(seed, name, indices):
    """hash(seed, name, i) for a uint32 array of element indices."""
    key = np.uint32(tensor_key(seed, name))
    idx = np.asarray(indices, dtype=np.uint32)
    return mix_np(mix_np(idx ^ key) + key)


def uniform(seed, name, n):
    """u in [-1, 1) with 24 bits, as float64, for elements 0..n-1."""
    h = hash_u32(seed, name, np.arange(n, dtype=np.uint32))
    return ((h >> np.uint32(8)).astype(np.float64) - 8388608.0) / 8388608.0


KINDS = ("weight", "bias", "bn_weight", "bn_bias", "running_mean", "running_var", "input")


def scaled(u, kind, fan_in=None):
    """Applies a kind's scaling in float64, then rounds once to float32."""
    if kind in ("weight", "bias"):
        if not fan_in or fan_in <= 0:
            raise ValueError(f"kind {kind} needs a positive fan_in, got {fan_in}")
        v = u * (1.0 / np.sqrt(np.float64(fan_in)))
    elif kind == "bn_weight":
        v = 1.0 + 0.1 * u
    elif kind in ("bn_bias", "running_mean"):
        v = 0.1 * u
    elif kind == "running_var":
        v = 1.0 + 0.5 * np.abs(u)
    elif kind == "input":
        v = 2.0 * u
    else:
        raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
    return v.astype(np.float32)


def generate(seed, name, shape, kind, fan_in=None):
    """One float32 tensor (numpy array of the given shape)."""
    n = int(np.prod(shape, dtype=np.int64))
    return scaled(uniform(seed, name, n), kind, fan_in).reshape(shape)


def input_batch(seed, shape):
    """An input batch: kind 'input' under the name 'input'."""
    return generate(seed, "input", shape, "input")


def sample_indices(seed, name, numel, count=64):
    """`count` element indices of a tensor (with possible repeats), picked by the same hash."""
    h = hash_u32(seed, name, np.arange(count, dtype=np.uint32))
    return (h.astype(np.int64) % numel).astype(np.int64)


def bits_checksum(arr):
    """Position-sensitive checksum of float32 bit patterns: sum_i mix(bits_i + i*0x9e3779b9) mod 2**32."""
    bits = np.ascontiguousarray(arr, dtype=np.float32).reshape(-1).view(np.uint32)
    idx = np.arange(bits.size, dtype=np.uint32) * np.uint32(SEED_SALT)
    return int(np.sum(mix_np(bits + idx).astype(np.uint64))) & MASK


def param_specs(model):
    """[(name, shape, kind, fan_in)] for a torchvision ResNet, in state_dict order, without
    num_batches_tracked. fan_in is None for kinds that do not use it."""
    import torch.nn as nn

    modules = dict(model.named_modules())
    specs = []
    for name, tensor in model.state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue
        owner, _, leaf = name.rpartition(".")
        module = modules[owner]
        shape = tuple(tensor.shape)
        fan_in = None
        if isinstance(module, nn.BatchNorm2d):
            kind = {"weight": "bn_weight", "bias": "bn_bias", "running_mean": "running_mean", "running_var": "running_var"}[leaf]
        elif isinstance(module, (nn.Conv2d, nn.Linear)) and leaf == "weight":
            kind = "weight"
            fan_in = int(np.prod(shape[1:]))
        elif isinstance(module, nn.Linear) and leaf == "bias":
            kind = "bias"
            fan_in = module.in_features
        else:
            raise ValueError(f"no deterministic init rule for {name} ({type(module).__name__}.{leaf})")
        specs.append((name, shape, kind, fan_in))
    return specs
