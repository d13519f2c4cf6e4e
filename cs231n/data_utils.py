"""Dataset loading: CIFAR-10, MNIST and Fashion-MNIST, found on disk and split for the assignments.

One entry point serves every notebook: ``get_data()`` reads ``$CS231N_DATASET`` (default ``cifar10``) and
returns the six arrays the Solver wants, images in (N, C, H, W) on the 0..255 pixel scale, so the course's
hyper-parameters carry over from CIFAR-10 to the offline (Fashion-)MNIST. The CIFAR-10 course API
(``load_CIFAR_batch``, ``load_CIFAR10``, ``get_CIFAR10_data``) and ``load_mnist`` stay available.
"""

import gzip
import os
import pickle
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np

DATASETS = ("cifar10", "fashion_mnist", "mnist")

# Folder name of each dataset, under $CS231N_DATA_DIR or cs231n/datasets/ (get_datasets.sh writes there).
SUBDIRS = {"cifar10": "cifar-10-batches-py", "fashion_mnist": "fashion-mnist", "mnist": "mnist"}

# Where Debian's dataset-fashion-mnist package installs the four IDX files.
SYSTEM_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

DATASETS_DIR = Path(__file__).resolve().parent / "datasets"

CLASS_NAMES = {
    "cifar10": ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
    "mnist": [str(d) for d in range(10)],
}

# (num_training, num_validation, num_test) used when get_data() is not told otherwise.
DEFAULT_SPLITS = {
    "cifar10": (49000, 1000, 1000),
    "fashion_mnist": (59000, 1000, 10000),
    "mnist": (59000, 1000, 10000),
}

CIFAR_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_IDX_IMAGES_MAGIC = 2051
_IDX_LABELS_MAGIC = 2049
_NUM_CLASSES = 10
_CIFAR_IMAGE_SIZE = 3 * 32 * 32

_FETCH_HINT = (
    "Run `./get_datasets.sh` (CIFAR-10, needs internet) or `./get_datasets.sh fashion_mnist`, "
    "or set CS231N_DATASET=fashion_mnist for the offline dataset."
)


def _corrupt(path, problem):
    """Return the ValueError raised for an unreadable data file, telling how to get a fresh copy."""
    return ValueError(
        f"{path}: {problem}. The file is truncated or corrupt: delete it and re-run ./get_datasets.sh."
    )


def dataset_name(dataset=None):
    """
    Resolve a dataset name to one of DATASETS.

    Inputs:
    - dataset: Name such as 'cifar10', 'CIFAR-10', 'fashion-mnist' or 'MNIST'; None reads
      $CS231N_DATASET and falls back to 'cifar10'.

    Returns:
    - name: One of 'cifar10', 'fashion_mnist', 'mnist'.
    """
    if dataset is None:
        dataset = os.environ.get("CS231N_DATASET") or "cifar10"
    key = str(dataset).strip().lower().replace("-", "_")
    key = {"cifar_10": "cifar10", "fashionmnist": "fashion_mnist"}.get(key, key)
    if key not in DATASETS:
        raise ValueError(
            f"Unknown dataset {dataset!r}: use one of {', '.join(DATASETS)} "
            "(as the dataset argument or in $CS231N_DATASET)."
        )
    return key


def data_dirs(dataset=None, data_dir=None):
    """
    List the folders searched for a dataset, in lookup order.

    Inputs:
    - dataset: Dataset name (see dataset_name); None reads $CS231N_DATASET.
    - data_dir: Optional folder given by the caller; searched first, itself and then its subfolder
      named like the dataset.

    Returns:
    - dirs: List of Path: data_dir, $CS231N_DATA_DIR (itself, then its dataset subfolder),
      cs231n/datasets/<subfolder>, and for Fashion-MNIST /usr/share/datasets/fashion-mnist.
    """
    name = dataset_name(dataset)
    sub = SUBDIRS[name]
    dirs = []
    for base in (data_dir, os.environ.get("CS231N_DATA_DIR") or None):
        if base is not None:
            base = Path(base).expanduser()
            dirs += [base, base / sub]
    dirs.append(DATASETS_DIR / sub)
    if name == "fashion_mnist":
        dirs.append(SYSTEM_FASHION_MNIST_DIR)
    unique = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


def _mnist_file(folder, stem):
    """Return the path of an IDX file in folder, gzipped or raw, or None if neither exists."""
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def _holds(name, folder):
    """Tell whether folder holds the files of dataset name."""
    if name == "cifar10":
        return (folder / "data_batch_1").is_file() and (folder / "test_batch").is_file()
    return all(_mnist_file(folder, stem) is not None for stem in MNIST_FILES.values())


