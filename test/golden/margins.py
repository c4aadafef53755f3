"""How close a train-mode forward comes to the kinks of ReLU and max-pool, the places where a tiny
float32 difference changes which way the gradient flows.

A ReLU input within rounding error of 0, or a max-pool window whose two largest values are that close,
can fall on the other side in another float32 implementation; the gradient then differs locally by
a whole term (percent-level errors in earlier layers' gradients, not 1e-6). make_golden.py therefore
uses input seeds whose kinks are far from the rounding error, found with --search-inputs.

The margin of one element is |x| (ReLU) or top1 - top2 (max-pool window with a positive maximum),
computed in float64, divided by the RMS difference between float32 and float64 PyTorch over that
layer's inputs (the typical rounding error there). The reported margin is the minimum over all
elements; larger is safer.
"""

import torch
import torch.nn.functional as F

import resnet
import weights


def _layer_inputs(stem, weight_seed, input_seed, dtype):
    """Inputs of every ReLU and MaxPool2d call in a train-mode forward, in call order."""
    model = resnet.build_resnet18(stem)
    resnet.load_state(model, resnet.deterministic_state(model, weight_seed))
    model = model.to(dtype).train()
    seen = []
    for module in model.modules():
        if isinstance(module, (torch.nn.ReLU, torch.nn.MaxPool2d)):
            kind = "relu" if isinstance(module, torch.nn.ReLU) else "maxpool"
            # pre-hook: torchvision's ReLUs are in place, so a forward hook would see the output
            module.register_forward_pre_hook(lambda _m, inp, kind=kind: seen.append((kind, inp[0].detach().double().clone())))
    x = torch.from_numpy(weights.input_batch(input_seed, resnet.input_shape(stem))).to(dtype)
    with torch.no_grad():
        model(x)
    return seen


def _pool_gaps(t):
    """top1 - top2 of each 3x3 stride-2 padding-1 window whose maximum is positive."""
    cols = F.unfold(F.pad(t, (1, 1, 1, 1), value=float("-inf")).flatten(0, 1).unsqueeze(1), 3, stride=2)
    top = cols.topk(2, dim=1).values
    gaps = top[:, 0] - top[:, 1]
    return gaps[top[:, 0] > 0]


def kink_margins(stem, weight_seed, input_seed):
    f64 = _layer_inputs(stem, weight_seed, input_seed, torch.float64)
    f32 = _layer_inputs(stem, weight_seed, input_seed, torch.float32)
    out = {"reluMin": float("inf"), "reluMinOverRmsErr": float("inf"), "maxpoolGapMin": None, "maxpoolGapMinOverRmsErr": None}
    for (kind, a), (_, b) in zip(f64, f32):
        rms = float(((a - b) ** 2).mean().sqrt()) or 1e-30
        if kind == "relu":
            m = float(a.abs().min())
            out["reluMin"] = min(out["reluMin"], m)
            out["reluMinOverRmsErr"] = min(out["reluMinOverRmsErr"], m / rms)
        else:
            gaps = _pool_gaps(a)
            if gaps.numel():
                m = float(gaps.min())
                out["maxpoolGapMin"] = m if out["maxpoolGapMin"] is None else min(out["maxpoolGapMin"], m)
                r = m / rms
                out["maxpoolGapMinOverRmsErr"] = r if out["maxpoolGapMinOverRmsErr"] is None else min(out["maxpoolGapMinOverRmsErr"], r)
    return out


def score(m):
    """The smaller of the ReLU and max-pool margins (in units of RMS rounding error)."""
    s = m["reluMinOverRmsErr"]
    if m["maxpoolGapMinOverRmsErr"] is not None:
        s = min(s, m["maxpoolGapMinOverRmsErr"])
    return s
