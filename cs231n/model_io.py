"""Save a trained classifier to an .npz file and load it back, without pickle.

The notebooks save the model of every graded experiment with `save_model`; the grader reads the file
with `load_model`, rebuilds the network with its own code and measures it on its own copy of the data,
so what counts is the trained weights, not what a cell printed.

File layout (every entry a plain numeric or string array, readable with np.load(allow_pickle=False)):
- "format": 1
- "class": the model's class name, e.g. "FullyConnectedNet"
- "module": the module that defines it, e.g. "cs231n.classifiers.fc_net"
- "config": JSON of the architecture choices the weights' shapes cannot tell (normalization, stages)
- "dataset": the dataset the model was trained on, e.g. "fashion_mnist"
- "param:<name>": every entry of model.params
- "bn:<i>:<name>": the running statistics in model.bn_params[i]
"""

import importlib
import json
import math
import os
import struct
import tempfile
import zipfile
import zlib

import numpy as np

FORMAT = 1
# module, class -> builder that turns (params, config) into constructor keyword arguments.
_MODULES = {
    "TwoLayerNet": ("cs231n.classifiers.neural_net", "cs231n.classifiers.fc_net"),
    "FullyConnectedNet": ("cs231n.classifiers.fc_net",),
    "ThreeLayerConvNet": ("cs231n.classifiers.cnn",),
    "ConvNet": ("cs231n.classifiers.cnn",),
}
# Bounds on what reading a model file may cost, far above any model of the course (the best reference
# CNN is 1.7 MB): the file, its entries, an .npy header, a text entry (the JSON config) in characters.
MAX_FILE_BYTES = 64 * 2**20
MAX_ENTRIES = 4096
MAX_HEADER = 10000
MAX_TEXT = 65536
MAX_NDIM = 8
_ITEMSIZES = {"f": (2, 4, 8), "i": (1, 2, 4, 8), "u": (1, 2, 4, 8)}
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


class ModelFileError(ValueError):
    """A model file that cannot be loaded; the message names the file and what is wrong with it."""


def _config(model):
    """Architecture choices that the parameter shapes do not determine."""
    config = {"normalization": getattr(model, "normalization", None)}
    if hasattr(model, "dtype"):
        config["dtype"] = np.dtype(model.dtype).name
    layers = getattr(model, "layers", None)
    if type(model).__name__ == "ConvNet" and layers is not None:
        config["layers"] = [[kind, bool(pool)] for kind, pool in layers]
        config["input_dim"] = list(model.input_dim)
    elif hasattr(model, "input_dim"):
        config["input_dim"] = list(model.input_dim)
    return config


def save_model(model, path, dataset=None):
    """
    Save model.params (and the running statistics in model.bn_params) to the .npz file `path`.

    Inputs:
    - model: A classifier of cs231n.classifiers (TwoLayerNet, FullyConnectedNet, ThreeLayerConvNet, ConvNet)
    - path: Where to write the file; it is replaced atomically
    - dataset: Name of the dataset the model was trained on (data["dataset"] from get_data)
    """
    name = type(model).__name__
    if name not in _MODULES:
        raise ValueError(f"save_model supports {sorted(_MODULES)}, got a {name}; save one of those models")
    params = getattr(model, "params", None)
    if not isinstance(params, dict) or not params:
        raise ValueError(f"{name}.params is empty: train the model (and implement {name}.__init__) first")
    arrays = {
        "format": np.array(FORMAT),
        "class": np.array(name),
        "module": np.array(type(model).__module__),
        "config": np.array(json.dumps(_config(model))),
        "dataset": np.array(dataset or ""),
    }
    for key, value in params.items():
        value = np.asarray(value)
        if value.dtype.kind not in "fiu":
            raise ValueError(f"{name}.params[{key!r}] is not a numeric array (got {value.dtype}); fix the model")
        arrays[f"param:{key}"] = value
    for i, bn in enumerate(getattr(model, "bn_params", None) or []):
        for key in ("running_mean", "running_var"):
            if key in bn:
                arrays[f"bn:{i}:{key}"] = np.asarray(bn[key])
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".model-", suffix=".npz")
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _zip_entry_count(fh, size, path):
    """The number of members the end-of-archive record of the zip file `fh` announces, read before zipfile
    builds an object per member (a small file can announce millions)."""
    tail_size = min(size, 22 + 65535)
    fh.seek(size - tail_size)
    tail = fh.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        raise ModelFileError(f"model file {path} is not an .npz written by save_model (no zip directory); save it again")
    if at >= 20 and tail[at - 20 : at - 16] == b"PK\x06\x07":
        raise ModelFileError(f"model file {path} is a zip64 archive, which save_model never writes; save it again")
    _, _, _, entries, directory, _, _ = struct.unpack("<4H2LH", tail[at + 4 : at + 22])
    if entries > MAX_ENTRIES or directory > MAX_ENTRIES * 1024:
        raise ModelFileError(f"model file {path} has {entries} entries, more than the {MAX_ENTRIES} a model needs")
    return entries


