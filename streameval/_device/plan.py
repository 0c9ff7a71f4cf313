"""What a device accumulator's kind module (binary, multiclass, multilabel) gives the dispatcher
(``_device.update``) for one batch: the value checks, as per-element masks computed on the device,
and how to count the batch into the storage's tensors, gated by "no problem was found".

Nothing here reads a value back to the host: the gate is a 0-dim tensor, so a bad batch is
dropped on the device and reported at the next query (``_storage.torch_storage``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from torch import Tensor
else:
    Tensor = Any


class Problem(NamedTuple):
    """A value check of one argument: ``bad`` (bool, the argument's own shape as given) is True
    where a value is bad; ``problem`` says what a bad value is ("is not a class index in [0, 3)")."""

    argument: str
    bad: Tensor
    problem: str


Counter = Callable[[dict[str, Tensor], Tensor], None]


class Plan(NamedTuple):
    """problems: the batch's value checks. count(tensors, gate): add the batch into the storage's
    tensors (declared name -> tensor), in place, every addend gated by the 0-dim bool ``gate``."""

    problems: list[Problem]
    count: Counter  # type: ignore[assignment]  # (shadows tuple.count, which nothing here calls)


# The problems' arguments, in the order the query-time error names them (an index into this is
# what the device records).
ARGUMENTS = ("y_true", "y_pred", "sample_weight")
