"""The presets' scikit-learn contract and the theory they must agree with."""

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
import sklearn.exceptions
import torch
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import aekit
from conftest import fast

PRESETS = [aekit.AutoEncoder, aekit.DenoisingAutoEncoder, aekit.VAE, aekit.ConditionalVAE]


def _fit(cls, X, y, **params):
    est = cls(latent_dim=2, **fast(**params))
    return est.fit(X, y) if cls is aekit.ConditionalVAE else est.fit(X)


def _kw(cls, y):
    return {"y": y} if cls is aekit.ConditionalVAE else {}


@pytest.mark.parametrize("cls", PRESETS)
@pytest.mark.parametrize("layout", ["vectors", "images_nchw", "images_nhw", "torch_images"])
def test_every_preset_on_vectors_and_images(cls, layout, vectors, images):
    if layout == "vectors":
        X, y = vectors, np.repeat([0, 1], 100)
    else:
        X, y = images
        if layout == "images_nhw":
            X = X[:, 0]
        elif layout == "torch_images":
            X = torch.from_numpy(X)
    est = _fit(cls, X, y)
    shape = tuple(X.shape[1:])
    Z = est.transform(X)
    assert Z.shape == (len(X), 2) and Z.dtype == np.float32 and np.isfinite(Z).all()
    assert est.inverse_transform(Z, **_kw(cls, y)).shape == (len(X), *shape)
    assert est.reconstruct(X, **_kw(cls, y)).shape == (len(X), *shape)
    assert est.sample(4, random_state=0).shape == (4, *shape)
    scores = est.score_samples(X, **_kw(cls, y))
    assert scores.shape == (len(X),) and np.isfinite(scores).all()
    np.testing.assert_allclose(est.anomaly_score(X, **_kw(cls, y)), -scores)
    if layout != "vectors":
        assert est.model_.config.network == "conv"


@pytest.mark.parametrize("cls", PRESETS)
def test_training_reduces_reconstruction_error(cls, images):
    X, y = images
    untrained = _fit(cls, X, y, epochs=1, learning_rate=1e-6)
    trained = _fit(cls, X, y, epochs=40, learning_rate=3e-3, validation_fraction=0.0)
    err = lambda est: np.mean((est.reconstruct(X, **_kw(cls, y)) - X) ** 2)
    assert err(trained) < 0.5 * err(untrained)


