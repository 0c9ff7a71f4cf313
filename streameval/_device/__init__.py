"""Counting on a torch device (``device=``): the counts live in torch tensors on the device
(``_storage.torch_storage.TorchStorage``) and an update is a few torch ops there, with no read
back to the host, so a GPU training loop never waits for its metrics.

- ``tensors``: inputs as tensors on the device; what marks an input as living on a GPU.
- ``plan``: what a kind module gives the dispatcher: value checks and a gated count.
- ``binary``, ``multiclass``, ``multilabel``: each kind's checks and counts as torch ops.
- ``update``: the dispatcher; ``place``: moving an accumulator to a device (below).

torch is imported by these modules only when a device is used: ``import streameval`` never does.
"""

from __future__ import annotations

from typing import Any

VALIDATE = ("deferred", "eager")


def check_validate(validate: Any) -> None:
    if validate not in VALIDATE:
        raise ValueError(f"validate={validate!r} is not valid: expected \"deferred\" (a bad batch is dropped on the "
                         "device and reported by the next query) or \"eager\" (it raises at the update, at the cost "
                         "of one host sync per update)")


def unsupported(acc: Any) -> str | None:
    """Why acc's configuration cannot count on a device (it needs host state), or None."""
    from .update import kind_module

    reason: str | None = kind_module(acc).unsupported(acc)
    return reason


def place(acc: Any, device: Any) -> None:
    """Move acc's counts to device (a torch.device, or a string such as "cuda:0"); None moves them
    to the host (numpy, counted by the numba kernels). ValueError, changing nothing, for a
    configuration that needs host state."""
    from .._storage import NumpyStorage
    from .._storage.torch_storage import TorchStorage
    from . import tensors

    if device is None:
        if acc._device is not None:
            storage = acc._storage
            acc._storage = NumpyStorage.holding(storage.spec, {name: storage.host(name).copy() for name in storage.spec})
            acc._device = None
        return
    resolved = tensors.resolve(device)
    reason = unsupported(acc)
    if reason is not None:
        raise ValueError(f"{acc._describe()} cannot count on device {str(resolved)!r}: {reason}")
    if resolved.type == "meta" and acc._validate == "eager":
        raise ValueError('validate="eager" reads each batch\'s check back to the host, which a "meta" device has not')
    acc._storage = TorchStorage.of(acc._storage, resolved)
    acc._device = acc._storage.device
