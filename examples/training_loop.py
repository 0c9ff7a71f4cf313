"""Metrics in a PyTorch training loop: python examples/training_loop.py

A 2-layer MLP learns a synthetic 4-class problem on the CPU for 3 epochs. A streameval.Multiclass
is updated on every batch with the torch tensors themselves (the logits: reduced by argmax; a CPU
tensor is read in place, without a copy, even with requires_grad), logs the running accuracy and
macro F1 every LOG_EVERY batches, prints a per-epoch report, and is reset between epochs.

The script checks itself: each epoch's accuracy and macro F1 equal scikit-learn's on that epoch's
predictions (collected here only for the check). Needs torch, numpy, scikit-learn and streameval;
seeded, so every run prints the same numbers.
"""

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score

import streameval

K, FEATURES, N, BATCH, EPOCHS, LOG_EVERY = 4, 10, 4096, 128, 3, 8
torch.manual_seed(0)
torch.set_num_threads(1)  # tiny model: threads would only add overhead

# Synthetic data: each class is a Gaussian blob around its own centre.
centres = torch.randn(K, FEATURES) * 1.5
y_all = torch.randint(0, K, (N,))
x_all = centres[y_all] + torch.randn(N, FEATURES) * 1.8

model = torch.nn.Sequential(torch.nn.Linear(FEATURES, 32), torch.nn.ReLU(), torch.nn.Linear(32, K))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
loss_fn = torch.nn.CrossEntropyLoss()

train = streameval.Multiclass(K)
for epoch in range(1, EPOCHS + 1):
    train.reset()  # each epoch's metrics count that epoch only
    seen_true, seen_pred = [], []  # only for the check against scikit-learn
    order = torch.randperm(N)
    for step, start in enumerate(range(0, N, BATCH), start=1):
        idx = order[start:start + BATCH]
        x, y = x_all[idx], y_all[idx]
        logits = model(x)
        loss = loss_fn(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

        train.update(y, logits)  # (N,) labels and (N, K) logits, straight from torch
        seen_true.append(y.numpy())
        seen_pred.append(logits.argmax(dim=1).numpy())
        if step % LOG_EVERY == 0:
            print(f"epoch {epoch} step {step:2d}  loss={loss.item():.3f}  "
                  f"running accuracy={train.accuracy():.3f}  macro F1={train.f1():.3f}")

    y_true, y_pred = np.concatenate(seen_true), np.concatenate(seen_pred)
    assert train.n_samples == N
    assert train.accuracy() == accuracy_score(y_true, y_pred)
    assert train.f1() == f1_score(y_true, y_pred, average="macro")
    print(f"epoch {epoch} done: {train.n_samples} samples  accuracy={train.accuracy():.4f}  "
          f"macro F1={train.f1():.4f}  (equal to scikit-learn)")
    if epoch == EPOCHS:
        print(train.report(target_names=[f"class {k}" for k in range(K)]))

assert train.accuracy() > 0.5, "the model should have learnt something"
print("training loop metrics match scikit-learn: OK")
