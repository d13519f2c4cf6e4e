"""Tests of cs231n.data_utils on small CIFAR-10 and IDX fixtures, plus the real Fashion-MNIST when installed."""

import gzip
import pickle
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest

from cs231n import data_utils
from cs231n.data_utils import (
    data_dirs,
    dataset_name,
    get_CIFAR10_data,
    get_data,
    load_CIFAR10,
    load_CIFAR_batch,
    load_mnist,
)

ARRAY_KEYS = {"X_train", "y_train", "X_val", "y_val", "X_test", "y_test"}


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Hide the real data folders and environment, so only the fixtures written here are found."""
    monkeypatch.delenv("CS231N_DATA_DIR", raising=False)
    monkeypatch.delenv("CS231N_DATASET", raising=False)
    monkeypatch.setattr(data_utils, "DATASETS_DIR", tmp_path / "package_datasets")
    monkeypatch.setattr(data_utils, "SYSTEM_FASHION_MNIST_DIR", tmp_path / "system_fashion")


def write_cifar_batch(path, data, labels, str_keys=False):
    """Write a batch in the official layout: a pickled dict of uint8 data (N, 3072) and a label list."""
    keys = ("data", "labels", "batch_label") if str_keys else (b"data", b"labels", b"batch_label")
    with open(path, "wb") as f:
        pickle.dump({keys[0]: data, keys[1]: list(map(int, labels)), keys[2]: b"fixture"}, f, protocol=2)


def make_cifar_dir(folder, per_batch=20, num_batches=5, num_test=30, seed=0):
    """Write a CIFAR-10 folder of small batches; returns the raw (data_train, y_train, data_test, y_test)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    data = rng.integers(0, 256, size=(per_batch * num_batches, 3072), dtype=np.uint8)
    labels = rng.integers(0, 10, size=per_batch * num_batches)
    for b in range(num_batches):
        rows = slice(b * per_batch, (b + 1) * per_batch)
        write_cifar_batch(folder / f"data_batch_{b + 1}", data[rows], labels[rows])
    data_test = rng.integers(0, 256, size=(num_test, 3072), dtype=np.uint8)
    labels_test = rng.integers(0, 10, size=num_test)
    write_cifar_batch(folder / "test_batch", data_test, labels_test)
    return data, labels, data_test, labels_test


