"""Figures for runs: loss curves, reconstruction and sample grids, latent maps.

Every function takes arrays in the data's own units and writes one PNG atomically. Images are
``(n, C, H, W)`` or ``(n, H, W)``; anything else is drawn as vectors (one line per sample).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only: no display is needed, or expected, anywhere aekit runs

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from ._atomic import atomic_path  # noqa: E402

plt.rcParams.update({"figure.dpi": 110, "axes.spines.top": False, "axes.spines.right": False,
                     "axes.titleweight": "bold", "font.size": 9})


def _save(fig, path):
    """Write ``fig`` as a PNG at ``path`` and close it; with ``path=None``, return it instead
    (for TensorBoard)."""
    if path is None:
        return fig
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(fig)


def is_image_batch(x: np.ndarray) -> bool:
    return x.ndim == 3 or (x.ndim == 4 and x.shape[1] in (1, 3))


def _to_display(images: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """(n, H, W) or (n, C, H, W) in data units -> (n, H, W[, 3]) in [0, 1] for imshow."""
    x = (images.astype(np.float64) - lo) / max(hi - lo, 1e-12)
    x = np.clip(x, 0, 1)
    if x.ndim == 4:
        x = x[:, 0] if x.shape[1] == 1 else x.transpose(0, 2, 3, 1)
    return x


def image_grid(rows: list[np.ndarray], row_labels: list[str], title: str, path,
               value_range: tuple[float, float] | None = None,
               col_labels: list[str] | None = None) -> None:
    """A grid with one row per array of images (all rows the same length)."""
    n_cols = len(rows[0])
    lo, hi = value_range or (min(float(r.min()) for r in rows), max(float(r.max()) for r in rows))
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(0.9 * n_cols, 0.95 * len(rows) + 0.4),
                             squeeze=False)
    for r, (images, label) in enumerate(zip(rows, row_labels, strict=True)):
        shown = _to_display(images, lo, hi)
        for c in range(n_cols):
            ax = axes[r, c]
            ax.imshow(shown[c], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    for c, label in enumerate(col_labels or []):
        axes[0, c].set_title(label, fontsize=8, fontweight="normal")
    fig.suptitle(title)
    return _save(fig, path)


def reconstruction_figure(originals: np.ndarray, reconstructions: np.ndarray, path,
                          title: str = "Inputs and their reconstructions") -> None:
    if is_image_batch(originals):
        n = len(originals)
        half = (n + 1) // 2  # two pairs of rows keep the figure compact
        rows, labels = [], []
        for part in (slice(0, half), slice(half, 2 * half)):
            if len(originals[part]) == half:
                rows += [originals[part], reconstructions[part]]
                labels += ["input", "reconstruction"]
        return image_grid(rows, labels, title, path,
                          value_range=(float(originals.min()), float(originals.max())))
    fig, axes = plt.subplots(2, 3, figsize=(10, 4.5), sharex=True)
    flat = originals.reshape(len(originals), -1)
    rec = reconstructions.reshape(len(reconstructions), -1)
    for ax, i in zip(axes.ravel(), range(min(6, len(flat))), strict=False):
        ax.plot(flat[i], "o-", ms=2.5, lw=1, label="input")
        ax.plot(rec[i], "s--", ms=2.5, lw=1, label="reconstruction")
        ax.set_title(f"sample {i}")
    for ax in axes[-1]:
        ax.set_xlabel("feature")
    axes[0, 0].set_ylabel("value")
    axes[0, 0].legend(frameon=False)
    fig.suptitle(title)
    return _save(fig, path)


def samples_figure(samples: np.ndarray, path, title: str = "Samples from the prior") -> None:
    if is_image_batch(samples):
        per_row = min(12, len(samples))
        rows = [samples[i:i + per_row] for i in range(0, len(samples) - per_row + 1, per_row)]
        image_grid(rows, [""] * len(rows), title, path)
        return
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(samples.reshape(len(samples), -1).T, lw=0.8, alpha=0.7)
    ax.set(xlabel="feature", ylabel="value", title=title)
    _save(fig, path)


def loss_curve(history: dict, path, title: str = "Training loss") -> None:
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    ax.plot(epochs, history["train_loss"], label="training")
    if history.get("val_loss"):
        ax.plot(epochs[: len(history["val_loss"])], history["val_loss"], label="validation")
    ax.set(xlabel="epoch", ylabel="loss per sample (negative ELBO or NLL, nats)", title=title)
    ax.legend(frameon=False)
    _save(fig, path)


TSNE_MIN_CODES = 31  # scikit-learn's t-SNE needs more points than its perplexity (30)


def latent_map(codes: np.ndarray, labels: np.ndarray | None, path,
               title: str = "Latent map", method: str = "pca") -> str:
    """The codes themselves if 2-D, else a 2-D projection: PCA (default) or t-SNE (PCA when
    there are too few codes for t-SNE). Needs at least 2 codes; returns what was drawn."""
    if codes.shape[1] == 2:
        xy, axis_names, drawn = codes, ("z1", "z2"), "the codes"
    elif codes.shape[1] == 1:
        xy, axis_names, drawn = np.column_stack([codes[:, 0], np.zeros(len(codes))]), ("z1", ""), "the codes"
    elif method == "tsne" and len(codes) >= TSNE_MIN_CODES:
        from sklearn.manifold import TSNE

        xy = TSNE(n_components=2, init="pca", random_state=0).fit_transform(codes)
        axis_names, drawn = ("t-SNE 1", "t-SNE 2"), "t-SNE"
    else:
        drawn = "PCA" if method != "tsne" else f"PCA (t-SNE needs at least {TSNE_MIN_CODES} codes)"
        pca = PCA(n_components=2).fit(codes)
        xy = pca.transform(codes)
        ratio = pca.explained_variance_ratio_
        axis_names = (f"PC 1 of the codes ({ratio[0]:.0%})", f"PC 2 of the codes ({ratio[1]:.0%})")
    fig, ax = plt.subplots(figsize=(5.5, 4.8))
    if labels is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=4, alpha=0.6)
    else:
        classes = np.unique(labels)
        cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
        for i, c in enumerate(classes):
            m = labels == c
            ax.scatter(xy[m, 0], xy[m, 1], s=4, alpha=0.7, color=cmap(i % cmap.N), label=str(c))
        if len(classes) <= 20:
            ax.legend(title="label", markerscale=3, frameon=False, fontsize=7,
                      bbox_to_anchor=(1.0, 1.0), loc="upper left")
    ax.set(xlabel=axis_names[0], ylabel=axis_names[1], title=title)
    _save(fig, path)
    return drawn


def rows_figure(rows: list[np.ndarray], row_labels: list[str], title: str, path,
                col_labels: list[str] | None = None, value_range=None) -> None:
    """Rows of decoded data: an image grid for images, one panel of lines per row for vectors."""
    if is_image_batch(rows[0]):
        image_grid(rows, row_labels, title, path, value_range=value_range, col_labels=col_labels)
        return
    fig, axes = plt.subplots(len(rows), 1, figsize=(7, 1.8 * len(rows) + 0.6), squeeze=False, sharex=True)
    cmap = plt.get_cmap("viridis")
    for ax, values, label in zip(axes[:, 0], rows, row_labels, strict=True):
        flat = values.reshape(len(values), -1)
        for j, line in enumerate(flat):
            ax.plot(line, color=cmap(j / max(1, len(flat) - 1)), lw=1,
                    label=None if col_labels is None else col_labels[j])
        ax.set_ylabel(label)
    axes[-1, 0].set_xlabel("feature")
    if col_labels:
        axes[0, 0].legend(frameon=False, fontsize=7, ncol=min(5, len(col_labels)),
                          bbox_to_anchor=(1.0, 1.0), loc="lower right")
    fig.suptitle(title)
    _save(fig, path)


def parabola_figure(X: np.ndarray, ae_curve: np.ndarray, pca_curve: np.ndarray, ae_mse: float,
                    pca_mse: float, path) -> None:
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    ax.scatter(X[:, 0], X[:, 1], s=4, alpha=0.35, color="grey", label="data: y = x² + noise")
    ax.plot(ae_curve[:, 0], ae_curve[:, 1], lw=2.2, label=f"1-D autoencoder (MSE {ae_mse:.4f})")
    ax.plot(pca_curve[:, 0], pca_curve[:, 1], lw=2.2, ls="--", label=f"1-D PCA (MSE {pca_mse:.4f})")
    ax.set(xlabel="x", ylabel="y", title="One latent dimension: the curve each method can draw")
    ax.legend(frameon=False)
    _save(fig, path)


def comparison_bars(rows: list[dict], metrics: list[str], path, title: str) -> None:
    """Grouped bars: one group per metric, one bar per row (e.g. autoencoder vs PCA)."""
    fig, ax = plt.subplots(figsize=(1.6 * len(metrics) + 2, 3.6))
    width = 0.8 / len(rows)
    for i, row in enumerate(rows):
        positions = np.arange(len(metrics)) + (i - (len(rows) - 1) / 2) * width
        bars = ax.bar(positions, [row[m] for m in metrics], width, label=row["representation"])
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.set_xticks(np.arange(len(metrics)), [m.replace("_", " ") for m in metrics])
    ax.set(ylabel="score (higher is better)", ylim=(0, 1.1), title=title)
    ax.legend(frameon=False, loc="lower right")
    _save(fig, path)


def roc_pr_figure(scores: np.ndarray, is_anomaly: np.ndarray, path, title: str) -> None:
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

    fpr, tpr, _ = roc_curve(is_anomaly, scores)
    precision, recall, _ = precision_recall_curve(is_anomaly, scores)
    fig, (roc, pr) = plt.subplots(1, 2, figsize=(9, 3.8))
    roc.plot(fpr, tpr, label=f"AUROC {roc_auc_score(is_anomaly, scores):.3f}")
    roc.plot([0, 1], [0, 1], ls=":", color="grey", label="chance")
    roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve")
    pr.plot(recall, precision, label=f"AP {average_precision_score(is_anomaly, scores):.3f}")
    pr.axhline(np.mean(is_anomaly), ls=":", color="grey", label="chance")
    pr.set(xlabel="recall", ylabel="precision", title="Precision-recall curve", ylim=(0, 1.02))
    for ax in (roc, pr):
        ax.legend(frameon=False, loc="lower right" if ax is roc else "upper right")
    fig.suptitle(title)
    _save(fig, path)


def heatmap_figure(inputs: np.ndarray, reconstructions: np.ndarray, errors: np.ndarray,
                   scores: np.ndarray, path, title: str) -> None:
    """Rows: input, reconstruction, per-pixel error (summed over channels) of each image."""
    n = len(inputs)
    fig, axes = plt.subplots(3, n, figsize=(1.1 * n + 0.8, 3.8), squeeze=False)
    lo, hi = float(inputs.min()), float(inputs.max())
    shown_in, shown_rec = _to_display(inputs, lo, hi), _to_display(reconstructions, lo, hi)
    err = errors.reshape(n, -1, *errors.shape[-2:]).sum(axis=1) if errors.ndim == 4 else errors
    # The scale starts at 0, or lower where -log p per pixel is negative (a likelihood density
    # above 1: a Gaussian of small sigma reconstructing well); matplotlib refuses vmin > vmax.
    vmin, vmax = min(0.0, float(err.min())), float(np.quantile(err, 0.99))
    vmax = vmax if vmax > vmin else vmin + 1.0
    for c in range(n):
        axes[0, c].imshow(shown_in[c], cmap="gray", vmin=0, vmax=1)
        axes[1, c].imshow(shown_rec[c], cmap="gray", vmin=0, vmax=1)
        image = axes[2, c].imshow(err[c], cmap="inferno", vmin=vmin, vmax=vmax)
        axes[0, c].set_title(f"{scores[c]:.3g}", fontsize=7, fontweight="normal")
    for ax in axes.ravel():
        ax.set_xticks([]), ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
    for r, label in enumerate(("input\n(score)", "reconstruction", "error map")):
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center")
    fig.colorbar(image, ax=axes[2, :].tolist(), fraction=0.02, pad=0.01, label="-log p per pixel")
    fig.suptitle(title)
    _save(fig, path)


def timeseries_scores(timestamps, values: np.ndarray, scores: np.ndarray, threshold: float,
                      flagged_spans: list[tuple], path, title: str, truth_spans=()) -> None:
    """The series, its per-timestamp anomaly score and the threshold; flagged windows shaded."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 5), sharex=True, height_ratios=(2, 1.3))
    top.plot(timestamps, values, lw=0.7, color="tab:blue")
    bottom.plot(timestamps, scores, lw=0.8, color="tab:red", label="anomaly score")
    bottom.axhline(threshold, ls="--", color="black", lw=0.8, label="threshold")
    for i, (start, end) in enumerate(flagged_spans):
        for ax in (top, bottom):
            ax.axvspan(start, end, color="tab:orange", alpha=0.25, lw=0, label="flagged" if i == 0 and
                       ax is top else None)
    for i, (start, end) in enumerate(truth_spans):
        top.axvspan(start, end, color="tab:green", alpha=0.15, lw=0,
                    label="labelled anomaly" if i == 0 else None)
    top.set(ylabel="value", title=title)
    bottom.set(ylabel="score", xlabel="time")
    top.legend(frameon=False, loc="upper left")
    bottom.legend(frameon=False, loc="upper left")
    _save(fig, path)


