"""Inputs of a device accumulator as torch tensors on its device, and what marks an input as living
on a GPU (a CUDA tensor, a CuPy or JAX array) so that a host accumulator adopts its device.

A tensor already on the device is used as it is (detached: no copy). Host data (numpy arrays,
lists, CPU tensors) is copied to the device once. An array on a GPU that is not a torch tensor
comes through DLPack (``torch.from_dlpack``, no copy) or ``__cuda_array_interface__``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _inputs

_DLPACK_CPU = 1  # DLDeviceType kDLCPU: any other device type is an accelerator


def gpu_device(x: Any) -> Any:
    """The torch device of an input on a GPU (a CUDA tensor, an array with
    __cuda_array_interface__ or a non-CPU __dlpack_device__), or None for host data."""
    if type(x).__module__ == "torch":
        return None if x.is_cpu or x.is_meta else x.device
    if hasattr(x, "__cuda_array_interface__"):
        return "cuda"
    dlpack_device = getattr(x, "__dlpack_device__", None)
    if dlpack_device is not None:
        try:
            kind, index = dlpack_device()
        except Exception:  # noqa: BLE001 - not a DLPack producer after all: host data
            return None
        if int(kind) != _DLPACK_CPU:
            return f"cuda:{int(index)}"
    return None


def as_tensor(x: Any, name: str, device: Any) -> Any:
    """x as a torch tensor on device (see the module docstring)."""
    import torch
    import torch.utils.dlpack

    if isinstance(x, torch.Tensor):
        return x.detach().to(device)
    if hasattr(x, "__cuda_array_interface__") or (hasattr(x, "__dlpack__") and gpu_device(x) is not None):
        tensor = torch.utils.dlpack.from_dlpack(x) if hasattr(x, "__dlpack__") else torch.as_tensor(x, device=device)
        return tensor.to(device)
    arr = _inputs.as_array(x, name)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} has dtype {arr.dtype}: an accumulator on a device takes numbers (integer "
                        "class indices, 0/1 labels, float scores); keep labels of other types on the host")
    if arr.dtype.kind == "u" and arr.dtype != np.uint8:  # torch has no uint16/32/64 arithmetic on every device
        arr = arr.astype(np.int64)
    return torch.from_numpy(np.ascontiguousarray(arr)).to(device)


def to_host(x: Any) -> Any:
    """A tensor (or DLPack array) as a numpy array, for the host path; anything else as it is."""
    if x is None:
        return None
    import torch
    import torch.utils.dlpack

    if not isinstance(x, torch.Tensor) and gpu_device(x) is not None:
        x = torch.utils.dlpack.from_dlpack(x)
    if isinstance(x, torch.Tensor):
        return _inputs.torch_to_numpy(x)
    return x


def resolve(device: Any) -> Any:
    """device= as a torch.device; a clear ImportError without torch."""
    try:
        import torch
    except ImportError:
        raise ImportError(f"device={device!r} keeps the counts in torch tensors: install torch "
                          "(pip install torch)") from None
    return torch.device(device)
