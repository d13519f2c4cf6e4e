"""Solver checkpoints: the whole training state in one .npz file, written atomically, read without pickle.

A checkpoint holds model.params, the running statistics of model.bn_params, the per-parameter optimizer
state, epoch, iteration, the histories, best_val_acc, best_params, the hyper-parameters and np.random's
state, so that a Solver restored from it continues exactly as the interrupted run would have. Use it
through the Solver: `Solver(..., checkpoint_name="run")` saves `run_epoch_N.npz` after every epoch,
`Solver(..., resume="run_epoch_N.npz")` or `solver.load_checkpoint(path)` continues from one.
"""

import os
import tempfile
import zipfile

import numpy as np

from . import optim

# Bumped whenever the layout changes, so an old file fails with a clear message.
VERSION = 1

# Hyper-parameters a checkpoint carries; passing one explicitly together with resume= overrides it.
HYPERPARAMS = (
    "update_rule",
    "lr_decay",
    "lr_schedule",
    "batch_size",
    "num_epochs",
    "num_train_samples",
    "num_val_samples",
)


def running_stats(model):
    """Return a copy of the array entries (running statistics) of each dict in model.bn_params."""
    return [
        {k: v.copy() for k, v in bn.items() if isinstance(v, np.ndarray)}
        for bn in getattr(model, "bn_params", None) or []
    ]


def state_arrays(solver):
    """Return the solver's whole training state as a flat {name: array} dict, free of objects."""
    arrays = {
        "version": np.array(VERSION),
        "epoch": np.array(solver.epoch),
        "iteration": np.array(solver.iteration),
        "best_val_acc": np.array(solver.best_val_acc, dtype=np.float64),
        "loss_history": np.array(solver.loss_history, dtype=np.float64),
        "train_acc_history": np.array(solver.train_acc_history, dtype=np.float64),
        "val_acc_history": np.array(solver.val_acc_history, dtype=np.float64),
        "hyper/update_rule": np.array(getattr(solver.update_rule, "__name__", "")),
        "hyper/lr_decay": np.array(solver.lr_decay, dtype=np.float64),
        "hyper/lr_schedule": np.array(solver.lr_schedule),
        "hyper/batch_size": np.array(solver.batch_size),
        "hyper/num_epochs": np.array(solver.num_epochs),
    }
    # None cannot be stored without pickle, so an absent key stands for it.
    for name in ("base_learning_rate", "num_train_samples", "num_val_samples"):
        if getattr(solver, name) is not None:
            arrays[f"hyper/{name}"] = np.array(getattr(solver, name))
    _, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    arrays.update({
        "rng/keys": keys,
        "rng/pos": np.array(pos),
        "rng/has_gauss": np.array(has_gauss),
        "rng/cached_gaussian": np.array(cached_gaussian, dtype=np.float64),
    })
    groups = {"params": solver.model.params, "best_params": solver.best_params}
    for group, params in groups.items():
        for name, value in params.items():
            arrays[f"{group}/{name}"] = value
    for group, stats in (("bn_params", running_stats(solver.model)), ("best_bn_params", solver.best_running_stats)):
        for i, layer in enumerate(stats):
            for key, value in layer.items():
                arrays[f"{group}/{i}/{key}"] = value
    for name, config in solver.optim_configs.items():
        for key, value in config.items():
            if not isinstance(value, (np.ndarray, int, float, np.number)):
                raise ValueError(
                    f"optim_configs['{name}']['{key}'] is a {type(value).__name__}; "
                    "checkpoints hold only arrays and numbers, so keep update-rule state numeric"
                )
            arrays[f"optim/{name}/{key}"] = np.asarray(value)
    return arrays


