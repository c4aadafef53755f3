"""The tolerances recommended for comparing a float32 implementation with the golden fixtures, and the
comparison itself (the Python twin of checkSummary/goldenTolerance in test/golden/fixture.ts).

make_golden.py checks that PyTorch's own float64 results pass these tolerances against the float32
fixture, so an exact implementation passes and the tolerances are not looser than they need to be by
orders of magnitude. Per stored value: |ours - golden| <= atol + rtol*|golden|. For sampled summaries
the float64 sums are checked with the bounds that this elementwise tolerance implies (skipped where
atol differs per element, i.e. for the Adam step).

    logits (eval, train)   rtol 1e-4, atol 1e-5
    loss                   rtol 1e-5, atol 1e-6
    running stats          rtol 1e-4, atol 1e-5
    grad                   rtol 1e-3, atol 1e-3 * rms(grad of that tensor)
    SGD step               rtol 1e-5, atol 1e-6 + lr * 1e-3 * rms(grad)
    Adam step              rtol 1e-5, atol 1e-6; atol 2*lr where |grad| < 1e-3 * rms(grad): the first Adam
                           step is lr * g / (|g| + eps), whose value there depends on the last bits of g
"""

import numpy as np

TOLERANCES = {
    "rule": "|ours - golden| <= atol + rtol*|golden| per stored value; sampled summaries also compare sum and sumSq "
    "with the bounds that implies (test/golden/fixture.ts checkSummary); test/golden/tolerances.py explains",
    "logits": {"rtol": 1e-4, "atol": 1e-5},
    "loss": {"rtol": 1e-5, "atol": 1e-6},
    "runningStats": {"rtol": 1e-4, "atol": 1e-5},
    "grad": {"rtol": 1e-3, "atolTimesRmsGrad": 1e-3},
    "sgdStep": {"rtol": 1e-5, "atol": 1e-6, "atolTimesLrRmsGrad": 1e-3},
    "adamStep": {"rtol": 1e-5, "atol": 1e-6, "illConditionedBelowTimesRmsGrad": 1e-3, "illConditionedAtol": 2e-3, "sums": "not checked"},
}


def rms(summary, numel):
    if "full" in summary:
        v = np.asarray(summary["full"], dtype=np.float64)
        return float(np.sqrt(np.mean(v * v))) if v.size else 0.0
    return float(np.sqrt(summary["sumSq"] / max(1, numel)))


def stored_grads(summary):
    return np.asarray(summary["full"] if "full" in summary else summary["values"], dtype=np.float64)


def tolerance(kind, grad_summary=None, numel=None, lr=None):
    """(rtol, atol) with atol a float or an array over the stored values."""
    t = TOLERANCES[kind]
    if kind == "grad":
        return t["rtol"], t["atolTimesRmsGrad"] * rms(grad_summary, numel)
    if kind == "sgdStep":
        return t["rtol"], t["atol"] + lr * t["atolTimesLrRmsGrad"] * rms(grad_summary, numel)
    if kind == "adamStep":
        g = stored_grads(grad_summary)
        ill = np.abs(g) < t["illConditionedBelowTimesRmsGrad"] * rms(grad_summary, numel)
        return t["rtol"], np.where(ill, t["illConditionedAtol"], t["atol"])
    return t["rtol"], t["atol"]


def check(label, actual, summary, rtol, atol):
    """Raises AssertionError when `actual` (the whole tensor) is outside the tolerance of `summary`."""
    flat = np.asarray(actual, dtype=np.float64).reshape(-1)
    if "full" in summary:
        want = np.asarray(summary["full"], dtype=np.float64)
        got = flat
    else:
        want = np.asarray(summary["values"], dtype=np.float64)
        got = flat[np.asarray(summary["indices"], dtype=np.int64)]
    bound = atol + rtol * np.abs(want)
    if got.shape != want.shape or not np.all(np.abs(got - want) <= bound):
        worst = float(np.max(np.abs(got - want) - bound)) if got.shape == want.shape else float("nan")
        raise AssertionError(f"{label}: outside rtol {rtol} / atol (excess {worst:.3g})")
    if "full" not in summary and np.ndim(atol) == 0:
        s, sq = float(flat.sum()), float((flat * flat).sum())
        if abs(s - summary["sum"]) > atol * flat.size + rtol * summary["sumAbs"]:
            raise AssertionError(f"{label}: sum {s} vs {summary['sum']}")
        sq_bound = (2 * (atol * summary["sumAbs"] + rtol * summary["sumSq"]) + atol * atol * flat.size
                    + 2 * atol * rtol * summary["sumAbs"] + rtol * rtol * summary["sumSq"])
        if abs(sq - summary["sumSq"]) > sq_bound:
            raise AssertionError(f"{label}: sumSq {sq} vs {summary['sumSq']}")