def write_idx(path, array, gz=True):
    """Write a uint8 array as an IDX file (magic 2051 for 3-D images, 2049 for 1-D labels)."""
    array = np.asarray(array, dtype=np.uint8)
    magic = 2051 if array.ndim == 3 else 2049
    payload = struct.pack(f">{1 + array.ndim}i", magic, *array.shape) + array.tobytes()
    if gz:
        with gzip.open(f"{path}.gz", "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)


def make_mnist_dir(folder, num_train=60, num_test=20, gz=True, seed=0):
    """Write the four IDX files of a small (Fashion-)MNIST; returns (x_train, y_train, x_test, y_test)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = (
        rng.integers(0, 256, size=(num_train, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, size=num_train),
        rng.integers(0, 256, size=(num_test, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, size=num_test),
    )
    for stem, array in zip(data_utils.MNIST_FILES.values(), arrays):
        write_idx(folder / stem, array, gz=gz)
    return arrays


def nchw(data):
    """Raw CIFAR rows (N, 3072) as float64 images (N, 3, 32, 32)."""
    return data.reshape(-1, 3, 32, 32).astype(np.float64)


# ----------------------------------------------------------------------------- names and folders


@pytest.mark.parametrize("given, expected", [
    ("cifar10", "cifar10"), ("CIFAR-10", "cifar10"), ("fashion-mnist", "fashion_mnist"),
    ("Fashion_MNIST", "fashion_mnist"), ("MNIST", "mnist"),
])
def test_dataset_name_variants(given, expected):
    assert dataset_name(given) == expected


def test_dataset_name_from_environment(monkeypatch):
    assert dataset_name() == "cifar10"
    monkeypatch.setenv("CS231N_DATASET", "Fashion-MNIST")
    assert dataset_name() == "fashion_mnist"


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ValueError, match="cifar10, fashion_mnist, mnist"):
        get_data("svhn")


def test_data_dirs_order(tmp_path, monkeypatch):
    monkeypatch.setenv("CS231N_DATA_DIR", str(tmp_path / "env"))
    assert data_dirs("fashion_mnist", tmp_path / "arg") == [
        tmp_path / "arg", tmp_path / "arg" / "fashion-mnist",
        tmp_path / "env", tmp_path / "env" / "fashion-mnist",
        tmp_path / "package_datasets" / "fashion-mnist", tmp_path / "system_fashion",
    ]
    assert data_dirs("cifar10")[-1] == tmp_path / "package_datasets" / "cifar-10-batches-py"


@pytest.mark.parametrize("dataset", ["cifar10", "fashion_mnist", "mnist"])
def test_missing_dataset_says_how_to_get_it(dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("CS231N_DATA_DIR", str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError) as info:
        get_data(dataset)
    message = str(info.value)
    assert "./get_datasets.sh" in message
    assert "CS231N_DATASET=fashion_mnist" in message
    assert str(tmp_path / "empty") in message
    assert str(tmp_path / "package_datasets") in message


# ----------------------------------------------------------------------------- CIFAR-10


def test_load_cifar_batch_layout(tmp_path):
    data, labels, _, _ = make_cifar_dir(tmp_path / "c", per_batch=4, num_batches=1, num_test=2)
    X, y = load_CIFAR_batch(tmp_path / "c" / "data_batch_1")
    assert X.shape == (4, 32, 32, 3) and X.dtype == np.float64
    assert y.dtype == np.int64 and np.array_equal(y, labels)
    # Rows hold the 1024 red values, then green, then blue, each row-major.
    assert X[1, 0, 0, 0] == data[1, 0] and X[1, 0, 1, 0] == data[1, 1]
    assert X[1, 0, 0, 1] == data[1, 1024] and X[1, 31, 31, 2] == data[1, 3071]


def test_load_cifar_batch_accepts_str_keys(tmp_path):
    data = np.arange(2 * 3072, dtype=np.int64).astype(np.uint8).reshape(2, 3072)
    write_cifar_batch(tmp_path / "b", data, [3, 7], str_keys=True)
    X, y = load_CIFAR_batch(tmp_path / "b")
    assert np.array_equal(X, data.reshape(2, 3, 32, 32).transpose(0, 2, 3, 1))
    assert y.tolist() == [3, 7]


def test_load_cifar10_concatenates_batches_in_order(tmp_path):
    data, labels, data_test, labels_test = make_cifar_dir(tmp_path / "c", per_batch=3, num_test=4)
    Xtr, Ytr, Xte, Yte = load_CIFAR10(tmp_path / "c")
    assert Xtr.shape == (15, 32, 32, 3) and Xte.shape == (4, 32, 32, 3)
    assert np.array_equal(Xtr, nchw(data).transpose(0, 2, 3, 1))
    assert np.array_equal(Ytr, labels) and np.array_equal(Yte, labels_test)
    assert np.array_equal(Xte, nchw(data_test).transpose(0, 2, 3, 1))


def test_get_data_cifar_splits_nchw_and_subtracts_mean(tmp_path):
    data, labels, data_test, labels_test = make_cifar_dir(tmp_path / "c")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = get_data("cifar10", num_training=70, num_validation=30, num_test=25, data_dir=tmp_path / "c")
    assert ARRAY_KEYS <= set(out)
    assert out["dataset"] == "cifar10" and len(out["class_names"]) == 10
    assert out["X_train"].shape == (70, 3, 32, 32) and out["X_train"].dtype == np.float64
    assert out["X_val"].shape == (30, 3, 32, 32) and out["X_test"].shape == (25, 3, 32, 32)
    mean = nchw(data[:70]).mean(axis=0)
    assert out["mean_image"].shape == (3, 32, 32)
    assert np.allclose(out["mean_image"], mean, atol=1e-10)
    assert np.allclose(out["X_train"], nchw(data[:70]) - mean, atol=1e-10)
    # Validation is the end of the training set.
    assert np.allclose(out["X_val"], nchw(data[70:]) - mean, atol=1e-10)
    assert np.array_equal(out["y_val"], labels[70:]) and out["y_val"].dtype == np.int64
    assert np.allclose(out["X_test"], nchw(data_test[:25]) - mean, atol=1e-10)
    assert np.array_equal(out["y_test"], labels_test[:25])
    assert all(out[k].flags["C_CONTIGUOUS"] and out[k].flags["WRITEABLE"] for k in ARRAY_KEYS)


def test_get_data_without_mean_subtraction_float32(tmp_path):
    data, _, _, _ = make_cifar_dir(tmp_path / "c")
    out = get_data("cifar10", num_training=60, num_validation=10, num_test=5, subtract_mean=False,
                   dtype=np.float32, data_dir=tmp_path / "c")
    assert out["X_train"].dtype == np.float32 and out["X_test"].dtype == np.float32
    assert np.array_equal(out["X_train"], nchw(data[:60]))
    assert not out["mean_image"].any() and out["mean_image"].shape == (3, 32, 32)


def test_get_cifar10_data_course_api(tmp_path):
    make_cifar_dir(tmp_path / "c")
    out = get_CIFAR10_data(num_training=50, num_validation=20, num_test=10, cifar10_dir=tmp_path / "c")
    assert set(out) == ARRAY_KEYS
    assert out["X_val"].shape == (20, 3, 32, 32)
    assert abs(out["X_train"].mean()) < 1e-10


def test_small_cifar_folder_clips_with_one_line_warning(tmp_path):
    make_cifar_dir(tmp_path / "c", per_batch=50, num_batches=1, num_test=30)
    with pytest.warns(UserWarning) as record:
        out = get_data("cifar10", data_dir=tmp_path / "c")
    assert len(record) == 1
    message = str(record[0].message)
    assert "\n" not in message
    assert "num_training 49000 -> 25" in message and "num_validation 1000 -> 25" in message
    assert "num_test 1000 -> 30" in message
    assert out["X_train"].shape[0] == 25 and out["X_val"].shape[0] == 25 and out["X_test"].shape[0] == 30


def test_cifar_found_through_environment(tmp_path, monkeypatch):
    make_cifar_dir(tmp_path / "env" / "cifar-10-batches-py", per_batch=4)
    monkeypatch.setenv("CS231N_DATA_DIR", str(tmp_path / "env"))
    out = get_data(num_training=15, num_validation=5, num_test=5)
    assert out["dataset"] == "cifar10" and out["X_train"].shape == (15, 3, 32, 32)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "not_a_dict"])
def test_corrupt_cifar_batch_names_the_file(tmp_path, damage):
    make_cifar_dir(tmp_path / "c", per_batch=4)
    bad = tmp_path / "c" / "data_batch_3"
    if damage == "truncate":
        bad.write_bytes(bad.read_bytes()[:5000])
    elif damage == "garbage":
        bad.write_bytes(b"<html>404 Not Found</html>")
    else:
        bad.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(ValueError, match="data_batch_3.*delete it and re-run ./get_datasets.sh"):
        get_data("cifar10", num_training=10, num_validation=5, num_test=5, data_dir=tmp_path / "c")


def test_cifar_batch_with_wrong_image_size(tmp_path):
    write_cifar_batch(tmp_path / "b", np.zeros((2, 3000), dtype=np.uint8), [0, 1])
    with pytest.raises(ValueError, match="expected uint8 \\(N, 3072\\)"):
        load_CIFAR_batch(tmp_path / "b")


def test_cifar_labels_out_of_range(tmp_path):
    make_cifar_dir(tmp_path / "c", per_batch=4)
    write_cifar_batch(tmp_path / "c" / "test_batch", np.zeros((2, 3072), dtype=np.uint8), [3, 10])
    with pytest.raises(ValueError, match="test_batch: labels range over 3..10"):
        get_data("cifar10", num_training=10, num_validation=5, num_test=2, data_dir=tmp_path / "c")


@pytest.mark.parametrize("kwargs", [{"num_training": 0}, {"num_validation": -1}, {"num_test": 2.5},
                                    {"dtype": np.int32}])
def test_bad_arguments(tmp_path, kwargs):
    make_cifar_dir(tmp_path / "c", per_batch=4)
    with pytest.raises(ValueError):
        get_data("cifar10", data_dir=tmp_path / "c", **kwargs)


# ----------------------------------------------------------------------------- (Fashion-)MNIST


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_gz_and_raw(tmp_path, gz):
    x_train, y_train, x_test, y_test = make_mnist_dir(tmp_path / "m", gz=gz)
    (xt, tt), (xs, ts) = load_mnist("mnist", root=tmp_path / "m")
    assert xt.shape == (60, 784) and xt.dtype == np.float32 and xs.shape == (20, 784)
    assert np.allclose(xt, x_train.reshape(60, -1) / 255.0, atol=1e-7)
    assert np.array_equal(tt, y_train) and np.array_equal(ts, y_test)


def test_load_mnist_options(tmp_path):
    x_train, y_train, _, _ = make_mnist_dir(tmp_path / "m")
    (xt, tt), _ = load_mnist("mnist", root=tmp_path / "m", normalize=False, flatten=False, one_hot_label=True)
    assert xt.dtype == np.uint8 and xt.shape == (60, 1, 28, 28)
    assert np.array_equal(xt[:, 0], x_train)
    assert tt.shape == (60, 10) and np.array_equal(tt.argmax(axis=1), y_train) and tt.sum() == 60


def test_load_mnist_rejects_cifar():
    with pytest.raises(ValueError, match="load_CIFAR10"):
        load_mnist("cifar10")


def test_get_data_fashion_from_environment_with_clipping(tmp_path, monkeypatch):
    x_train, y_train, x_test, _ = make_mnist_dir(tmp_path / "env" / "fashion-mnist")
    monkeypatch.setenv("CS231N_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("CS231N_DATASET", "fashion-mnist")
    with pytest.warns(UserWarning, match="num_training 59000 -> 30, num_validation 1000 -> 30, num_test 10000 -> 20"):
        out = get_data()
    assert out["dataset"] == "fashion_mnist" and out["class_names"][9] == "Ankle boot"
    assert out["X_train"].shape == (30, 1, 28, 28) and out["X_test"].shape == (20, 1, 28, 28)
    mean = x_train[:30, None].astype(np.float64).mean(axis=0)
    assert np.allclose(out["X_val"], x_train[30:, None] - mean, atol=1e-10)
    assert np.array_equal(out["y_val"], y_train[30:])
    assert np.allclose(out["X_test"] + out["mean_image"], x_test[:, None], atol=1e-10)


def test_mnist_folder_itself_as_data_dir(tmp_path):
    make_mnist_dir(tmp_path / "m", gz=False)
    out = get_data("mnist", num_training=50, num_validation=10, num_test=20, data_dir=tmp_path / "m")
    assert out["X_train"].shape == (50, 1, 28, 28) and out["y_test"].shape == (20,)


@pytest.mark.parametrize("damage", ["truncate_gz", "short_raw", "bad_magic"])
def test_corrupt_idx_names_the_file(tmp_path, damage):
    make_mnist_dir(tmp_path / "m", gz=damage != "short_raw")
    if damage == "truncate_gz":
        bad = tmp_path / "m" / "train-images-idx3-ubyte.gz"
        bad.write_bytes(bad.read_bytes()[:2000])
    elif damage == "short_raw":
        bad = tmp_path / "m" / "train-images-idx3-ubyte"
        bad.write_bytes(bad.read_bytes()[:-10])
    else:
        bad = tmp_path / "m" / "t10k-labels-idx1-ubyte.gz"
        write_idx(tmp_path / "m" / "t10k-labels-idx1-ubyte", np.zeros((20, 28, 28)))
    with pytest.raises(ValueError, match=f"{bad.name}.*delete it and re-run ./get_datasets.sh"):
        load_mnist("mnist", root=tmp_path / "m")


def test_idx_label_count_must_match_images(tmp_path):
    make_mnist_dir(tmp_path / "m")
    write_idx(tmp_path / "m" / "train-labels-idx1-ubyte", np.zeros(59))
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz: holds 59 items"):
        load_mnist("mnist", root=tmp_path / "m")


def test_idx_labels_out_of_range(tmp_path):
    make_mnist_dir(tmp_path / "m")
    write_idx(tmp_path / "m" / "t10k-labels-idx1-ubyte", np.full(20, 12))
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz: labels range over 12..12"):
        get_data("mnist", data_dir=tmp_path / "m", num_training=40, num_validation=10, num_test=20)


def test_real_fashion_mnist(monkeypatch):
    system_dir = Path("/usr/share/datasets/fashion-mnist")
    if not system_dir.is_dir():
        pytest.skip("Fashion-MNIST not installed: apt-get install dataset-fashion-mnist (CI installs it)")
    monkeypatch.setattr(data_utils, "SYSTEM_FASHION_MNIST_DIR", system_dir)
    out = get_data("fashion_mnist", dtype=np.float32)
    assert out["X_train"].shape == (59000, 1, 28, 28) and out["X_train"].dtype == np.float32
    assert out["X_val"].shape == (1000, 1, 28, 28) and out["X_test"].shape == (10000, 1, 28, 28)
    assert np.array_equal(np.bincount(out["y_test"]), np.full(10, 1000))
    assert abs(float(out["X_train"].mean())) < 1e-2
    # Pixels stay on the 0..255 scale.
    restored = out["X_test"] + out["mean_image"]
    assert restored.min() > -1e-3 and abs(restored.max() - 255.0) < 1e-3
