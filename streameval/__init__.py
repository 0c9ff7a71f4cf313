"""streameval: streaming classification metrics that merge, serialize and match scikit-learn.

>>> import streameval
>>> acc = streameval.Multiclass(3)
>>> acc.update([0, 1, 2, 2], [0, 2, 2, 2])
>>> acc.accuracy()
0.75
"""

from . import cbpe, drift, limits, metrics, plot  # plot imports matplotlib only when something is drawn
from .accumulator import Accumulator
from .binary import Binary
from .cbpe import Estimate
from .checkpoint import load
from .drift import DriftResult
from .errors import (DroppedBatchError, IncompatibleError, InputError, InputTypeError, SerializationError,
                     StreamevalError, TimestampError, UndefinedMetricWarning)
from .multiclass import Multiclass
from .multilabel import Multilabel
from .report import Report
from .serialization import from_bytes, from_dict
from .sliced import Sliced
from .windows import Decayed, Windowed

__version__ = "0.1.0"

__all__ = [
    "Accumulator",
    "Binary",
    "Decayed",
    "DriftResult",
    "Estimate",
    "IncompatibleError",
    "InputError",
    "DroppedBatchError",
    "InputTypeError",
    "Multiclass",
    "Multilabel",
    "Report",
    "SerializationError",
    "Sliced",
    "StreamevalError",
    "TimestampError",
    "UndefinedMetricWarning",
    "Windowed",
    "cbpe",
    "drift",
    "from_bytes",
    "from_dict",
    "limits",
    "load",
    "metrics",
    "plot",
]
