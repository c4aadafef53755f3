"""Generates the PyTorch golden fixture of MoCo steps, test/fixtures/golden/moco-step.json (committed).

Run from the repository root with Debian's interpreter (it has python3-torch 1.13 and
python3-torchvision 0.14; the python3 first on PATH may not):

    /usr/bin/python3 test/golden/make_moco_golden.py            # writes the fixture (~10 s)
    /usr/bin/python3 test/golden/make_moco_golden.py --check    # regenerates in memory, exit 1 if a byte differs
    /usr/bin/python3 test/golden/make_moco_golden.py --search-inputs 100 1100  # ranks input seeds by kink margin (~5 min)

Its output is committed; rerun it only when the fixture format changes, and commit the result. It is
deterministic (CPU, float32, one thread, torch.use_deterministic_algorithms): two runs give identical
bytes. test/moco-golden.test.ts compares our MocoModel with it.

What it computes: MoCo with the semantics of facebookresearch/moco builder.py (commit 132aea9) on one
process, for two consecutive training steps:

    encoders   torchvision resnet18, cifar stem (conv1 3x3 stride 1 padding 1, no max-pool), fc replaced by
               Linear(512, 32) -> ReLU -> Linear(32, 16) (builder.py's --mlp head, narrower); both encoders
               get the same deterministic state (weights.py, seed WEIGHT_SEED; BN running stats included)
    forward    q = normalize(encoder_q(im_q), dim=1); under no_grad: momentum update of the key encoder's
               parameters (k = m*k + (1-m)*q, buffers untouched), key images shuffled by PERM, keys
               k = normalize(encoder_k(shuffled)), un-shuffled with argsort(PERM) (builder.py's shuffle-BN
               with one process: plain BN over the whole batch, which is permutation invariant)
    logits     [l_pos | l_neg] / T with l_pos = einsum('nc,nc->n', q, k), l_neg = q @ queue.clone().detach()
    loss       cross_entropy(logits, zeros) (mean), backward, SGD step over moco.parameters() (the key
               encoder's have requires_grad False and no gradient, so only the query encoder moves)
    enqueue    queue[:, ptr:ptr+N] = k.T, ptr = (ptr + N) % K (after the logits; the snapshot is unaffected)

Step 1 starts with identical encoders, so its momentum update changes (almost) nothing; step 2 follows
it, so its momentum update moves the key encoder toward the query encoder updated by step 1's SGD, its
negatives include the keys step 1 enqueued, and the ring pointer goes 4 -> 0 -> 4 (wrap-around). The queue is (dim, K) in PyTorch; the fixture stores its
transpose, (K, dim) with one key per row, which is our layout.

Large tensors are stored as summaries (float64 sums plus seeded samples, as in make_golden.py). A ReLU
input within rounding error of 0 can fall on the other side in another float32 program and change the
gradients at the percent level (see test/golden/README.md), so the input seed is chosen with
--search-inputs to keep step 1's query-encoder ReLU inputs far from 0 (meta.kinkMargins). Step 2 starts
from weights that already differ by rounding, its kinks cannot be controlled that way (float32 and float64
PyTorch themselves disagree by percents on its gradients, meta.float32VsFloat64), so only its forward
quantities, key encoder, running stats and queue are stored. The same computation in float64 must pass
the fixture's tolerances against the float32 values written (checked before writing).
"""

import sys

sys.dont_write_bytecode = True

import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

import make_golden
import resnet
import tolerances
import weights

FORMAT = "wgtensor-golden-moco-step/1"
WEIGHT_SEED = 1234
# Chosen with --search-inputs 100 1100: the largest step-1 ReLU kink margin of the query encoder (9.9 RMS
# float32 rounding errors; the next best 8.4, typical seeds below 1).
INPUT_SEED = 532
SAMPLE_SEED = 77
BATCH = 4
IMAGE = 32
STEM = "cifar"
HEAD_HIDDEN = [32]
DIM = 16
K = 8
MOMENTUM = 0.99
TEMPERATURE = 0.2
SGD = {"lr": 0.03, "momentum": 0.9, "weight_decay": 1e-4, "dampening": 0.0, "nesterov": False}
PTR_INITIAL = 4
PERMS = [[2, 0, 3, 1], [3, 2, 0, 1]]
STEPS = len(PERMS)
# Steps whose gradients and query encoder after SGD are stored. Only step 1: the input seed keeps its
# ReLU inputs far from their kinks; step 2's are not controlled (its weights come from step 1), so its
# gradients could legitimately differ between two float32 programs. Its forward values cannot.
GRADIENT_STEPS = {1}
# Summaries: whole tensors up to FULL_LIMIT elements, else sums plus samples (more for gradients).
FULL_LIMIT = 128
GRAD_SAMPLES = 64
OTHER_SAMPLES = 16

