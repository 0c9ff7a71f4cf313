"""Evaluate on 2 CPU processes with torch.distributed (gloo) and sync the metrics in one call.

    python examples/torch_distributed.py

Each process evaluates its own shard of a validation set in mini-batches of torch tensors, and
streameval counts them. ``sync`` then sums both processes' counts with one all-reduce (after
checking that both hold the same kind of accumulators), so rank 0 can print the report of the
whole validation set. It is the report one process fed all of the data would give, which rank 0
checks at the end.
"""

import os
import tempfile

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import streameval
from streameval.torch import sync

WORLD_SIZE = 2
CLASSES = ["cat", "dog", "bird"]
BATCH_SIZE = 64


def validation_set():
    """A toy validation set (features, labels) and a toy model, the same in every process."""
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, len(CLASSES), (1000,), generator=gen)
    features = torch.nn.functional.one_hot(labels, len(CLASSES)).float() + torch.randn(1000, 3, generator=gen)
    model = torch.nn.Linear(3, len(CLASSES))
    with torch.no_grad():
        model.weight.copy_(torch.eye(3))
        model.bias.zero_()
    return features, labels, model


def new_metrics():
    # Predicted labels (argmax of the logits) for the report, and score histograms for ROC AUC.
    return streameval.Multiclass(len(CLASSES)), streameval.Multiclass(len(CLASSES), bins=100)


def evaluate(rank: int, world_size: int, store: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world_size)
    features, labels, model = validation_set()
    # A contiguous shard per rank, without padding: torch's DistributedSampler would repeat
    # samples to even out the shards, and the repeats would be counted twice.
    shard = torch.utils.data.TensorDataset(*(t.tensor_split(world_size)[rank] for t in (features, labels)))
    counts, curves = new_metrics()
    with torch.no_grad():
        for x, y in torch.utils.data.DataLoader(shard, batch_size=BATCH_SIZE):
            logits = model(x)
            counts.update(y, logits)  # CPU tensors are read in place, without a copy
            curves.update(y, logits.softmax(dim=1))

    sync([counts, curves])  # one all-reduce; afterwards every rank holds the counts of all ranks

    if rank == 0:
        print(counts.report(target_names=CLASSES))
        print(f"accuracy {counts.accuracy():.4f}, macro F1 {counts.f1():.4f}, "
              f"ROC AUC (one-vs-rest, macro) {curves.roc_auc():.4f}")
        # The same as one process fed the whole validation set:
        one_counts, one_curves = new_metrics()
        one_counts.update(labels, model(features).detach())
        one_curves.update(labels, model(features).detach().softmax(dim=1))
        same = counts == one_counts and curves.roc_auc() == one_curves.roc_auc()
        assert same and counts.n_samples == len(labels)
        print("synced metrics equal one process on all the data:", same)
    dist.destroy_process_group()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as directory:
        mp.spawn(evaluate, args=(WORLD_SIZE, os.path.join(directory, "store")), nprocs=WORLD_SIZE)
