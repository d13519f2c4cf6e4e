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
import os
import tempfile
import zipfile

import numpy as np

FORMAT = 1
# module, class -> builder that turns (params, config) into constructor keyword arguments.
_MODULES = {
    "TwoLayerNet": ("cs231n.classifiers.neural_net", "cs231n.classifiers.fc_net"),
    "FullyConnectedNet": ("cs231n.classifiers.fc_net",),
    "ThreeLayerConvNet": ("cs231n.classifiers.cnn",),
    "ConvNet": ("cs231n.classifiers.cnn",),
}
MAX_FILE_BYTES = 512 * 2**20


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


def read_model_file(path, max_bytes=MAX_FILE_BYTES):
    """
    Read a file written by save_model and check its layout, without building a model.

    Returns a dict with "class", "module", "dataset", "config" (a dict), "params" (name -> array) and
    "bn" (list of dicts of running statistics). Raises ModelFileError naming the problem.
    """
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise ModelFileError(f"model file {path} cannot be read ({exc.strerror}); run the notebook cell that saves it") from None
    if size > max_bytes:
        raise ModelFileError(f"model file {path} is {size} bytes, more than the {max_bytes} allowed")
    try:
        with zipfile.ZipFile(path) as zf:
            unpacked = sum(info.file_size for info in zf.infolist())
        if unpacked > max_bytes:
            raise ModelFileError(f"model file {path} unpacks to {unpacked} bytes, more than the {max_bytes} allowed")
        with np.load(path, allow_pickle=False) as npz:
            entries = {key: npz[key] for key in npz.files}
    except ModelFileError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelFileError(f"model file {path} is not an .npz written by save_model ({exc}); save it again") from None

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
    except json.JSONDecodeError:
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
            if not index.isdigit() or stat not in ("running_mean", "running_var"):
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


def _kwargs(cls_name, params, config, path):
    """Constructor keyword arguments of the model the parameters belong to, from their shapes."""
    normalization = config.get("normalization")
    if normalization not in (None, "batchnorm", "layernorm"):
        raise ModelFileError(f"model file {path}: unknown normalization {normalization!r}")
    dtype = config.get("dtype", "float32")
    if dtype not in ("float32", "float64"):
        raise ModelFileError(f"model file {path}: unknown dtype {dtype!r}")
    if cls_name == "TwoLayerNet":
        D, H = _shape(params, "W1", 2, path)
        return {"dims": (D, H, _shape(params, "W2", 2, path)[1])}
    if cls_name == "FullyConnectedNet":
        L = _num_layers(params)
        shapes = [_shape(params, f"W{i}", 2, path) for i in range(1, L + 1)]
        return {"hidden_dims": [s[1] for s in shapes[:-1]], "input_dim": shapes[0][0], "num_classes": shapes[-1][1],
                "normalization": normalization, "dtype": np.dtype(dtype).type}
    if cls_name == "ThreeLayerConvNet":
        F, C, HH, _ = _shape(params, "W1", 4, path)
        hidden = _shape(params, "W2", 2, path)[1]
        input_dim = tuple(config.get("input_dim") or ())
        if len(input_dim) != 3 or input_dim[0] != C:
            raise ModelFileError(f"model file {path}: input_dim {input_dim} does not fit W1 of shape {params['W1'].shape}")
        return {"input_dim": input_dim, "num_filters": F, "filter_size": HH, "hidden_dim": hidden,
                "num_classes": _shape(params, "W3", 2, path)[1], "dtype": np.dtype(dtype).type}
    if cls_name == "ConvNet":
        layers = config.get("layers")
        input_dim = tuple(config.get("input_dim") or ())
        if not isinstance(layers, list) or len(input_dim) != 3:
            raise ModelFileError(f"model file {path}: a ConvNet needs 'layers' and 'input_dim' in its config")
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


def build_model(info, path="the model file", package="cs231n"):
    """
    Rebuild the classifier described by `info` (from read_model_file) with the classes of `package`,
    copy its parameters and running statistics in, and check every shape and key against the network.
    """
    cls_name, module_name = info["class"], info["module"]
    if cls_name not in _MODULES or module_name not in _MODULES[cls_name]:
        raise ModelFileError(f"model file {path} holds {module_name}.{cls_name}, which load_model does not know")
    module = importlib.import_module(package + module_name.removeprefix("cs231n"))
    cls = getattr(module, cls_name)
    params = info["params"]
    kwargs = _kwargs(cls_name, params, info["config"], path)
    if "dims" in kwargs:
        model = cls(*kwargs["dims"])
    else:
        model = cls(**kwargs)
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