TOLERANCES = {
    "rule": "|ours - golden| <= atol + rtol*|golden| per stored value; sampled summaries also compare sum and sumSq "
    "with the bounds that implies (test/golden/fixture.ts checkSummary)",
    "loss": {"rtol": 1e-4, "atol": 1e-6},
    "logits": {"rtol": 1e-4, "atol": 1e-5},
    "features": {"rtol": 1e-4, "atol": 1e-5, "for": "q, k and the queue (unit vectors)"},
    "runningStats": {"rtol": 1e-4, "atol": 1e-5},
    "grad": {"rtol": 1e-3, "atolTimesRmsGrad": 1e-3},
    "encoderQ": {
        "rtol": 1e-5,
        "atol": 1e-6,
        "atolTimesLr": 1e-3,
        "rule": "atol + lr * atolTimesLr * sum_{s<=t} c(s,t) * rms(grad at step s), c(s,t) = sum_{j=s..t} momentum^(j-s): "
        "the gradient tolerance carried through the SGD steps so far",
    },
    "encoderK": {
        "rtol": 1e-5,
        "atol": 1e-6,
        "rule": "atol + e(t), e(t) = m*e(t-1) + (1-m)*(encoderQ tolerance after step t-1 minus its atol), e(1) = 0",
    },
}

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT_PATH = os.path.join(ROOT, "test", "fixtures", "golden", "moco-step.json")


def build_encoder():
    """torchvision resnet18 with the cifar stem and the MLP head 512 -> HEAD_HIDDEN... -> DIM (ReLU between)."""
    model = resnet.build_resnet18(STEM)
    widths = [model.fc.in_features, *HEAD_HIDDEN, DIM]
    layers = []
    for i in range(len(widths) - 1):
        if i:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(widths[i], widths[i + 1]))
    model.fc = nn.Sequential(*layers) if len(layers) > 1 else layers[0]
    return model


class MoCo(nn.Module):
    """builder.py's MoCo on one process: the DDP gathers are identities, the shuffle permutation is given."""

    def __init__(self):
        super().__init__()
        self.K, self.m, self.T = K, MOMENTUM, TEMPERATURE
        self.encoder_q = build_encoder()
        self.encoder_k = build_encoder()
        for param_q, param_k in zip(self.encoder_q.parameters(), self.encoder_k.parameters()):
            param_k.data.copy_(param_q.data)
            param_k.requires_grad = False
        self.register_buffer("queue", F.normalize(torch.randn(DIM, K), dim=0))
        self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))

    @torch.no_grad()
    def _momentum_update_key_encoder(self):
        for param_q, param_k in zip(self.encoder_q.parameters(), self.encoder_k.parameters()):
            param_k.data = param_k.data * self.m + param_q.data * (1.0 - self.m)

    @torch.no_grad()
    def _dequeue_and_enqueue(self, keys):
        batch_size = keys.shape[0]
        ptr = int(self.queue_ptr)
        assert self.K % batch_size == 0
        self.queue[:, ptr : ptr + batch_size] = keys.T
        self.queue_ptr[0] = (ptr + batch_size) % self.K

    def forward(self, im_q, im_k, perm):
        q = F.normalize(self.encoder_q(im_q), dim=1)
        with torch.no_grad():
            self._momentum_update_key_encoder()
            idx_shuffle = torch.tensor(perm, dtype=torch.long)
            k = F.normalize(self.encoder_k(im_k[idx_shuffle]), dim=1)
            k = k[torch.argsort(idx_shuffle)]
        l_pos = torch.einsum("nc,nc->n", [q, k]).unsqueeze(-1)
        l_neg = torch.einsum("nc,ck->nk", [q, self.queue.clone().detach()])
        logits = torch.cat([l_pos, l_neg], dim=1) / self.T
        labels = torch.zeros(logits.shape[0], dtype=torch.long)
        self._dequeue_and_enqueue(k)
        return logits, labels, q.detach(), k


