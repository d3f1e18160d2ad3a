"""Which factor each latent value carries: a model's codes measured against the known factors
(or attributes) of its inputs, and its code dimensions named by them ("z3: scale").

A dimension is named by the factor it knows most about, as a share of that factor's entropy
(MI(z_j; v_k) / H(v_k)) above what chance gives, when that share is large enough to mean
something; two names when a second factor is nearly as well known (the dimension mixes them);
none when it is inactive (its KL from the prior is ~0: the decoder ignores it). Chance is the
share of the same codes against the factors shuffled: the binned estimate of MI is biased
upwards by about (bins - 1)^2 / 2n nats (0.1-0.3 of a share at a few hundred inputs).
A model trained with known attributes (``VAE.fit(X, attributes=...)``) names its first
dimensions by them whatever the evaluation says.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInputError
from . import disentanglement as D

MAX_ROWS = 10_000  # plug-in MI needs thousands of inputs; the DCI trees' time grows with them
MIN_NAMED_SHARE = 0.1  # a dimension knowing less than this share of every factor is not named
MIXED = 0.5  # a second factor known at least this fraction as well as the first is named too


def factor_table(factors: dict) -> tuple[list[str], np.ndarray]:
    """The factors as names and a ``(n, n_factors)`` array: one-dimensional numeric entries of
    ``factors``, the grid index ``<name>_index`` left out where ``<name>`` itself is there."""
    names = [name for name, values in factors.items()
             if np.asarray(values).ndim == 1 and np.issubdtype(np.asarray(values).dtype, np.number)
             and not (name.endswith("_index") and name[:-len("_index")] in factors)]
    if not names:
        raise InvalidInputError("no numeric factors to evaluate against: name table columns with --factors")
    return names, np.column_stack([np.asarray(factors[name], dtype=np.float64) for name in names])


def name_dimensions(mi_share: np.ndarray, factor_names: list[str], active=None) -> list[str | None]:
    """A name per code dimension from the ``(latent_dim, n_factors)`` matrix of MI / H."""
    names: list[str | None] = []
    for j, shares in enumerate(np.asarray(mi_share)):
        order = np.argsort(shares)[::-1]
        if (active is not None and not active[j]) or shares[order[0]] < MIN_NAMED_SHARE:
            names.append(None)
        elif len(order) > 1 and shares[order[1]] >= MIXED * shares[order[0]]:
            names.append(f"{factor_names[order[0]]}+{factor_names[order[1]]}")
        else:
            names.append(factor_names[order[0]])
    return names


def evaluate_factors(estimator, X, factors: dict, *, max_rows: int = MAX_ROWS, random_state: int = 0) -> dict:
    """MIG, DCI and SAP of ``estimator``'s codes of ``X`` against ``factors`` (name -> one value
    per input; NaN: unknown, those inputs are left out), the MI shares drawn by
    ``plots.factor_matrix`` (and their chance level), each dimension's KL and activity (VAEs),
    and its name."""
    names, values, rows, rng = _sampled_rows(X, factors, max_rows, random_state)
    codes, values = estimator.transform(X[rows]), values[rows]
    entropy = np.maximum(D.factor_entropy(values), 1e-12)
    share = D.mutual_information(codes, values) / entropy
    chance = D.mutual_information(codes, rng.permutation(values)) / entropy
    kl = estimator.kl_per_dimension(X[rows]) if estimator.is_variational else None
    active = None if kl is None else D.active_dimensions(kl)
    dci = D.dci(codes, values, random_state=random_state)
    summary = {
        "factors": names, "inputs": len(rows),
        "mig": D.mig(codes, values), "sap": D.sap(codes, values, random_state=random_state),
        "dci": {key: dci[key] for key in ("disentanglement", "completeness", "informativeness")},
        "mi_share": share.tolist(), "chance_share": chance.tolist(),
        "kl_per_dimension": None if kl is None else kl.tolist(),
        "active_dimensions": None if active is None else [int(j) for j in np.flatnonzero(active)],
        "latent_names": name_dimensions(share - chance, names, active),
    }
    summary["latent_names"] = latent_names(estimator, summary)
    return summary


def _sampled_rows(X, factors: dict | None, max_rows: int, random_state: int):
    """(factor names, factor values, the rows to measure on, the generator that drew them): at
    most ``max_rows`` inputs, with factors only those whose factors are all known (names and
    values None without factors)."""
    names = values = None
    candidates = np.arange(len(X))
    if factors is not None:
        names, values = factor_table(factors)
        if len(values) != len(X):
            raise InvalidInputError(f"{len(values)} factor rows for {len(X)} inputs")
        candidates = np.flatnonzero(np.isfinite(values).all(axis=1))
    if len(candidates) < 10:
        what = "have every factor known" if factors is not None else "are given"
        raise InvalidInputError(f"only {len(candidates)} inputs {what}; the metrics need 10")
    rng = np.random.default_rng(random_state)
    rows = np.sort(rng.choice(candidates, min(max_rows, len(candidates)), replace=False))
    return names, values, rows, rng


def latent_names(estimator, evaluation: dict | None = None) -> list[str | None]:
    """The name of each code dimension: an attribute it was trained to carry, else what an
    evaluation against factors found (``evaluate_factors``' summary), else None."""
    names: list[str | None] = [None] * estimator.latent_dim
    evaluated = (evaluation or {}).get("latent_names")
    if isinstance(evaluated, list) and len(evaluated) == len(names):
        names = [n if isinstance(n, str) else None for n in evaluated]
    for j, attribute in enumerate(getattr(estimator, "attribute_names_", ())):
        names[j] = str(attribute)
    return names


def dimension_label(dim: int, name: str | None) -> str:
    """"z3: scale", or "z3" for a dimension without a name."""
    return f"z{dim}: {name}" if name else f"z{dim}"


def rank_without_labels(models: list, X, *, max_rows: int = MAX_ROWS, random_state: int = 0) -> np.ndarray:
    """Each model's UDR (``disentanglement.udr``) among ``models``, e.g. the seeds of one
    objective, from their codes of the same inputs ``X`` (at most ``max_rows`` of them) and,
    for VAEs, their active dimensions. No labels: higher is more consistent with the others."""
    return compare_models(models, X, max_rows=max_rows, random_state=random_state)["udr"]


def compare_models(models: list, X, factors: dict | None = None, *, max_rows: int = MAX_ROWS,
                   random_state: int = 0) -> dict[str, np.ndarray]:
    """Per model: its ``udr`` among ``models`` (no labels), its number of ``active`` code
    dimensions (VAEs; every dimension of other models) and, with ``factors``, its ``mig``,
    all from the codes of the same inputs (at most ``max_rows``; with factors, those whose
    factors are all known), so a user can see whether the ranking without labels picks the
    models the labels call best."""
    if len(models) < 2:
        raise InvalidInputError("ranking without labels compares models with each other: give at least 2")
    shapes = {tuple(getattr(model, "input_shape_", ())) for model in models}
    if len(shapes) > 1:
        raise InvalidInputError(f"the models take inputs of different shapes ({sorted(shapes)}): compare "
                                "models trained on the same data")
    _, values, rows, _ = _sampled_rows(X, factors, max_rows, random_state)
    sample = X[rows]
    codes = [model.transform(sample) for model in models]
    kl = [model.kl_per_dimension(sample) if model.is_variational else np.ones(model.latent_dim)
          for model in models]
    found = {"udr": D.udr(codes, kl), "active": np.array([D.active_dimensions(k).sum() for k in kl])}
    if factors is not None:
        found["mig"] = np.array([D.mig(c, values[rows]) if c.shape[1] > 1 else np.nan for c in codes])
    return found
