"""Segmentation metrics per batch: python examples/segmentation.py

Logits of shape (8, 21, 64, 64) (batch, classes, height, width: the layout of
torch.nn.CrossEntropyLoss) go into a streameval.Multiclass(21, from_logits=True, ignore_index=255)
as they are: the class axis is read in place, without a transposed copy, and pixels labelled 255
(padding) are skipped. With torch installed a tiny conv net makes the logits; otherwise random
logits nudged towards the true class stand for a model. Each batch logs its own mIoU (jaccard,
macro) and pixel accuracy, and the running values over the epoch; the script checks the epoch
against scikit-learn on the flattened pixels.
"""

import numpy as np
from sklearn.metrics import accuracy_score, jaccard_score

import streameval

N, K, H, W, BATCHES, IGNORE = 8, 21, 64, 64, 4, 255
rng = np.random.default_rng(0)

try:
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(1)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(16, K, 1))

    def model(images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net(torch.from_numpy(images)).numpy()
    source = "a tiny conv net (torch)"
except ImportError:  # numpy only: random logits nudged towards the true class
    def model(images: np.ndarray) -> np.ndarray:
        return rng.normal(size=(images.shape[0], K, H, W)).astype(np.float32)
    source = "random logits (numpy)"

epoch = streameval.Multiclass(K, from_logits=True, ignore_index=IGNORE)
seen_true, seen_pred = [], []
print(f"logits from {source}: shape ({N}, {K}, {H}, {W})")
for step in range(BATCHES):
    y = rng.integers(0, K, (N, H, W))
    y[:, :, W - 8:] = IGNORE                                   # padding on the right edge
    images = (rng.normal(size=(N, 3, H, W)) + y[:, None] % 3).astype(np.float32)
    logits = model(images) + 1.5 * (np.arange(K)[None, :, None, None] == y[:, None]).astype(np.float32)
    batch = streameval.Multiclass(K, from_logits=True, ignore_index=IGNORE)
    batch.update(y, logits)
    epoch.update(y, logits)
    print(f"batch {step}: mIoU {batch.jaccard():.4f}  pixel accuracy {batch.accuracy():.4f}  "
          f"running mIoU {epoch.jaccard():.4f}")
    keep = y != IGNORE
    seen_true.append(y[keep])
    seen_pred.append(logits.argmax(1)[keep])

y_true, y_pred = np.concatenate(seen_true), np.concatenate(seen_pred)
assert abs(epoch.accuracy() - accuracy_score(y_true, y_pred)) < 1e-12
present = np.union1d(y_true, y_pred)
assert abs(epoch.jaccard() - jaccard_score(y_true, y_pred, average="macro", labels=present)) < 1e-12
print("segmentation metrics match scikit-learn: OK")
