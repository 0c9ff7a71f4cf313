"""Exceptions and warnings raised by streameval."""


class StreamevalError(Exception):
    """Base class of streameval's own exceptions."""


class IncompatibleError(StreamevalError, TypeError):
    """Raised when merging accumulators of different types or configurations."""


class SerializationError(StreamevalError, ValueError):
    """Raised when a serialized payload is truncated, corrupted, forged or of an unknown version."""


class UndefinedMetricWarning(UserWarning):
    """Warning for a metric that is ill-defined (0/0) and replaced by ``zero_division``.

    The same condition as scikit-learn's ``UndefinedMetricWarning``.
    """


class TimestampError(StreamevalError, ValueError):
    """A timestamp a window or decay cannot take: ``reason`` is "late" (older than the ring still
    holds) or "future" (further ahead of the latest time seen than ``max_skew``)."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason
