"""The disentanglement metrics on constructed codes whose answers are known: codes equal to the
factors score about 1, codes independent of them about 0, codes that mix factors in between."""

import numpy as np
import pytest

from aekit.errors import InvalidInputError
from aekit.tasks import disentanglement as D


@pytest.fixture(scope="module")
def factors():
    rng = np.random.default_rng(0)
    return np.stack([rng.integers(0, 5, 1200), rng.integers(0, 6, 1200), rng.integers(0, 8, 1200)], axis=1)


def _codes(factors, seed=1):
    """One code dimension per factor (scaled, with a little noise), and one of pure noise."""
    rng = np.random.default_rng(seed)
    scaled = (factors - factors.mean(0)) / factors.std(0)
    return np.column_stack([scaled + 0.01 * rng.normal(size=factors.shape), rng.normal(size=len(factors))])


def test_codes_that_are_the_factors_score_about_one(factors):
    codes = _codes(factors)
    assert D.mig(codes, factors) > 0.9
    result = D.dci(codes, factors)
    assert result["disentanglement"] > 0.9 and result["completeness"] > 0.9
    assert result["informativeness"] > 0.95
    assert D.sap(codes, factors) > 0.8
    # the factors' code dimensions, in order, carry them
    assert np.array_equal(D.mutual_information(codes, factors).argmax(0), [0, 1, 2])


def test_codes_independent_of_the_factors_score_about_zero(factors):
    codes = np.random.default_rng(2).normal(size=(len(factors), 4))
    assert D.mig(codes, factors) < 0.03
    result = D.dci(codes, factors)
    assert result["informativeness"] < 0.3  # chance is 1/5 to 1/8
    assert D.sap(codes, factors) < 0.05


def test_a_code_that_mixes_two_factors_scores_in_between(factors):
    """A 45-degree rotation of the first two factors' codes: each rotated dimension knows both
    factors, so the gap between the best and second-best dimension shrinks."""
    pure = _codes(factors)
    rotated = pure.copy()
    rotated[:, 0] = (pure[:, 0] + pure[:, 1]) / np.sqrt(2)
    rotated[:, 1] = (pure[:, 0] - pure[:, 1]) / np.sqrt(2)
    mixed_mig, pure_mig = D.mig(rotated, factors), D.mig(pure, factors)
    assert 0.2 < mixed_mig < pure_mig - 0.3  # the third factor still has a code of its own
    mixed, clean = D.dci(rotated, factors), D.dci(pure, factors)
    assert mixed["disentanglement"] < clean["disentanglement"] - 0.2
    assert mixed["completeness"] < clean["completeness"] - 0.2
    assert D.sap(rotated, factors) < D.sap(pure, factors) - 0.3


def test_mutual_information_and_entropy_follow_their_definitions(factors):
    """MI(z; v) of a code equal to a factor is the factor's entropy; for a uniform factor of
    m values that is log m."""
    mi = D.mutual_information(factors.astype(float), factors)
    np.testing.assert_allclose(np.diag(mi), D.factor_entropy(factors), rtol=1e-9)
    np.testing.assert_allclose(D.factor_entropy(factors), np.log([5, 6, 8]), rtol=0.01)
    continuous = np.random.default_rng(3).uniform(size=(3000, 1))  # binned into 20 for the metrics
    assert D.factor_entropy(continuous)[0] == pytest.approx(np.log(20), rel=0.01)


def test_bad_shapes_are_refused(factors):
    with pytest.raises(InvalidInputError, match="the same inputs"):
        D.mig(np.zeros((10, 3)), factors)
    with pytest.raises(InvalidInputError, match="at least 2"):
        D.mig(np.zeros((len(factors), 1)), factors)


def test_sprites_are_drawn_on_dsprites_factor_grid_with_their_factor_table():
    from aekit.data import load

    data = load("sprites", count=400, size=32, random_state=0)
    assert data.X.shape == (400, 1, 32, 32) and data.X.dtype == np.uint8
    grid = {"shape": 3, "scale": 6, "orientation": 40, "x": 32, "y": 32}
    for name, n in grid.items():
        index = data.factors[f"{name}_index"]
        assert index.min() >= 0 and index.max() < n
    np.testing.assert_allclose(data.factors["scale"], 0.5 + data.factors["scale_index"] * 0.1)
    assert np.array_equal(data.y, data.factors["shape_index"])
    # what the factors say is what is drawn: the shape's centre follows x and y, its area the scale
    mass = data.X[:, 0].astype(float)
    rows, cols = np.mgrid[:32, :32]
    centre_x = (mass * cols).sum((1, 2)) / mass.sum((1, 2))
    centre_y = (mass * rows).sum((1, 2)) / mass.sum((1, 2))
    assert np.corrcoef(centre_x, data.factors["x"])[0, 1] > 0.99
    assert np.corrcoef(centre_y, data.factors["y"])[0, 1] > 0.99
    for shape in range(3):
        same = data.factors["shape_index"] == shape
        assert np.corrcoef(mass[same].sum((1, 2)), data.factors["scale"][same] ** 2)[0, 1] > 0.95
    again = load("sprites", count=400, size=32, random_state=0)
    assert np.array_equal(again.X, data.X)


