"""Tasks on trained models: numbers, not only files."""

import json

import numpy as np
import pandas as pd
import pytest

import aekit
from aekit.cli import main
from aekit.data import load
from aekit.tasks import encode, latent
from conftest import fast


@pytest.fixture(scope="module")
def shapes_vae():
    ds = load("shapes", count=2000, size=16)
    # fp32: on a CPU with AMX, precision="auto" picks bf16 for this net (its dense layer is
    # large); bf16 on 16x16 convs is unmeasured there, and without AMX it ran 4x slower.
    # resnet: the lean "conv" network's size traversal turned back at +1.5 sigma (its ink fell
    # for five steps, then rose); the residual network's stays monotonic, in about the time
    # the conv network took before it was made lean.
    vae = aekit.VAE(latent_dim=4, network="resnet", epochs=40, batch_size=64, learning_rate=2e-3,
                    verbose=0, random_state=0, precision="fp32").fit(ds.X)
    return vae, ds


@pytest.mark.slow  # the 40 s fit of shapes_vae: the suite's largest; run with pytest -m slow
def test_traversal_changes_the_image_monotonically_along_the_size_factor(shapes_vae):
    vae, ds = shapes_vae
    codes = vae.transform(ds.X)
    size_dim = int(np.argmax([abs(np.corrcoef(codes[:, d], ds.factors["size"])[0, 1]) for d in range(4)]))
    typical = int(np.argmin(abs(ds.factors["size"] - np.median(ds.factors["size"]))))
    grid, offsets = latent.traverse(vae, x=ds.X[typical], dims=[size_dim], n_steps=7, span=1.5)
    assert grid.shape == (1, 7, 1, 16, 16) and offsets[0] == -1.5
    ink = grid[0].reshape(7, -1).sum(axis=1)
    steps = np.diff(ink)
    assert np.all(steps > 0) or np.all(steps < 0), ink
    assert max(ink) > 2 * min(ink)


def test_interpolation_endpoints_decode_to_the_endpoints_reconstructions():
    ds = load("shapes", count=200, size=16)
    vae = aekit.VAE(latent_dim=4, network="mlp", epochs=2, verbose=0, random_state=0).fit(ds.X)
    for method in ("linear", "spherical"):
        path = latent.interpolate(vae, ds.X[0], ds.X[1], n_steps=6, method=method)
        assert path.shape == (6, 1, 16, 16)
        np.testing.assert_allclose(path[0], vae.reconstruct(ds.X[:1])[0], atol=1e-4)
        np.testing.assert_allclose(path[-1], vae.reconstruct(ds.X[1:2])[0], atol=1e-4)


def test_spherical_path_keeps_the_norm_between_the_endpoints():
    class Identity:  # codes are the inputs themselves: the path's geometry is visible directly
        latent_dim = 2

        def transform(self, X):
            return np.asarray(X, dtype=np.float64)

        def inverse_transform(self, Z, **_):
            return Z

    path = latent.interpolate(Identity(), np.array([3.0, 0.0]), np.array([0.0, 3.0]), 5, "spherical")
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), 3.0)
    assert np.linalg.norm(latent.interpolate(Identity(), [3.0, 0.0], [0.0, 3.0], 5, "linear")[2]) < 3


@pytest.mark.slow  # shares shapes_vae's 40 s fit
def test_attribute_vector_makes_shapes_bigger(shapes_vae):
    vae, ds = shapes_vae
    big, small = ds.factors["size"] > 0.75, ds.factors["size"] < 0.5
    vector = latent.attribute_vector(vae, ds.X[big], ds.X[small])
    decoded = latent.apply_attribute(vae, ds.X[small][:20], vector, strengths=(0.0, 1.0))
    ink = decoded.reshape(2, 20, -1).sum(axis=2)
    assert (ink[1] > ink[0]).mean() > 0.9


def test_code_mixture_makes_a_plain_autoencoder_generate(vectors):
    ae = aekit.AutoEncoder(latent_dim=2, **fast(epochs=20)).fit(vectors)
    drawn = latent.sample_code_mixture(ae, vectors, 300, n_components=3)
    assert drawn.shape == (300, 6)
    # generated points lie near the data's 2-D subspace, as the data do
    _, s, _ = np.linalg.svd(drawn - drawn.mean(0), full_matrices=False)
    assert s[2] / s[0] < 0.2


def test_parabola_autoencoder_beats_pca():
    ds = load("parabola", count=1000)
    ae = aekit.AutoEncoder(latent_dim=1, hidden_dims=(64, 64), activation="tanh", scaler="none",
                           likelihood="gaussian", epochs=150, batch_size=64, learning_rate=3e-3,
                           verbose=0, random_state=0).fit(ds.X)
    result = encode.parabola_comparison(ae, ds.X)
    assert result["ae_mse"] < 0.5 * result["pca_mse"]
    assert result["ae_curve"].shape == result["pca_curve"].shape == (200, 2)


