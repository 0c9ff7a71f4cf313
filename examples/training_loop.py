"""Metrics in a PyTorch training loop, kept on the model's device: python examples/training_loop.py

A 2-layer MLP learns a synthetic 10-class problem for 3 epochs, on the GPU when there is one (the
CPU otherwise: a few seconds). The metrics live where the model does:
``streameval.Multiclass(10, from_logits=True, device=device)`` keeps its confusion matrix in a torch
tensor on that device, and ``update(y, logits)`` on every batch is a few torch ops there, with no
copy to the host and no wait for the GPU (no ``.item()``, no ``.cpu()``). Only a query (the running
accuracy logged every LOG_EVERY batches, the report at each epoch's end) copies the small count
state to the host, once. A batch with a bad value (a label out of range, a NaN logit) would be
dropped on the device and reported by the next query.

The script checks itself: each epoch's accuracy and macro F1 equal scikit-learn's on that epoch's
predictions (gathered on the device, only for the check, and copied to the host once per epoch).
Needs torch, numpy, scikit-learn and streameval; seeded, so every run on the CPU prints the same
numbers.
"""

import torch
from sklearn.metrics import accuracy_score, f1_score

import streameval

K, FEATURES, N, BATCH, EPOCHS, LOG_EVERY = 10, 20, 8192, 256, 3, 16
device = "cuda" if torch.cuda.is_available() else "cpu"
torch.manual_seed(0)
torch.set_num_threads(1)  # tiny model: threads would only add overhead on the CPU

# Synthetic data: each class is a Gaussian blob around its own centre, already on the device.
centres = torch.randn(K, FEATURES) * 1.2
y_all = torch.randint(0, K, (N,))
x_all = (centres[y_all] + torch.randn(N, FEATURES) * 1.5).to(device)
y_all = y_all.to(device)

model = torch.nn.Sequential(torch.nn.Linear(FEATURES, 64), torch.nn.ReLU(), torch.nn.Linear(64, K)).to(device)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
loss_fn = torch.nn.CrossEntropyLoss()

train = streameval.Multiclass(K, from_logits=True, device=device)  # the counts live on the model's device
print(f"training on {device}; metrics counted on {train.device}")
for epoch in range(1, EPOCHS + 1):
    train.reset()  # each epoch's metrics count that epoch only
    seen_true, seen_pred = [], []  # only for the check against scikit-learn, kept on the device
    order = torch.randperm(N, device=device)
    for step, start in enumerate(range(0, N, BATCH), start=1):
        idx = order[start:start + BATCH]
        x, y = x_all[idx], y_all[idx]
        logits = model(x)
        loss = loss_fn(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

        train.update(y, logits)  # (N,) labels and (N, K) logits, counted on the device: no host sync
        seen_true.append(y)
        seen_pred.append(logits.detach().argmax(dim=1))
        if step % LOG_EVERY == 0:  # a query (and loss.item()) reads the device: only when logging
            print(f"epoch {epoch} step {step:2d}  loss={loss.item():.3f}  "
                  f"running accuracy={train.accuracy():.3f}  macro F1={train.f1():.3f}")

    y_true, y_pred = torch.cat(seen_true).cpu().numpy(), torch.cat(seen_pred).cpu().numpy()
    assert train.n_samples == N
    assert train.accuracy() == accuracy_score(y_true, y_pred)
    assert train.f1() == f1_score(y_true, y_pred, average="macro")
    print(f"epoch {epoch} done: {train.n_samples} samples  accuracy={train.accuracy():.4f}  "
          f"macro F1={train.f1():.4f}  (equal to scikit-learn)")
    print(train.report(target_names=[f"class {k}" for k in range(K)]))

assert train.device == torch.device(device)
assert train.accuracy() > 0.5, "the model should have learnt something"
print("training loop metrics match scikit-learn: OK")