@pytest.mark.parametrize("cls", PRESETS)
def test_save_then_load_gives_identical_outputs(cls, images, tmp_path):
    X, y = images
    est = _fit(cls, X, y)
    est.save(tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["config.json", "model.safetensors"]
    loaded = aekit.load(tmp_path / "model")
    assert type(loaded) is cls and loaded.get_params() == est.get_params()
    kw = _kw(cls, y)
    for method in ("transform", "reconstruct", "score_samples"):
        args = (X, y) if kw and method != "transform" else (X,)
        assert np.array_equal(getattr(loaded, method)(*args), getattr(est, method)(*args)), method
    assert np.array_equal(loaded.sample(5, random_state=3), est.sample(5, random_state=3))


def test_same_seed_same_weights_other_seed_other_weights(vectors):
    weights = lambda seed: aekit.VAE(**fast(random_state=seed)).fit(vectors).model_.state_dict()
    a, b, c = weights(7), weights(7), weights(8)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_fit_leaves_the_global_torch_rng_alone(vectors):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    aekit.AutoEncoder(**fast()).fit(vectors)
    assert torch.equal(torch.rand(3), expected)


class _Killed(Exception):
    pass


@pytest.mark.parametrize("samples", [1, 2])  # 1: gradients written out (training/fused.py); 2: autograd
def test_a_killed_and_resumed_run_ends_with_the_same_weights(vectors, tmp_path, monkeypatch, samples):
    params = fast(epochs=6, importance_samples=samples, corruption="gaussian", corruption_level=0.1,
                  patience=None)
    ckpt = tmp_path / "ckpt.safetensors"
    reference = aekit.VAE(**params).fit(vectors)

    from aekit import checkpoint
    real_save, saves = checkpoint.save, []

    def save_then_die(*args, **kwargs):  # the process "dies" right after epoch 3's checkpoint
        real_save(*args, **kwargs)
        saves.append(1)
        if len(saves) == 3:
            raise _Killed

    monkeypatch.setattr(checkpoint, "save", save_then_die)
    with pytest.raises(_Killed):
        aekit.VAE(**params).fit(vectors, checkpoint_path=ckpt)
    monkeypatch.setattr(checkpoint, "save", real_save)
    resumed = aekit.VAE(**params).fit(vectors, checkpoint_path=ckpt, resume=True)
    assert resumed.n_iter_ == 6 and resumed.history_["train_loss"] == reference.history_["train_loss"]
    ref, res = reference.model_.state_dict(), resumed.model_.state_dict()
    assert all(torch.equal(ref[k], res[k]) for k in ref)


def test_small_data_checkpoint_once_an_epoch_and_resume_exactly(tmp_path, monkeypatch):
    """A small table's epochs group several passes: each is checkpointed, and a run killed after
    its third resumes to the same weights. Images stretch to one-pass epochs instead, and are
    checkpointed as often as 50 epochs would be (every tenth of their 500)."""
    from aekit import checkpoint
    from aekit import training as train

    monkeypatch.setattr(train.config, "AUTO_MIN_STEPS_VECTORS", 800)  # 54 rows, batch 16: 4 steps a pass
    monkeypatch.setattr(train.config, "AUTO_MIN_STEPS", 2000)  # 500 one-pass epochs of 4 steps
    table = np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32)
    params = {"latent_dim": 2, "batch_size": 16, "patience": None, "verbose": 0, "random_state": 0}
    reference = aekit.VAE(**params).fit(table)
    real_save, saves = checkpoint.save, []

    def save_then_die(*args, **kwargs):
        real_save(*args, **kwargs)
        saves.append(args[5].epoch)  # the TrainState
        if len(saves) == 3:
            raise _Killed

    monkeypatch.setattr(checkpoint, "save", save_then_die)
    with pytest.raises(_Killed):
        aekit.VAE(**params).fit(table, checkpoint_path=tmp_path / "t.safetensors")
    assert saves == [1, 2, 3]
    monkeypatch.setattr(checkpoint, "save", real_save)
    resumed = aekit.VAE(**params).fit(table, checkpoint_path=tmp_path / "t.safetensors", resume=True)
    assert resumed.n_iter_ == reference.n_iter_ == 50  # 200 passes: 50 epochs of 4
    assert resumed.history_["train_loss"] == reference.history_["train_loss"]
    ref, res = reference.model_.state_dict(), resumed.model_.state_dict()
    assert all(torch.equal(ref[k], res[k]) for k in ref)

    saves.clear()
    monkeypatch.setattr(checkpoint, "save", lambda *args, **kwargs: saves.append(args[5].epoch))
    images = np.random.default_rng(0).random((60, 1, 4, 4)).astype(np.float32)
    assert aekit.AutoEncoder(**params).fit(images, checkpoint_path=tmp_path / "i.safetensors").n_iter_ == 500
    assert saves == list(range(10, 501, 10))


def test_resume_refuses_a_checkpoint_from_other_settings(vectors, tmp_path):
    path = str(tmp_path / "ckpt.safetensors")
    aekit.AutoEncoder(**fast()).fit(vectors, checkpoint_path=path)
    with pytest.raises(aekit.ModelFileError, match="other settings or data"):
        aekit.AutoEncoder(**fast(learning_rate=0.5)).fit(vectors, checkpoint_path=path, resume=True)


