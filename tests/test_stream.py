"""Data read from disk a batch at a time (aekit.data.stream): the same results as in memory,
with a resident memory that does not grow with the data."""

import gzip
import os

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import aekit
from aekit.cli import main
from aekit.data import load
from aekit.data import stream as stream_module
from aekit.data.stream import DiskArray, RowSource
from conftest import fast, kill_at_first_checkpoint


def same_weights(a, b) -> bool:
    sa, sb = a.model_.state_dict(), b.model_.state_dict()
    return all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture
def shards(tmp_path):
    """250 float64 table rows in two .npy shards (and the whole array)."""
    T = np.random.default_rng(0).normal(size=(250, 6))
    (tmp_path / "shards").mkdir()
    np.save(tmp_path / "shards" / "part-0.npy", T[:100])
    np.save(tmp_path / "shards" / "part-1.npy", T[100:])
    return tmp_path / "shards", T


@pytest.mark.parametrize("make", [
    lambda: aekit.VAE(latent_dim=2, **fast()),
    lambda: aekit.ConditionalVAE(latent_dim=2, corruption="mask", corruption_level=0.2, **fast()),
])
def test_images_streamed_from_disk_train_what_memory_trains(tmp_path, images, make):
    X, y = images
    X8 = (X * 255).astype(np.uint8)
    np.save(tmp_path / "x.npy", X8)
    disk = DiskArray.open(tmp_path / "x.npy")
    labels = {"y": y} if make().is_conditional else {}
    in_memory, streamed = make().fit(X8, **labels), make().fit(disk, **labels)
    assert same_weights(in_memory, streamed)
    assert np.array_equal(in_memory.transform(X8), streamed.transform(disk))
    assert np.array_equal(in_memory.score_samples(X8, **labels), streamed.score_samples(disk, **labels))


def test_shards_are_one_table_and_stream_like_the_whole_array(shards):
    folder, T = shards
    disk = DiskArray.open(folder)
    assert disk.shape == (250, 6) and disk.dtype == np.float32 and len(disk.files) == 2
    rows = np.array([249, 0, 100, 99, 100])
    assert np.array_equal(disk.take(rows), T[rows].astype(np.float32))
    assert np.array_equal(disk[95:105], T[95:105].astype(np.float32))
    in_memory = aekit.DenoisingAutoEncoder(latent_dim=2, **fast()).fit(T)
    streamed = aekit.DenoisingAutoEncoder(latent_dim=2, **fast()).fit(disk)
    assert same_weights(in_memory, streamed)
    with pytest.raises(TypeError, match="never loads it whole"):
        np.asarray(disk)


def test_load_streams_when_asked_or_when_the_data_exceed_the_budget(tmp_path, shards):
    folder, _ = shards
    np.save(tmp_path / "small.npy", np.zeros((10, 3), np.float32))
    assert isinstance(load(tmp_path / "small.npy").X, np.ndarray)
    assert isinstance(load(tmp_path / "small.npy", stream=True).X, DiskArray)
    assert isinstance(load(tmp_path / "small.npy", max_memory=100).X, DiskArray)  # 200 bytes > 100
    assert isinstance(load(folder).X, np.ndarray) and load(folder).X.shape == (250, 6)
    assert isinstance(load(folder, max_memory=1000).X, DiskArray)
    (tmp_path / "t.csv").write_text("a,b\n1,2\n3,4\n")
    assert isinstance(load(tmp_path / "t.csv").X, np.ndarray)
    assert isinstance(load(tmp_path / "t.csv", max_memory=10).X, RowSource)  # 16 bytes of text > 10