def initial_queue():
    """(K, DIM), one key per row: hash values (kind 'input', name 'queue') L2-normalised per row in float64."""
    u = weights.generate(WEIGHT_SEED, "queue", (K, DIM), "input").astype(np.float64)
    norms = np.sqrt(np.sum(u * u, axis=1, keepdims=True))
    return (u / norms).astype(np.float32)


def image_shape():
    return (BATCH, 3, IMAGE, IMAGE)


def image_name(step, which):
    return f"step{step}/{which}"


def images(seed, step, which):
    return weights.generate(seed, image_name(step, which), image_shape(), "input")


def relu_modules(encoder):
    return [m for m in encoder.modules() if isinstance(m, nn.ReLU)]


def run(dtype, input_seed):
    """STEPS MoCo steps; returns the model and the per-step results."""
    torch.manual_seed(0)  # builder.py's random queue and torch's init, both overwritten below
    moco = MoCo()
    state = resnet.deterministic_state(moco.encoder_q, WEIGHT_SEED)
    resnet.load_state(moco.encoder_q, state)
    resnet.load_state(moco.encoder_k, state)
    moco = moco.to(dtype)
    with torch.no_grad():
        moco.queue.copy_(torch.from_numpy(initial_queue().T.copy()).to(dtype))
        moco.queue_ptr[0] = PTR_INITIAL
    moco.train()
    opt = torch.optim.SGD(moco.parameters(), lr=SGD["lr"], momentum=SGD["momentum"], weight_decay=SGD["weight_decay"])
    steps = []
    for s in range(1, STEPS + 1):
        im_q = torch.from_numpy(images(input_seed, s, "query")).to(dtype)
        im_k = torch.from_numpy(images(input_seed, s, "key")).to(dtype)
        ptr_before = int(moco.queue_ptr)
        opt.zero_grad()
        logits, labels, q, k = moco(im_q, im_k, PERMS[s - 1])
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        opt.step()
        steps.append(
            {
                "ptrBefore": ptr_before,
                "loss": loss.detach(),
                "logits": logits.detach(),
                "q": q,
                "k": k,
                "grad": {n: p.grad.detach().clone() for n, p in moco.encoder_q.named_parameters()},
                "encoderQ": {n: p.detach().clone() for n, p in moco.encoder_q.named_parameters()},
                "encoderK": {n: p.detach().clone() for n, p in moco.encoder_k.named_parameters()},
                "runningStatsQ": running_stats(moco.encoder_q),
                "runningStatsK": running_stats(moco.encoder_k),
                "queue": moco.queue.detach().T.clone(),
                "ptr": int(moco.queue_ptr),
            }
        )
    return moco, steps


def running_stats(encoder):
    return {n: b.detach().clone() for n, b in encoder.named_buffers() if not n.endswith("num_batches_tracked")}


def relu_inputs_step1(encoders, input_seed):
    """The query encoder's ReLU inputs in step 1's forward (train mode), per dtype, in call order."""
    x = images(input_seed, 1, "query")
    out = {}
    for dtype, encoder in encoders.items():
        seen = []
        # pre-hooks: torchvision's ReLUs are in place, so a forward hook would see the output
        hooks = [m.register_forward_pre_hook(lambda _m, inp: seen.append(inp[0].detach().double().clone())) for m in relu_modules(encoder)]
        with torch.no_grad():
            encoder(torch.from_numpy(x).to(dtype))
        for h in hooks:
            h.remove()
        out[dtype] = seen
    return out


def margin_encoders():
    """Query encoders at the initial state in float64 and float32 (train mode: batch statistics)."""
    out = {}
    for dtype in (torch.float64, torch.float32):
        encoder = build_encoder()
        resnet.load_state(encoder, resnet.deterministic_state(encoder, WEIGHT_SEED))
        out[dtype] = encoder.to(dtype).train()
    return out


def kink_margins(input_seed, encoders=None):
    """Step 1's query-encoder ReLU inputs: min |x| (float64) and min over layers of min |x| / RMS float32 error.

    Only step 1 matters: its gradients are the ones compared, and a ReLU input within rounding error of 0
    sends them another way in another float32 program (percent-level differences in earlier layers).
    Step 2's forward values are continuous in the weights, and its gradients are not stored.
    """
    seen = relu_inputs_step1(encoders or margin_encoders(), input_seed)
    m_abs, m_rel, worst = float("inf"), float("inf"), -1
    for i, (a, b) in enumerate(zip(seen[torch.float64], seen[torch.float32])):
        rms = float(((a - b) ** 2).mean().sqrt()) or 1e-30
        m = float(a.abs().min())
        m_abs = min(m_abs, m)
        if m / rms < m_rel:
            m_rel, worst = m / rms, i
    return {"reluMin": m_abs, "reluMinOverRmsErr": m_rel, "worstReluCall": worst, "reluCalls": len(seen[torch.float64])}


