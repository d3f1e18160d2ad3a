"""Question: which evidence should the default tabular detector add up? (an exploration)

ADBench's 24 sets, the protocol of tabular.py, seeds 0..N-1. One default
``AnomalyDetector(VAE(network="mlp"))`` per split; its validation rows (the detector's own 20%)
standardise each candidate score, and every candidate is evaluated from that one fit: the
model's -log p(x) ("nll"), the squared reconstruction error ("sq"), the k-th nearest-neighbour
distance to the fitting rows ("knn5", "knn1", "knn10", "knnmean5"), the same among
reconstructions ("knnrec"), and sums of standardised (z) or median/IQR-scaled (rz) pairs.
Prints per-set mean AUROC and writes results/tabular_scores.json (per set, per candidate).

    python benchmarks/tabular_scores.py "" 3      # all sets, 3 seeds
"""
# ruff: noqa: E401, E702, B023, I001, E501  (the exploration exactly as it was run)
import sys, time
import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
import aekit
from tabular import split
from common import shared_data, write_result

def kdist(ref, q, k=5):
    return NearestNeighbors(n_neighbors=k).fit(ref).kneighbors(q)[0]

names = sys.argv[1].split(",") if sys.argv[1] else sorted(p.stem for p in shared_data("adbench").glob("*.npz"))
seeds = range(int(sys.argv[2]))
out = {}
t0 = time.time()
for name in names:
    d = np.load(shared_data("adbench") / f"{name}.npz"); X, y = d["X"].astype(np.float32), d["y"].astype(int)
    per = {}
    for seed in seeds:
        tr, te = split(y, seed)
        sc = StandardScaler().fit(X[tr]); Xtr, Xte = sc.transform(X[tr]), sc.transform(X[te])
        order = check_random_state(seed).permutation(len(Xtr)); nv = max(1, int(len(Xtr) * 0.2))
        Xfit, Xval = Xtr[order[nv:]], Xtr[order[:nv]]
        det = aekit.AnomalyDetector(aekit.VAE(network="mlp", verbose=0), random_state=seed).fit(Xtr)
        m = det.model_
        def feats(Q):
            f = {}
            f["nll"] = det.anomaly_score(Q)
            rec = m.reconstruct(Q)
            f["sq"] = ((Q - rec) ** 2).sum(1)
            dk = kdist(Xfit, Q, 10)
            f["knn5"] = dk[:, 4]; f["knn1"] = dk[:, 0]; f["knn10"] = dk[:, 9]; f["knnmean5"] = dk[:, :5].mean(1)
            f["knnrec"] = kdist(m.reconstruct(Xfit), rec, 5)[:, 4]
            f["manifold"] = np.sqrt(f["sq"] + f["knnrec"] ** 2)
            return f
        fv, ft = feats(Xval), feats(Xte)
        def z(key, tf=lambda a: a):
            a, r = tf(ft[key]), tf(fv[key]); return (a - r.mean()) / (r.std() + 1e-12)
        def rz(key, tf=lambda a: a):  # robust: median / IQR
            a, r = tf(ft[key]), tf(fv[key]); q1, med, q3 = np.percentile(r, [25, 50, 75]); return (a - med) / (q3 - q1 + 1e-12)
        log = lambda a: np.log(np.maximum(a, 1e-12))
        s = {k: ft[k] for k in ("nll", "sq", "knn5", "knn1", "knn10", "knnmean5", "knnrec", "manifold")}
        s["z nll+knn5"] = z("nll") + z("knn5")
        s["z logsq+logknn5"] = z("sq", log) + z("knn5", log)
        s["z sqrt(sq)+knn5"] = z("sq", np.sqrt) + z("knn5")
        s["rz nll+knn5"] = rz("nll") + rz("knn5")
        s["rz logsq+logknn5"] = rz("sq", log) + rz("knn5", log)
        s["z logsq+logknnrec"] = z("sq", log) + z("knnrec", log)
        s["z logsq+logknnmean5"] = z("sq", log) + z("knnmean5", log)
        s["max z logsq,logknn5"] = np.maximum(z("sq", log), z("knn5", log))
        for k, v in s.items():
            per.setdefault(k, []).append(roc_auc_score(y[te], v))
    out[name] = {k: float(np.mean(v)) for k, v in per.items()}
    print(f"{name:16s}", " ".join(f"{k}={v:.3f}" for k, v in out[name].items()), flush=True)
keys = list(next(iter(out.values())))
for k in keys:
    print(f"MEAN {k:24s} {np.mean([o[k] for o in out.values()]):.4f}")
print("elapsed", time.time() - t0)
write_result("tabular_scores", [{"score": k, "mean_auroc": round(float(np.mean([o[k] for o in out.values()])), 4)} for k in keys],
             quick=False, per_dataset=[{"data": d, "detector": k, "auroc": round(v, 4)} for d, o in out.items() for k, v in o.items()],
             seeds=len(seeds), datasets=len(out))
