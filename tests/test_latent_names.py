"""Latent values named by what they carry: known attributes trained into the first code
dimensions, models evaluated against known factors (MIG, DCI, SAP, each dimension named), the
names on traversals, the active dimensions, and the unsupervised ranking of models (UDR)."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
import torch

import aekit
from aekit.cli import main
from aekit.errors import InvalidInputError
from aekit.tasks import disentanglement as D
from aekit.tasks import factors as F
from aekit.training.loop import labelled_drawn_more as drawn_more
from conftest import one_line_error


def _factor_table(n=600, seed=0):
    """8 columns mixing three hidden factors; two of them known: size (NaN nowhere) and tilt
    (unknown for a third of the rows)."""
    rng = np.random.default_rng(seed)
    hidden = rng.normal(size=(n, 3))
    X = hidden @ rng.normal(size=(3, 8)) + 0.05 * rng.normal(size=(n, 8))
    frame = pd.DataFrame(X.astype(np.float32), columns=[f"c{i}" for i in range(8)])
    frame["size"] = 3 * hidden[:, 0] + 10
    frame["tilt"] = np.where(np.arange(n) % 3 == 0, np.nan, hidden[:, 1])
    return frame, hidden


def test_known_attributes_are_carried_by_the_first_code_dimensions_and_saved(tmp_path):
    frame, hidden = _factor_table()
    X = frame[[f"c{i}" for i in range(8)]].to_numpy()
    model = aekit.VAE(latent_dim=3, epochs=40, verbose=0, random_state=0)
    model.fit(X, attributes=frame[["size", "tilt"]])
    codes = model.transform(X)
    assert list(model.attribute_names_) == ["size", "tilt"]
    assert np.corrcoef(codes[:, 0], hidden[:, 0])[0, 1] > 0.95  # standardised: z0 ~ (size - 10) / 3
    assert np.abs(codes[:, 0] - hidden[:, 0]).mean() < 0.3
    assert np.corrcoef(codes[:, 1], hidden[:, 1])[0, 1] > 0.95  # learnt from the two thirds known
    assert F.latent_names(model) == ["size", "tilt", None]
    # The objective's term, computed here: the ELBO's plus the weight times half the squared gap
    # between each known attribute (standardised) and its dimension's mean; unknowns add nothing.
    net = model.model_
    x = model.scaler_.transform(torch.tensor(X[:6]))
    a = torch.tensor([[0.5, np.nan], [-1.0, 2.0], [np.nan, np.nan], [0.0, 0.1], [1.0, -1.0], [2.0, np.nan]])
    noise = torch.zeros(1, 6, 3)
    out = net(x, a, eps=noise)
    gap = np.nan_to_num((out.code.mean[:, :2] - a).detach().numpy())
    expected = (out.nll + out.kl).mean().item() + 100.0 * (0.5 * (gap ** 2).sum(1)).mean()
    assert out.loss.item() == pytest.approx(expected, rel=1e-5)
    model.save(tmp_path / "m")
    loaded = aekit.load(tmp_path / "m")
    assert list(loaded.attribute_names_) == ["size", "tilt"] and loaded.model_.config.n_attributes == 2
    np.testing.assert_allclose(loaded.attribute_scale_, model.attribute_scale_)
    plain = aekit.VAE(latent_dim=3, epochs=1, verbose=0, random_state=0).fit(X)
    assert not hasattr(plain, "attribute_names_") and plain.model_.config.n_attributes == 0
    refit = model.fit(X)  # a fit without attributes forgets those of the last
    assert not hasattr(refit, "attribute_names_")


@pytest.mark.parametrize("attributes, message", [
    (np.zeros((600, 4)), "each attribute needs a dimension"),
    (np.ones((600, 1)), "take one value"),
    (np.full((600, 1), np.nan), "at least 2 known"),
    (np.zeros((5, 1)), "one row per sample"),
    (np.array([["a"]] * 600), "must be numbers"),
])
def test_bad_attributes_are_refused_in_one_message(attributes, message):
    X = _factor_table()[0].iloc[:, :8].to_numpy()
    with pytest.raises(InvalidInputError, match=message):
        aekit.VAE(latent_dim=3, epochs=1, verbose=0).fit(X, attributes=attributes)
    with pytest.raises(InvalidInputError, match="does not take attributes"):
        aekit.AutoEncoder(latent_dim=2, epochs=1, verbose=0).fit(X, attributes=X[:, :1])


def test_rows_with_known_attributes_are_drawn_as_often_as_the_share_asks():
    train = torch.arange(1000)
    y = torch.full((1000, 2), float("nan"))
    y[:10, 0] = 1.0  # 10 of 1,000 rows known
    rows = drawn_more(train, y, 0.1)
    known = torch.isfinite(y[rows]).any(dim=1)
    assert len(rows) == 1000 + 10 * 10 and known.float().mean() >= 0.1  # 11 copies of each known row
    assert torch.equal(torch.unique(rows), train)  # every row still once or more
    assert torch.equal(drawn_more(train, y, 0.0), train)
    assert torch.equal(drawn_more(train, torch.zeros(1000, dtype=torch.long), 0.1), train)  # class labels
    y[:200, 1] = 0.0  # already a fifth known: nothing repeated
    assert torch.equal(drawn_more(train, y, 0.1), train)
    X = _factor_table()[0].iloc[:, :8].to_numpy()
    for bad in (1.0, -0.1, "x"):  # an epoch cannot be all labelled rows
        with pytest.raises(InvalidInputError, match=r"attribute_share must be a number in \[0, 0.9\]"):
            aekit.VAE(attribute_share=bad, epochs=1, verbose=0).fit(X)


def test_a_few_known_attributes_are_learnt_when_drawn_more_often():
    """2% of the rows know their size: drawn as a fifth of each epoch, the code learns it far
    better than drawn once."""
    frame, hidden = _factor_table(n=2000)
    X = frame[[f"c{i}" for i in range(8)]].to_numpy()
    size = frame[["size"]].where(np.arange(len(frame))[:, None] % 50 == 0)
    gaps, corr = {}, {}
    for share in (0.0, 0.2):
        model = aekit.VAE(latent_dim=3, epochs=10, attribute_share=share, verbose=0, random_state=0)
        codes = model.fit(X, attributes=size).transform(X)
        gaps[share] = np.abs(codes[:, 0] - hidden[:, 0]).mean()  # standardised: z0 ~ (size - 10) / 3
        corr[share] = np.corrcoef(codes[:, 0], hidden[:, 0])[0, 1]
    assert corr[0.2] > 0.95 > corr[0.0] and gaps[0.2] < 0.5 < 1.0 < gaps[0.0]


def test_naming_follows_the_information_each_dimension_holds():
    share = np.array([[0.8, 0.05], [0.05, 0.6], [0.4, 0.3], [0.02, 0.05], [0.5, 0.1]])
    assert F.name_dimensions(share, ["scale", "x"]) == ["scale", "x", "scale+x", None, "scale"]
    names = F.name_dimensions(share, ["scale", "x"], active=[1, 1, 1, 1, 0])
    assert names == ["scale", "x", "scale+x", None, None]
    assert F.dimension_label(3, "scale") == "z3: scale" and F.dimension_label(3, None) == "z3"


def test_evaluating_against_factors_scores_and_names_the_dimensions():
    """Codes that are the factors themselves (a model whose encoder is the identity on them)
    are named by them and score about 1; the KL shows which dimensions are active."""
    frame, hidden = _factor_table(n=2000)

    class Identity:  # what evaluate_factors reads of a model
        latent_dim, is_variational = 4, True

        def transform(self, X):
            return np.column_stack([X, np.zeros(len(X))])

        def kl_per_dimension(self, X):
            return np.array([1.0, 1.0, 1.0, 0.0])

    factors = {"a": hidden[:, 0], "b": hidden[:, 1], "c": np.round(hidden[:, 2], 1)}
    found = F.evaluate_factors(Identity(), hidden, factors)
    assert found["factors"] == ["a", "b", "c"] and found["inputs"] == 2000
    assert found["latent_names"] == ["a", "b", "c", None] and found["active_dimensions"] == [0, 1, 2]
    assert found["mig"] > 0.5 and found["dci"]["disentanglement"] > 0.8 and found["sap"] > 0.5
    with pytest.raises(InvalidInputError, match="no numeric factors"):
        F.evaluate_factors(Identity(), hidden, {"kind": np.array(["x"] * 2000)})


def test_a_vae_reports_its_active_dimensions():
    """Data with two hidden factors and six code dimensions: the KL per dimension says how many
    the VAE used; the unused ones sit at the prior."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(800, 2)) @ rng.normal(size=(2, 10)) + 0.05 * rng.normal(size=(800, 10))
    X = X.astype(np.float32)
    model = aekit.VAE(latent_dim=6, epochs=60, learning_rate=3e-3, sigma=0.3, verbose=0, random_state=0)
    model.fit(X)
    kl = model.kl_per_dimension(X)
    assert kl.shape == (6,) and (kl >= 0).all()
    assert D.active_dimensions(kl).sum() == 2 and np.sort(kl)[-2:].min() > 1.0
    with pytest.raises(InvalidInputError, match="no prior"):
        aekit.AutoEncoder(latent_dim=2, epochs=1, verbose=0).fit(X).kl_per_dimension(X)


