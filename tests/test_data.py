"""Tests of wsbench.data: CIFAR-10 readers and cache, digits, splits, on-device augmentation, batch iteration."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from wsbench.config import DataCfg
from wsbench.data import (
    CIFAR10_CLASSES,
    BatchIterator,
    DatasetError,
    DatasetMissingError,
    ImageArrays,
    cache_path,
    crop_flip,
    fixed_batches,
    import_cifar10,
    load_cifar10,
    load_digits_arrays,
    load_splits,
    normalize,
    random_crop_flip,
    read_image_tree,
    read_official_tarball,
    split_indices,
    splits_from_arrays,
)
from wsbench.safe_pickle import PickleFormatError, UnsafePickleError, safe_loads

N_TRAIN_PER_BATCH, N_TEST = 6, 8


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned",))


def _images(rng: np.random.Generator, n: int, side: int = 32, c: int = 3) -> np.ndarray:
    return rng.integers(0, 256, size=(n, c, side, side), dtype=np.uint8)


def _batch_pickle(x: np.ndarray, y: np.ndarray, as_numpy: bool = False) -> bytes:
    # official layout: each row = 1024 red, 1024 green, 1024 blue values, row-major planes
    rows = x.reshape(len(x), 3072)
    data: object = rows if as_numpy else rows.tobytes()
    return pickle.dumps({b"batch_label": b"fixture", b"labels": [int(v) for v in y], b"data": data}, protocol=2)


def _write_official(path: Path, rng: np.random.Generator, evil_member: str | None = None,
                    drop_member: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    train_x = _images(rng, 5 * N_TRAIN_PER_BATCH)
    train_y = rng.integers(0, 10, size=len(train_x))
    test_x, test_y = _images(rng, N_TEST), rng.integers(0, 10, size=N_TEST)
    members = {}
    for i in range(5):
        sl = slice(i * N_TRAIN_PER_BATCH, (i + 1) * N_TRAIN_PER_BATCH)
        members[f"data_batch_{i + 1}"] = _batch_pickle(train_x[sl], train_y[sl], as_numpy=(i == 0))
    members["test_batch"] = _batch_pickle(test_x, test_y)
    members["batches.meta"] = pickle.dumps({b"label_names": [c.encode() for c in CIFAR10_CLASSES]})
    if evil_member:
        members[evil_member] = pickle.dumps({b"data": _Evil(), b"labels": []})
    with tarfile.open(path, "w:gz") as tf:
        for name, blob in members.items():
            if name == drop_member:
                continue
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tf.addfile(info, io.BytesIO(blob))
    return train_x, train_y, test_x, test_y


# ---------------------------------------------------------------- restricted unpickler
def test_safe_loads_accepts_builtins_and_uint8_arrays() -> None:
    plain = {b"labels": [1, 2, 3], b"name": "x", b"blob": b"\x00\xff"}
    assert safe_loads(pickle.dumps(plain)) == plain
    arr = np.arange(24, dtype=np.uint8).reshape(2, 12)
    for protocol in (2, 5):
        out = safe_loads(pickle.dumps({b"data": arr}, protocol=protocol))[b"data"]
        assert out.dtype == np.uint8 and np.array_equal(out, arr)
    assert np.array_equal(safe_loads(pickle.dumps(np.asfortranarray(arr), protocol=2)), arr)


@pytest.mark.parametrize("obj", [os.system, _Evil(), np.load, np.arange(3, dtype=np.int64)])
def test_safe_loads_refuses_globals(obj: object) -> None:
    with pytest.raises(UnsafePickleError):
        safe_loads(pickle.dumps(obj, protocol=2))


def test_safe_loads_damaged_stream() -> None:
    with pytest.raises(PickleFormatError, match="damaged"):
        safe_loads(pickle.dumps({b"data": b"x" * 100})[:-10])


# ---------------------------------------------------------------- official tarball
def test_official_tarball_roundtrip(tmp_path: Path) -> None:
    path = tmp_path / "cifar-10-python.tar.gz"
    train_x, train_y, test_x, test_y = _write_official(path, np.random.default_rng(0))
    arrays = read_official_tarball(path, check_md5=False, expected_counts=(30, N_TEST))
    assert np.array_equal(arrays.train_x, train_x) and np.array_equal(arrays.train_y, train_y)
    assert np.array_equal(arrays.test_x, test_x) and np.array_equal(arrays.test_y, test_y)
    assert arrays.classes == CIFAR10_CLASSES
    assert arrays.meta["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(DatasetError, match="md5"):
        read_official_tarball(path, expected_counts=(30, N_TEST))
    with pytest.raises(DatasetError, match="expected 50000"):
        read_official_tarball(path, check_md5=False)


def test_official_tarball_errors(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    evil = tmp_path / "evil.tar.gz"
    _write_official(evil, rng, evil_member="data_batch_3")
    with pytest.raises(UnsafePickleError, match="posix.system|os.system|nt.system"):
        read_official_tarball(evil, check_md5=False, expected_counts=None)
    missing = tmp_path / "missing.tar.gz"
    _write_official(missing, rng, drop_member="data_batch_4")
    with pytest.raises(DatasetError, match="data_batch_4"):
        read_official_tarball(missing, check_md5=False, expected_counts=None)
    good = tmp_path / "good.tar.gz"
    _write_official(good, rng)
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DatasetError, match="truncated.tar.gz"):
        read_official_tarball(truncated, check_md5=False, expected_counts=None)
    with pytest.raises(DatasetMissingError, match="nowhere.tar.gz"):
        read_official_tarball(tmp_path / "nowhere.tar.gz")


def test_import_and_cache(tmp_path: Path, data_dir: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    train_x, _, _, _ = _write_official(src / "cifar-10-python.tar.gz", np.random.default_rng(2))
    with pytest.raises(DatasetMissingError, match="wsbench data import"):
        load_cifar10(data_dir)
    out = import_cifar10(src, data_dir, check_md5=False, expected_counts=(30, N_TEST))
    assert out == cache_path(data_dir) and out.is_file()
    arrays = load_cifar10()  # resolved through $WSBENCH_DATA_DIR
    assert np.array_equal(arrays.train_x, train_x) and arrays.meta["reader"] == "official_tarball"
    out.write_bytes(out.read_bytes()[:1000])
    with pytest.raises(DatasetError, match="cifar10.npz"):
        load_cifar10(data_dir)
    with pytest.raises(DatasetMissingError, match="no CIFAR-10 source"):
        import_cifar10(tmp_path / "empty-nothing", data_dir)


# ---------------------------------------------------------------- image tree
def _write_tree(root: Path, rng: np.random.Generator, classes: tuple[str, ...], n_train: int, n_test: int,
                fmt: str = "PNG") -> dict[tuple[str, str, str], np.ndarray]:
    written = {}
    for split, n in (("train", n_train), ("test", n_test)):
        for cls in classes:
            (root / split / cls).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                img = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
                name = f"{i:04d}.{'png' if fmt == 'PNG' else 'jpg'}"
                Image.fromarray(img).save(root / split / cls / name, format=fmt)
                written[(split, cls, name)] = img
    return written


def test_image_tree_folder_and_tar(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    root = tmp_path / "tree" / "CIFAR-10-images"
    written = _write_tree(root, rng, CIFAR10_CLASSES, 2, 1)
    (root / "train" / "README.txt").write_text("ignored")
    tar = tmp_path / "cifar10_jpeg_tree.tar.gz"
    with tarfile.open(tar, "w:gz") as tf:
        tf.add(root, arcname="CIFAR-10-images")
    for source in (root, tar):
        arrays = read_image_tree(source, expected_classes=CIFAR10_CLASSES, expected_counts=(20, 10))
        assert arrays.train_x.shape == (20, 3, 32, 32) and arrays.test_x is not None
        for split, x, y in (("train", arrays.train_x, arrays.train_y), ("test", arrays.test_x, arrays.test_y)):
            keys = sorted(k for k in written if k[0] == split)
            for i, key in enumerate(keys):
                assert y[i] == CIFAR10_CLASSES.index(key[1])  # alphabetical order = standard label order
                assert np.array_equal(x[i], written[key].transpose(2, 0, 1))  # PNG is lossless
    assert read_image_tree(tar).meta["sha256"] == hashlib.sha256(tar.read_bytes()).hexdigest()
    with pytest.raises(DatasetError, match="expected 50000"):
        read_image_tree(tar, expected_counts=(50000, 10000))


def test_image_tree_jpeg_and_errors(tmp_path: Path, data_dir: Path) -> None:
    rng = np.random.default_rng(4)
    root = tmp_path / "shared" / "cifar10" / "tree"
    written = _write_tree(root, rng, CIFAR10_CLASSES, 1, 1, fmt="JPEG")
    tar = root.parent / "cifar10_jpeg_tree.tar.gz"
    with tarfile.open(tar, "w:gz") as tf:
        tf.add(root, arcname=".")
    import_cifar10(tmp_path / "shared", data_dir, expected_counts=(10, 10))  # finds cifar10/<tree>.tar.gz
    arrays = load_cifar10(data_dir)
    ref = written[("train", "bird", "0000.jpg")]
    decoded = np.asarray(Image.open(root / "train" / "bird" / "0000.jpg").convert("RGB"))
    assert np.array_equal(arrays.train_x[2], decoded.transpose(2, 0, 1))
    assert np.abs(arrays.train_x[2].astype(int) - ref.transpose(2, 0, 1)).mean() < 60  # lossy, same image

    with pytest.raises(DatasetError, match="expected"):
        read_image_tree(root, expected_classes=("a", "b"))
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(root / "test" / "cat" / "small.png")
    with pytest.raises(DatasetError, match="small.png.*expected 32x32"):
        read_image_tree(root)
    (root / "test" / "cat" / "small.png").write_bytes(b"not an image at all")
    with pytest.raises(DatasetError, match="small.png.*cannot be decoded"):
        read_image_tree(root)


# ---------------------------------------------------------------- splits
def _arrays(n: int = 200, side: int = 32, c: int = 3, n_test: int = 20, seed: int = 0) -> ImageArrays:
    rng = np.random.default_rng(seed)
    return ImageArrays(_images(rng, n, side, c), np.arange(n) % 10, _images(rng, n_test, side, c),
                       np.arange(n_test) % 10, tuple(str(i) for i in range(10)))


def test_split_indices_sizes_disjoint_portion() -> None:
    labels = np.arange(1000) % 10
    train, valid = split_indices(labels, 0.1, 0.9, seed=0)
    assert len(train) == 900 and len(valid) == 100
    assert len(np.union1d(train, valid)) == 1000  # disjoint and covering
    train75, valid75 = split_indices(labels, 0.1, 0.75, seed=0)
    assert len(train75) == 750 and np.array_equal(valid75, valid)
    assert np.array_equal(train75, train[:750])  # portion keeps the first part of the same permutation
    again, _ = split_indices(labels, 0.1, 0.9, seed=0)
    other, _ = split_indices(labels, 0.1, 0.9, seed=1)
    assert np.array_equal(again, train) and not np.array_equal(other, train)
    with pytest.raises(DatasetError, match="train_portion"):
        split_indices(labels, 0.2, 0.9, seed=0)
    strain, svalid = split_indices(np.repeat(np.arange(10), [50, 150] * 5), 0.1, 0.9, seed=0, stratify=True)
    counts = np.bincount(np.repeat(np.arange(10), [50, 150] * 5)[svalid], minlength=10)
    assert list(counts) == [5, 15] * 5 and len(np.intersect1d(strain, svalid)) == 0


def test_splits_from_arrays_stats_and_resolution() -> None:
    arrays = _arrays()
    cfg = DataCfg(valid_fraction=0.1, train_portion=0.9, split_seed=3)
    splits = splits_from_arrays(arrays, cfg)
    train_idx, valid_idx = split_indices(arrays.train_y, 0.1, 0.9, 3)
    assert np.array_equal(splits.train_x.numpy(), arrays.train_x[train_idx])
    assert np.array_equal(splits.valid_y.numpy(), arrays.train_y[valid_idx])
    assert splits.test_x is not None and np.array_equal(splits.test_x.numpy(), arrays.test_x)
    tx = arrays.train_x[train_idx].astype(np.float64)
    assert np.allclose(splits.mean.numpy(), tx.mean(axis=(0, 2, 3)), atol=1e-3)
    assert np.allclose(splits.std.numpy(), tx.std(axis=(0, 2, 3)), atol=1e-3)
    low = splits_from_arrays(arrays, cfg.model_copy(update={"resolution": 16}))
    blocks = arrays.train_x[train_idx].reshape(-1, 3, 16, 2, 16, 2).astype(np.float64).mean(axis=(3, 5))
    assert low.train_x.shape == (180, 3, 16, 16) and np.array_equal(low.train_x.numpy(), np.rint(blocks))
    assert low.test_x is not None and low.test_x.shape[-1] == 16 and low.crop_padding == 2
    x = splits.valid_x[:5]
    expected = (x.double() - splits.mean.double().view(1, 3, 1, 1)) / splits.std.double().view(1, 3, 1, 1)
    assert torch.allclose(normalize(x, splits).double(), expected, atol=1e-4)


def test_digits() -> None:
    arrays = load_digits_arrays()
    assert arrays.train_x.shape == (1438, 1, 8, 8) and arrays.test_x is not None
    assert arrays.test_x.shape == (359, 1, 8, 8) and arrays.train_x.dtype == np.uint8
    assert arrays.train_x.max() == 255 and arrays.train_x.min() == 0
    assert set(np.unique(arrays.train_x)) <= {round(v * 255 / 16) for v in range(17)}
    assert np.all(np.abs(np.bincount(arrays.test_y) - 0.2 * np.bincount(np.concatenate(
        [arrays.train_y, arrays.test_y]))) <= 0.5)  # stratified 20% test
    big = load_digits_arrays(side=16)
    assert np.array_equal(big.train_x, arrays.train_x.repeat(2, axis=2).repeat(2, axis=3))  # nearest x2
    assert load_digits_arrays(side=20, mode="bilinear").train_x.shape == (1438, 1, 20, 20)
    splits = load_splits(DataCfg(dataset="digits", valid_fraction=0.25, train_portion=0.75), None, "cpu")
    assert (len(splits.train_x), len(splits.valid_x), len(splits.test_x)) == (1078, 360, 359)
    assert splits.num_classes == 10 and splits.in_channels == 1 and splits.hflip is False


# ---------------------------------------------------------------- augmentation and batches
def test_crop_flip_exact() -> None:
    x = torch.from_numpy(_images(np.random.default_rng(5), 6, side=8))
    pad = 2
    dy, dx = torch.tensor([0, 1, 2, 3, 4, 2]), torch.tensor([4, 3, 2, 1, 0, 2])
    flip = torch.tensor([False, True, False, True, False, True])
    out = crop_flip(x, pad, dy, dx, flip)
    padded = np.pad(x.numpy(), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    for i in range(6):
        window = padded[i, :, dy[i]:dy[i] + 8, dx[i]:dx[i] + 8]
        assert np.array_equal(out[i].numpy(), window[:, :, ::-1] if flip[i] else window)
    assert torch.equal(out[5], x[5].flip(-1))  # centred offsets + flip = exact mirror
    assert torch.equal(crop_flip(x, pad, torch.full((6,), 2), torch.full((6,), 2)), x)


def test_random_crop_flip_is_a_shift() -> None:
    x = torch.from_numpy(_images(np.random.default_rng(6), 32, side=8))
    out = random_crop_flip(x, torch.Generator().manual_seed(0))  # padding 1 at side 8
    padded = np.pad(x.numpy(), ((0, 0), (0, 0), (1, 1), (1, 1)))

    def window(i: int, a: int, b: int, f: int) -> np.ndarray:
        w = padded[i, :, a:a + 8, b:b + 8]
        return w[:, :, ::-1] if f else w

    seen = set()
    for i in range(len(x)):
        matches = [(a, b, f) for a in range(3) for b in range(3) for f in (0, 1)
                   if np.array_equal(out[i].numpy(), window(i, a, b, f))]
        assert matches, f"sample {i} is not a padded shift of its input"
        seen.update(matches)
    assert len(seen) > 4  # offsets and flips vary


def test_batch_iterator_determinism_and_identity() -> None:
    arrays = _arrays(n=100)
    splits = splits_from_arrays(arrays, DataCfg(valid_fraction=0.1, train_portion=0.9))
    it = BatchIterator(splits.train_x, splits.train_y, 16, splits.mean, splits.std, augment=True)
    assert len(it) == 5 and len(BatchIterator(splits.train_x, splits.train_y, 16, splits.mean, splits.std,
                                              augment=True, drop_last=False)) == 6

    def run(seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return list(it.epoch(torch.Generator().manual_seed(seed)))

    first = run(7)
    _ = run(8)  # an epoch in between must not change what seed 7 gives (no hidden state)
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(first, run(7), strict=True))
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(first, run(8), strict=True))
    assert first[0][0].dtype == torch.float32 and first[0][0].shape == (16, 3, 32, 32)

    plain = BatchIterator(splits.train_x, splits.train_y, 16, splits.mean, splits.std, augment=False,
                          drop_last=False)
    batches = list(plain.epoch(torch.Generator().manual_seed(1)))
    perm = torch.randperm(90, generator=torch.Generator().manual_seed(1))
    xs, ys = torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
    assert torch.equal(ys, splits.train_y[perm])  # each image exactly once, in the generator's order
    assert torch.allclose(xs, normalize(splits.train_x[perm], splits))


def test_fixed_batches() -> None:
    arrays = _arrays(n=100)
    splits = splits_from_arrays(arrays, DataCfg())
    a = fixed_batches(splits.valid_x, splits.valid_y, 4, 2, splits.mean, splits.std, torch.Generator().manual_seed(0))
    b = fixed_batches(splits.valid_x, splits.valid_y, 4, 2, splits.mean, splits.std, torch.Generator().manual_seed(0))
    assert len(a) == 2 and all(torch.equal(p[0], q[0]) for p, q in zip(a, b, strict=True))
    everything = fixed_batches(splits.valid_x, splits.valid_y, 4, 100, splits.mean, splits.std)
    assert [len(t[1]) for t in everything] == [4, 4, 2]  # capped at the 10 valid images, in order
    assert torch.allclose(torch.cat([t[0] for t in everything]), normalize(splits.valid_x, splits))


# ---------------------------------------------------------------- the real CIFAR-10 image tree
@pytest.mark.slow
def test_real_cifar10_tree(shared_data: Path, data_dir: Path) -> None:
    tar = shared_data / "cifar10" / "cifar10_jpeg_tree.tar.gz"
    if not tar.is_file():
        pytest.skip(f"{tar} not present")
    import_cifar10(shared_data, data_dir)
    arrays = load_cifar10(data_dir)
    assert arrays.train_x.shape == (50000, 3, 32, 32) and arrays.test_x is not None
    assert arrays.test_x.shape == (10000, 3, 32, 32)
    assert list(np.bincount(arrays.train_y)) == [5000] * 10 and list(np.bincount(arrays.test_y)) == [1000] * 10
    means = arrays.train_x.mean(axis=(0, 2, 3))
    assert np.all(np.abs(means - np.array([125.3, 123.0, 113.9])) < 1.0)  # known CIFAR-10 channel means
    splits = load_splits(DataCfg(train_portion=0.75), data_dir, torch.device("cpu"))
    assert (len(splits.train_x), len(splits.valid_x), len(splits.test_x)) == (37500, 5000, 10000)
