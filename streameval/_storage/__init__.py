"""Where counts live: the storage layer, the only code that allocates counts or does arithmetic on them.

An accumulator declares its state (``_state.Spec``) and keeps it in a ``Storage``. It validates a
batch, then asks the storage to count it (``count_pairs``, ``count_scores``, ``histogram``,
``calibration_sums``, ``argmax_rows``...) and reads host numpy arrays back for queries
(``host``). Merges, copies, resets, laying out discovered classes again, overflow bounds: all
here. This is boost-histogram's split between what is counted (the accumulator and its
components) and where counts live (the storage).

``numpy_storage.NumpyStorage`` keeps numpy arrays counted by the numba kernels of ``_kernels``.
``slotted.SlotView`` is how a wrapper (``_slots``) counts: one accumulator's arrays seen inside
the wrapper's storage of stacked states, aimed at one slot or at one slot per sample (the
counting methods' ``slots`` argument, passed down to the kernels).
A storage of torch tensors on a device (counted with torch ops, copied to the host for queries)
is one more module here implementing the same interface: every method of ``Storage`` is written
in terms of named arrays, never of their type, and ``host`` is the one way out. An accumulator
takes its storage class from ``_STORAGE`` (Stateful's class attribute, or an instance's).

Overflow bounds. An update refuses a batch that would take a COUNT array's total past
streameval.limits' bounds (MAX_COUNT for int64 counts, finite for float64 sums) before it counts
anything; a merge refuses a sum that would. Summing a (K, K) matrix for every batch or merge
would cost more than counting a small batch or adding two matrices, so the storage keeps, per
array, a bound of the total of |values|: exact when computed, raised by each batch's share when
``reserve`` checks it, summed by a merge. A batch that then fails leaves a bound a little high,
which is safe: the array is summed again before anything is refused. Arrays replaced whole
(loads, tables, relayouts) are given their totals or summed again when next checked. Callers
reserve before they count; the counting operations themselves leave the bounds alone.
"""

from .._scores import Binning
from .base import REFUSED, Storage, fits
from .numpy_storage import NumpyStorage
from .slotted import SlotView

__all__ = ["REFUSED", "Binning", "NumpyStorage", "SlotView", "Storage", "fits"]