def test_linear_autoencoder_spans_the_pca_subspace():
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(600, 8)) * np.array([5, 4, 3, 1, 0.5, 0.3, 0.2, 0.1])) @ \
        scipy.stats.ortho_group.rvs(8, random_state=1)
    ae = aekit.AutoEncoder(latent_dim=3, hidden_dims=(), activation="linear", likelihood="gaussian",
                           scaler="none", epochs=300, batch_size=600, learning_rate=0.05,
                           validation_fraction=0.0, verbose=0, random_state=0).fit(X)
    decoder_columns = ae.model_.decoder.head.weight.detach().double().cpu().numpy()  # (8, 3)
    angles = scipy.linalg.subspace_angles(decoder_columns, PCA(3).fit(X).components_.T)
    assert np.degrees(angles).max() < 1.0


def test_log_likelihood_bounds_the_elbo_and_grows_with_k(images):
    X, _ = images
    vae = aekit.VAE(latent_dim=2, **fast(epochs=20)).fit(X)
    elbo = vae.elbo(X, n_draws=64).mean()
    ll = {k: vae.log_likelihood(X, k=k).mean() for k in (10, 200)}
    assert ll[10] > elbo and ll[200] > ll[10]


def test_scores_do_not_depend_on_batch_company(images):
    X, _ = images
    vae = aekit.VAE(**fast()).fit(X)
    assert np.array_equal(vae.score_samples(X)[10:20], vae.score_samples(X[10:20]))
    assert np.array_equal(vae.transform(X)[::-1][:7], vae.transform(X[::-1][:7]))


def test_log_likelihood_needs_a_probabilistic_code(vectors):
    ae = aekit.AutoEncoder(**fast()).fit(vectors)
    with pytest.raises(aekit.UnsupportedOperationError, match="deterministic"):
        ae.log_likelihood(vectors)


def test_autoencoder_samples_follow_the_training_codes(vectors):
    ae = aekit.AutoEncoder(latent_dim=2, **fast(epochs=10)).fit(vectors)
    codes = ae.transform(ae.sample(2000, random_state=0))
    np.testing.assert_allclose(codes.mean(0), ae.code_mean_, atol=0.5 * np.sqrt(np.diag(ae.code_cov_)).max())


def test_conditional_vae_decodes_the_label_it_is_given(images):
    X, y = images
    cvae = aekit.ConditionalVAE(latent_dim=2, **fast(epochs=60, learning_rate=3e-3)).fit(X, y)
    for label in (0, 1, 2):
        bright_columns = cvae.sample(20, y=label, random_state=0).mean(axis=(0, 1, 2))
        assert np.argmax(bright_columns) in (2 * label + 1, 2 * label + 2)
    marginal = cvae.score_samples(X)  # no labels: log sum_c p(c) p(x|c)
    assert np.all(marginal >= cvae.score_samples(X, y) + np.log(1 / 3) - 1e-6)
    with pytest.raises(aekit.InvalidInputError, match="not seen in fit"):
        cvae.reconstruct(X[:2], y=[5, 5])


def test_works_in_pipeline_and_grid_search(vectors):
    pipe = Pipeline([("scale", StandardScaler()), ("ae", aekit.AutoEncoder(**fast()))])
    assert pipe.fit_transform(vectors).shape == (200, 8)
    search = GridSearchCV(aekit.VAE(**fast()), {"latent_dim": [1, 3]}, cv=2).fit(vectors)
    assert search.best_params_["latent_dim"] in (1, 3)
    assert search.best_estimator_.transform(vectors).shape[1] == search.best_params_["latent_dim"]


def test_early_stopping_keeps_the_best_weights(vectors):
    est = aekit.AutoEncoder(**fast(epochs=200, patience=3, learning_rate=0.05)).fit(vectors)
    assert est.n_iter_ < 200
    best = int(np.argmin(est.history_["val_loss"]))
    assert est.n_iter_ == best + 1 + 3