def test_udr_ranks_models_that_agree_up_to_order_and_sign_above_rotated_and_unrelated_ones():
    rng = np.random.default_rng(0)
    factors = rng.normal(size=(2000, 4))
    rotation = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    permuted = factors[:, [2, 0, 3, 1]] * np.array([1, -2, 0.5, 3])
    assert (D.udr([factors, permuted, factors ** 3]) > 0.9).all()  # the same factors, any order, scale, sign
    mixed = D.udr([factors, factors @ rotation, rng.normal(size=(2000, 4))])
    assert mixed.max() < 0.5 and mixed[2] < 0.1
    # An inactive dimension (KL 0) is left out: it neither helps nor hurts.
    padded = D.udr([np.column_stack([factors, rng.normal(size=2000)]), factors],
                   [np.r_[np.ones(4), 0.0], np.ones(4)])
    assert padded == pytest.approx(D.udr([factors, factors]))
    with pytest.raises(InvalidInputError, match="at least 2"):
        D.udr([factors])


def test_factor_columns_and_a_factor_table_beside_an_image_folder(tmp_path):
    from PIL import Image

    from aekit.data import load

    frame, _ = _factor_table(n=40)
    frame["kind"] = ["round", "square"] * 20
    frame.to_csv(tmp_path / "t.csv", index=False)
    data = load(tmp_path / "t.csv", factors=["size", "kind"], feature_columns=[f"c{i}" for i in range(8)])
    assert data.X.shape == (40, 8) and sorted(data.factors) == ["kind", "size"]
    assert data.factors["kind"][:2].tolist() == [0.0, 1.0]  # words become categories
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(6):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(folder / f"im{i}.png")
    labels = pd.DataFrame({"file": [f"im{i}.png" for i in range(5, -1, -1)], "brightness": range(5, -1, -1)})
    labels.to_csv(tmp_path / "labels.csv", index=False)
    images = load(folder, factors=[str(tmp_path / "labels.csv")])
    order = [int(str(i)[2]) for i in images.ids]
    assert images.factors["brightness"].tolist() == order  # matched by file, not by row
    with pytest.raises(InvalidInputError, match="names columns of a table"):
        load("digits", factors=["size"])
    pd.DataFrame({"brightness": [1, 2]}).to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(InvalidInputError, match="2 rows for 6 samples"):
        load(folder, factors=[str(tmp_path / "short.csv")])


