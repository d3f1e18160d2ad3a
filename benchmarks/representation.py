"""Question: are an autoencoder's codes better features than PCA's at the same dimension?

Fashion-MNIST, full 60k train / 10k test, pixels in [0, 1]. For k = 2, 10, 32: PCA and an aekit
AutoEncoder, both fitted on the training images. Reported on the test images: reconstruction
SSE per image (sum over the 784 pixels), kNN-5 accuracy (codes of the training images as the
reference set), k-means NMI with 10 clusters, and training seconds.

    python benchmarks/representation.py [--quick] [--epochs N] [--network conv|mlp] [--dims 2,10,32]
        [--hidden-dims 512 [--hidden-dims 256 ...]] [--result NAME]

--hidden-dims sets the dense layers between the convolutions (or the MLP) and the code, one
autoencoder per occurrence; without it the estimator's default.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import normalized_mutual_info_score
from sklearn.neighbors import KNeighborsClassifier

import aekit
from common import load_fashion_mnist, write_result


def scores(name, k, Z_train, Z_test, X_test_hat, X_test, y_train, y_test, seconds):
    knn = KNeighborsClassifier(5).fit(Z_train, y_train).score(Z_test, y_test)
    clusters = KMeans(10, n_init=5, random_state=0).fit_predict(Z_test)
    sse = float(((X_test_hat.reshape(len(X_test), -1) - X_test.reshape(len(X_test), -1)) ** 2).sum(1).mean())
    return {"method": name, "k": k, "test_sse": round(sse, 2), "knn5_accuracy": round(float(knn), 4),
            "kmeans_nmi": round(float(normalized_mutual_info_score(y_test, clusters)), 4),
            "train_seconds": round(seconds, 1)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6,000 training images, 2 epochs, k = 10")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--network", choices=["conv", "mlp"], default="conv")
    parser.add_argument("--dims", default="2,10,32")
    parser.add_argument("--hidden-dims", action="append",
                        help="comma-separated widths, e.g. 512 (default: the estimator's); repeatable")
    parser.add_argument("--result", help="write results/<RESULT>.json (default: representation_<network>)")
    args = parser.parse_args()
    X_train, y_train, X_test, y_test = load_fashion_mnist()
    if args.quick:
        X_train, y_train, X_test, y_test = X_train[:6000], y_train[:6000], X_test[:2000], y_test[:2000]
    dims = [10] if args.quick else [int(k) for k in args.dims.split(",")]
    epochs = 2 if args.quick else args.epochs
    train01 = X_train.reshape(len(X_train), -1).astype(np.float32) / 255
    test01 = X_test.reshape(len(X_test), -1).astype(np.float32) / 255
    widths = [tuple(int(w) for w in dims.split(",")) for dims in args.hidden_dims or []] or [None]
    rows = []
    for k in dims:
        start = time.perf_counter()
        pca = PCA(k, random_state=0).fit(train01)
        seconds = time.perf_counter() - start
        rows.append(scores("PCA", k, pca.transform(train01), pca.transform(test01),
                           pca.inverse_transform(pca.transform(test01)), test01, y_train, y_test, seconds))
        print(rows[-1], flush=True)
        for hidden_dims in widths:
            ae = aekit.AutoEncoder(latent_dim=k, network=args.network, hidden_dims=hidden_dims,
                                   epochs=epochs, batch_size=128, learning_rate=2e-3,
                                   validation_fraction=0.05, verbose=0, random_state=0)
            start = time.perf_counter()
            ae.fit(X_train)
            seconds = time.perf_counter() - start
            hat = ae.reconstruct(X_test).astype(np.float32) / 255
            label = f", hidden {','.join(map(str, hidden_dims))}" if hidden_dims else ""
            rows.append(scores(f"aekit AutoEncoder ({args.network}{label})", k, ae.transform(X_train),
                               ae.transform(X_test), hat, test01, y_train, y_test, seconds))
            print(rows[-1], flush=True)
    write_result(args.result or f"representation_{args.network}", rows, quick=args.quick, epochs=epochs,
                 network=args.network, n_train=len(X_train), n_test=len(X_test))


if __name__ == "__main__":
    main()
