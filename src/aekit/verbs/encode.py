"""aekit encode: the codes of the data (with ids and labels) in a file, and a latent map."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..tasks import encode as encode_tasks
from .base import Verb, opt, with_data
from .common import (
    latent_map,
    load_with_data,
    merge,
    write_summary,
    writes_folder,
)


@writes_folder
def encode(*, model, source, out, data_options=None, fmt="parquet", projection="pca", device=None,
           trust_code=False) -> Path:
    estimator, data = load_with_data(model, source, data_options, device, trust_code)
    codes = estimator.transform(data.X)
    ids = data.ids if data.ids is not None else np.arange(len(codes))
    codes_path = encode_tasks.write_codes(codes, out / f"codes.{fmt}", ids=ids, labels=data.y)
    summary = {"data": data.name, "n": len(codes), "latent_dim": codes.shape[1], "codes": codes_path.name}
    merge(summary, latent_map(codes, data.y, out / "latent_map.png",
                                f"Codes of {data.name} (latent_dim={codes.shape[1]})", method=projection))
    return write_summary(out, "encode.json", summary, model)


VERB = Verb("encode", "write the codes of the data (with ids and labels) and a latent map",
            lambda a: encode(**with_data(a), fmt=a.format, projection=a.projection), options=[
                opt("--format", choices=["parquet", "csv", "npz", "npy"], default="parquet",
                    help="file format of the codes"),
                opt("--projection", choices=["pca", "tsne"], default="pca", help="latent map of > 2-D codes"),
            ])