def _find_dir(name, data_dir=None):
    """Return the first folder in data_dirs() holding dataset name; FileNotFoundError if none does."""
    dirs = data_dirs(name, data_dir)
    for folder in dirs:
        if _holds(name, folder):
            return folder
    needed = "data_batch_1 and test_batch" if name == "cifar10" else ", ".join(MNIST_FILES.values()) + " (.gz or raw)"
    searched = "\n".join(f"  {d}" for d in dirs)
    raise FileNotFoundError(
        f"Dataset {name} not found: no folder holds {needed}. Searched:\n{searched}\n{_FETCH_HINT}"
    )


def _read_cifar_batch(filename):
    """
    Read one CIFAR-10 batch file as stored: uint8 images already in NCHW order.

    Inputs:
    - filename: Path of a batch in the official pickle layout (a dict with b'data', uint8 of shape
      (N, 3072), and b'labels', N ints); str keys are accepted too.

    Returns a tuple of:
    - X: uint8 array of shape (N, 3, 32, 32)
    - y: int64 array of shape (N,)
    """
    with open(filename, "rb") as f:
        try:
            datadict = pickle.load(f, encoding="latin1")
        # A damaged pickle can fail in many ways (EOFError, UnpicklingError, ValueError, ...): all mean the same.
        except Exception as exc:
            raise _corrupt(filename, f"cannot be unpickled ({type(exc).__name__}: {exc})") from exc
    if not isinstance(datadict, dict):
        raise _corrupt(filename, f"holds a {type(datadict).__name__}, not the dict of a CIFAR-10 batch")
    data = datadict.get(b"data", datadict.get("data"))
    labels = datadict.get(b"labels", datadict.get("labels"))
    if data is None or labels is None:
        raise _corrupt(filename, "has no 'data' or no 'labels' entry")
    data = np.asarray(data)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != _CIFAR_IMAGE_SIZE:
        raise _corrupt(filename, f"'data' is {data.dtype} of shape {data.shape}, expected uint8 (N, 3072)")
    y = np.asarray(labels, dtype=np.int64)
    if y.shape != (data.shape[0],):
        raise _corrupt(filename, f"has {data.shape[0]} images but {y.size} labels")
    _check_labels(y, filename)
    return data.reshape(-1, 3, 32, 32), y


def _check_labels(y, filename):
    """Raise ValueError if a label in y is outside 0..9."""
    if y.size and (y.min() < 0 or y.max() >= _NUM_CLASSES):
        raise ValueError(
            f"{filename}: labels range over {y.min()}..{y.max()}, expected 0..{_NUM_CLASSES - 1}. "
            "The file is not a valid dataset file: delete it and re-run ./get_datasets.sh."
        )


def load_CIFAR_batch(filename):
    """
    Load a single batch of CIFAR-10.

    Inputs:
    - filename: Path of a batch file (data_batch_1 ... data_batch_5 or test_batch).

    Returns a tuple of:
    - X: float64 array of shape (N, 32, 32, 3)
    - Y: int64 array of shape (N,)
    """
    X, Y = _read_cifar_batch(filename)
    return X.transpose(0, 2, 3, 1).astype(np.float64), Y


def _read_cifar10(folder):
    """Return (Xtr, Ytr, Xte, Yte) of a CIFAR-10 folder (holding data_batch_1) as uint8 NCHW; absent batches are skipped."""
    batches = [_read_cifar_batch(folder / b) for b in CIFAR_BATCHES if (folder / b).is_file()]
    Xtr = np.concatenate([X for X, _ in batches]) if len(batches) > 1 else batches[0][0]
    Ytr = np.concatenate([y for _, y in batches])
    Xte, Yte = _read_cifar_batch(folder / "test_batch")
    return Xtr, Ytr, Xte, Yte


def load_CIFAR10(ROOT):
    """
    Load all of CIFAR-10 from its extracted folder.

    Inputs:
    - ROOT: Folder cifar-10-batches-py holding data_batch_1 ... data_batch_5 and test_batch
      (a subset folder with fewer batches loads what is there).

    Returns a tuple of:
    - Xtr: float64 array of shape (N_train, 32, 32, 3)
    - Ytr: int64 array of shape (N_train,)
    - Xte: float64 array of shape (N_test, 32, 32, 3)
    - Yte: int64 array of shape (N_test,)
    """
    folder = Path(ROOT)
    if not _holds("cifar10", folder):
        raise FileNotFoundError(f"{folder} does not hold data_batch_1 and test_batch. {_FETCH_HINT}")
    Xtr, Ytr, Xte, Yte = _read_cifar10(folder)
    return (Xtr.transpose(0, 2, 3, 1).astype(np.float64), Ytr,
            Xte.transpose(0, 2, 3, 1).astype(np.float64), Yte)


