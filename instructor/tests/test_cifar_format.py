"""`coursekit cifar-format` writes a folder that get_data("cifar10") reads like the official CIFAR-10 layout."""

import pickle
import struct

import numpy as np
import pytest
from coursekit import cli
from coursekit.notebooks.cifar_format import to_cifar_images

from cs231n.data_utils import get_data


def write_fashion(folder, num_train=40, num_test=15, seed=0):
    """The four IDX files of a tiny Fashion-MNIST; returns (train labels, test labels)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    labels = {}
    for split, n in (("train", num_train), ("t10k", num_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, size=n).astype(np.uint8)
        (folder / f"{split}-images-idx3-ubyte").write_bytes(struct.pack(">4i", 2051, n, 28, 28) + images.tobytes())
        (folder / f"{split}-labels-idx1-ubyte").write_bytes(struct.pack(">2i", 2049, n) + y.tobytes())
        labels[split] = y
    return labels["train"], labels["t10k"]


def test_folder_reads_as_cifar10(tmp_path, monkeypatch, capsys):
    train_labels, test_labels = write_fashion(tmp_path / "fashion")
    monkeypatch.setenv("CS231N_DATA_DIR", str(tmp_path / "fashion"))
    out = tmp_path / "cifar"
    assert cli.main(["cifar-format", "--out", str(out), "--train", "30", "--test", "10", "--seed", "3"]) == 0
    assert "30 training and 10 test images" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta", "README.txt"])
    with open(out / "data_batch_1", "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    assert batch[b"data"].dtype == np.uint8 and batch[b"data"].shape == (6, 3072)
    with open(out / "batches.meta", "rb") as f:
        assert pickle.load(f, encoding="bytes")[b"label_names"][0] == b"T-shirt/top"

    monkeypatch.delenv("CS231N_DATA_DIR")
    data = get_data("cifar10", num_training=25, num_validation=5, num_test=10, data_dir=out)
    assert data["X_train"].shape == (25, 3, 32, 32) and data["X_test"].shape == (10, 3, 32, 32)
    assert set(data["y_train"]) <= set(train_labels) and set(data["y_test"]) <= set(test_labels)


def test_images_are_shifted_coloured_copies():
    rng = np.random.default_rng(0)
    square = np.zeros((1, 28, 28), dtype=np.uint8)
    square[0, 10:18, 10:18] = 255
    out = to_cifar_images(square, rng, noise=0.0)
    assert out.shape == (1, 3, 32, 32) and out.dtype == np.uint8
    image = out[0].astype(int)
    background = image[:, 0, 0]
    bright = np.argwhere((np.abs(image - background[:, None, None]) > 5).any(axis=0))
    assert bright.min(axis=0).tolist() == (bright.max(axis=0) - 7).tolist()  # one 8x8 square, somewhere
    assert 10 <= bright.min() and bright.max() <= 21  # shifted by 0..4 pixels from (10, 10)


def test_training_count_must_split_into_five_batches(tmp_path):
    with pytest.raises(ValueError, match="multiple of 5"):
        from coursekit.notebooks.cifar_format import main

        main(out=tmp_path, num_train=12)
