#!/usr/bin/python3
"""Times the same work as our benchmarks with PyTorch on the CPU (Debian's python3-torch 1.13).

Usage: /usr/bin/python3 bench/torch_cpu.py [--repeats N] [--warmup N] SPEC [SPEC ...]
Prints one JSON line per spec: {"spec": ..., "ms": median wall-clock milliseconds, "threads": ...}.
Specs:
  resnet18-step:STEM:BATCH:SIZE          forward + cross-entropy + backward + SGD step (momentum 0.9, wd 1e-4)
  moco-step:BATCH:SIZE:K:DIM             one MoCo-v2 step (cifar stem, MLP head, SGD), official semantics
  conv2d:PASS:N:C:H:O:K:S:P              one convolution pass (fwd, dX or dW; aten's own convolution
                                         and convolution_backward) on an N×C×H×H input, O filters K×K,
                                         stride S, padding P
Install libopenblas0-pthread first: Debian's reference BLAS makes torch's matmuls ~30x slower.
"""
import json
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


def resnet18(stem, num_classes=10):
    model = torchvision.models.resnet18(num_classes=num_classes)
    if stem == "cifar":
        model.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        model.maxpool = nn.Identity()
    return model


def resnet18_step(stem, batch, size):
    model = resnet18(stem)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(batch, 3, size, size)
    y = torch.randint(0, 10, (batch,))

    def run():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    return run


def moco_step(batch, size, K, dim):
    def encoder():
        m = resnet18("cifar")
        m.fc = nn.Sequential(nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, dim))
        return m

    q_enc, k_enc = encoder(), encoder()
    for pq, pk in zip(q_enc.parameters(), k_enc.parameters()):
        pk.data.copy_(pq.data)
        pk.requires_grad = False
    queue = F.normalize(torch.randn(K, dim), dim=1)
    opt = torch.optim.SGD(q_enc.parameters(), lr=0.03, momentum=0.9, weight_decay=1e-4)
    im_q = torch.randn(batch, 3, size, size)
    im_k = torch.randn(batch, 3, size, size)
    state = {"ptr": 0}

    def run():
        q = F.normalize(q_enc(im_q), dim=1)
        with torch.no_grad():
            for pq, pk in zip(q_enc.parameters(), k_enc.parameters()):
                pk.data.mul_(0.99).add_(pq.data, alpha=0.01)
            perm = torch.randperm(batch)
            k = F.normalize(k_enc(im_k[perm]), dim=1)[torch.argsort(perm)]
        logits = torch.cat([(q * k).sum(1, keepdim=True), q @ queue.t()], dim=1) / 0.2
        loss = F.cross_entropy(logits, torch.zeros(batch, dtype=torch.long))
        opt.zero_grad()
        loss.backward()
        opt.step()
        ptr = state["ptr"]
        queue[ptr:ptr + batch] = k
        state["ptr"] = (ptr + batch) % K
    return run


def conv2d_pass(kind, n, c, h, o, k, s, p):
    x = torch.randn(n, c, h, h)
    w = torch.randn(o, c, k, k) * (2 / (c * k * k)) ** 0.5
    ho = (h + 2 * p - k) // s + 1
    dy = torch.randn(n, o, ho, ho)
    if kind == "fwd":
        def run():
            with torch.no_grad():
                F.conv2d(x, w, stride=s, padding=p)
        return run
    if kind not in ("dX", "dW"):
        raise SystemExit(f"unknown conv2d pass {kind}")
    mask = [kind == "dX", kind == "dW", False]

    def run():
        torch.ops.aten.convolution_backward(dy, x, w, None, [s, s], [p, p], [1, 1], False, [0, 0], 1, mask)
    return run


def build(spec):
    parts = spec.split(":")
    if parts[0] == "conv2d":
        return conv2d_pass(parts[1], *(int(v) for v in parts[2:]))
    if parts[0] == "resnet18-step":
        return resnet18_step(parts[1], int(parts[2]), int(parts[3]))
    if parts[0] == "moco-step":
        return moco_step(int(parts[1]), int(parts[2]), int(parts[3]), int(parts[4]))
    raise SystemExit(f"unknown spec {spec}")


def main(argv):
    repeats, warmup, specs = 5, 1, []
    i = 0
    while i < len(argv):
        if argv[i] == "--repeats":
            repeats = int(argv[i + 1]); i += 2
        elif argv[i] == "--warmup":
            warmup = int(argv[i + 1]); i += 2
        else:
            specs.append(argv[i]); i += 1
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)  # torch may count physical cores only
    for spec in specs:
        run = build(spec)
        for _ in range(warmup):
            run()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            run()
            times.append((time.perf_counter() - t0) * 1000)
        print(json.dumps({"spec": spec, "ms": statistics.median(times), "threads": torch.get_num_threads(),
                          "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
