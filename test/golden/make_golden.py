"""Generates the PyTorch golden fixtures for ResNet-18 under test/fixtures/golden/ (committed files).

Run from the repository root with Debian's interpreter (it has python3-torch 1.13 and
python3-torchvision 0.14; the python3 first on PATH may not):

    /usr/bin/python3 test/golden/make_golden.py            # writes the fixtures
    /usr/bin/python3 test/golden/make_golden.py --check    # regenerates in memory, fails if a byte differs
    /usr/bin/python3 test/golden/make_golden.py --search-inputs 100 400   # ranks input seeds (slow)

Its outputs are committed; rerun it only when the fixture format changes, and commit the result.
It is deterministic (CPU, float32, one thread, torch.use_deterministic_algorithms): two runs give
identical files. test/golden/README.md describes the files.

For each stem (cifar at 32x32, imagenet at 64x64; num_classes 10) it takes the deterministic
weights of weights.py, an input batch 2x3xSxS from the same hash and labels [3, 7], and records:
logits in eval mode (running stats) and train mode (batch stats), the cross-entropy loss (mean),
the gradient of every parameter, BN running stats after the train-mode forward, and every parameter
after one SGD step and after one Adam step (each from the same initial weights and gradients).
The same computation in float64 measures how far float32 itself is from exact, and must pass the
recommended tolerances (tolerances.py) against the float32 values written.
"""

import sys

sys.dont_write_bytecode = True

import json
import os

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

import margins
import resnet
import safetensors_io
import tolerances
import weights