def _entry_dtype(dtype, shape, key, path):
    """Check an entry's dtype against the allowlist: numbers for arrays, short text for 0-d strings."""
    if dtype.kind in "fiu" and dtype.itemsize in _ITEMSIZES[dtype.kind] and not dtype.fields:
        return
    if dtype.kind == "U" and shape == () and dtype.itemsize <= 4 * MAX_TEXT:
        return
    raise ModelFileError(f"model file {path}: entry {key!r} has dtype {dtype}, not numbers or short text; "
                         "save the model with cs231n.model_io.save_model")


def _read_member(zf, member, budget, path):
    """One .npy member as an array, its header checked before anything the size of its data is allocated:
    dtype on the allowlist, shape x itemsize equal to the bytes the member holds and within `budget`."""
    key = member.filename.removesuffix(".npy")
    with zf.open(member) as fp:
        version = np.lib.format.read_magic(fp)
        if version not in ((1, 0), (2, 0)):
            raise ModelFileError(f"model file {path}: entry {key!r} has an .npy version {version} save_model never writes")
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(fp, max_header_size=MAX_HEADER)
        if len(shape) > MAX_NDIM or any(type(n) is not int or n < 0 for n in shape):
            raise ModelFileError(f"model file {path}: entry {key!r} has the shape {shape}")
        _entry_dtype(dtype, shape, key, path)
        nbytes, present = math.prod(shape) * dtype.itemsize, member.file_size - fp.tell()
        if nbytes != present or nbytes > budget:
            raise ModelFileError(f"model file {path}: entry {key!r} claims shape {shape} of {dtype}, which does not "
                                 f"match the {present} bytes it holds")
        data = bytearray(nbytes)
        view, done = memoryview(data), 0
        while done < nbytes:
            chunk = fp.read(min(nbytes - done, 1 << 20))
            if not chunk:
                raise ModelFileError(f"model file {path}: entry {key!r} is cut short; save the model again")
            view[done : done + len(chunk)] = chunk
            done += len(chunk)
    array = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return key, array if dtype.isnative else array.astype(dtype.newbyteorder("="))


def _read_entries(path, max_bytes):
    """{name: array} of the .npz file `path`, reading at most `max_bytes` of array data in all."""
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise ModelFileError(f"model file {path} cannot be read ({exc.strerror}); run the notebook cell that saves it") from None
    if size > max_bytes:
        raise ModelFileError(f"model file {path} is {size} bytes, more than the {max_bytes} allowed")
    entries = {}
    try:
        with open(path, "rb") as fh:
            _zip_entry_count(fh, size, path)
            fh.seek(0)
            with zipfile.ZipFile(fh) as zf:
                members = zf.infolist()
                unpacked = sum(m.file_size for m in members)
                if unpacked > max_bytes:
                    raise ModelFileError(f"model file {path} unpacks to {unpacked} bytes, more than the {max_bytes} allowed")
                budget = max_bytes
                for member in members:
                    if not member.filename.endswith(".npy") or member.compress_type not in _COMPRESSIONS:
                        raise ModelFileError(f"model file {path}: unexpected member {member.filename[:80]!r}")
                    key, array = _read_member(zf, member, budget, path)
                    if key in entries:
                        raise ModelFileError(f"model file {path} holds the entry {key!r} twice")
                    entries[key] = array
                    budget -= array.nbytes
    except ModelFileError:
        raise
    except (OSError, EOFError, ValueError, TypeError, KeyError, SyntaxError, RecursionError, NotImplementedError,
            zipfile.BadZipFile, zlib.error) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise ModelFileError(f"model file {path} is not an .npz written by save_model ({reason}); save it again") from None
    return entries


