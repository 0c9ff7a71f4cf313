"""Exceptions and warnings raised by streameval."""

from __future__ import annotations

from typing import Any, Union

#: Where a bad sample sits in its argument: an int for a 1-D input, a tuple (row, column) for a
#: 2-D one, None for an argument that is one value (a timestamp).
Index = Union[int, tuple[int, ...], None]


class StreamevalError(Exception):
    """Base class of streameval's own exceptions."""


class IncompatibleError(StreamevalError, TypeError):
    """Raised when merging accumulators of different types or configurations."""


class SerializationError(StreamevalError, ValueError):
    """Raised when a serialized payload is truncated, corrupted, forged or of an unknown version."""


class _Located:
    """The position of a bad sample, for the two input errors: ``argument`` (the parameter's name:
    "y_true", "y_pred", "sample_weight", "timestamp", "labels"...), ``index`` (an int, a tuple for
    2-D inputs, None for a one-value argument), ``value`` (the bad value, as a Python value) and
    ``problem`` (what is wrong with it: the message after the value). The message reads
    ``f"{argument}[{index}] = {value!r} {problem}"``, so a program can word its own, as the command
    line does with file rows and column names."""

    args: tuple[Any, ...]
    argument: str
    index: Index
    value: Any
    problem: str

    def _locate(self, argument: str, index: Index, value: Any, problem: str) -> None:
        self.argument, self.index, self.value, self.problem = argument, index, value, problem

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt without __init__ (whose arguments are not args): a worker's error pickles (dask, spark).
        return _rebuild, (type(self), self.args, self.__dict__)


def _rebuild(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> BaseException:
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


class InputError(_Located, StreamevalError, ValueError):
    """A bad value in an input, at a known position: a label out of range, a NaN score, a
    negative weight, a missing label. A ``ValueError``, as scikit-learn raises; its attributes
    name the place, so a program needs no parsing of the message:

    >>> import streameval
    >>> try:
    ...     streameval.Multiclass(3).update([0, 1, 7], [0, 1, 2])
    ... except streameval.InputError as error:
    ...     print(error.argument, error.index, error.value)
    ...     print(error)
    y_true 2 7
    y_true[2] = 7 is not a class: expected an integer in [0, 3)

    ``argument``: the parameter ("y_true", "y_pred", "sample_weight", "timestamp"...); ``index``:
    the first bad position (an int, a tuple (row, column) for a 2-D input, None for a one-value
    argument such as a timestamp); ``value``: the bad value; ``problem``: the message after the
    value ("is not a class: expected an integer in [0, 3)").
    """

    def __init__(self, message: str, argument: str, index: Index = None, value: Any = None, problem: str = ""):
        super().__init__(message)
        self._locate(argument, index, value, problem or message)


class InputTypeError(_Located, StreamevalError, TypeError):
    """A value of the wrong type in an input, at a known position (text where numbers are
    needed, a label that is not hashable): a ``TypeError``, with the attributes of
    :class:`InputError`."""

    def __init__(self, message: str, argument: str, index: Index = None, value: Any = None, problem: str = ""):
        super().__init__(message)
        self._locate(argument, index, value, problem or message)


class DroppedBatchError(InputError):
    """Raised by the first query of a device accumulator (``device=``) after updates whose batch
    held a bad value: each such batch was dropped whole, on the device, without a host sync.
    ``argument`` and ``index`` locate the first bad value; ``value`` is None (the batch is gone).
    The counts hold the other batches; the next query reads them."""


class UndefinedMetricWarning(UserWarning):
    """Warning for a metric that is ill-defined (0/0) and replaced by ``zero_division``.

    The same condition as scikit-learn's ``UndefinedMetricWarning``.
    """


class TimestampError(InputError):
    """A timestamp a window or decay cannot take: ``reason`` is "late" (older than the ring still
    holds) or "future" (further ahead of the latest time seen than ``max_skew``). An
    :class:`InputError` of the argument "timestamp" (``index`` None: one time for the batch)."""

    def __init__(self, message: str, reason: str, argument: str = "timestamp", index: Index = None,
                 value: Any = None):
        super().__init__(message, argument, index, value)
        self.reason = reason
