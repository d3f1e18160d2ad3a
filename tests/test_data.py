"""The data layer, on tiny files of every format that the tests write themselves."""

import gzip
import struct
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import aekit
from aekit.data import load
from aekit.data.idx import read_idx
from conftest import fast


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


# ------------------------------------------------------------------ IDX
def test_idx_raw_and_gzipped(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a-idx3-ubyte").write_bytes(idx_bytes(images))
    (tmp_path / "b-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
    for name in ("a-idx3-ubyte", "b-idx3-ubyte.gz"):
        ds = load(tmp_path / name)
        assert ds.X.shape == (2, 1, 3, 4) and np.array_equal(ds.X[:, 0], images)
    labels = np.array([3, 1, 4], dtype=np.uint8)
    (tmp_path / "l-idx1-ubyte").write_bytes(idx_bytes(labels))
    assert read_idx(tmp_path / "l-idx1-ubyte").tolist() == [3, 1, 4]


@pytest.mark.parametrize("content, match", [
    (b"\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00\x04" + b"\x01" * 5, "truncated"),
    (b"\x12\x34\x08\x01\x00\x00\x00\x01\x00", "bad magic"),
    (b"\x1f\x8b\x08\x00garbage", "cannot read"),
    (b"", "empty"),
])
def test_bad_idx_files(tmp_path, content, match):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(aekit.InvalidInputError, match=match):
        load(path)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=64))
def test_idx_reader_fuzz_raises_only_the_documented_error(tmp_path, data):
    path = tmp_path / "fuzz-idx1-ubyte"
    path.write_bytes(data)
    try:
        read_idx(path)
    except aekit.InvalidInputError:
        pass


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.sampled_from(list("ab1.-,\n\"e ")), max_size=60))
def test_csv_reader_fuzz_raises_only_the_documented_error(tmp_path, text):
    path = tmp_path / "fuzz.csv"
    path.write_text(text)
    try:
        ds = load(path)
    except aekit.InvalidInputError:
        return
    assert ds.X.dtype == np.float32 and np.isfinite(ds.X).all()


# ------------------------------------------------------------------ image folders
def _write_images(root, size=(6, 5), colour=False):
    rng = np.random.default_rng(0)
    for label, suffix in (("cats", ".png"), ("dogs", ".jpg"), ("owls", ".bmp")):
        (root / label).mkdir(parents=True)
        for i in range(3):
            shape = (size[0], size[1], 3) if colour else size
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(root / label / f"{i}{suffix}")


def test_image_folder_with_class_subfolders(tmp_path):
    _write_images(tmp_path, colour=True)
    ds = load(tmp_path)
    assert ds.X.shape == (9, 3, 6, 5) and ds.X.dtype == np.uint8
    assert sorted(set(ds.y)) == ["cats", "dogs", "owls"] and ds.ids[0] == "cats/0.png"
    grey = load(tmp_path, channels=1, size=(8, 8))
    assert grey.X.shape == (9, 1, 8, 8)


def test_image_folder_mixed_sizes_names_two_files(tmp_path):
    _write_images(tmp_path)
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(tmp_path / "owls" / "big.png")
    with pytest.raises(aekit.InvalidInputError, match=r"cats/0.png is 6x5, owls/big.png is 9x9.*--size"):
        load(tmp_path)
    assert load(tmp_path, size=4).X.shape == (10, 1, 4, 4)


