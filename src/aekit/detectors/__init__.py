"""Detectors: estimators that turn a fitted model's scores into decisions.

``anomaly``: :class:`AnomalyDetector` (scikit-learn's outlier API); ``stream``:
:class:`StreamDetector` (a live series row by row); ``running``: the running distribution
behind a stream's ``unusual``, its alarm episodes and its calibration (``surprise``, alarm
levels by false-alarm rate); ``context``: a stream's second view, each value against the rows
before it; ``scoring``: what a score is, for the detectors and the
exporter alike; ``calibration``: p-values and thresholds from held-out normal scores;
``explanation``: a score split over the input's columns, channels, time steps or pixels;
``metrics``: AUROC and average precision against labels.
"""

from .anomaly import AnomalyDetector
from .calibration import Calibration
from .context import ContextView
from .explanation import Explanation
from .metrics import detection_metrics
from .running import RunningScores, StreamCalibration, episodes, unusual
from .scoring import SCORES, total_variation
from .stream import StreamDetector

__all__ = ["AnomalyDetector", "Calibration", "Explanation", "StreamDetector", "RunningScores",
           "StreamCalibration", "unusual", "ContextView", "episodes",
           "SCORES",
           "total_variation", "detection_metrics"]
