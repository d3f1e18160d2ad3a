"""How well scores separate anomalies from normal inputs, against known labels."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from ..errors import InvalidInputError


def detection_metrics(scores: np.ndarray, is_anomaly: np.ndarray) -> dict:
    """AUROC and average precision of anomaly scores against 0/1 truth (1 = anomaly)."""
    is_anomaly = np.asarray(is_anomaly).astype(bool)
    if is_anomaly.all() or not is_anomaly.any():
        raise InvalidInputError("ROC and PR need both normal and anomalous inputs among the labels")
    return {"auroc": float(roc_auc_score(is_anomaly, scores)),
            "average_precision": float(average_precision_score(is_anomaly, scores))}