WEIGHT_SEED = 1234
# Chosen with --search-inputs 100 400: the seeds whose ReLU / max-pool kinks are farthest from float32
# rounding (margins.py); cifar 275 (10.8 RMS rounding errors), imagenet 213 (26.9).
INPUT_SEEDS = {"cifar": 275, "imagenet": 213}
SAMPLE_SEED = 77
LABELS = [3, 7]
FULL_LIMIT = 4096
SAMPLES = 64
INITIAL_SAMPLES = 16
INITIAL_FULL = ["fc.bias", "bn1.weight", "bn1.running_var", "layer4.1.bn2.bias"]
SGD = {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4, "dampening": 0.0, "nesterov": False}
ADAM = {"lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False}
FORMAT = "wgtensor-golden-resnet18/1"

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT_DIR = os.path.join(ROOT, "test", "fixtures", "golden")


def setup_torch():
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    torch.manual_seed(0)  # nothing below draws from it; set for safety


def run(stem, dtype):
    """Forward (eval, train), backward, running stats, one SGD step and one Adam step."""
    model = resnet.build_resnet18(stem)
    resnet.load_state(model, resnet.deterministic_state(model, WEIGHT_SEED))
    model = model.to(dtype)
    x = torch.from_numpy(weights.input_batch(INPUT_SEEDS[stem], resnet.input_shape(stem))).to(dtype)
    y = torch.tensor(LABELS, dtype=torch.long)
    out = {}

    model.eval()
    with torch.no_grad():
        logits = model(x)
        out["logitsEval"] = logits
        out["lossEval"] = F.cross_entropy(logits, y)

    model.train()
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    out["logitsTrain"] = logits.detach()
    out["lossTrain"] = loss.detach()
    params = dict(model.named_parameters())
    out["grad"] = {n: p.grad.detach().clone() for n, p in params.items()}
    out["running"] = {n: b.detach().clone() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked")}
    out["numBatchesTracked"] = sorted({int(b) for n, b in model.named_buffers() if n.endswith("num_batches_tracked")})

    start = {n: p.detach().clone() for n, p in params.items()}
    opt = torch.optim.SGD(params.values(), lr=SGD["lr"], momentum=SGD["momentum"], weight_decay=SGD["weight_decay"])
    opt.step()
    out["sgd"] = {n: p.detach().clone() for n, p in params.items()}

    with torch.no_grad():
        for n, p in params.items():
            p.copy_(start[n])
    opt = torch.optim.Adam(params.values(), lr=ADAM["lr"], betas=tuple(ADAM["betas"]), eps=ADAM["eps"], weight_decay=ADAM["weight_decay"])
    opt.step()
    out["adam"] = {n: p.detach().clone() for n, p in params.items()}
    out["input"] = x
    return model, out


def f32list(arr):
    """float32 values as Python floats whose repr is the shortest string that round-trips to float32."""
    flat = np.asarray(arr, dtype=np.float32).reshape(-1)
    if not np.all(np.isfinite(flat)):
        raise ValueError("non-finite value in a fixture")
    vals = [float(str(v)) for v in flat]
    if not np.array_equal(np.array(vals, dtype=np.float64).astype(np.float32), flat):
        raise AssertionError("float32 -> JSON -> float32 is not exact")
    return vals


def stats(flat):
    d = flat.astype(np.float64)
    return {"sum": float(d.sum()), "sumAbs": float(np.abs(d).sum()), "sumSq": float((d * d).sum())}


def summarize(name, arr, samples=SAMPLES):
    """Full tensor when small, else float64 sums and `samples` seeded entries."""
    flat = np.asarray(arr, dtype=np.float32).reshape(-1)
    if flat.size <= FULL_LIMIT:
        return {"full": f32list(flat)}
    idx = weights.sample_indices(SAMPLE_SEED, name, flat.size, samples)
    return {**stats(flat), "indices": [int(i) for i in idx], "values": f32list(flat[idx])}


def to_np(t):
    return t.detach().cpu().numpy()


def rel_err(a32, a64):
    """max |a32 - a64| / max |a64| (normwise relative error of one tensor)."""
    a32 = np.asarray(a32, dtype=np.float64)
    a64 = np.asarray(a64, dtype=np.float64)
    scale = np.max(np.abs(a64)) if a64.size else 0.0
    return float(np.max(np.abs(a32 - a64)) / scale) if scale > 0 else 0.0


def precision_check(o32, o64):
    """How far float32 PyTorch is from float64 PyTorch on the same inputs (worst tensor per quantity)."""
    def worst(key):
        return max(rel_err(to_np(o32[key][n]), to_np(o64[key][n])) for n in o32[key])

    # Adam's first step is lr*sign(g) wherever |g| >> eps, so compare its update, not the parameter.
    sgd_update = max(
        rel_err(to_np(o32["sgd"][n]) - to_np(o32["input_params"][n]), to_np(o64["sgd"][n]) - to_np(o64["input_params"][n]))
        for n in o32["sgd"]
    )
    adam_update = max(
        rel_err(to_np(o32["adam"][n]) - to_np(o32["input_params"][n]), to_np(o64["adam"][n]) - to_np(o64["input_params"][n]))
        for n in o32["adam"]
    )
    return {
        "definition": "max over tensors of max|torch_float32 - torch_float64| / max|torch_float64|",
        "logitsEval": rel_err(to_np(o32["logitsEval"]), to_np(o64["logitsEval"])),
        "logitsTrain": rel_err(to_np(o32["logitsTrain"]), to_np(o64["logitsTrain"])),
        "lossTrain": rel_err(to_np(o32["lossTrain"]), to_np(o64["lossTrain"])),
        "grad": worst("grad"),
        "runningStats": worst("running"),
        "sgdStep": worst("sgd"),
        "sgdUpdate": sgd_update,
        "adamUpdate": adam_update,
    }


def stem_fixture(stem):
    model, o32 = run(stem, torch.float32)
    _, o64 = run(stem, torch.float64)
    state = resnet.deterministic_state(model, WEIGHT_SEED)
    specs = weights.param_specs(model)
    param_names = [n for n, _ in model.named_parameters()]
    o32["input_params"] = {n: torch.from_numpy(state[n]) for n in param_names}
    o64["input_params"] = {n: torch.from_numpy(state[n]).double() for n in param_names}
    precision = precision_check(o32, o64)

    initial = {}
    for name, shape, kind, fan_in in specs:
        flat = state[name].reshape(-1)
        entry = {"checksum": weights.bits_checksum(flat), **stats(flat)}
        if name in INITIAL_FULL:
            entry["full"] = f32list(flat)
        else:
            idx = weights.sample_indices(SAMPLE_SEED, name, flat.size, INITIAL_SAMPLES)
            entry.update({"indices": [int(i) for i in idx], "values": f32list(flat[idx])})
        initial[name] = entry

    meta = {
        "format": FORMAT,
        "generator": "test/golden/make_golden.py (run with /usr/bin/python3); see test/golden/README.md",
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "stem": stem,
        "model": "torchvision.models.resnet18(num_classes=10)"
        + (", conv1 = Conv2d(3, 64, 3, stride 1, padding 1, bias=False), maxpool = Identity" if stem == "cifar" else ", standard stem"),
        "weightSeed": WEIGHT_SEED,
        "inputSeed": INPUT_SEEDS[stem],
        "sampleSeed": SAMPLE_SEED,
        "weights": "test/golden/weights.py (hash, kinds and scaling); TypeScript twin test/golden/deterministic-weights.ts",
        "inputRule": "kind 'input' under the name 'input': 2u, values in [-2, 2)",
        "summaryRule": f"'full' when numel <= {FULL_LIMIT}; otherwise sum, sumAbs, sumSq (float64 over the float32 values) "
        f"and {SAMPLES} entries at 'indices' (weights.sample_indices(sampleSeed, name, numel), repeats possible) with their 'values'",
        "batchNorm": {"eps": 1e-5, "momentum": 0.1, "runningVar": "updated with the unbiased batch variance (n/(n-1))"},
        "loss": "torch.nn.functional.cross_entropy(logitsTrain, labels), reduction mean; backward() of it gives 'grad'",
        "sgd": {**SGD, "rule": "first step: buf = g + weight_decay*p; p = p - lr*buf"},
        "adam": {
            **ADAM,
            "rule": "first step: m = (1-b1) g; v = (1-b2) g^2; p = p - lr/(1-b1) * m / (sqrt(v)/sqrt(1-b2) + eps)",
        },
        "optimizerStart": "both steps start from the initial weights with the gradients in 'grad'",
        "float32VsFloat64": precision,
        "kinkMargins": {
            "definition": "train-mode forward, float64: min |x| over ReLU inputs and min top1-top2 over max-pool windows "
            "with a positive max; 'OverRmsErr' divides by the RMS float32-vs-float64 difference of that layer's inputs. "
            "An element closer to its kink than another implementation's rounding error sends the gradient the other way.",
            **margins.kink_margins(stem, WEIGHT_SEED, INPUT_SEEDS[stem]),
        },
        "tolerances": dict(tolerances.TOLERANCES),
    }

    fixture = {
        "meta": meta,
        "inputShape": list(resnet.input_shape(stem)),
        "labels": LABELS,
        "input": f32list(to_np(o32["input"])),
        "logitsShape": [len(LABELS), resnet.NUM_CLASSES],
        "logitsEval": f32list(to_np(o32["logitsEval"])),
        "lossEval": f32list(to_np(o32["lossEval"]))[0],
        "logitsTrain": f32list(to_np(o32["logitsTrain"])),
        "lossTrain": f32list(to_np(o32["lossTrain"]))[0],
        "params": [
            {
                "name": name,
                "shape": list(shape),
                "kind": kind,
                **({"fanIn": fan_in} if fan_in is not None else {}),
                "numel": int(np.prod(shape, dtype=np.int64)),
                "trainable": name in param_names,
            }
            for name, shape, kind, fan_in in specs
        ],
        "initial": initial,
        "grad": {n: summarize(n, to_np(o32["grad"][n])) for n in param_names},
        "runningStatsAfterTrainForward": {n: f32list(to_np(v)) for n, v in o32["running"].items()},
        "numBatchesTrackedAfterTrainForward": o32["numBatchesTracked"][0] if len(o32["numBatchesTracked"]) == 1 else o32["numBatchesTracked"],
        "sgdStep": {n: summarize(n, to_np(o32["sgd"][n])) for n in param_names},
        "adamStep": {n: summarize(n, to_np(o32["adam"][n])) for n in param_names},
    }
    float64_self_check(fixture, o64)
    fixture["meta"]["tolerances"]["float64Passes"] = True
    return fixture


def float64_self_check(fx, o64):
    """PyTorch's float64 results must pass the recommended tolerances against the float32 fixture."""
    numel = {p["name"]: p["numel"] for p in fx["params"]}
    t = tolerances.tolerance
    tolerances.check("logitsEval", to_np(o64["logitsEval"]), {"full": fx["logitsEval"]}, *t("logits"))
    tolerances.check("logitsTrain", to_np(o64["logitsTrain"]), {"full": fx["logitsTrain"]}, *t("logits"))
    tolerances.check("lossTrain", to_np(o64["lossTrain"]), {"full": [fx["lossTrain"]]}, *t("loss"))
    tolerances.check("lossEval", to_np(o64["lossEval"]), {"full": [fx["lossEval"]]}, *t("loss"))
    for n, v in fx["runningStatsAfterTrainForward"].items():
        tolerances.check(n, to_np(o64["running"][n]), {"full": v}, *t("runningStats"))
    for n, g in fx["grad"].items():
        tolerances.check(f"grad {n}", to_np(o64["grad"][n]), g, *t("grad", g, numel[n]))
        tolerances.check(f"sgd {n}", to_np(o64["sgd"][n]), fx["sgdStep"][n], *t("sgdStep", g, numel[n], SGD["lr"]))
        tolerances.check(f"adam {n}", to_np(o64["adam"][n]), fx["adamStep"][n], *t("adamStep", g, numel[n], ADAM["lr"]))


def dump(obj):
    """JSON with one line per top-level key and per tensor, compact inside."""
    compact = lambda v: json.dumps(v, separators=(",", ":"), allow_nan=False)
    lines = ["{"]
    items = list(obj.items())
    for i, (key, value) in enumerate(items):
        end = "," if i < len(items) - 1 else ""
        if isinstance(value, dict) and key != "meta":
            inner = list(value.items())
            lines.append(f"{compact(key)}:{{")
            for j, (k, v) in enumerate(inner):
                lines.append(f"{compact(k)}:{compact(v)}" + ("," if j < len(inner) - 1 else ""))
            lines.append("}" + end)
        elif key == "meta":
            lines.append(f"{compact(key)}:{json.dumps(value, indent=1, allow_nan=False)}{end}")
        elif key == "params":
            lines.append(f"{compact(key)}:[")
            lines.extend(compact(v) + ("," if j < len(value) - 1 else "") for j, v in enumerate(value))
            lines.append("]" + end)
        else:
            lines.append(f"{compact(key)}:{compact(value)}{end}")
    lines.append("}")
    return ("\n".join(lines) + "\n").encode("utf-8")


# A small file written by this (Python) side for test/safetensors.test.ts: deterministic values of a
# few shapes, including a scalar and an empty tensor, and metadata.
SAMPLE_FILE_SEED = 4242
SAMPLE_FILE_TENSORS = [
    ("conv.weight", [4, 3, 3, 3], "weight", 27),
    ("fc.bias", [10], "bias", 64),
    ("bn.running_var", [5], "running_var", None),
    ("scalar", [], "bn_bias", None),
    ("empty", [0, 3], "bn_weight", None),
    ("x", [2, 3, 2, 2], "input", None),
]


def sample_safetensors():
    tensors = {name: weights.generate(SAMPLE_FILE_SEED, name, shape, kind, fan_in) for name, shape, kind, fan_in in SAMPLE_FILE_TENSORS}
    metadata = {"format": "pt", "writer": "test/golden/safetensors_io.py", "seed": str(SAMPLE_FILE_SEED)}
    data = safetensors_io.encode(tensors, metadata)
    back, meta_back = safetensors_io.decode(data)
    assert meta_back == metadata and all(np.array_equal(back[n], tensors[n]) for n in tensors)
    manifest = {
        "seed": SAMPLE_FILE_SEED,
        "metadata": metadata,
        "tensors": [{"name": n, "shape": s, "kind": k, **({"fanIn": f} if f is not None else {})} for n, s, k, f in SAMPLE_FILE_TENSORS],
    }
    return data, (json.dumps(manifest, indent=1) + "\n").encode("utf-8")


def outputs():
    setup_torch()
    files = {}
    for stem in resnet.STEMS:
        files[f"resnet18-{stem}.json"] = dump(stem_fixture(stem))
    data, manifest = sample_safetensors()
    files["python-written.safetensors"] = data
    files["python-written.json"] = manifest
    return files


def search_inputs(first, last):
    """Ranks input seeds first..last-1 of each stem by their kink margin (see margins.py)."""
    setup_torch()
    for stem in resnet.STEMS:
        ranked = sorted(((margins.score(margins.kink_margins(stem, WEIGHT_SEED, s)), s) for s in range(first, last)), reverse=True)
        print(stem, "best input seeds (margin in RMS rounding errors, seed):", [(round(m, 1), s) for m, s in ranked[:5]])
    return 0


def main(argv):
    if argv[:1] == ["--search-inputs"]:
        return search_inputs(int(argv[1]), int(argv[2]))
    check = "--check" in argv
    files = outputs()
    if check:
        bad = []
        for name, data in files.items():
            path = os.path.join(OUT_DIR, name)
            if not os.path.exists(path) or open(path, "rb").read() != data:
                bad.append(name)
        if bad:
            print(f"differs from the committed fixtures: {', '.join(bad)}")
            return 1
        print(f"all {len(files)} fixture files are identical to the committed ones")
        return 0
    os.makedirs(OUT_DIR, exist_ok=True)
    total = 0
    for name, data in files.items():
        with open(os.path.join(OUT_DIR, name), "wb") as f:
            f.write(data)
        total += len(data)
        print(f"wrote test/fixtures/golden/{name} ({len(data)} bytes)")
    print(f"total {total} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