def search_inputs(first, last):
    make_golden.setup_torch()
    encoders = margin_encoders()
    ranked = []
    for seed in range(first, last):
        m = kink_margins(seed, encoders)
        ranked.append((m["reluMinOverRmsErr"], seed))
        print(f"seed {seed}: margin {m['reluMinOverRmsErr']:.2f} RMS rounding errors (ReLU call {m['worstReluCall']})", flush=True)
    ranked.sort(reverse=True)
    print("best input seeds (margin, seed):", [(round(m, 2), s) for m, s in ranked[:8]])
    return 0


def to_np(t):
    return t.detach().cpu().numpy()


def summarize(name, arr, samples):
    flat = np.asarray(arr, dtype=np.float32).reshape(-1)
    if flat.size <= FULL_LIMIT:
        return {"full": make_golden.f32list(flat)}
    idx = weights.sample_indices(SAMPLE_SEED, name, flat.size, samples)
    return {**make_golden.stats(flat), "indices": [int(i) for i in idx], "values": make_golden.f32list(flat[idx])}


def step_fixture(s, st):
    logits = to_np(st["logits"])
    return {
        "step": s,
        "queryImages": image_name(s, "query"),
        "keyImages": image_name(s, "key"),
        "perm": PERMS[s - 1],
        "ptrBefore": st["ptrBefore"],
        "loss": make_golden.f32list(to_np(st["loss"]))[0],
        "lPos": make_golden.f32list(logits[:, 0]),
        "lNeg": make_golden.f32list(logits[:, 1:]),
        "q": make_golden.f32list(to_np(st["q"])),
        "k": make_golden.f32list(to_np(st["k"])),
        **(
            {
                "grad": {n: summarize(n, to_np(v), GRAD_SAMPLES) for n, v in st["grad"].items()},
                "encoderQ": {n: summarize(n, to_np(v), OTHER_SAMPLES) for n, v in st["encoderQ"].items()},
            }
            if s in GRADIENT_STEPS
            else {}
        ),
        "encoderK": {n: summarize(n, to_np(v), OTHER_SAMPLES) for n, v in st["encoderK"].items()},
        "runningStatsQ": {n: summarize(n, to_np(v), OTHER_SAMPLES) for n, v in st["runningStatsQ"].items()},
        "runningStatsK": {n: summarize(n, to_np(v), OTHER_SAMPLES) for n, v in st["runningStatsK"].items()},
        "queue": make_golden.f32list(to_np(st["queue"])),
        "ptr": st["ptr"],
    }


def param_tolerances(steps_fx, numel):
    """Per step, per parameter: atol of encoderQ (steps with gradients) and encoderK (TOLERANCES explains;
    the TypeScript twin is in test/moco-golden.test.ts)."""
    lr, mu, m = SGD["lr"], SGD["momentum"], MOMENTUM
    t_q, t_k = TOLERANCES["encoderQ"], TOLERANCES["encoderK"]
    out = []
    prev_q = {n: 0.0 for n in numel}
    prev_k = {n: 0.0 for n in numel}
    for t, st in enumerate(steps_fx):
        cur_k = {n: m * prev_k[n] + (1 - m) * prev_q[n] for n in numel}
        cur_q = None
        if "grad" in st:
            rms = [{n: tolerances.rms(steps_fx[s]["grad"][n], numel[n]) for n in numel} if "grad" in steps_fx[s] else None for s in range(t + 1)]
            if any(r is None for r in rms):
                raise ValueError("the encoderQ tolerance needs the gradients of every step so far")
            cur_q = {n: lr * t_q["atolTimesLr"] * sum(sum(mu ** (j - s) for j in range(s, t + 1)) * rms[s][n] for s in range(t + 1)) for n in numel}
        out.append(
            {
                "encoderQ": None if cur_q is None else {n: t_q["atol"] + v for n, v in cur_q.items()},
                "encoderK": {n: t_k["atol"] + v for n, v in cur_k.items()},
            }
        )
        prev_k = cur_k
        prev_q = cur_q if cur_q is not None else {n: float("nan") for n in numel}
    return out