def read_model_file(path, max_bytes=MAX_FILE_BYTES):
    """
    Read a file written by save_model and check its layout, without building a model.

    Memory stays bounded by the file's size: the zip directory, each .npy header (dtype, shape) and the
    bytes each entry really holds are checked before its array is allocated; no pickle, no object arrays.

    Returns a dict with "class", "module", "dataset", "config" (a dict), "params" (name -> array) and
    "bn" (list of dicts of running statistics). Raises ModelFileError naming the problem.
    """
    entries = _read_entries(path, max_bytes)

    def text(key):
        value = entries.get(key)
        if value is None or value.dtype.kind != "U" or value.ndim != 0:
            raise ModelFileError(f"model file {path} lacks its {key!r} entry; save it with cs231n.model_io.save_model")
        return str(value)

    fmt = entries.get("format")
    if fmt is None or fmt.ndim != 0 or fmt.dtype.kind not in "iu" or int(fmt) != FORMAT:
        raise ModelFileError(f"model file {path} has an unknown format; save it with cs231n.model_io.save_model")
    try:
        config = json.loads(text("config"))
    except (ValueError, RecursionError):
        raise ModelFileError(f"model file {path} has a broken 'config' entry; save it again") from None
    if not isinstance(config, dict):
        raise ModelFileError(f"model file {path} has a broken 'config' entry; save it again")
    params, bn = {}, {}
    for key, value in entries.items():
        if key.startswith(("param:", "bn:")) and value.dtype.kind not in "fiu":
            raise ModelFileError(f"model file {path}: entry {key!r} is not numeric ({value.dtype})")
        if key.startswith("param:"):
            params[key.split(":", 1)[1]] = value
        elif key.startswith("bn:"):
            _, index, stat = key.split(":", 2)
            if not index.isdigit() or int(index) >= MAX_ENTRIES or stat not in ("running_mean", "running_var"):
                raise ModelFileError(f"model file {path}: unexpected entry {key!r}")
            bn.setdefault(int(index), {})[stat] = value
    if not params:
        raise ModelFileError(f"model file {path} holds no parameters; train the model before saving it")
    bn_list = [bn.get(i, {}) for i in range(max(bn) + 1)] if bn else []
    return {"class": text("class"), "module": text("module"), "dataset": text("dataset"), "config": config,
            "params": params, "bn": bn_list}


def _shape(params, key, ndim, path):
    if key not in params:
        raise ModelFileError(f"model file {path} lacks the parameter {key!r}")
    value = params[key]
    if value.ndim != ndim:
        raise ModelFileError(f"model file {path}: {key} has shape {value.shape}, expected {ndim} dimensions")
    return value.shape


def _num_layers(params):
    return sum(1 for key in params if key.startswith("W") and key[1:].isdigit())


def _input_dim(config, path):
    """config["input_dim"] as a (C, H, W) tuple of positive ints."""
    value = config.get("input_dim")
    if not isinstance(value, list) or len(value) != 3 or any(type(n) is not int or n < 1 for n in value):
        raise ModelFileError(f"model file {path}: input_dim in its config must be [C, H, W] (positive integers), "
                             f"got {str(value)[:80]}; save the model again")
    return tuple(value)


def _conv_layers(config, path):
    """config["layers"] of a ConvNet as a list of (kind, pool) pairs."""
    layers = config.get("layers")
    if (not isinstance(layers, list) or not 0 < len(layers) <= MAX_ENTRIES
            or not all(isinstance(layer, list) and len(layer) == 2 and layer[0] in ("conv", "affine")
                       and isinstance(layer[1], bool) for layer in layers)):
        raise ModelFileError(f"model file {path}: a ConvNet needs 'layers' in its config, a list of "
                             "[\"conv\" or \"affine\", pool (true or false)]; save the model again")
    return [tuple(layer) for layer in layers]