def _read_idx(path, magic, count=None):
    """
    Read an IDX file (gzipped or raw) into a uint8 array, checking its header against its size.

    Inputs:
    - path: Path of the file.
    - magic: Expected magic number (2051 for images, 2049 for labels).
    - count: Expected number of items, or None to accept the header's.

    Returns:
    - data: uint8 array of shape (N, rows, cols) for images or (N,) for labels.
    """
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise _corrupt(path, f"cannot be decompressed ({type(exc).__name__}: {exc})") from exc
    ndim = 3 if magic == _IDX_IMAGES_MAGIC else 1
    header_size = 4 * (1 + ndim)
    if len(raw) < header_size:
        raise _corrupt(path, f"has {len(raw)} bytes, fewer than its {header_size}-byte header")
    found_magic, *dims = struct.unpack(f">{1 + ndim}i", raw[:header_size])
    if found_magic != magic:
        raise _corrupt(path, f"has magic number {found_magic}, expected {magic}")
    expected = int(np.prod(dims))
    if len(raw) - header_size != expected:
        raise _corrupt(path, f"holds {len(raw) - header_size} bytes of data, its header {dims} says {expected}")
    if count is not None and dims[0] != count:
        raise _corrupt(path, f"holds {dims[0]} items but its images file holds {count}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(dims)


def _read_mnist(folder):
    """Return (Xtr, Ytr, Xte, Yte) of an (Fashion-)MNIST folder: uint8 images (N, 1, 28, 28), int64 labels."""
    arrays = []
    for split in ("train", "test"):
        images = _read_idx(_mnist_file(folder, MNIST_FILES[f"{split}_images"]), _IDX_IMAGES_MAGIC)
        labels_path = _mnist_file(folder, MNIST_FILES[f"{split}_labels"])
        labels = _read_idx(labels_path, _IDX_LABELS_MAGIC, count=images.shape[0]).astype(np.int64)
        _check_labels(labels, labels_path)
        arrays += [images[:, None], labels]
    return tuple(arrays)


def load_mnist(dataset="mnist", root=None, normalize=True, flatten=True, one_hot_label=False):
    """
    Load MNIST or Fashion-MNIST from its four IDX files.

    Inputs:
    - dataset: 'mnist' or 'fashion_mnist'; selects the folders searched (see data_dirs).
    - root: Optional folder holding train-images-idx3-ubyte, train-labels-idx1-ubyte,
      t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each gzipped (.gz) or raw.
    - normalize: If True, images are float32 in [0, 1]; otherwise uint8 in 0..255.
    - flatten: If True, images have shape (N, 784); otherwise (N, 1, 28, 28).
    - one_hot_label: If True, labels are float32 one-hot rows of shape (N, 10); otherwise int64 (N,).

    Returns a tuple of:
    - (x_train, t_train): 60000 training images and labels
    - (x_test, t_test): 10000 test images and labels
    """
    name = dataset_name(dataset)
    if name == "cifar10":
        raise ValueError("load_mnist reads 'mnist' or 'fashion_mnist'; use load_CIFAR10 or get_data for CIFAR-10.")
    Xtr, Ytr, Xte, Yte = _read_mnist(_find_dir(name, root))

    def convert(x, t):
        if flatten:
            x = x.reshape(x.shape[0], -1)
        x = x.astype(np.float32) / np.float32(255.0) if normalize else x.copy()
        if one_hot_label:
            t = np.eye(_NUM_CLASSES, dtype=np.float32)[t]
        return x, t

    return convert(Xtr, Ytr), convert(Xte, Yte)


def _check_count(value, what, minimum=0):
    """Return value as an int, or raise ValueError if it is not an integer >= minimum."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _clip_splits(name, folder, num_training, num_validation, num_test, n_train, n_test):
    """Clip split sizes to the images available, warning once (one line) about what was clipped."""
    asked = (num_training, num_validation, num_test)
    if num_training + num_validation > n_train:
        # Training keeps at least half of a small training set.
        num_validation = min(num_validation, n_train // 2)
        num_training = min(num_training, n_train - num_validation)
    num_test = min(num_test, n_test)
    clipped = [f"{what} {a} -> {b}"
               for what, a, b in zip(("num_training", "num_validation", "num_test"), asked,
                                     (num_training, num_validation, num_test)) if a != b]
    if clipped:
        warnings.warn(
            f"{name} in {folder} has only {n_train} training and {n_test} test images; "
            f"clipped {', '.join(clipped)}.",
            stacklevel=3,
        )
    return num_training, num_validation, num_test


def get_data(dataset=None, num_training=None, num_validation=None, num_test=None,
             subtract_mean=True, dtype=np.float64, data_dir=None):
    """
    Load a dataset and split it for the classifiers: train, validation (taken after the training
    images, i.e. the end of the training set with the default sizes) and test.

    Inputs:
    - dataset: 'cifar10', 'fashion_mnist' or 'mnist' ('-' and case variants accepted); None reads
      $CS231N_DATASET and falls back to 'cifar10'.
    - num_training, num_validation, num_test: Split sizes; None means the dataset's default
      (CIFAR-10 49000/1000/1000, (Fashion-)MNIST 59000/1000/10000). Sizes larger than the data on
      disk are clipped with a warning.
    - subtract_mean: If True, subtract the mean training image from every split.
    - dtype: Floating dtype of the images.
    - data_dir: Optional folder searched first (see data_dirs for the lookup order).

    Returns a dict with:
    - X_train, X_val, X_test: Images of shape (N, C, H, W), pixels on the 0..255 scale:
      (N, 3, 32, 32) for CIFAR-10, (N, 1, 28, 28) for (Fashion-)MNIST
    - y_train, y_val, y_test: int64 labels of shape (N,)
    - dataset: The resolved dataset name
    - class_names: List of the 10 class names
    - mean_image: Mean training image of shape (C, H, W); zeros if subtract_mean is False
    """
    name = dataset_name(dataset)
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating type such as np.float64 or np.float32, got {dtype}.")
    defaults = DEFAULT_SPLITS[name]
    num_training = _check_count(defaults[0] if num_training is None else num_training, "num_training", 1)
    num_validation = _check_count(defaults[1] if num_validation is None else num_validation, "num_validation")
    num_test = _check_count(defaults[2] if num_test is None else num_test, "num_test")

    folder = _find_dir(name, data_dir)
    Xtr, Ytr, Xte, Yte = _read_cifar10(folder) if name == "cifar10" else _read_mnist(folder)
    num_training, num_validation, num_test = _clip_splits(
        name, folder, num_training, num_validation, num_test, Xtr.shape[0], Xte.shape[0])

    # Each split is one fresh array converted straight from the uint8 data, so the mean can be
    # subtracted in place without touching anything the caller holds.
    end_val = num_training + num_validation
    data = {
        "X_train": Xtr[:num_training].astype(dtype),
        "y_train": Ytr[:num_training].copy(),
        "X_val": Xtr[num_training:end_val].astype(dtype),
        "y_val": Ytr[num_training:end_val].copy(),
        "X_test": Xte[:num_test].astype(dtype),
        "y_test": Yte[:num_test].copy(),
    }
    if subtract_mean:
        # A float64 accumulator keeps the float32 mean of 49000 images accurate.
        mean_image = data["X_train"].mean(axis=0, dtype=np.float64).astype(dtype)
        for key in ("X_train", "X_val", "X_test"):
            data[key] -= mean_image
    else:
        mean_image = np.zeros(Xtr.shape[1:], dtype=dtype)
    data.update(dataset=name, class_names=list(CLASS_NAMES[name]), mean_image=mean_image)
    return data


def get_CIFAR10_data(num_training=49000, num_validation=1000, num_test=1000, subtract_mean=True,
                     cifar10_dir=None):
    """
    Load CIFAR-10 and split it for the classifiers (the course API; see get_data).

    Inputs:
    - num_training, num_validation, num_test: Split sizes; validation is
      range(num_training, num_training + num_validation) of the training set.
    - subtract_mean: If True, subtract the mean training image from every split.
    - cifar10_dir: Optional folder cifar-10-batches-py, searched first.

    Returns a dict with:
    - X_train, X_val, X_test: float64 images of shape (N, 3, 32, 32)
    - y_train, y_val, y_test: int64 labels of shape (N,)
    """
    data = get_data("cifar10", num_training, num_validation, num_test, subtract_mean, np.float64, cifar10_dir)
    return {k: data[k] for k in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")}
