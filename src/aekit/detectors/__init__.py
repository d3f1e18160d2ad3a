"""Detectors: estimators that turn a fitted model's scores into decisions.

``anomaly``: :class:`AnomalyDetector` (scikit-learn's outlier API); ``stream``:
:class:`StreamDetector` (a live series row by row); ``running``: the running distribution
behind a stream's ``unusual``; ``scoring``: what a score is, for the detectors and the
exporter alike; ``calibration``: p-values and thresholds from held-out normal scores;
``metrics``: AUROC and average precision against labels.
"""

from .anomaly import AnomalyDetector
from .calibration import Calibration
from .metrics import detection_metrics
from .running import RunningScores, unusual
from .scoring import SCORES, total_variation
from .stream import StreamDetector

__all__ = ["AnomalyDetector", "Calibration", "StreamDetector", "RunningScores", "unusual", "SCORES",
           "total_variation", "detection_metrics"]