def test_bad_shards_are_refused_naming_the_file(tmp_path):
    (tmp_path / "s").mkdir()
    np.save(tmp_path / "s" / "a.npy", np.zeros((4, 3), np.float32))
    np.save(tmp_path / "s" / "b.npy", np.zeros((4, 5), np.float32))
    with pytest.raises(aekit.InvalidInputError, match=r"b\.npy: shard of samples \(5,\)"):
        load(tmp_path / "s", stream=True)
    (tmp_path / "s" / "b.npy").unlink()
    (tmp_path / "s" / "notes.txt").write_text("x")
    with pytest.raises(aekit.InvalidInputError, match="holds only .npy files"):
        load(tmp_path / "s", stream=True)
    np.save(tmp_path / "h.npy", np.zeros((4, 3), np.float16))
    with pytest.raises(aekit.InvalidInputError, match="uint8, float32 or float64"):
        load(tmp_path / "h.npy", stream=True)


def test_a_nan_on_disk_is_named_by_its_row(tmp_path, monkeypatch):
    monkeypatch.setattr(stream_module, "CHUNK_BYTES", 8 * 3 * 7)  # 7 rows per chunk: a later chunk
    T = np.ones((30, 3), np.float32)
    T[17, 2] = np.nan
    np.save(tmp_path / "t.npy", T)
    with pytest.raises(aekit.InvalidInputError, match=r"NaN \(1 non-finite values; the first at sample 17, "
                                                      r"feature 2\)"):
        aekit.AutoEncoder(**fast()).fit(DiskArray.open(tmp_path / "t.npy"))


def _rss_bytes() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    pytest.skip("no VmRSS in /proc/self/status")