def test_the_command_line_trains_evaluates_and_names_traversal_rows(tmp_path, capsys):
    frame, _ = _factor_table()
    frame.to_csv(tmp_path / "t.csv", index=False)
    run, plain = tmp_path / "run", tmp_path / "plain"
    data = ["--data", str(tmp_path / "t.csv"), "--factors", "size,tilt"]
    common = [*data, "--latent-dim", "3", "--quiet"]
    assert main(["train", *common, "--epochs", "40", "--out", str(run)]) == 0
    assert main(["evaluate", "--model", str(run), *data]) == 0
    found = json.loads((run / "evaluate" / "evaluate.json").read_text())["disentanglement"]
    assert found["factors"] == ["size", "tilt"] and found["latent_names"][:2] == ["size", "tilt"]
    assert found["mig"] > 0.3 and 0 <= found["sap"] <= 1 and (run / "evaluate" / "factors.png").stat().st_size
    assert main(["report", str(run)]) == 0
    assert "<h3>disentanglement</h3>" in (run / "report.html").read_text()
    assert main(["traverse", "--model", str(run), "--steps", "3"]) == 0
    labels = json.loads((run / "traverse" / "traverse.json").read_text())["labels"]
    assert labels == ["z0: size", "z1: tilt", "z2"]
    # A model trained without attributes is named by what evaluate found, for that model only.
    features = ",".join(f"c{i}" for i in range(8))
    assert main(["train", "--data", str(tmp_path / "t.csv"), "--feature-columns", features,
                 "--latent-dim", "3", "--epochs", "2", "--quiet", "--out", str(plain)]) == 0
    assert main(["evaluate", "--model", str(plain), *data]) == 0
    evaluated = json.loads((plain / "evaluate" / "evaluate.json").read_text())
    evaluated = evaluated["disentanglement"]["latent_names"]
    assert any(evaluated)  # (else the labels below could not tell an evaluation followed from one not)
    assert main(["traverse", "--model", str(plain), "--steps", "3"]) == 0
    labels = json.loads((plain / "traverse" / "traverse.json").read_text())["labels"]
    assert labels == [F.dimension_label(j, name) for j, name in enumerate(evaluated)]
    # A link in place of the evaluation is not followed out of the run.
    os.replace(plain / "evaluate", tmp_path / "elsewhere")
    os.symlink(tmp_path / "elsewhere", plain / "evaluate")
    assert main(["traverse", "--model", str(plain), "--steps", "3"]) == 0
    assert json.loads((plain / "traverse" / "traverse.json").read_text())["labels"] == ["z0", "z1", "z2"]
    capsys.readouterr()
    code = main(["train", *common, "--model", "ae", "--epochs", "1", "--out", str(tmp_path / "ae")])
    one_line_error(capsys, code, "does not take attributes")