def test_the_kl_split_matches_a_direct_computation_and_adds_up_to_the_kl_estimate():
    """Index-code MI, total correlation and dimension-wise KL of a tiny batch, computed here by
    explicit sums (minibatch-weighted sampling, dataset of N), and their sum."""
    import math

    import torch

    from aekit.nn.bottleneck import Code

    rng = np.random.default_rng(0)
    M, dims, N = 5, 3, 1000
    mean, logvar = rng.normal(size=(M, dims)), rng.normal(size=(M, dims)) * 0.3
    z = mean + np.exp(0.5 * logvar) * rng.normal(size=(M, dims))
    code = Code(z=torch.tensor(z[None]), mean=torch.tensor(mean), logvar=torch.tensor(logvar))
    mi, tc, dim_kl = (t.numpy() for t in code.kl_decomposition(N))

    def log_normal(x, m, lv):
        return -0.5 * ((x - m) ** 2 / math.exp(lv) + lv + math.log(2 * math.pi))

    for i in range(M):
        per_dim = np.array([[log_normal(z[i, d], mean[j, d], logvar[j, d]) for d in range(dims)]
                            for j in range(M)])  # (j, d)
        log_q_z = np.log(np.exp(per_dim.sum(1)).sum()) - math.log(N * M)
        log_q_d = np.log(np.exp(per_dim).sum(0)) - math.log(N * M)
        log_posterior = sum(log_normal(z[i, d], mean[i, d], logvar[i, d]) for d in range(dims))
        log_prior = sum(log_normal(z[i, d], 0.0, 0.0) for d in range(dims))
        assert mi[i] == pytest.approx(log_posterior - log_q_z, abs=1e-9)
        assert tc[i] == pytest.approx(log_q_z - log_q_d.sum(), abs=1e-9)
        assert dim_kl[i] == pytest.approx(log_q_d.sum() - log_prior, abs=1e-9)
        assert mi[i] + tc[i] + dim_kl[i] == pytest.approx(log_posterior - log_prior, abs=1e-9)


def test_a_beta_tcvae_trains_weights_its_total_correlation_and_saves(tmp_path):
    """tc_weight splits the KL term: the loss is the reconstruction error plus the parts with
    their weights; a model with it saves and loads like any other."""
    import torch

    import aekit

    X = np.random.default_rng(0).normal(size=(300, 6)).astype(np.float32)
    model = aekit.VAE(latent_dim=3, tc_weight=6.0, epochs=3, batch_size=64, verbose=0, random_state=0).fit(X)
    net, objective = model.model_, model.model_.config.objective
    assert objective.decomposed and objective.part_weights() == (1.0, 6.0, 1.0)
    x = torch.from_numpy(model.scaler_.transform(torch.from_numpy(X[:64])).numpy())
    noise = torch.randn(1, 64, 3, generator=torch.Generator().manual_seed(0))
    out = net(x, eps=noise, dataset_size=270)
    mi, tc, dim_kl = out.code.kl_decomposition(270)
    assert out.loss.item() == pytest.approx((out.nll + mi + 6 * tc + dim_kl).mean().item(), rel=1e-5)
    plain = aekit.VAE(latent_dim=3, epochs=1, verbose=0, random_state=0).fit(X).model_
    assert not plain.config.objective.decomposed
    model.save(tmp_path / "tcvae")
    loaded = aekit.load(tmp_path / "tcvae")
    assert loaded.get_params()["tc_weight"] == 6.0 and loaded.model_.config.objective == objective
    np.testing.assert_array_equal(loaded.transform(X[:5]), model.transform(X[:5]))
    with pytest.raises(aekit.InvalidInputError, match="do not combine"):
        aekit.VAE(tc_weight=2.0, importance_samples=4, epochs=1, verbose=0).fit(X)


def test_capacity_annealing_holds_the_kl_near_a_rising_target_and_saves(tmp_path):
    """capacity: the loss is the reconstruction error plus beta * |batch-mean KL - C_t|, the
    target rising linearly over capacity_epochs; the schedule reaches the loop; the model saves."""
    import torch

    import aekit
    from aekit.model import ObjectiveConfig

    schedule = ObjectiveConfig(beta=100.0, capacity=20.0, capacity_epochs=4)
    assert [schedule.capacity_at(e) for e in (0, 1, 2, 4, 9)] == [0.0, 5.0, 10.0, 20.0, 20.0]
    assert ObjectiveConfig().capacity_at(3) is None
    assert ObjectiveConfig(kl_warmup_epochs=4).kl_weight_at(1) == 0.25
    X = np.random.default_rng(0).normal(size=(300, 6)).astype(np.float32)
    model = aekit.VAE(latent_dim=3, beta=50.0, capacity=4.0, capacity_epochs=10, epochs=40, batch_size=64,
                      verbose=0, random_state=0).fit(X)
    net = model.model_
    x = torch.from_numpy(model.scaler_.transform(torch.from_numpy(X[:64])).numpy())
    noise = torch.randn(1, 64, 3, generator=torch.Generator().manual_seed(0))
    for target in (None, 1.5):
        out = net(x, eps=noise, capacity=target)
        c = 4.0 if target is None else target
        expected = out.nll.mean().item() + 50 * abs(out.kl.mean().item() - c)
        assert out.loss.item() == pytest.approx(expected, rel=1e-5)
    # With a heavy weight the trained code's KL sits near the final target.
    kl = net(torch.from_numpy(model.scaler_.transform(torch.from_numpy(X)).numpy())).kl.mean().item()
    assert abs(kl - 4.0) < 1.0
    model.save(tmp_path / "capacity")
    loaded = aekit.load(tmp_path / "capacity")
    assert loaded.model_.config.objective == net.config.objective
    with pytest.raises(aekit.InvalidInputError, match="does not combine"):
        aekit.VAE(capacity=5.0, tc_weight=2.0, epochs=1, verbose=0).fit(X)
