"""PyTorch interop for the TypeScript tests: run torchvision's resnet18 on our safetensors files, and
write torchvision-initialised resnet18 weights as safetensors for our library to load.

Run with Debian's interpreter (python3-torch 1.13, python3-torchvision 0.14), from any directory:

    /usr/bin/python3 test/golden/interop.py load-ours FILE STEM [--input INPUT.safetensors]
        Loads FILE (written by lib/io/safetensors.ts) into torchvision's resnet18 (STEM cifar or
        imagenet, num_classes 10) with load_state_dict(strict=True), runs it in eval mode on the golden
        fixture's input batch (test/fixtures/golden/resnet18-STEM.json; or the tensor "input" of
        INPUT.safetensors) and prints {"stem", "shape", "logits"} as one line of JSON.
        FILE must hold every state_dict tensor as F32, running stats included. num_batches_tracked may
        be absent (it is set to 0; eval mode never reads it) or present in any dtype (it is cast to int64).

    /usr/bin/python3 test/golden/interop.py save-torch FILE STEM [--seed N] [--train-forward]
        Builds resnet18 with torch's own default init after torch.manual_seed(N) (default 0), writes its
        whole state_dict to FILE as safetensors' save_file would: float tensors F32, the BatchNorm
        counters num_batches_tracked I64 (scalars), with metadata {"format": "pt", ...}, and prints
        {"stem", "seed", "shape", "logits"}: its eval-mode logits on the fixture's input batch.
        --train-forward first runs one train-mode forward on that batch (no gradient) so that the
        BN running stats saved are not the trivial 0 / 1 of a fresh model.

Errors go to stderr with exit status 1 (2 for bad usage).
"""

import sys

sys.dont_write_bytecode = True

import json
import os

import numpy as np
import torch

import resnet
import safetensors_io

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def fixture_input(stem):
    path = os.path.join(ROOT, "test", "fixtures", "golden", f"resnet18-{stem}.json")
    with open(path, "r", encoding="utf-8") as f:
        fx = json.load(f)
    return np.array(fx["input"], dtype=np.float32).reshape(fx["inputShape"])


def read_input(path):
    tensors, _ = safetensors_io.decode(open(path, "rb").read())
    if "input" not in tensors:
        raise ValueError(f"{path} has no tensor named 'input' (it has {sorted(tensors)})")
    return tensors["input"].astype(np.float32)


def logits_json(logits):
    arr = logits.detach().numpy().astype(np.float32)
    return {"shape": list(arr.shape), "logits": [float(str(v)) for v in arr.reshape(-1)]}


def load_ours(path, stem, input_path=None):
    tensors, _ = safetensors_io.decode(open(path, "rb").read())
    model = resnet.build_resnet18(stem)
    expected = set(model.state_dict())
    missing = sorted(n for n in expected - set(tensors) if not n.endswith("num_batches_tracked"))
    extra = sorted(set(tensors) - expected)
    if missing or extra:
        raise ValueError(f"{path} does not match torchvision resnet18 ({stem} stem): missing {missing}, unexpected {extra}")
    for name, t in tensors.items():
        if not name.endswith("num_batches_tracked") and t.dtype != np.float32:
            raise ValueError(f"{name} is {t.dtype}, expected float32")
        want = tuple(model.state_dict()[name].shape)
        if tuple(t.shape) != want:
            raise ValueError(f"{name} has shape {list(t.shape)}, torchvision expects {list(want)}")
    resnet.load_state(model, tensors)
    model.eval()
    x = read_input(input_path) if input_path else fixture_input(stem)
    with torch.no_grad():
        logits = model(torch.from_numpy(x))
    return {"stem": stem, **logits_json(logits)}


def save_torch(path, stem, seed=0, train_forward=False):
    torch.manual_seed(seed)
    model = resnet.build_resnet18(stem)
    x = torch.from_numpy(fixture_input(stem))
    if train_forward:
        model.train()
        with torch.no_grad():
            model(x)
    model.eval()
    with torch.no_grad():
        logits = model(x)
    state = {n: t.detach().numpy() for n, t in model.state_dict().items()}
    counters = [state[n] for n in state if n.endswith("num_batches_tracked")]
    if not counters or any(c.dtype != np.int64 or c.shape != () for c in counters):
        raise RuntimeError("expected int64 scalar num_batches_tracked entries in the state_dict")
    metadata = {
        "format": "pt",
        "source": f"torchvision {__import__('torchvision').__version__} resnet18, default init, torch.manual_seed({seed})",
        "stem": stem,
        "num_batches_tracked": "int64",
        "train_forward": "yes" if train_forward else "no",
    }
    with open(path, "wb") as f:
        f.write(safetensors_io.encode(state, metadata))
    return {"stem": stem, "seed": seed, **logits_json(logits)}


def main(argv):
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    if len(argv) < 3 or argv[0] not in ("load-ours", "save-torch") or argv[2] not in resnet.STEMS:
        print(__doc__, file=sys.stderr)
        return 2
    mode, path, stem, rest = argv[0], argv[1], argv[2], argv[3:]
    try:
        if mode == "load-ours":
            input_path = None
            if rest[:1] == ["--input"] and len(rest) == 2:
                input_path = rest[1]
            elif rest:
                print(__doc__, file=sys.stderr)
                return 2
            result = load_ours(path, stem, input_path)
        else:
            seed, train_forward, i = 0, False, 0
            while i < len(rest):
                if rest[i] == "--seed" and i + 1 < len(rest):
                    seed, i = int(rest[i + 1]), i + 2
                elif rest[i] == "--train-forward":
                    train_forward, i = True, i + 1
                else:
                    print(__doc__, file=sys.stderr)
                    return 2
            result = save_torch(path, stem, seed, train_forward)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        print(f"interop.py {mode}: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