def test_representation_metrics_compare_with_pca(images):
    X, y = images
    ae = aekit.AutoEncoder(latent_dim=2, **fast(epochs=30, learning_rate=3e-3)).fit(X)
    rows = encode.evaluate_representation(ae, X, y)
    assert [r["representation"] for r in rows] == ["AutoEncoder", "PCA (2)"]
    for row in rows:
        assert 0 <= row["kmeans_nmi"] <= 1 and 0 <= row["knn5_accuracy"] <= 1
        assert row["reconstruction_sse"] >= 0
    assert rows[0]["knn5_accuracy"] > 0.9  # three well-separated bar positions


@pytest.mark.parametrize("fmt", ["csv", "parquet", "npz", "npy"])
def test_codes_are_written_with_ids_and_labels(tmp_path, fmt):
    codes = np.arange(6, dtype=np.float32).reshape(3, 2)
    path = encode.write_codes(codes, tmp_path / f"codes.{fmt}", ids=["a", "b", "c"], labels=[0, 1, 0])
    if fmt == "csv":
        frame = pd.read_csv(path)
    elif fmt == "parquet":
        frame = pd.read_parquet(path)
    else:
        frame = None
    if frame is not None:
        assert list(frame.columns) == ["id", "label", "z0", "z1"] and frame["id"].tolist() == ["a", "b", "c"]
    elif fmt == "npz":
        with np.load(path) as npz:
            assert npz["ids"].tolist() == ["a", "b", "c"] and np.array_equal(npz["codes"], codes)
    else:
        assert np.array_equal(np.load(path), codes)


def test_verbs_write_their_files(tmp_path, images):
    X, y = images
    np.savez(tmp_path / "bars.npz", X=X, y=y)
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "bars.npz"), "--epochs", "3", "--latent-dim", "3",
                 "--out", str(run), "--quiet"]) == 0
    data = ["--data", str(tmp_path / "bars.npz")]
    expected = {
        "encode": (data + ["--format", "csv"], {"codes.csv", "latent_map.png", "encode.json"}),
        "evaluate": (data, {"representation.png", "evaluate.json"}),
        "traverse": (["--dims", "0,2", "--steps", "5"], {"traverse.png", "traverse.npy", "traverse.json"}),
        "interpolate": (data + ["--pair", "0,100"],
                        {"interpolate.png", "interpolate.npy", "interpolate.json"}),
        "attribute": (data + ["--group-a", "2", "--group-b", "0"],
                      {"attribute.png", "attribute_vector.npy", "attribute.json"}),
        "sample": (["--n", "12"], {"samples.png", "samples.npy", "sample.json"}),
        "reconstruct": (data, {"reconstructions.npy", "errors.csv", "reconstructions.png",
                               "reconstruct.json"}),
    }
    for verb, (args, files) in expected.items():
        out = tmp_path / verb
        assert main([verb, "--model", str(run), "--out", str(out), *args]) == 0, verb
        assert {p.name for p in out.iterdir()} == files | {".aekit"}, verb
    assert json.loads((tmp_path / "traverse" / "traverse.json").read_text())["dims"] == [0, 2]
    assert np.load(tmp_path / "traverse" / "traverse.npy").shape == (2, 5, 1, 8, 8)


def test_verb_errors_are_one_line(tmp_path, capsys):
    assert main(["traverse", "--model", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds no model" in err[0]


def test_sample_verb_shows_mean_and_draws_for_a_learned_variance_decoder(tmp_path, images):
    X, y = images
    np.save(tmp_path / "x.npy", X)
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "x.npy"), "--likelihood", "gaussian_learned",
                 "--epochs", "2", "--latent-dim", "2", "--out", str(run), "--quiet"]) == 0
    assert main(["sample", "--model", str(run), "--n", "6"]) == 0
    summary = json.loads((run / "sample" / "sample.json").read_text())
    assert summary["figures"] == ["samples.png", "mean_and_draws.png"] and summary["from"] == "the prior"


def test_reconstruct_verb_writes_a_table_for_a_table(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(60, 3)), columns=["t1", "t2", "t3"])
    frame.insert(0, "id", [f"r{i}" for i in range(60)])
    frame.to_csv(tmp_path / "t.csv", index=False)
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "t.csv"), "--id-column", "id", "--model", "ae",
                 "--epochs", "3", "--latent-dim", "2", "--out", str(run), "--quiet"]) == 0
    assert main(["reconstruct", "--model", str(run), "--data", str(tmp_path / "t.csv"),
                 "--id-column", "id"]) == 0
    table = pd.read_csv(run / "reconstruct" / "reconstructions.csv")
    assert table.columns.tolist() == ["id", "t1", "t2", "t3"] and table["id"].tolist() == frame["id"].tolist()
    model = aekit.load(run / "model")
    columns = ["t1", "t2", "t3"]
    np.testing.assert_allclose(table[columns].to_numpy(), model.reconstruct(frame[columns]), atol=1e-5)
    summary = json.loads((run / "reconstruct" / "reconstruct.json").read_text())
    errors = pd.read_csv(run / "reconstruct" / "errors.csv")["mse"]
    assert summary["mean_mse"] == pytest.approx(errors.mean())
