"""Question: can aekit train on a sensor table larger than it could load, in flat memory?

A table of sensor rows (48 float columns from 8 hidden factors plus noise, a label column) is
written as Parquet (row groups of 100,000 rows) and as CSV, at 1x (1M rows; 0.38 GB of values
as float64, what pandas loads) and 4x that. Each is read three ways in its own process: loaded
whole (pandas), streamed the first time (one conversion pass into aekit's cache, then the
epoch) and streamed again (the cached conversion reused). The model: an MLP autoencoder
(48 -> 8, batch 512, 1 epoch). Peak memory is the process's VmHWM. The files sit in the page
cache (the machine has the memory): this measures aekit's reading, not the disk.

Target (issue #11, as for arrays): peak resident memory under 1 GB, flat from 1x to 4x.

    python benchmarks/table_stream.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from common import fit_in_own_process, write_result
from out_of_core import peak_resident_mb

COLUMNS, FACTORS = 48, 8


def fit_once(path: str, how: str) -> dict:
    """Read (and for "streamed", convert) the table and train one epoch, in this process."""
    import aekit
    from aekit.data import load

    start = time.perf_counter()
    data = load(path, label_column="machine", stream=how != "memory")
    read = time.perf_counter() - start
    aekit.AutoEncoder(latent_dim=FACTORS, network="mlp", epochs=1, batch_size=512, validation_fraction=0.0,
                      patience=None, verbose=0, random_state=0, device="cpu").fit(data.X)
    return {"read_s": read, "seconds": time.perf_counter() - start, "rows": len(data.X),
            "peak_rss_mb": peak_resident_mb()}


def write_tables(folder: Path, rows: int) -> tuple[Path, Path]:
    """The same rows as Parquet and as CSV, written a block at a time."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(FACTORS, COLUMNS))
    names = [f"sensor_{j:02d}" for j in range(COLUMNS)]
    parquet, csv = folder / f"table_{rows}.parquet", folder / f"table_{rows}.csv"
    block = 100_000
    schema = pa.schema([(n, pa.float64()) for n in names] + [("machine", pa.int64())])
    with pq.ParquetWriter(parquet, schema) as writer, pa_csv.CSVWriter(str(csv), schema) as text:
        for start in range(0, rows, block):
            n = min(block, rows - start)
            values = rng.normal(size=(n, FACTORS)) @ mixing + 0.1 * rng.normal(size=(n, COLUMNS))
            columns = {name: values[:, j] for j, name in enumerate(names)}
            block_table = pa.table(columns | {"machine": rng.integers(0, 4, n)}, schema=schema)
            writer.write_table(block_table, row_group_size=block)
            text.write_table(block_table)
    return parquet, csv


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 and 400,000 rows")
    parser.add_argument("--fit", nargs=2, help=argparse.SUPPRESS)  # internal: PATH memory|streamed
    args = parser.parse_args()
    if args.fit:
        print(json.dumps(fit_once(*args.fit)))
        return
    base = 100_000 if args.quick else 1_000_000
    results = []
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as tmp:
        env = {**os.environ, "AEKIT_CACHE": str(Path(tmp) / "cache")}  # conversions go with the run
        for scale in (1, 4):
            for path in write_tables(Path(tmp), base * scale):
                ways = ("memory",) * (scale == 1) + ("streamed", "streamed again")
                for how in ways:
                    result = fit_in_own_process(__file__, str(path), how, env=env)
                    row = {"data": f"{scale}x {path.suffix[1:]}", "rows": result["rows"],
                           "file_gb": round(path.stat().st_size / 1e9, 2), "read": how,
                           "read_or_convert_s": round(result["read_s"], 1),
                           "total_s": round(result["seconds"], 1),
                           "peak_rss_mb": round(result["peak_rss_mb"])}
                    results.append(row)
                    print(row, flush=True)
                path.unlink()
    write_result("table_stream", results, quick=args.quick,
                 model=f"{COLUMNS}-column table, MLP autoencoder to {FACTORS}, batch 512, 1 epoch")


if __name__ == "__main__":
    main()
