"""scikit-learn's own estimator checks, on every preset. None is skipped (docs/sklearn.md)."""

from sklearn.utils.estimator_checks import parametrize_with_checks

import aekit

SMALL = {"latent_dim": 2, "epochs": 2, "verbose": 0, "random_state": 0}


@parametrize_with_checks([aekit.AutoEncoder(**SMALL), aekit.DenoisingAutoEncoder(**SMALL),
                          aekit.VAE(**SMALL), aekit.ConditionalVAE(**SMALL)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