def contributions_figure(values: np.ndarray, row_labels: list[str], column_labels: list[str], path,
                         title: str, xlabel: str, max_columns: int = 40) -> None:
    """A heat map of contributions: one row per input (or channel), one column per table column
    (or time step); red adds to the score, blue takes from it. Tables with more than
    ``max_columns`` columns show those that contribute most."""
    values = np.asarray(values, dtype=np.float64)
    columns = np.arange(values.shape[1])
    if len(columns) > max_columns:
        columns = np.sort(np.argsort(-np.abs(values).sum(0))[:max_columns])
        xlabel += f" (the {max_columns} of {values.shape[1]} that contribute most)"
    shown = values[:, columns]
    fig, ax = plt.subplots(figsize=(min(16, 2.5 + 0.32 * len(columns)), 1.2 + 0.32 * len(values)))
    limit = float(np.quantile(np.abs(shown), 0.99)) or 1.0
    image = ax.imshow(shown, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto", interpolation="nearest")
    ax.set_yticks(range(len(values)), row_labels, fontsize=8)
    if len(columns) <= max_columns and all(len(str(column_labels[c])) < 30 for c in columns):
        ax.set_xticks(range(len(columns)), [str(column_labels[c]) for c in columns], rotation=60, ha="right",
                      fontsize=8)
    ax.set(xlabel=xlabel, title=title)
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01,
                 label="contribution to the score, beyond a normal input's")
    _save(fig, path)


def factor_matrix(mi_share: np.ndarray, factor_names: list[str], dimension_labels: list[str], path,
                  title: str) -> None:
    """Which factor each code dimension carries: one row per dimension (labelled with its
    name), one column per factor, MI(z_j; v_k) / H(v_k) written in each cell."""
    share = np.asarray(mi_share, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(2.5 + 0.9 * share.shape[1], 1.2 + 0.38 * share.shape[0]))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=max(1.0, float(share.max())), aspect="auto")
    for (j, k), value in np.ndenumerate(share):
        ax.text(k, j, f"{value:.2f}", ha="center", va="center", fontsize=8,
                color="white" if value > 0.5 else "black")
    ax.set_yticks(range(share.shape[0]), dimension_labels, fontsize=8)
    ax.set_xticks(range(share.shape[1]), factor_names, rotation=30, ha="right", fontsize=8)
    ax.set(xlabel="factor", ylabel="code dimension", title=title)
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02, label="MI / factor entropy")
    _save(fig, path)