def test_precision_auto_picks_bf16_only_for_large_weight_matrices(vectors):
    # The CPU's rule (on a GPU "auto" is bf16 wherever the GPU has it).
    assert aekit.AutoEncoder(device="cpu", **fast()).fit(vectors).precision_ == "fp32"
    X = np.random.default_rng(0).integers(0, 256, (64, 784), dtype=np.uint8)
    big = lambda **kw: aekit.VAE(network="mlp", hidden_dims=(400,), device="cpu",
                                 **fast(epochs=1, **kw)).fit(X)
    first, second = big(), big()
    # 784 x 400 = 313,600 weights: measured faster in bf16 on a CPU with native bf16 (AMX or
    # AVX-512 BF16), slower without it
    assert first.precision_ == ("bf16" if aekit.training.cpu_has_native_bf16() else "fp32")
    assert big(precision="bf16").precision_ == "bf16"
    assert all(torch.equal(v, second.model_.state_dict()[k]) for k, v in first.model_.state_dict().items())
    assert big(precision="fp32").precision_ == "fp32"


@pytest.mark.parametrize("shape", [(3, 32, 32), (3, 64, 64)])
def test_colour_images_of_several_sizes(shape):
    X = np.random.default_rng(0).integers(0, 256, (24, *shape), dtype=np.uint8)
    vae = aekit.VAE(latent_dim=4, **fast(epochs=1)).fit(X)
    assert vae.reconstruct(X[:3]).shape == (3, *shape)
    assert vae.sample(2, random_state=0).shape == (2, *shape)


def test_learned_variance_decoder_can_be_sampled(images):
    X, _ = images
    vae = aekit.VAE(likelihood="gaussian_learned", **fast(epochs=5)).fit(X)
    means = vae.sample(500, random_state=0)
    draws = vae.sample(500, random_state=0, from_likelihood=True)  # the same codes, plus noise
    Z = torch.from_numpy(np.random.RandomState(0).standard_normal((500, 8)).astype(np.float32))
    with torch.no_grad():
        std = vae.model_.likelihood.std(vae.model_.decode(Z.to(vae.device_)))
    predicted_std = std.cpu().numpy() / vae.scaler_.scale
    # |sigma * eps| averages sigma * sqrt(2 / pi) for standard normal eps
    expected = (predicted_std * np.sqrt(2 / np.pi)).mean()
    assert abs(np.abs(draws - means.reshape(draws.shape)).mean() / expected - 1) < 0.05


def test_progress_bar_is_quiet_off_a_terminal_and_with_verbose_0(vectors, capsys):
    aekit.AutoEncoder(**fast(verbose=1)).fit(vectors)  # pytest's captured stderr is not a terminal
    aekit.AutoEncoder(**fast(verbose=0)).fit(vectors)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_dynamic_binarisation_trains_a_bernoulli_model_on_fresh_draws(images):
    grey = (images[0] * 255).astype(np.uint8)
    make = lambda binarize: aekit.VAE(latent_dim=2, binarize=binarize, **fast())
    fitted = make(True).fit(grey)
    assert fitted.model_.config.likelihood == "bernoulli"
    weights = lambda est: torch.cat([p.detach().flatten() for p in est.model_.parameters()])
    assert torch.equal(weights(fitted), weights(make(True).fit(grey)))  # the draws are seeded
    # The same seed without binarisation sees other targets, hence other weights.
    assert not torch.equal(weights(fitted), weights(make(False).set_params(likelihood="bernoulli")
                                                    .fit(grey)))
    with pytest.raises(aekit.InvalidInputError, match="Bernoulli"):
        aekit.VAE(binarize=True, likelihood="gaussian", **fast()).fit(grey)
    with pytest.raises(aekit.InvalidInputError, match="minmax"):
        aekit.VAE(binarize=True, scaler="standard", **fast()).fit(grey)