def save(solver, path):
    """
    Write the training state of solver to path as an .npz file, atomically and without pickle.

    Inputs:
    - solver: A cs231n.solver.Solver
    - path: File to write; its folder must exist
    """
    arrays = state_arrays(solver)
    folder = os.path.dirname(os.path.abspath(path))
    # A crash mid-write must never leave a truncated file under the final name.
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp_", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load(solver, path):
    """
    Restore the training state saved by save() into solver (and its model), and np.random's state.

    Inputs:
    - solver: A Solver built for the same model architecture as the run that wrote path
    - path: An .npz file written by save()
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"checkpoint {path} does not exist; pass the path of a file written by save_checkpoint "
            "(checkpoint_name + '_epoch_N.npz')"
        )
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {key: f[key] for key in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(
            f"checkpoint {path} is corrupt or not an .npz file ({exc}); delete it and "
            "resume from an earlier epoch's checkpoint"
        ) from exc
    if "version" not in arrays or int(arrays["version"]) != VERSION:
        raise ValueError(
            f"{path} is not a Solver checkpoint of version {VERSION}; "
            "resume from a file written by this version's Solver.save_checkpoint"
        )
    try:
        _restore(solver, arrays, path)
    except KeyError as exc:
        raise ValueError(f"checkpoint {path} lacks entry {exc}; it is incomplete, resume from another file") from exc


def _scalar(value):
    """Turn a 0-d array loaded from a checkpoint back into a Python scalar."""
    return value.item() if value.ndim == 0 else value


def _optim_rule(name):
    """The public update rule of cs231n.optim called name, or None."""
    rule = getattr(optim, name, None) if name and not name.startswith("_") else None
    return rule if callable(rule) and getattr(rule, "__module__", None) == optim.__name__ else None


def _restore(solver, arrays, path):
    """Apply the flat {name: array} dict of a checkpoint to the solver and its model."""
    groups = {"params": {}, "best_params": {}, "bn_params": {}, "best_bn_params": {}, "optim": {}}
    for key, value in arrays.items():
        group, _, rest = key.partition("/")
        if group in groups:
            groups[group][rest] = value

    model_params = solver.model.params
    saved = groups["params"]
    if set(saved) != set(model_params) or any(saved[k].shape != model_params[k].shape for k in saved):
        raise ValueError(
            f"checkpoint {path} holds parameters {_shapes(saved)} but the model has {_shapes(model_params)}; "
            "build the same model architecture as the run that wrote it"
        )

    bn_params = getattr(solver.model, "bn_params", None) or []
    stats = [{} for _ in bn_params]
    best_stats = [{} for _ in bn_params]
    for group, target in (("bn_params", stats), ("best_bn_params", best_stats)):
        for key, value in groups[group].items():
            i, _, name = key.partition("/")
            if int(i) >= len(target):
                raise ValueError(
                    f"checkpoint {path} has running statistics for layer {i} but the model has "
                    f"{len(target)} normalization layers; build the same model architecture"
                )
            target[int(i)][name] = value

    rule_name = str(arrays["hyper/update_rule"])
    rule = _optim_rule(rule_name)
    if rule is not None:
        solver.update_rule = rule
    elif rule_name != getattr(solver.update_rule, "__name__", None):
        raise ValueError(
            f"checkpoint {path} was trained with update rule '{rule_name}', which is not in "
            f"cs231n.optim; pass update_rule={rule_name} to the Solver together with resume="
        )
    solver.lr_decay = float(arrays["hyper/lr_decay"])
    # Files written before schedules existed ran the 'step' schedule.
    solver.lr_schedule = str(arrays.get("hyper/lr_schedule", "step"))
    rate = arrays.get("hyper/base_learning_rate")
    solver.base_learning_rate = None if rate is None else float(rate)
    solver.batch_size = int(arrays["hyper/batch_size"])
    solver.num_epochs = int(arrays["hyper/num_epochs"])
    for name in ("num_train_samples", "num_val_samples"):
        value = arrays.get(f"hyper/{name}")
        setattr(solver, name, None if value is None else int(value))

    solver.epoch = int(arrays["epoch"])
    solver.iteration = int(arrays["iteration"])
    solver.best_val_acc = float(arrays["best_val_acc"])
    solver.loss_history = arrays["loss_history"].tolist()
    solver.train_acc_history = arrays["train_acc_history"].tolist()
    solver.val_acc_history = arrays["val_acc_history"].tolist()

    solver.model.params = {k: saved[k] for k in model_params}
    solver.best_params = dict(groups["best_params"])
    for bn, layer_stats in zip(bn_params, stats):
        bn.update(layer_stats)
    solver.best_running_stats = best_stats if groups["best_bn_params"] else []

    configs = {p: {} for p in model_params}
    for key, value in groups["optim"].items():
        name, _, entry = key.rpartition("/")
        configs[name][entry] = _scalar(value)
    solver.optim_configs = configs

    np.random.set_state((
        "MT19937",
        arrays["rng/keys"],
        int(arrays["rng/pos"]),
        int(arrays["rng/has_gauss"]),
        float(arrays["rng/cached_gaussian"]),
    ))


def _shapes(params):
    return {k: v.shape for k, v in sorted(params.items())}
