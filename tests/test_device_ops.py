"""How many torch ops one device update dispatches (issue 15): on a GPU each is a kernel launch,
a few microseconds of the training loop's CPU time, so the op count is what a loop pays per
metric update. A deterministic regression test, not a timing test: for each configuration, one
update (after a first, which builds the cached constants and tables) is counted under a
TorchDispatchMode, and must stay within the count reached when the plans were trimmed (+2
slack). The comment beside each bound is the count before that work. The counts include the
dispatcher's share (streameval/_device/update.py: the checks' where/amin, the gate, the record
of dropped batches), about 13 ops, and depend on torch's decompositions (torch 2.13 here)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

from streameval import Binary, Multiclass, Multilabel  # noqa: E402

N = 256
SLACK = 2


class Ops(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(str(func.overloadpacket).removeprefix("aten."))
        return func(*args, **(kwargs or {}))


def _batches():
    g = torch.Generator().manual_seed(0)
    labels2 = torch.randint(0, 2, (N,), generator=g)
    labels10 = torch.randint(0, 10, (N,), generator=g)
    known = torch.tensor([3, 5, 7, 11])
    return {
        "binary labels": (labels2, torch.randint(0, 2, (N,), generator=g)),
        "binary scores": (labels2, torch.rand(N, generator=g)),
        "binary logits": (labels2, torch.randn(N, generator=g)),
        "binary weighted": (labels2, torch.rand(N, generator=g), torch.rand(N, generator=g, dtype=torch.float64)),
        "mc labels": (labels10, torch.randint(0, 10, (N,), generator=g)),
        "mc scores": (labels10, torch.softmax(torch.randn(N, 10, generator=g), dim=1)),
        "mc logits": (labels10, torch.randn(N, 10, generator=g)),
        "mc weighted": (labels10, torch.softmax(torch.randn(N, 10, generator=g), dim=1),
                        torch.rand(N, generator=g, dtype=torch.float64)),
        "mc int labels": (known[torch.randint(0, 4, (N,), generator=g)],
                          known[torch.randint(0, 4, (N,), generator=g)]),
        "mc segmentation": (torch.randint(0, 10, (2, 8, 8), generator=g), torch.randn(2, 10, 8, 8, generator=g)),
        "ml labels": (torch.randint(0, 2, (N, 5), generator=g), torch.randint(0, 2, (N, 5), generator=g)),
        "ml scores": (torch.randint(0, 2, (N, 5), generator=g), torch.rand(N, 5, generator=g)),
    }


# (id, accumulator, batch, bound: the count reached + SLACK; the comment: the count before)
CONFIGURATIONS = [
    ("binary plain", lambda: Binary(device="cpu"), "binary labels", 23 + SLACK),  # 40 before
    ("binary scores", lambda: Binary(device="cpu"), "binary scores", 24 + SLACK),  # 41
    ("binary bins", lambda: Binary(bins=100, device="cpu"), "binary scores", 43 + SLACK),  # 103
    ("binary from_logits", lambda: Binary(from_logits=True, device="cpu"), "binary logits", 29 + SLACK),  # 47
    ("binary from_logits bins", lambda: Binary(from_logits=True, bins=100, device="cpu"), "binary logits",
     50 + SLACK),  # 111
    ("binary weighted", lambda: Binary(weighted=True, device="cpu"), "binary weighted", 50 + SLACK),  # 74
    ("binary weighted bins", lambda: Binary(weighted=True, bins=100, device="cpu"), "binary weighted",
     69 + SLACK),  # 143
    ("binary ignore_index", lambda: Binary(ignore_index=-1, device="cpu"), "binary scores", 29 + SLACK),  # 53
    ("mc labels", lambda: Multiclass(10, device="cpu"), "mc labels", 22 + SLACK),  # 41
    ("mc scores", lambda: Multiclass(10, device="cpu"), "mc scores", 23 + SLACK),  # 41
    ("mc logits", lambda: Multiclass(10, from_logits=True, device="cpu"), "mc logits", 23 + SLACK),  # 41
    ("mc weighted", lambda: Multiclass(10, weighted=True, device="cpu"), "mc weighted", 48 + SLACK),  # 75
    ("mc top_k", lambda: Multiclass(10, top_k=3, device="cpu"), "mc scores", 32 + SLACK),  # 60
    ("mc bins", lambda: Multiclass(10, bins=20, device="cpu"), "mc scores", 55 + SLACK),  # 140
    ("mc bins logits", lambda: Multiclass(10, bins=20, from_logits=True, device="cpu"), "mc logits", 60 + SLACK),  # 141
    ("mc ignore_index", lambda: Multiclass(10, ignore_index=-100, device="cpu"), "mc labels", 26 + SLACK),  # 42
    ("mc int labels", lambda: Multiclass(labels=[3, 5, 7, 11], device="cpu"), "mc int labels", 25 + SLACK),  # 49
    ("mc segmentation", lambda: Multiclass(10, device="cpu"), "mc segmentation", 24 + SLACK),  # 41
    ("ml plain", lambda: Multilabel(5, device="cpu"), "ml labels", 32 + SLACK),  # 95
    ("ml scores", lambda: Multilabel(5, device="cpu"), "ml scores", 33 + SLACK),  # 96
    ("ml bins", lambda: Multilabel(5, bins=20, device="cpu"), "ml scores", 47 + SLACK),  # 137
]


def ops_of_one_update(make, batch):
    acc = make()
    acc.update(*batch)  # the first builds the cached constants, tables and views
    with Ops() as mode:
        acc.update(*batch)
    acc.compute()  # (the batches were valid: nothing was dropped)
    return mode.ops


@pytest.mark.parametrize("name, make, batch, bound", CONFIGURATIONS, ids=[c[0] for c in CONFIGURATIONS])
def test_an_update_dispatches_few_ops(name, make, batch, bound):
    ops = ops_of_one_update(make, _batches()[batch])
    assert len(ops) <= bound, f"{name}: {len(ops)} ops (at most {bound}): {' '.join(ops)}"
    assert not {"ones", "zeros", "lift_fresh"} & set(ops), ops  # (the plans' constants are cached)
