"""Encode data and judge the codes as features: the reduce-dimensions use of an autoencoder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .._atomic import atomic_path
from ..errors import InvalidInputError

CODE_FORMATS = (".npy", ".npz", ".csv", ".parquet")


def write_codes(codes: np.ndarray, path, ids=None, labels=None) -> Path:
    """Write codes with ids and labels: a table (.csv, .parquet) with columns id, label, z0..zk-1,
    an .npz with arrays ``codes``, ``ids``, ``labels``, or a bare .npy of the codes."""
    import pandas as pd

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in CODE_FORMATS:
        raise InvalidInputError(f"{path}: codes are written as {', '.join(CODE_FORMATS)}")
    with atomic_path(path) as tmp:
        if suffix == ".npy":
            with open(tmp, "wb") as f:
                np.save(f, codes)
        elif suffix == ".npz":
            extra = {k: np.asarray(v).astype(str) for k, v in (("ids", ids), ("labels", labels))
                     if v is not None}
            with open(tmp, "wb") as f:
                np.savez(f, codes=codes, **extra)
        else:
            frame = pd.DataFrame(codes, columns=[f"z{i}" for i in range(codes.shape[1])])
            if labels is not None:
                frame.insert(0, "label", labels)
            if ids is not None:
                frame.insert(0, "id", ids)
            if suffix == ".csv":
                frame.to_csv(tmp, index=False)
            else:
                frame.to_parquet(tmp, index=False)
    return path


def _flat(X) -> np.ndarray:
    return np.asarray(X, dtype=np.float32).reshape(len(X), -1)


def evaluate_representation(model, X, y, test_size: float = 0.3, random_state: int = 0) -> list[dict]:
    """Codes against PCA at the same dimension, on a held-out split of (X, y).

    For each: k-means with one cluster per class (NMI, ARI against the labels), a 5-nearest-
    neighbour probe and a logistic-regression probe (accuracy), and the reconstruction error
    (mean squared error per sample, summed over features, in the data's units).
    """
    y = np.asarray(y)
    if len(np.unique(y)) < 2:
        raise InvalidInputError("evaluating a representation needs labels with at least two classes")
    idx_train, idx_test = train_test_split(np.arange(len(X)), test_size=test_size,
                                           random_state=random_state, stratify=y)
    X_train, X_test = _flat(X[idx_train]), _flat(X[idx_test])
    k = model.latent_dim
    pca = PCA(n_components=min(k, X_train.shape[1]), random_state=random_state).fit(X_train)
    candidates = {
        type(model).__name__: (model.transform(X[idx_train]), model.transform(X[idx_test]),
                               _flat(model.reconstruct(X[idx_test], **_labels(model, y[idx_test])))),
        f"PCA ({pca.n_components_})": (pca.transform(X_train), pca.transform(X_test),
                                       pca.inverse_transform(pca.transform(X_test))),
    }
    n_classes = len(np.unique(y))
    rows = []
    for name, (Z_train, Z_test, X_hat) in candidates.items():
        clusters = KMeans(n_clusters=n_classes, n_init=10, random_state=random_state).fit_predict(Z_test)
        knn = KNeighborsClassifier(5).fit(Z_train, y[idx_train])
        logistic = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        logistic.fit(Z_train, y[idx_train])
        rows.append({"representation": name, "dimension": Z_test.shape[1],
                     "kmeans_nmi": round(normalized_mutual_info_score(y[idx_test], clusters), 4),
                     "kmeans_ari": round(adjusted_rand_score(y[idx_test], clusters), 4),
                     "knn5_accuracy": round(knn.score(Z_test, y[idx_test]), 4),
                     "logistic_accuracy": round(logistic.score(Z_test, y[idx_test]), 4),
                     "reconstruction_sse": round(float(((X_hat - X_test) ** 2).sum(axis=1).mean()), 4)})
    return rows


def _labels(model, y) -> dict:
    return {"y": y} if model.is_conditional else {}


def parabola_comparison(model, X) -> dict:
    """A 1-D autoencoder against 1-D PCA on 2-D points: errors and both fitted curves.

    The curve of each method is its reconstruction of a sweep along its 1-D code.
    """
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != 2 or model.latent_dim != 1:
        raise InvalidInputError("the parabola comparison needs 2-D points and a model with latent_dim=1")
    pca = PCA(n_components=1).fit(X)
    pca_hat = pca.inverse_transform(pca.transform(X))
    ae_hat = model.reconstruct(X)
    codes, pca_codes = model.transform(X)[:, 0], pca.transform(X)[:, 0]
    sweep = lambda c: np.linspace(c.min(), c.max(), 200)[:, None].astype(np.float32)
    return {"ae_mse": float(((ae_hat - X) ** 2).sum(1).mean()),
            "pca_mse": float(((pca_hat - X) ** 2).sum(1).mean()),
            "ae_curve": model.inverse_transform(sweep(codes)),
            "pca_curve": pca.inverse_transform(sweep(pca_codes))}