def test_reading_every_row_of_a_disk_array_holds_none_of_them(tmp_path):
    np.save(tmp_path / "big.npy", np.ones(((64 << 20) // 784, 784), np.uint8))
    disk = DiskArray.open(tmp_path / "big.npy")
    order = np.random.default_rng(0).permutation(len(disk))
    before = _rss_bytes()
    for start in range(0, len(disk), 512):  # every row once, in random order
        assert disk.take(order[start:start + 512]).sum() == 512 * 784 or start + 512 > len(disk)
    assert _rss_bytes() - before < 16 << 20  # 64 MB read, a batch or two held


def test_a_file_truncated_or_changed_while_streaming_is_named(tmp_path):
    X = np.arange(40 * 3, dtype=np.float32).reshape(40, 3)
    np.save(tmp_path / "t.npy", X)
    disk = DiskArray.open(tmp_path / "t.npy")
    assert np.array_equal(disk.take([39, 0, 1, 2, 20]), X[[39, 0, 1, 2, 20]])
    with open(tmp_path / "t.npy", "r+b") as f:  # truncated behind aekit's back
        f.truncate(os.path.getsize(tmp_path / "t.npy") - 12 * 4)
    with pytest.raises(aekit.InvalidInputError, match="t.npy: the file ended early"):
        disk.take([39])
    with pytest.raises(aekit.InvalidInputError, match="t.npy changed while aekit was reading it"):
        disk.take([0])
    with pytest.raises(aekit.InvalidInputError, match="t.npy: the file is truncated"):
        DiskArray.open(tmp_path / "t.npy")


def test_train_and_encode_stream_from_the_command_line(tmp_path, images):
    X, _ = images
    np.save(tmp_path / "x.npy", (X * 255).astype(np.uint8))
    common = ["--data", str(tmp_path / "x.npy"), "--epochs", "2", "--latent-dim", "2", "--quiet"]
    assert main(["train", *common, "--out", str(tmp_path / "mem")]) == 0
    assert main(["train", *common, "--stream", "--out", str(tmp_path / "disk")]) == 0
    weights = [load_file(str(tmp_path / r / "model" / "model.safetensors")) for r in ("mem", "disk")]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    for run, extra in (("mem", []), ("disk", ["--max-memory", "1K"])):
        assert main(["encode", "--model", str(tmp_path / run), "--data", str(tmp_path / "x.npy"),
                     "--format", "npy", *extra]) == 0
    assert np.array_equal(np.load(tmp_path / "mem" / "encode" / "codes.npy"),
                          np.load(tmp_path / "disk" / "encode" / "codes.npy"))


@pytest.mark.slow  # 11 s; resuming in memory: test_cli; streamed reads: the tests above
def test_a_streamed_run_killed_with_sigkill_resumes_to_the_same_weights(tmp_path, images):
    X, _ = images
    np.save(tmp_path / "x.npy", (np.tile(X, (10, 1, 1, 1)) * 255).astype(np.uint8))
    args = ["train", "--data", str(tmp_path / "x.npy"), "--stream", "--epochs", "12", "--latent-dim", "2",
            "--quiet"]
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0
    out = tmp_path / "killed"
    kill_at_first_checkpoint(args, out)
    assert main([*args, "--out", str(out), "--resume"]) == 0
    whole = load_file(str(tmp_path / "whole" / "model" / "model.safetensors"))
    resumed = load_file(str(out / "model" / "model.safetensors"))
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)


def test_max_memory_sizes_are_read_as_people_write_them(capsys):
    from aekit.data.options import byte_size as _bytes

    assert _bytes("500M") == 500 << 20 and _bytes("4G") == 4 << 30 and _bytes("2GiB") == 2 << 30
    assert _bytes("1000") == 1000
    with pytest.raises(SystemExit):
        main(["train", "--max-memory", "lots"])
    assert "is not a size such as 500M or 4G" in capsys.readouterr().err


def test_a_torch_dataset_trains_what_its_arrays_train(images):
    X, y = images
    pairs = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    as_arrays = aekit.ConditionalVAE(latent_dim=2, **fast()).fit(X, y)
    as_dataset = aekit.ConditionalVAE(latent_dim=2, **fast()).fit(pairs)  # labels from the pairs
    assert same_weights(as_arrays, as_dataset)
    assert np.array_equal(as_arrays.transform(X), as_dataset.transform(pairs))

    class Samples(torch.utils.data.Dataset):  # a user's own: samples only, decoded per item
        def __len__(self):
            return len(X)

        def __getitem__(self, i):
            return X[i, 0]  # (H, W)

    plain = aekit.AutoEncoder(latent_dim=2, **fast()).fit(X[:, 0])
    assert same_weights(plain, aekit.AutoEncoder(latent_dim=2, **fast()).fit(Samples()))

    class Pairs(Samples):  # labels read item by item, or from `targets` where it has them
        def __getitem__(self, i):
            return X[i], int(y[i])

    class WithTargets(Pairs):
        targets = [int(label) for label in y]

    from aekit.data.datasets import DatasetRows

    for dataset in (pairs, Pairs(), WithTargets()):
        assert np.array_equal(DatasetRows(dataset).labels(), y)


def test_an_iterable_dataset_is_spooled_once_and_trains_what_its_arrays_train(images, tmp_path,
                                                                              monkeypatch):
    import gc

    monkeypatch.setenv("AEKIT_CACHE", str(tmp_path / "cache"))
    X, y = images

    class Stream(torch.utils.data.IterableDataset):
        walks = 0

        def __iter__(self):
            Stream.walks += 1
            return ((torch.from_numpy(x), int(label)) for x, label in zip(X, y, strict=True))

    make = lambda: aekit.ConditionalVAE(latent_dim=2, **fast())  # noqa: E731
    streamed = make().fit(Stream())  # the labels come from the (sample, label) pairs
    assert Stream.walks == 1 and same_weights(streamed, make().fit(X, y))
    gc.collect()
    assert not any((tmp_path / "cache" / "spool").iterdir())  # the spooled copy is gone with its rows

    class Ragged(torch.utils.data.IterableDataset):
        def __iter__(self):
            return (np.zeros(4 if i < 5 else 5, np.float32) for i in range(10))

    with pytest.raises(aekit.InvalidInputError, match=r"item 5 of Ragged has shape \(5,\)"):
        aekit.AutoEncoder(**fast()).fit(Ragged())
    assert not any((tmp_path / "cache" / "spool").iterdir())


def test_datasets_aekit_cannot_stack_are_refused(images):
    class Ragged(torch.utils.data.Dataset):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            return np.zeros(4 if i < 5 else 5, np.float32)

    with pytest.raises(aekit.InvalidInputError, match=r"Ragged\[5\] has shape \(5,\)"):
        aekit.AutoEncoder(**fast()).fit(Ragged())


def test_epoch_reports_say_how_long_training_waited_for_rows_read_on_demand(tmp_path, vectors):
    np.save(tmp_path / "v.npy", vectors)
    waits = {}
    for how, data in (("memory", vectors), ("disk", DiskArray.open(tmp_path / "v.npy"))):
        class Watch:
            def on_epoch_end(self, report, how=how):
                waits.setdefault(how, []).append(report.data_wait_seconds)

        aekit.AutoEncoder(**fast()).fit(data, callbacks=[Watch()])
    assert waits["memory"] == [0.0] * 3 and all(w > 0 for w in waits["disk"])


def test_an_npz_archives_samples_stream_with_its_labels_loaded(tmp_path, images):
    X, y = images
    X8 = (X * 255).astype(np.uint8)
    np.savez(tmp_path / "a.npz", X=X8, y=y, ids=np.arange(len(y)))
    data = load(tmp_path / "a.npz", stream=True)
    assert isinstance(data.X, DiskArray) and np.array_equal(data.y, y) and len(data.ids) == len(y)
    assert np.array_equal(data.X.take([5, 0, 119]), X8[[5, 0, 119]])
    in_memory = aekit.ConditionalVAE(latent_dim=2, **fast()).fit(X8, y)
    assert same_weights(in_memory, aekit.ConditionalVAE(latent_dim=2, **fast()).fit(data.X, data.y))
    np.savez_compressed(tmp_path / "c.npz", X=X8)
    with pytest.raises(aekit.InvalidInputError, match=r"c.npz \[X\]: a compressed archive"):
        load(tmp_path / "c.npz", stream=True)
    assert isinstance(load(tmp_path / "c.npz").X, np.ndarray)  # small: loaded, compressed or not


def test_worker_processes_read_a_datasets_batches_without_changing_the_weights(images):
    from aekit.data.datasets import DatasetRows

    X, _ = images
    pairs = torch.utils.data.TensorDataset(torch.from_numpy(X))
    inline = aekit.VAE(latent_dim=2, **fast()).fit(DatasetRows(pairs))
    workers = aekit.VAE(latent_dim=2, **fast()).fit(DatasetRows(pairs, workers=2))
    assert same_weights(inline, workers)
    with pytest.raises(aekit.InvalidInputError, match="workers must be an int >= 0"):
        DatasetRows(pairs, workers=-1)


@pytest.fixture
def image_folder(tmp_path):
    """36 greyscale 8x8 PNGs in three labelled sub-folders, and one file that is not an image."""
    from PIL import Image

    rng = np.random.default_rng(3)
    for label in ("a", "b", "c"):
        (tmp_path / "imgs" / label).mkdir(parents=True)
        for i in range(12):
            pixels = rng.integers(0, 256, (8, 8), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "imgs" / label / f"{i:02d}.png")
    (tmp_path / "imgs" / "b" / "broken.png").write_bytes(b"not a png")
    return tmp_path / "imgs"


def test_an_image_folder_decoded_batch_by_batch_is_the_folder_read_whole(image_folder):
    for size in (None, (6, 6)):
        with pytest.warns(UserWarning, match="skipped 1 unreadable image"):
            whole = load(image_folder, skip_bad=True, size=size, stream=False)
        with pytest.warns(UserWarning, match="skipped 1 unreadable image"):
            rows = load(image_folder, skip_bad=True, size=size, stream=True)
        assert not isinstance(whole.X, RowSource) and isinstance(rows.X, RowSource)
        assert rows.X.shape == whole.X.shape and rows.X.dtype == whole.X.dtype
        assert np.array_equal(rows.y, whole.y) and np.array_equal(rows.ids, whole.ids)
        assert np.array_equal(rows.X.take([35, 0, 17]), whole.X[[35, 0, 17]])
    eager = aekit.VAE(latent_dim=2, **fast()).fit(whole.X)
    assert same_weights(eager, aekit.VAE(latent_dim=2, **fast()).fit(rows.X))
    with pytest.raises(aekit.InvalidInputError, match=r"broken.png: unreadable image"):
        load(image_folder, stream=True)


def test_an_image_spoiled_during_a_streamed_run_is_named(image_folder):
    (image_folder / "b" / "broken.png").unlink()
    rows = load(image_folder, stream=True).X
    sound = (image_folder / "a" / "03.png").read_bytes()
    (image_folder / "a" / "03.png").write_bytes(sound[:40])
    with pytest.raises(aekit.InvalidInputError, match=r"03.png changed after it was first read"):
        rows.take(np.arange(len(rows)))
    # Spoiled before the run: its header reads, its pixels do not; named when they are decoded.
    (image_folder / "a" / "03.png").write_bytes(sound[:60])
    rows = load(image_folder, stream=True).X
    with pytest.raises(aekit.InvalidInputError, match=r"03.png: unreadable image .*--skip-bad"):
        rows.take(np.arange(len(rows)))


def test_skip_bad_skips_images_whose_pixels_are_broken_before_a_streamed_run(image_folder):
    (image_folder / "a" / "03.png").write_bytes((image_folder / "a" / "03.png").read_bytes()[:60])
    with pytest.warns(UserWarning, match="skipped 2 unreadable image"):  # broken.png and 03.png
        rows = load(image_folder, stream=True, skip_bad=True).X
    sound = len(list(image_folder.rglob("*.png"))) - 2
    assert len(rows) == sound and rows.take(np.arange(sound)).shape == (sound, 1, 8, 8)
    assert "03.png" not in {p.name for p in rows.files if p.parent.name == "a"}


def test_every_verb_reads_streamed_data_in_batches_and_writes_what_memory_writes(tmp_path, images,
                                                                                 monkeypatch):
    X, y = images
    X, y = np.tile(X, (20, 1, 1, 1)), np.tile(y, 20)  # more rows than an inference batch holds
    np.savez(tmp_path / "x.npz", X=(X * 255).astype(np.uint8), y=y)
    data = str(tmp_path / "x.npz")
    assert main(["train", "--data", data, "--model", "dae", "--corruption", "gaussian", "--epochs", "2",
                 "--latent-dim", "2",
                 "--quiet", "--out", str(tmp_path / "run")]) == 0
    # The streamed runs must never hold the samples whole: reading them whole is an error here.
    whole = len(X)
    real_take = RowSource.take

    def take(self, indices):
        assert len(np.asarray(indices).reshape(-1)) < whole, "a verb read every row at once"
        return real_take(self, indices)

    verbs = [["reconstruct"], ["detect"], ["density", "--k", "4"], ["interpolate"],
             ["attribute", "--group-a", "1", "--group-b", "0"], ["denoise", "--level", "0.2"]]
    outputs = {}
    for mode, extra in (("memory", []), ("stream", ["--stream"])):
        if mode == "stream":
            monkeypatch.setattr(RowSource, "take", take)
            monkeypatch.setattr(stream_module, "CHUNK_BYTES", 8 * 64 * 400)  # 400-row chunks
        for verb in verbs:
            out = tmp_path / mode / verb[0]
            assert main([verb[0], "--model", str(tmp_path / "run"), "--data", data, *verb[1:], *extra,
                         "--out", str(out)]) == 0, verb
        outputs[mode] = {
            "reconstructions": np.load(tmp_path / mode / "reconstruct" / "reconstructions.npy"),
            "errors": (tmp_path / mode / "reconstruct" / "errors.csv").read_text(),
            "scores": (tmp_path / mode / "detect" / "scores.csv").read_text(),
            "density": (tmp_path / mode / "density" / "density.csv").read_text(),
            "interpolate": np.load(tmp_path / mode / "interpolate" / "interpolate.npy"),
            "attribute": np.load(tmp_path / mode / "attribute" / "attribute_vector.npy"),
            "denoise": np.load(tmp_path / mode / "denoise" / "restored.npy")}
    for name, value in outputs["memory"].items():
        other = outputs["stream"][name]
        if isinstance(value, str):
            assert value == other, name
        else:
            np.testing.assert_allclose(value, other, rtol=1e-5, atol=1e-6, err_msg=name)
    assert outputs["memory"]["reconstructions"].shape == X.shape


def test_an_anomaly_detector_trains_and_scores_rows_read_on_demand(tmp_path, vectors):
    np.save(tmp_path / "x.npy", vectors)
    disk = DiskArray.open(tmp_path / "x.npy")

    def make():
        return aekit.AnomalyDetector(aekit.AutoEncoder(latent_dim=2, **fast()), random_state=0)

    in_memory, streamed = make().fit(vectors), make().fit(disk)
    assert same_weights(in_memory.model_, streamed.model_)
    assert streamed.threshold_ == pytest.approx(in_memory.threshold_, rel=1e-6)
    np.testing.assert_allclose(streamed.anomaly_score(disk), in_memory.anomaly_score(vectors), rtol=1e-5)


def test_idx_files_stream_raw_in_place_and_gzipped_through_one_cached_copy(tmp_path, monkeypatch):
    from test_data import idx_bytes

    monkeypatch.setenv("AEKIT_CACHE", str(tmp_path / "cache"))
    images = np.random.default_rng(0).integers(0, 256, (50, 6, 5), dtype=np.uint8)
    (tmp_path / "raw-idx3-ubyte").write_bytes(idx_bytes(images))
    (tmp_path / "packed-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
    raw = load(tmp_path / "raw-idx3-ubyte", stream=True).X
    assert isinstance(raw, RowSource) and not (tmp_path / "cache").exists()  # read where it lies
    packed = load(tmp_path / "packed-idx3-ubyte.gz", stream=True).X
    for X in (raw, packed):
        assert X.shape == (50, 1, 6, 5) and np.array_equal(X[[7, 3, 49]], images[[7, 3, 49], None])
    entries = list((tmp_path / "cache" / "converted").iterdir())
    assert len(entries) == 1 and (entries[0] / "complete").is_file()
    stamp = (entries[0] / "X.npy").stat().st_mtime_ns
    load(tmp_path / "packed-idx3-ubyte.gz", stream=True)  # the copy is reused...
    assert (entries[0] / "X.npy").stat().st_mtime_ns == stamp
    (tmp_path / "packed-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images[:20])))
    assert len(load(tmp_path / "packed-idx3-ubyte.gz", stream=True).X) == 20  # ...until the file changes
    wide = np.arange(24, dtype=">i2").reshape(4, 3, 2)  # big-endian integers become float32
    header = bytes([0, 0, 0x0B, 3]) + b"".join(d.to_bytes(4, "big") for d in wide.shape)
    (tmp_path / "wide-idx3-ubyte").write_bytes(header + wide.tobytes())
    X = load(tmp_path / "wide-idx3-ubyte", stream=True).X
    assert X.dtype == np.float32 and np.array_equal(X[0:4], wide[:, None].astype(np.float32))


def test_a_truncated_gzipped_idx_is_named_and_leaves_no_cache_entry(tmp_path, monkeypatch):
    from test_data import idx_bytes

    monkeypatch.setenv("AEKIT_CACHE", str(tmp_path / "cache"))
    images = np.zeros((40, 4, 4), dtype=np.uint8)
    (tmp_path / "cut-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)[:-100]))
    with pytest.raises(aekit.InvalidInputError, match="cut-idx3-ubyte.gz.*truncated"):
        load(tmp_path / "cut-idx3-ubyte.gz", stream=True)
    assert not any((tmp_path / "cache" / "converted").iterdir())


@pytest.fixture
def table(tmp_path):
    """A 300-row table with labels, ids and two missing cells, as CSV and Parquet."""
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(301, 4)), columns=["a", "b", "c", "d"])
    frame["kind"] = rng.choice(["normal", "odd"], len(frame))
    frame["id"] = [f"row-{i}" for i in range(len(frame))]
    frame.loc[[5, 222], "b"] = np.nan
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_parquet(tmp_path / "t.parquet")
    return frame


@pytest.mark.parametrize("missing", ["drop", "impute"])
@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_tables_stream_in_chunks_as_they_load_whole(tmp_path, table, monkeypatch, suffix, missing):
    monkeypatch.setenv("AEKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(stream_module, "CHUNK_BYTES", 8 * 5 * 64)  # 64-row chunks: 5 of them
    options = {"label_column": "kind", "id_column": "id", "missing": missing}
    whole = load(tmp_path / f"t.{suffix}", **options)
    streamed = load(tmp_path / f"t.{suffix}", stream=True, **options)
    assert isinstance(streamed.X, RowSource) and streamed.feature_names == whole.feature_names
    assert np.array_equal(streamed.X[0:len(streamed.X)], whole.X)
    assert np.array_equal(streamed.y, whole.y) and np.array_equal(streamed.ids, whole.ids)
    make = lambda: aekit.AutoEncoder(latent_dim=2, **fast())  # noqa: E731
    assert same_weights(make().fit(whole.X), make().fit(streamed.X))


def test_a_bad_cell_deep_in_a_streamed_table_is_named_by_its_line(tmp_path, table, monkeypatch):
    monkeypatch.setenv("AEKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(stream_module, "CHUNK_BYTES", 8 * 5 * 64)
    table["c"] = table["c"].astype(object)
    table.loc[200, "c"] = "oops"
    table.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(aekit.InvalidInputError, match=r"'c', row 200 \(line 202 of the file\): 'oops'"):
        load(tmp_path / "bad.csv", stream=True, label_column="kind", id_column="id",
             feature_columns=["a", "c", "d"])
    assert not any((tmp_path / "cache" / "converted").iterdir())  # nothing half-converted is kept


def test_a_folder_of_table_shards_is_one_table(tmp_path, table, monkeypatch):
    monkeypatch.setenv("AEKIT_CACHE", str(tmp_path / "cache"))
    (tmp_path / "shards").mkdir()
    table[:100].to_parquet(tmp_path / "shards" / "part-0.parquet")
    table[100:].to_csv(tmp_path / "shards" / "part-1.csv", index=False)
    options = {"label_column": "kind", "id_column": "id", "missing": "drop"}
    whole = load(tmp_path / "t.csv", **options)
    for stream in (False, True):
        shards = load(tmp_path / "shards", stream=stream, **options)
        assert np.array_equal(np.asarray(shards.X[0:len(shards.X)]), whole.X)
        assert np.array_equal(shards.ids, whole.ids)
    table[["a", "b"]].to_parquet(tmp_path / "shards" / "part-2.parquet")
    with pytest.raises(aekit.InvalidInputError, match="part-2.parquet: its columns"):
        load(tmp_path / "shards", **options)


def test_windows_over_a_streamed_series_are_read_when_asked(tmp_path, monkeypatch):
    import pandas as pd

    monkeypatch.setenv("AEKIT_CACHE", str(tmp_path / "cache"))
    t = np.arange(600)
    series = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=600, freq="min"),
                           "load": np.sin(t / 9), "temp": np.cos(t / 31)})
    series.loc[400:404, "load"] += 4  # an incident
    series.to_csv(tmp_path / "m.csv", index=False)
    whole = load(tmp_path / "m.csv", window=24, stride=4)
    streamed = load(tmp_path / "m.csv", window=24, stride=4, stream=True)
    assert isinstance(streamed.X, RowSource) and streamed.X.shape == whole.X.shape
    assert np.array_equal(streamed.X.take([40, 3, 0]), whole.X[[40, 3, 0]])
    assert np.array_equal(streamed.ids, whole.ids)
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "m.csv"), "--window", "24", "--stride", "4", "--stream",
                 "--model", "ae", "--epochs", "2", "--latent-dim", "2", "--quiet", "--out", str(run)]) == 0
    for mode, extra in (("memory", []), ("stream", ["--stream"])):
        assert main(["detect", "--model", str(run), "--data", str(tmp_path / "m.csv"), "--window", "24",
                     "--stride", "4", *extra, "--out", str(tmp_path / mode)]) == 0
    scores = [(tmp_path / mode / "scores.csv").read_text() for mode in ("memory", "stream")]
    assert scores[0] == scores[1]
    assert (tmp_path / "stream" / "timeseries.png").is_file()