def check_against(label, steps_other, steps_fx, numel):
    """Raises unless `steps_other` (float64 PyTorch, or anything else) passes the fixture's tolerances."""
    t = TOLERANCES
    tol = param_tolerances(steps_fx, numel)
    c = tolerances.check
    for i, (o, fx) in enumerate(zip(steps_other, steps_fx)):
        p = f"{label} step {i + 1}"
        logits = to_np(o["logits"])
        c(f"{p} loss", to_np(o["loss"]), {"full": [fx["loss"]]}, t["loss"]["rtol"], t["loss"]["atol"])
        c(f"{p} lPos", logits[:, 0], {"full": fx["lPos"]}, t["logits"]["rtol"], t["logits"]["atol"])
        c(f"{p} lNeg", logits[:, 1:], {"full": fx["lNeg"]}, t["logits"]["rtol"], t["logits"]["atol"])
        for key in ("q", "k", "queue"):
            c(f"{p} {key}", to_np(o[key]), {"full": fx[key]}, t["features"]["rtol"], t["features"]["atol"])
        for n, g in fx.get("grad", {}).items():
            c(f"{p} grad {n}", to_np(o["grad"][n]), g, t["grad"]["rtol"], t["grad"]["atolTimesRmsGrad"] * tolerances.rms(g, numel[n]))
            c(f"{p} encoderQ {n}", to_np(o["encoderQ"][n]), fx["encoderQ"][n], t["encoderQ"]["rtol"], tol[i]["encoderQ"][n])
        for n, v in fx["encoderK"].items():
            c(f"{p} encoderK {n}", to_np(o["encoderK"][n]), v, t["encoderK"]["rtol"], tol[i]["encoderK"][n])
        for key in ("runningStatsQ", "runningStatsK"):
            for n, v in fx[key].items():
                c(f"{p} {key} {n}", to_np(o[key][n]), v, t["runningStats"]["rtol"], t["runningStats"]["atol"])
        if o["ptr"] != fx["ptr"]:
            raise AssertionError(f"{p} ptr {o['ptr']} != {fx['ptr']}")


def precision(s32, s64):
    """max over tensors of max|float32 - float64| / max|float64|, per quantity and step."""
    rel = make_golden.rel_err
    out = []
    for a, b in zip(s32, s64):
        out.append(
            {
                "loss": rel(to_np(a["loss"]), to_np(b["loss"])),
                "logits": rel(to_np(a["logits"]), to_np(b["logits"])),
                "q": rel(to_np(a["q"]), to_np(b["q"])),
                "k": rel(to_np(a["k"]), to_np(b["k"])),
                "grad": max(rel(to_np(a["grad"][n]), to_np(b["grad"][n])) for n in a["grad"]),
                "encoderK": max(rel(to_np(a["encoderK"][n]), to_np(b["encoderK"][n])) for n in a["encoderK"]),
                "runningStats": max(rel(to_np(a[k][n]), to_np(b[k][n])) for k in ("runningStatsQ", "runningStatsK") for n in a[k]),
            }
        )
    return out