def test_seeds_are_ranked_without_labels():
    """Models read as the ranking reads them (codes of the same inputs, KL per dimension): two that
    carry the factors in their own order and sign, one with an unused dimension besides, and one
    that mixes them by a rotation; the mixing one ranks last, the unused dimension costs nothing."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(3000, 3))
    rotation = np.linalg.qr(rng.normal(size=(3, 3)))[0]

    class Model:
        is_variational = True

        def __init__(self, encode, kl):
            self.encode, self.kl, self.latent_dim = encode, np.asarray(kl, float), len(kl)

        def transform(self, X):
            return self.encode(X)

        def kl_per_dimension(self, X):
            return self.kl

    models = [Model(lambda x: x, [1, 1, 1]), Model(lambda x: -x[:, ::-1], [1, 1, 1]),
              Model(lambda x: np.column_stack([x, np.zeros(len(x))]), [1, 1, 1, 0]),
              Model(lambda x: x @ rotation, [1, 1, 1])]
    scores = F.rank_without_labels(models, X, max_rows=2000)
    assert scores.shape == (4,) and np.argmin(scores) == 3
    assert scores[0] == pytest.approx(scores[2], abs=0.02)
    with pytest.raises(InvalidInputError, match="at least 2"):
        F.rank_without_labels(models[:1], X)


def test_evaluate_ranks_a_run_among_others_without_labels(tmp_path, capsys):
    """`aekit evaluate --compare`: each run's UDR among them all and its active dimensions, its
    MIG beside them where the data has factors; the numbers are compare_models' own."""
    frame, _ = _factor_table()
    frame.to_csv(tmp_path / "t.csv", index=False)
    features = ",".join(f"c{i}" for i in range(8))
    runs = [tmp_path / name for name in ("seed0", "seed1", "ae")]
    for run, extra in zip(runs, (["--seed", "0"], ["--seed", "1"], ["--model", "ae"]), strict=True):
        assert main(["train", "--data", str(tmp_path / "t.csv"), "--feature-columns", features,
                     "--latent-dim", "3", "--epochs", "5", "--quiet", "--out", str(run), *extra]) == 0
    data = ["--data", str(tmp_path / "t.csv"), "--feature-columns", features]
    assert main(["evaluate", "--model", str(runs[0]), *data, "--factors", "size,tilt",
                 "--compare", *map(str, runs[1:])]) == 0
    summary = json.loads((runs[0] / "evaluate" / "evaluate.json").read_text())
    ranking = summary["ranking"]
    assert [row["model"] for row in ranking] == [str(run) for run in runs]
    models = [aekit.load(run / "model") for run in runs]
    X = frame[[f"c{i}" for i in range(8)]].to_numpy(np.float32)
    factors = {name: frame[name].to_numpy() for name in ("size", "tilt")}
    expected = F.compare_models(models, X, factors)
    np.testing.assert_allclose([row["udr"] for row in ranking], expected["udr"], rtol=1e-6)
    np.testing.assert_allclose([row["mig"] for row in ranking], expected["mig"], rtol=1e-6)
    assert ranking[2]["active_dimensions"] == 3  # an autoencoder's dimensions all count
    assert all(0 <= row["udr"] <= 1 for row in ranking) and "ranking.png" in summary["figures"]
    assert (runs[0] / "evaluate" / "ranking.png").stat().st_size
    # Without factors: the ranking alone, which is enough to evaluate on.
    assert main(["evaluate", "--model", str(runs[1]), *data, "--compare", str(runs[0])]) == 0
    alone = json.loads((runs[1] / "evaluate" / "evaluate.json").read_text())["ranking"]
    assert len(alone) == 2 and "mig" not in alone[0]
    # A run of other inputs cannot be compared: one line, before anything is written.
    assert main(["train", "--data", str(tmp_path / "t.csv"), "--feature-columns", "c0,c1,c2",
                 "--latent-dim", "2", "--epochs", "1", "--quiet", "--out", str(tmp_path / "other")]) == 0
    capsys.readouterr()
    code = main(["evaluate", "--model", str(runs[0]), *data, "--compare", str(tmp_path / "other"),
                 "--out", str(tmp_path / "refused")])
    one_line_error(capsys, code, "inputs of different shapes")
    assert not (tmp_path / "refused").exists()