def test_unreadable_image_fails_or_is_skipped_with_a_count(tmp_path):
    _write_images(tmp_path)
    (tmp_path / "dogs" / "broken.png").write_bytes(b"not an image")
    with pytest.raises(aekit.InvalidInputError, match="broken.png: unreadable image.*skip"):
        load(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load(tmp_path, skip_bad=True)
    assert len(ds) == 9 and "skipped 1 unreadable image(s) of 10" in str(caught[0].message)


def test_empty_folder(tmp_path):
    with pytest.raises(aekit.InvalidInputError, match="no PNG, JPEG or BMP"):
        load(tmp_path)


# ------------------------------------------------------------------ arrays
def test_npy_and_npz(tmp_path):
    X = np.random.default_rng(0).random((5, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    np.savez(tmp_path / "xy.npz", X=X, y=np.arange(5), ids=np.array(list("abcde")))
    assert np.array_equal(load(tmp_path / "x.npy").X, X)
    ds = load(tmp_path / "xy.npz")
    assert np.array_equal(ds.X, X) and ds.y.tolist() == [0, 1, 2, 3, 4] and ds.ids[0] == "a"


def test_object_arrays_are_never_unpickled(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(aekit.InvalidInputError, match="not a readable .npy"):
        load(tmp_path / "obj.npy")


# ------------------------------------------------------------------ tables
@pytest.fixture
def table():
    rng = np.random.default_rng(0)
    return pd.DataFrame({"id": [f"r{i}" for i in range(40)], "a": rng.normal(size=40),
                         "b": rng.normal(size=40), "y": np.repeat(["ok", "bad"], 20)})


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_table_with_label_and_id_columns(tmp_path, table, suffix):
    path = tmp_path / f"t{suffix}"
    table.to_csv(path, index=False) if suffix == ".csv" else table.to_parquet(path)
    ds = load(path, label_column="y", id_column="id")
    assert ds.X.shape == (40, 2) and ds.feature_names == ["a", "b"]
    assert ds.y[0] == "ok" and ds.ids[3] == "r3"
    np.testing.assert_allclose(ds.X[:, 0], table["a"], rtol=1e-6)


def test_text_in_a_numeric_column_names_column_and_row(tmp_path, table):
    table["a"] = table["a"].astype(object)
    table.loc[7, "a"] = "n/a?"
    table.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(aekit.InvalidInputError, match=r"column 'a', row 7 \(line 9 of the file\): 'n/a\?'"):
        load(tmp_path / "t.csv", label_column="y", id_column="id")
    assert len(load(tmp_path / "t.csv", label_column="y", id_column="id", missing="drop")) == 39


def test_missing_values_error_drop_or_impute(tmp_path, table):
    table.loc[[3, 5], "b"] = np.nan
    table.to_parquet(tmp_path / "t.parquet")
    with pytest.raises(aekit.InvalidInputError, match=r"column 'b', row 3 is missing.*--missing"):
        load(tmp_path / "t.parquet", label_column="y", id_column="id")
    dropped = load(tmp_path / "t.parquet", label_column="y", id_column="id", missing="drop")
    assert len(dropped) == 38 and "r3" not in dropped.ids and len(dropped.y) == 38
    imputed = load(tmp_path / "t.parquet", label_column="y", id_column="id", missing="impute")
    assert imputed.X[3, 1] == pytest.approx(np.nanmedian(table["b"]), rel=1e-6)


def test_a_text_column_that_is_not_label_or_id(tmp_path, table):
    table.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(aekit.InvalidInputError, match="column 'id' holds text.*label or id column"):
        load(tmp_path / "t.csv", label_column="y")
    with pytest.raises(aekit.InvalidInputError, match="no column 'label'"):
        load(tmp_path / "t.csv", label_column="label")


# ------------------------------------------------------------------ time series
def test_time_series_windows_keep_their_timestamps(tmp_path):
    stamps = pd.date_range("2024-01-01", periods=52, freq="5min")
    pd.DataFrame({"timestamp": stamps, "value": np.arange(52.0)}).to_csv(tmp_path / "m.csv", index=False)
    ds = load(tmp_path / "m.csv", window=10, stride=5)
    assert ds.X.shape == (9, 10) and ds.X[1].tolist() == list(range(5, 15))
    assert ds.windows.window_timestamps(1)[0] == np.datetime64(stamps[5])
    per_timestamp = ds.windows.to_series(np.arange(9.0))
    assert per_timestamp.shape == (52,) and per_timestamp[0] == 0 and per_timestamp[7] == 0.5
    assert np.isnan(per_timestamp[50:]).all() and not np.isnan(per_timestamp[:50]).any()  # uncovered tail
    assert ds.windows.to_series(np.arange(9.0), reduce="max")[7] == 1
    last = ds.windows.to_series(np.arange(9.0), reduce="last")  # window i ends at row 5i + 9
    assert last[9] == 0 and last[14] == 1 and last[49] == 8
    assert np.isnan(np.delete(last, np.arange(9, 50, 5))).all()  # no window ends there


def test_multichannel_windows_are_channel_major(tmp_path):
    pd.DataFrame({"t": range(8), "u": np.arange(8.0), "v": -np.arange(8.0)}).to_csv(tmp_path / "s.csv",
                                                                                      index=False)
    ds = load(tmp_path / "s.csv", window=4, stride=4, timestamp_column="t")
    assert ds.X[1].tolist() == [4, 5, 6, 7, -4, -5, -6, -7]


def test_window_longer_than_the_series(tmp_path):
    pd.DataFrame({"timestamp": range(5), "value": range(5)}).to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(aekit.InvalidInputError, match="window 64 is longer than the series \\(5 rows\\)"):
        load(tmp_path / "s.csv", window=64)


# ------------------------------------------------------------------ built-ins
def test_shapes_factors_describe_the_images():
    ds = load("shapes", count=400, size=32)
    assert ds.X.shape == (400, 1, 32, 32) and set(ds.factors) == {"shape", "size", "x", "y", "rotation"}
    area = ds.X.astype(float).sum(axis=(1, 2, 3))
    for kind in range(3):
        m = ds.factors["shape"] == kind
        assert np.corrcoef(ds.factors["size"][m], area[m])[0, 1] > 0.95  # bigger factor, more ink
    cols = np.arange(32)
    centre_x = (ds.X[:, 0].sum(axis=1) * cols).sum(axis=1) / ds.X[:, 0].sum(axis=(1, 2))
    assert np.corrcoef(ds.factors["x"], centre_x)[0, 1] > 0.95
    assert np.array_equal(load("shapes", count=5).X, load("shapes", count=5).X)


def test_other_builtins():
    p = load("parabola", count=200)
    np.testing.assert_allclose(p.X[:, 1], p.X[:, 0] ** 2, atol=0.25)
    photos = load("photos", count=10, size=16)
    assert photos.X.shape == (10, 3, 16, 16) and photos.X.dtype == np.uint8 and photos.y[0]
    assert load("digits").X.shape == (1797, 1, 8, 8)


def test_unknown_source():
    with pytest.raises(aekit.InvalidInputError, match="no data at 'nonesuch'"):
        load("nonesuch")


# ------------------------------------------------------------------ preprocessing stored in the model
def test_tables_are_standardised_on_training_data_and_outputs_come_back_in_units(tmp_path):
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(1000, 50, 300), rng.normal(-3, 0.01, 300)]).astype(np.float32)
    ae = aekit.AutoEncoder(latent_dim=2, **fast(epochs=30, learning_rate=3e-3)).fit(X)
    np.testing.assert_allclose(ae.scaler_.shift, X.mean(0), rtol=1e-5)
    reconstruction = ae.reconstruct(X[:50])
    assert abs(reconstruction[:, 0].mean() - 1000) < 10 and abs(reconstruction[:, 1].mean() + 3) < 0.01


def test_load_names_an_unknown_option_and_its_options_are_the_clis_flags():
    """DataOptions is the one list: load refuses a misspelt option by name, and every option with
    a flag is a flag of every verb that reads data, with the same default."""
    import dataclasses

    from aekit.cli import build_parser
    from aekit.data.options import DataOptions

    with pytest.raises(aekit.InvalidInputError, match="windw"):
        load("digits", windw=8)
    args = build_parser().parse_args(["encode", "--model", "m"])
    for option in dataclasses.fields(DataOptions):
        if option.metadata["cli"] is not None:
            assert getattr(args, option.name) == option.default, option.name