def fixture():
    make_golden.setup_torch()
    moco, s32 = run(torch.float32, INPUT_SEED)
    _, s64 = run(torch.float64, INPUT_SEED)
    specs = weights.param_specs(moco.encoder_q)
    trainable = {n for n, _ in moco.encoder_q.named_parameters()}
    numel = {name: int(np.prod(shape, dtype=np.int64)) for name, shape, _, _ in specs if name in trainable}
    steps = [step_fixture(s + 1, st) for s, st in enumerate(s32)]
    check_against("float64 PyTorch", s64, steps, numel)
    meta = {
        "format": FORMAT,
        "generator": "test/golden/make_moco_golden.py (run with /usr/bin/python3); its docstring describes the computation",
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "semantics": "facebookresearch/moco builder.py (commit 132aea9) on one process: momentum update of the key encoder's "
        "parameters before the keys (buffers untouched), keys under no_grad, shuffle by perm and unshuffle by argsort, "
        "normalize(dim=1), l_pos = einsum(nc,nc->n), l_neg = q @ queue snapshot, logits / T, cross_entropy with label 0, "
        "backward, SGD step, enqueue (ring buffer, ptr += N mod K)",
        "model": "torchvision.models.resnet18, conv1 = Conv2d(3, 64, 3, stride 1, padding 1, bias=False), maxpool = Identity, "
        f"fc = Sequential(Linear(512, {HEAD_HIDDEN[0]}), ReLU, Linear({HEAD_HIDDEN[0]}, {DIM}))",
        "stem": STEM,
        "headHidden": HEAD_HIDDEN,
        "dim": DIM,
        "queueSize": K,
        "momentum": MOMENTUM,
        "temperature": TEMPERATURE,
        "batch": BATCH,
        "imageSize": IMAGE,
        "bnSplits": 1,
        "sgd": {**SGD, "params": "moco.parameters() (the key encoder's have no gradient, so only encoder_q moves)"},
        "weightSeed": WEIGHT_SEED,
        "inputSeed": INPUT_SEED,
        "sampleSeed": SAMPLE_SEED,
        "weights": "both encoders: weights.py deterministic state (seed weightSeed), BN running stats included; "
        "'params' lists the encoder's state_dict (without num_batches_tracked)",
        "images": "weights.generate(inputSeed, name, imageShape, 'input') with the step's queryImages / keyImages name: 2u in [-2, 2)",
        "queue": "queueInitial and each step's queue are (K, dim), one key per row (PyTorch's buffer is the transpose); "
        "queueInitial = rows of weights.generate(weightSeed, 'queue', [K, dim], 'input') normalised in float64",
        "summaryRule": f"'full' when numel <= {FULL_LIMIT}; otherwise sum, sumAbs, sumSq (float64 over the float32 values) and "
        f"{GRAD_SAMPLES} (grad) or {OTHER_SAMPLES} (others) entries at weights.sample_indices(sampleSeed, name, numel, count)",
        "logits": "lPos = logits[:, 0] (N), lNeg = logits[:, 1:] (N x K, row-major), both already divided by T",
        "float32VsFloat64": precision(s32, s64),
        "kinkMargins": kink_margins(INPUT_SEED),
        "tolerances": {**TOLERANCES, "float64Passes": True},
    }
    return {
        "meta": meta,
        "params": [
            {
                "name": name,
                "shape": list(shape),
                "kind": kind,
                **({"fanIn": fan_in} if fan_in is not None else {}),
                "numel": int(np.prod(shape, dtype=np.int64)),
                "trainable": name in trainable,
            }
            for name, shape, kind, fan_in in specs
        ],
        "imageShape": list(image_shape()),
        "queueInitial": make_golden.f32list(initial_queue()),
        "ptrInitial": PTR_INITIAL,
        "steps": steps,
    }


def dump(fx):
    """JSON with one line per tensor: meta indented; params one per line; each step one key per line."""
    compact = lambda v: json.dumps(v, separators=(",", ":"), allow_nan=False)
    lines = ["{", f'"meta":{json.dumps(fx["meta"], indent=1, allow_nan=False)},', '"params":[']
    lines.extend(compact(p) + ("," if i < len(fx["params"]) - 1 else "") for i, p in enumerate(fx["params"]))
    lines.append("],")
    for key in ("imageShape", "queueInitial", "ptrInitial"):
        lines.append(f"{compact(key)}:{compact(fx[key])},")
    lines.append('"steps":[')
    for i, st in enumerate(fx["steps"]):
        lines.append("{")
        items = list(st.items())
        for j, (key, value) in enumerate(items):
            end = "," if j < len(items) - 1 else ""
            if isinstance(value, dict):
                lines.append(f"{compact(key)}:{{")
                inner = list(value.items())
                lines.extend(f"{compact(n)}:{compact(v)}" + ("," if k < len(inner) - 1 else "") for k, (n, v) in enumerate(inner))
                lines.append("}" + end)
            else:
                lines.append(f"{compact(key)}:{compact(value)}{end}")
        lines.append("}" + ("," if i < len(fx["steps"]) - 1 else ""))
    lines.append("]")
    lines.append("}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def main(argv):
    if argv[:1] == ["--search-inputs"]:
        return search_inputs(int(argv[1]), int(argv[2]))
    data = dump(fixture())
    json.loads(data)
    if "--check" in argv:
        same = os.path.exists(OUT_PATH) and open(OUT_PATH, "rb").read() == data
        print("moco-step.json is identical to the committed one" if same else "differs from the committed moco-step.json")
        return 0 if same else 1
    os.makedirs(os.path.dirname(OUT_PATH), exist_ok=True)
    with open(OUT_PATH, "wb") as f:
        f.write(data)
    print(f"wrote test/fixtures/golden/moco-step.json ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
