"""`coursekit cifar-format`: a small offline stand-in for CIFAR-10 in the official pickle layout.

CIFAR-10 cannot be downloaded on machines without internet, yet the notebooks' CIFAR code path (3 x 32 x 32
images, a training set smaller than the course split) must be exercised. This writes a folder that
`get_data("cifar10")` reads like `cifar-10-batches-py` (data_batch_1..5, test_batch, batches.meta), built
from Fashion-MNIST: every 28 x 28 image is placed at a random offset in a 32 x 32 canvas, drawn in a random
foreground colour over a random background colour, with Gaussian pixel noise. The colours, shifts and noise
make it harder than Fashion-MNIST (more like CIFAR-10 in what a fully-connected net reaches), but it is not
CIFAR-10: numbers measured on it say whether a notebook runs and whether an experiment shows its effect on
small colour images, not what the course's CIFAR-10 targets would be.

    coursekit cifar-format --out /tmp/cifar-format
    CS231N_DATASET=cifar10 CS231N_DATA_DIR=/tmp/cifar-format jupyter lab
"""

import pickle
import warnings
from pathlib import Path

import numpy as np

from cs231n.data_utils import CLASS_NAMES, get_data

NUM_BATCHES = 5
SIZE = 32


def to_cifar_images(images, rng, noise=12.0):
    """
    Turn grayscale images into colour images of the CIFAR-10 size.

    Inputs:
    - images: uint8 array of shape (N, 28, 28) (or any size up to 32 x 32), 0 is background
    - rng: numpy Generator drawing the offsets, colours and noise
    - noise: Standard deviation of the Gaussian pixel noise, on the 0..255 scale

    Returns:
    - out: uint8 array of shape (N, 3, 32, 32)
    """
    N, H, W = images.shape
    alpha = np.zeros((N, SIZE, SIZE), dtype=np.float32)
    dy = rng.integers(0, SIZE - H + 1, size=N)
    dx = rng.integers(0, SIZE - W + 1, size=N)
    for i in range(N):
        alpha[i, dy[i]:dy[i] + H, dx[i]:dx[i] + W] = images[i] / 255.0
    background = rng.uniform(0, 140, size=(N, 3, 1, 1))
    foreground = rng.uniform(100, 255, size=(N, 3, 1, 1))
    out = background + (foreground - background) * alpha[:, None]
    out += rng.normal(0.0, noise, size=out.shape)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _write_batch(path, data, labels, label):
    batch = {b"batch_label": label.encode(), b"labels": [int(v) for v in labels],
             b"data": data.reshape(data.shape[0], -1), b"filenames": [b"" for _ in labels]}
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=2)


def main(*, out, num_train=5000, num_test=1000, seed=0):
    """Write the CIFAR-format folder `out` from the Fashion-MNIST found by get_data; return 0."""
    if num_train < NUM_BATCHES or num_train % NUM_BATCHES:
        raise ValueError(f"--train must be a positive multiple of {NUM_BATCHES} (one part per data_batch), got {num_train}")
    with warnings.catch_warnings():
        # Every image there is, whatever the size of the copy found: clipping is expected, not news.
        warnings.simplefilter("ignore", UserWarning)
        fashion = get_data("fashion_mnist", num_training=60000, num_validation=0, num_test=10000,
                           subtract_mean=False, dtype=np.float32)
    rng = np.random.default_rng(seed)
    train_idx = rng.choice(fashion["X_train"].shape[0], size=num_train, replace=False)
    test_idx = rng.choice(fashion["X_test"].shape[0], size=min(num_test, fashion["X_test"].shape[0]), replace=False)
    X_train = to_cifar_images(fashion["X_train"][train_idx, 0].astype(np.uint8), rng)
    X_test = to_cifar_images(fashion["X_test"][test_idx, 0].astype(np.uint8), rng)
    y_train, y_test = fashion["y_train"][train_idx], fashion["y_test"][test_idx]

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    per_batch = num_train // NUM_BATCHES
    for b in range(NUM_BATCHES):
        part = slice(b * per_batch, (b + 1) * per_batch)
        _write_batch(folder / f"data_batch_{b + 1}", X_train[part], y_train[part], f"training batch {b + 1} of {NUM_BATCHES}")
    _write_batch(folder / "test_batch", X_test, y_test, "testing batch 1 of 1")
    meta = {b"label_names": [name.encode() for name in CLASS_NAMES["fashion_mnist"]],
            b"num_cases_per_batch": per_batch, b"num_vis": 3 * SIZE * SIZE}
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump(meta, f, protocol=2)
    (folder / "README.txt").write_text(
        "Not CIFAR-10: Fashion-MNIST images shifted into 32x32 colour images with noise, written by\n"
        f"`coursekit cifar-format` (seed {seed}) in the CIFAR-10 pickle layout for offline tests.\n")
    print(f"{folder}: {num_train} training and {X_test.shape[0]} test images in the CIFAR-10 layout "
          f"(Fashion-MNIST drawn as 3x32x32 colour images, seed {seed})")
    return 0