def test_a_hugging_face_dataset_trains_in_python_and_from_its_folder(tmp_path, images):
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    X, y = images
    X8 = (X * 255).astype(np.uint8)
    hf = datasets.Dataset.from_dict({"image": [Image.fromarray(x[0]) for x in X8], "label": y.tolist()},
                                    features=datasets.Features({"image": datasets.Image(),
                                                                "label": datasets.Value("int64")}))
    make = lambda: aekit.ConditionalVAE(latent_dim=2, **fast())  # noqa: E731
    in_memory = make().fit(X8, y)
    assert same_weights(in_memory, make().fit(hf))  # labels from its label column
    hf.save_to_disk(str(tmp_path / "faces"))
    data = load(tmp_path / "faces", stream=True)
    assert isinstance(data.X, RowSource) and data.X.shape == X8.shape
    assert np.array_equal(data.X[[5, 0, 119]], X8[[5, 0, 119]]) and np.array_equal(data.y, y)
    assert np.array_equal(load(tmp_path / "faces").X, X8)  # small: loaded whole
    assert main(["train", "--data", str(tmp_path / "faces"), "--model", "cvae", "--epochs", "2",
                 "--latent-dim", "2", "--quiet", "--out", str(tmp_path / "run")]) == 0
    with pytest.raises(aekit.InvalidInputError, match="name the column of samples"):
        load(tmp_path / "faces", array="pixels")


def test_a_file_spoiled_mid_run_stops_it_naming_the_file_and_keeps_the_checkpoint(tmp_path, vectors):
    path, checkpoint = tmp_path / "v.npy", tmp_path / "checkpoint.safetensors"
    np.save(path, vectors)
    pristine = path.read_bytes()

    class Spoil:  # after the second epoch the file is rewritten behind aekit's back
        def on_epoch_end(self, report):
            if report.epoch == 2:
                path.write_bytes(pristine[:-4 * 6])

    make = lambda: aekit.AutoEncoder(latent_dim=2, **fast(epochs=5))  # noqa: E731
    with pytest.raises(aekit.InvalidInputError, match="v.npy"):
        make().fit(DiskArray.open(path), checkpoint_path=checkpoint, callbacks=[Spoil()])
    assert checkpoint.is_file()  # the last good epoch's checkpoint is kept
    path.write_bytes(pristine)  # the file restored, the run resumes to the weights of an unbroken one
    resumed = make().fit(DiskArray.open(path), checkpoint_path=checkpoint, resume=True)
    assert resumed.n_iter_ == 5 and same_weights(resumed, make().fit(vectors))