def test_read_only_inputs_are_used_without_a_warning(vectors, recwarn):
    """Memory-mapped files and some pandas views are read-only; aekit never writes to inputs."""
    frozen = vectors.copy()
    frozen.setflags(write=False)
    model = aekit.AutoEncoder(**fast()).fit(frozen)
    model.transform(frozen), model.score_samples(frozen)
    assert not [w for w in recwarn if "not writable" in str(w.message)]


def test_fine_tune_follows_new_data_from_the_fitted_weights(vectors):
    est = aekit.AutoEncoder(latent_dim=2, **fast(epochs=20)).fit(vectors)
    shifted = vectors + 0.5 * vectors.std(axis=0)  # the same data, drifted
    scaler, before = est.scaler_, est.reconstruction_error(shifted)
    epochs, weights = est.n_iter_, {k: v.clone() for k, v in est.model_.state_dict().items()}
    assert est.fine_tune(shifted, steps=40, learning_rate=1e-2) is est
    assert est.scaler_ is scaler  # the preprocessing stays: scores keep their units
    assert not all(torch.equal(weights[k], v) for k, v in est.model_.state_dict().items())
    assert np.mean(est.reconstruction_error(shifted)) < 0.8 * np.mean(before)  # it learned the new normal
    assert est.n_iter_ > epochs and len(est.history_["train_loss"]) == est.n_iter_


def test_fine_tune_is_reproducible_and_checks_its_input(vectors):
    import copy

    est = aekit.VAE(latent_dim=2, **fast()).fit(vectors)
    a, b = copy.deepcopy(est).fine_tune(vectors, steps=10), copy.deepcopy(est).fine_tune(vectors, steps=10)
    assert all(torch.equal(a.model_.state_dict()[k], v) for k, v in b.model_.state_dict().items())
    with pytest.raises(aekit.InvalidInputError, match="steps must be an integer"):
        est.fine_tune(vectors, steps=0)
    with pytest.raises(aekit.InvalidInputError, match="learning_rate must be > 0"):
        est.fine_tune(vectors, learning_rate=-1.0)
    with pytest.raises(aekit.InvalidInputError, match="fine-tuning needs at least"):
        est.fine_tune(vectors[:1])
    with pytest.raises(ValueError, match="features"):
        est.fine_tune(vectors[:, :3])
    with pytest.raises(sklearn.exceptions.NotFittedError):
        aekit.AutoEncoder().fine_tune(vectors)


def test_inference_batch_size_is_a_context_of_the_caller_not_a_mode_of_the_model(vectors):
    """Within the block a model pads to the rows asked for (results agree across calls made
    inside); nothing is stored on the model, and another thread keeps the default size."""
    import threading

    ae = aekit.AutoEncoder(latent_dim=2, epochs=2, verbose=0, random_state=0).fit(vectors)
    before = dict(vars(ae))
    with aekit.inference_batch_size(4):
        one_by_one = np.concatenate([ae.score_samples(vectors[i:i + 1]) for i in range(6)])
        together = ae.score_samples(vectors[:6])
        seen = {}
        thread = threading.Thread(target=lambda: seen.update(
            rows=aekit.estimators.inference._ROWS.get()))
        thread.start()
        thread.join()
    assert np.array_equal(one_by_one, together)
    assert seen["rows"] is None  # the other thread's calls are not affected
    assert vars(ae).keys() == before.keys()
    with pytest.raises(ValueError, match="positive integer"):
        with aekit.inference_batch_size(0):
            pass


def test_estimators_and_detectors_show_their_parameters_as_html_in_notebooks():
    """scikit-learn's HTML repr: what a notebook shows for a bare estimator as a cell's output."""
    vae = aekit.VAE(latent_dim=3, beta=2.0)
    shown = vae._repr_html_()
    assert "VAE" in shown and "latent_dim" in shown and "beta" in shown
    detector = aekit.AnomalyDetector(aekit.AutoEncoder(latent_dim=2), contamination=0.05)
    shown = detector._repr_html_()
    assert "AnomalyDetector" in shown and "AutoEncoder" in shown and "0.05" in shown