def _kwargs(cls_name, params, config, path):
    """Constructor keyword arguments of the model the parameters belong to, from their shapes; every value
    from the file's JSON config is checked for its type, so a wrong one is a ModelFileError, not a crash."""
    normalization = config.get("normalization")
    if normalization not in (None, "batchnorm", "layernorm"):
        raise ModelFileError(f"model file {path}: unknown normalization {str(normalization)[:80]!r}")
    dtype = config.get("dtype", "float32")
    if dtype not in ("float32", "float64"):
        raise ModelFileError(f"model file {path}: unknown dtype {str(dtype)[:80]!r}")
    if cls_name == "TwoLayerNet":
        D, H = _shape(params, "W1", 2, path)
        return {"dims": (D, H, _shape(params, "W2", 2, path)[1])}
    if cls_name == "FullyConnectedNet":
        L = _num_layers(params)
        shapes = [_shape(params, f"W{i}", 2, path) for i in range(1, max(L, 1) + 1)]
        return {"hidden_dims": [s[1] for s in shapes[:-1]], "input_dim": shapes[0][0], "num_classes": shapes[-1][1],
                "normalization": normalization, "dtype": np.dtype(dtype).type}
    if cls_name == "ThreeLayerConvNet":
        F, C, HH, _ = _shape(params, "W1", 4, path)
        hidden = _shape(params, "W2", 2, path)[1]
        input_dim = _input_dim(config, path)
        if input_dim[0] != C:
            raise ModelFileError(f"model file {path}: input_dim {input_dim} does not fit W1 of shape {params['W1'].shape}")
        return {"input_dim": input_dim, "num_filters": F, "filter_size": HH, "hidden_dim": hidden,
                "num_classes": _shape(params, "W3", 2, path)[1], "dtype": np.dtype(dtype).type}
    if cls_name == "ConvNet":
        layers = _conv_layers(config, path)
        input_dim = _input_dim(config, path)
        stages, stage, hidden_dims, filter_size = [], [], [], None
        for i, (kind, pool) in enumerate(layers, start=1):
            if kind == "conv":
                shape = _shape(params, f"W{i}", 4, path)
                stage.append(shape[0])
                filter_size = shape[2]
                if pool:
                    stages.append(tuple(stage))
                    stage = []
            elif i < len(layers):
                hidden_dims.append(_shape(params, f"W{i}", 2, path)[1])
        if stage or not stages:
            raise ModelFileError(f"model file {path}: its ConvNet layers do not end every stage with a pool")
        return {"input_dim": input_dim, "stages": tuple(stages), "hidden_dims": tuple(hidden_dims),
                "num_classes": _shape(params, f"W{len(layers)}", 2, path)[1], "filter_size": filter_size,
                "normalization": normalization, "dtype": np.dtype(dtype).type}
    raise ModelFileError(f"model file {path} holds a {cls_name}; load_model supports {sorted(_MODULES)}")


def constructor_args(info, path="the model file"):
    """
    The arguments that build the classifier described by `info` (from read_model_file): (args, kwargs),
    the sizes taken from the parameters' shapes and the rest from the file's config, every value checked
    for its type. Raises ModelFileError naming what does not fit.
    """
    cls_name, module_name = info["class"], info["module"]
    if cls_name not in _MODULES or module_name not in _MODULES[cls_name]:
        raise ModelFileError(f"model file {path} holds {module_name[:80]}.{cls_name[:80]}, which load_model does not know")
    kwargs = _kwargs(cls_name, info["params"], info["config"], path)
    if "dims" in kwargs:
        return list(kwargs["dims"]), {}
    return [], kwargs


def build_model(info, path="the model file", package="cs231n"):
    """
    Rebuild the classifier described by `info` (from read_model_file) with the classes of `package`,
    copy its parameters and running statistics in, and check every shape and key against the network.
    """
    args, kwargs = constructor_args(info, path)
    cls_name = info["class"]
    module = importlib.import_module(package + info["module"].removeprefix("cs231n"))
    try:
        model = getattr(module, cls_name)(*args, **kwargs)
    except ValueError as exc:
        raise ModelFileError(f"model file {path} describes a {cls_name} that cannot be built: {exc}") from None
    params = info["params"]
    expected = {key: np.shape(value) for key, value in model.params.items()}
    got = {key: value.shape for key, value in params.items()}
    if expected != got:
        missing = sorted(set(expected) - set(got))
        extra = sorted(set(got) - set(expected))
        wrong = sorted(k for k in set(expected) & set(got) if expected[k] != got[k])
        raise ModelFileError(
            f"model file {path} does not fit a {cls_name}: missing {missing}, unexpected {extra}, wrong shapes {wrong}"
        )
    dtype = getattr(model, "dtype", np.float64)
    model.params = {key: value.astype(dtype, copy=True) for key, value in params.items()}
    bn_params = getattr(model, "bn_params", None) or []
    if info["bn"] and info["config"].get("normalization") == "batchnorm":
        if len(info["bn"]) != len(bn_params):
            raise ModelFileError(f"model file {path} has running statistics for {len(info['bn'])} layers, expected {len(bn_params)}")
        for i, (stats, bn) in enumerate(zip(info["bn"], bn_params)):
            for key, value in stats.items():
                width = np.shape(model.params[f"gamma{i + 1}"])
                if value.shape != width:
                    raise ModelFileError(f"model file {path}: bn:{i}:{key} has shape {value.shape}, expected {width}")
                bn[key] = value.astype(dtype, copy=True)
    return model


def load_model(path):
    """Load a model saved with save_model; returns (model, dataset name)."""
    info = read_model_file(path)
    return build_model(info, path), info["dataset"]
