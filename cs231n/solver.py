"""The Solver: minibatch training loop with accuracy tracking (checkpoints: cs231n.checkpoint)."""

import numpy as np
from tqdm.auto import tqdm

from . import checkpoint, optim
from .todos import TodoError, todo_file, todo_name, unfinished

_DEFAULTS = {
    "update_rule": "sgd",
    "optim_config": None,
    "lr_decay": 1.0,
    "lr_schedule": "step",
    "batch_size": 100,
    "num_epochs": 10,
    "num_train_samples": 1000,
    "num_val_samples": None,
    "checkpoint_name": None,
    "print_every": 10,
    "verbose": True,
    "progress": None,
    "augment": None,
    "resume": None,
}
LR_SCHEDULES = ("step", "linear")


class TrainingDivergedError(FloatingPointError):
    """Raised by Solver when the training loss becomes NaN or infinite."""


class Solver:
    """
    A Solver encapsulates all the logic necessary for training classification
    models. The Solver performs stochastic gradient descent using different
    update rules defined in optim.py.

    The solver accepts both training and validation data and labels so it can
    periodically check classification accuracy on both training and validation
    data to watch out for overfitting.

    To train a model, you will first construct a Solver instance, passing the
    model, dataset, and various options (learning rate, batch size, etc) to the
    constructor. You will then call the train() method to run the optimization
    procedure and train the model.

    After the train() method returns, model.params will contain the parameters
    that performed best on the validation set over the course of training (and
    model.bn_params the running statistics that went with them).
    In addition, the instance variable solver.loss_history will contain a list
    of all losses encountered during training and the instance variables
    solver.train_acc_history and solver.val_acc_history will be lists of the
    accuracies of the model on the training and validation set at each epoch.

    Example usage might look something like this:

    data = {
      'X_train': # training data
      'y_train': # training labels
      'X_val': # validation data
      'y_val': # validation labels
    }
    model = MyAwesomeModel(hidden_size=100, reg=10)
    solver = Solver(model, data,
                    update_rule='sgd',
                    optim_config={
                      'learning_rate': 1e-4,
                    },
                    lr_decay=0.95,
                    num_epochs=5, batch_size=200,
                    print_every=100)
    solver.train()

    A Solver works on a model object that must conform to the following API:

    - model.params must be a dictionary mapping string parameter names to numpy
      arrays containing parameter values.

    - model.loss(X, y) must be a function that computes training-time loss and
      gradients, and test-time classification scores, with the following inputs
      and outputs:

      Inputs:
      - X: Array giving a minibatch of input data of shape (N, d_1, ..., d_k)
      - y: Array of labels, of shape (N,) giving labels for X where y[i] is the
        label for X[i].

      Returns:
      If y is None, run a test-time forward pass and return:
      - scores: Array of shape (N, C) giving classification scores for X where
        scores[i, c] gives the score of class c for X[i].

      If y is not None, run a training time forward and backward pass and
      return a tuple of:
      - loss: Scalar giving the loss
      - grads: Dictionary with the same keys as self.params mapping parameter
        names to gradients of the loss with respect to those parameters.

    - model.bn_params (optional) is a list of dicts whose array entries are
      running statistics; checkpoints save and restore them.
    """

    def __init__(self, model, data, **kwargs):
        """
        Construct a new Solver instance.

        Required arguments:
        - model: A model object conforming to the API described above
        - data: A dictionary of training and validation data containing:
          'X_train': Array, shape (N_train, d_1, ..., d_k) of training images
          'X_val': Array, shape (N_val, d_1, ..., d_k) of validation images
          'y_train': Array, shape (N_train,) of labels for training images
          'y_val': Array, shape (N_val,) of labels for validation images
          Other keys (X_test, class_names, ...) are ignored.

        Optional arguments:
        - update_rule: A string giving the name of an update rule in optim.py,
          or a function with the same signature. Default is 'sgd'.
        - optim_config: A dictionary containing hyperparameters that will be
          passed to the chosen update rule. Each update rule requires different
          hyperparameters (see optim.py) but all update rules require a
          'learning_rate' parameter so that should always be present.
        - lr_decay: A scalar for learning rate decay; after each epoch the
          learning rate is multiplied by this value.
        - lr_schedule: 'step' (default): the rate changes only through lr_decay.
          'linear': iteration t of T runs at optim_config['learning_rate'] * (1 - t / T),
          so the rate falls to zero over the run (lr_decay must stay 1.0); in short
          runs this keeps the last steps from bouncing around the minimum.
        - batch_size: Size of minibatches used to compute loss and gradient
          during training.
        - num_epochs: The number of epochs to run for during training.
        - print_every: Integer; training losses will be printed every
          print_every iterations.
        - verbose: Boolean; if set to false then no output will be printed
          during training.
        - progress: Boolean; show a progress bar (epoch and loss). Defaults to verbose.
        - num_train_samples: Number of training samples used to check training
          accuracy; default is 1000; set to None to use entire training set.
        - num_val_samples: Number of validation samples to use to check val
          accuracy; default is None, which uses the entire validation set.
        - augment: A function X_batch -> X_batch applied to every training
          minibatch (data augmentation), or None.
        - checkpoint_name: If not None, then save a checkpoint
          f"{checkpoint_name}_epoch_{epoch}.npz" after every epoch.
        - resume: Path of a checkpoint to continue from (see load_checkpoint).
          update_rule, lr_decay, lr_schedule, batch_size, num_epochs, num_train_samples
          and num_val_samples passed explicitly here override the checkpoint's.
        """
        unknown = sorted(set(kwargs) - set(_DEFAULTS))
        if unknown:
            raise ValueError(f"Unrecognized arguments {', '.join(unknown)}; valid ones are {', '.join(_DEFAULTS)}")
        opts = {**_DEFAULTS, **kwargs}

        self.model = model
        self._check_model()
        self._set_data(data)

        self.update_rule = _resolve_update_rule(opts["update_rule"])
        self.optim_config = dict(opts["optim_config"] or {})
        self.lr_decay = opts["lr_decay"]
        self.lr_schedule = opts["lr_schedule"]
        self.base_learning_rate = self.optim_config.get("learning_rate")
        self.batch_size = int(opts["batch_size"])
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {opts['batch_size']}")
        self.num_epochs = opts["num_epochs"]
        self.num_train_samples = opts["num_train_samples"]
        self.num_val_samples = opts["num_val_samples"]
        self.checkpoint_name = opts["checkpoint_name"]
        self.print_every = opts["print_every"]
        self.verbose = opts["verbose"]
        self.progress = self.verbose if opts["progress"] is None else opts["progress"]
        if opts["augment"] is not None and not callable(opts["augment"]):
            raise ValueError("augment must be a function X_batch -> X_batch, or None")
        self.augment = opts["augment"]

        self._reset()

        if opts["resume"] is not None:
            explicit = {name: getattr(self, name) for name in checkpoint.HYPERPARAMS if name in kwargs}
            self.load_checkpoint(opts["resume"])
            for name, value in explicit.items():
                setattr(self, name, value)
        self._check_lr_schedule()

    def _check_model(self):
        """Raise TodoError naming the method to implement unless the model has parameters and a loss."""
        params = getattr(self.model, "params", None)
        if not isinstance(params, dict) or not params:
            init = type(self.model).__init__
            raise TodoError(
                f"{type(self.model).__name__}.params is {'empty' if params == {} else repr(params)}: "
                f"implement {todo_name(init)} in {todo_file(init)}"
            )
        if not callable(getattr(self.model, "loss", None)):
            raise TypeError(f"{type(self.model).__name__} has no loss(X, y=None) method; the Solver needs one")

    def _check_lr_schedule(self):
        """Raise ValueError unless lr_schedule, lr_decay and the learning rate fit together."""
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f'Invalid lr_schedule "{self.lr_schedule}"; use "step" (the rate changes only '
                             'through lr_decay) or "linear" (the rate falls to zero over the run)')
        if self.lr_schedule == "linear" and self.lr_decay != 1.0:
            raise ValueError(f"lr_decay={self.lr_decay} applies to lr_schedule='step'; under 'linear' the "
                             "rate already falls to zero, so leave lr_decay at 1.0")
        if self.lr_schedule == "linear" and self.base_learning_rate is None:
            raise ValueError("lr_schedule='linear' scales optim_config['learning_rate'], which is missing; "
                             "pass one, e.g. optim_config={'learning_rate': 1e-3}")

    def _set_data(self, data):
        """Validate data and store its training and validation arrays."""
        for key in ("X_train", "y_train", "X_val", "y_val"):
            if key not in data:
                raise ValueError(f"data has no '{key}'; pass a dict with X_train, y_train, X_val and y_val "
                                 "(e.g. from cs231n.data_utils.get_data)")
        for split in ("train", "val"):
            X, y = np.asarray(data[f"X_{split}"]), np.asarray(data[f"y_{split}"])
            if X.ndim < 1 or y.ndim != 1 or X.shape[0] != y.shape[0]:
                raise ValueError(f"X_{split} has shape {X.shape} but y_{split} has shape {y.shape}; "
                                 f"y_{split} must hold one label per row of X_{split}")
            if not np.issubdtype(y.dtype, np.integer):
                raise ValueError(f"y_{split} must hold integer class labels, got dtype {y.dtype}; "
                                 f"cast it with y_{split}.astype(np.int64)")
            if split == "train" and X.shape[0] == 0:
                raise ValueError("X_train is empty; the Solver needs at least one training example")
            setattr(self, f"X_{split}", X)
            setattr(self, f"y_{split}", y)

    def _reset(self):
        """
        Set up some book-keeping variables for optimization. Don't call this
        manually.
        """
        self.epoch = 0
        self.iteration = 0
        self.best_val_acc = 0
        self.best_params = {}
        self.best_running_stats = []
        self.loss_history = []
        self.train_acc_history = []
        self.val_acc_history = []
        self.last_checkpoint = None

        # Make a deep copy of the optim_config for each parameter
        self.optim_configs = {p: dict(self.optim_config) for p in self.model.params}

    def _iterations_per_epoch(self):
        """Return the number of minibatches that make one epoch (at least one)."""
        return max(self.X_train.shape[0] // self.batch_size, 1)

    def _step(self):
        """
        Make a single gradient update. This is called by train() and should not
        be called manually.
        """
        if self.lr_schedule == "linear":
            num_iterations = self.num_epochs * self._iterations_per_epoch()
            rate = self.base_learning_rate * (1 - self.iteration / num_iterations)
            for config in self.optim_configs.values():
                config["learning_rate"] = rate

        # Make a minibatch of training data
        num_train = self.X_train.shape[0]
        batch_mask = np.random.choice(num_train, self.batch_size)
        X_batch = self.X_train[batch_mask]
        y_batch = self.y_train[batch_mask]
        if self.augment is not None:
            X_batch = self.augment(X_batch)

        # Compute loss and gradient
        loss, grads = self._loss_and_grads(X_batch, y_batch)
        self.loss_history.append(loss)
        if not np.isfinite(loss):
            self._diverged(loss)

        # Perform a parameter update
        for p, w in self.model.params.items():
            dw = grads[p]
            next_w, next_config = self.update_rule(w, dw, self.optim_configs[p])
            self.model.params[p] = next_w
            self.optim_configs[p] = next_config
        self.iteration += 1

    def _loss_and_grads(self, X_batch, y_batch):
        """Call model.loss(X_batch, y_batch); return (float loss, grads) or raise TodoError naming it."""
        out = self.model.loss(X_batch, y_batch)
        if not (isinstance(out, tuple) and len(out) == 2):
            self._bad_output(f"returned {_describe(out)} instead of (loss, grads)", out is None)
        loss, grads = out
        if np.ndim(loss) != 0 or not isinstance(np.asarray(loss).item(), (int, float)):
            self._bad_output(f"returned a loss of {_describe(loss)} instead of a scalar", loss is None)
        if not isinstance(grads, dict):
            self._bad_output(f"returned grads of {_describe(grads)} instead of a dict", grads is None)
        missing = [p for p in self.model.params if p not in grads]
        if missing:
            self._bad_output(f"returned grads without {', '.join(map(repr, missing))} (one per key of params)")
        grads = dict(grads)
        for p, w in self.model.params.items():
            shape = np.shape(grads[p])
            # Extra leading axes of length 1 (a (1, D) dgamma for a (D,) gamma) are the documented shape too.
            extra = len(shape) - np.ndim(w)
            if extra >= 0 and shape[extra:] == np.shape(w) and all(n == 1 for n in shape[:extra]):
                grads[p] = np.reshape(grads[p], np.shape(w))
            else:
                self._bad_output(f"returned grads[{p!r}] of {_describe(grads[p])} for a parameter of shape {w.shape}")
        return float(loss), grads

    def _bad_output(self, problem, missing=False):
        """Raise TodoError: `<Model>.loss <problem>: implement/fix <Model>.loss in <file>`."""
        method = type(self.model).loss
        verb = "implement" if missing or unfinished(method) else "fix"
        raise TodoError(f"{todo_name(method)} {problem}: {verb} {todo_name(method)} in {todo_file(method)}")

    def _diverged(self, loss):
        """Restore the best parameters seen so far and raise TrainingDivergedError."""
        if self.best_params:
            self._swap_in_best()
            kept = f"model.params now holds the best parameters (val acc {self.best_val_acc:.4f})"
        else:
            kept = "model.params holds the parameters before this step"
        lr = self.optim_configs[next(iter(self.optim_configs))].get("learning_rate")
        raise TrainingDivergedError(
            f"training diverged: loss is {loss} at epoch {self.epoch}, iteration {self.iteration + 1}; "
            f"{kept}. Lower the learning rate (now {lr}) or the weight scale."
        )

    def _swap_in_best(self):
        """Put the best parameters, and the running statistics that went with them, into the model."""
        self.model.params = dict(self.best_params)
        for bn, stats in zip(getattr(self.model, "bn_params", None) or [], self.best_running_stats):
            bn.update({k: v.copy() for k, v in stats.items()})

    def check_accuracy(self, X, y, num_samples=None, batch_size=100):
        """
        Check accuracy of the model on the provided data.

        Inputs:
        - X: Array of data, of shape (N, d_1, ..., d_k)
        - y: Array of labels, of shape (N,)
        - num_samples: If not None, subsample the data and only test the model
          on num_samples datapoints.
        - batch_size: Split X and y into batches of this size to avoid using
          too much memory.

        Returns:
        - acc: Scalar giving the fraction of instances that were correctly
          classified by the model.
        """

        # Maybe subsample the data
        N = X.shape[0]
        if num_samples is not None and N > num_samples:
            mask = np.random.choice(N, num_samples)
            N = num_samples
            X = X[mask]
            y = y[mask]
        if N == 0:
            return 0.0

        # Compute predictions in batches; float32 halves the memory of each batch.
        correct = 0
        for start in range(0, N, batch_size):
            X_batch = np.asarray(X[start : start + batch_size], dtype=np.float32)
            scores = self.model.loss(X_batch)
            if not isinstance(scores, np.ndarray) or scores.ndim != 2 or scores.shape[0] != len(X_batch):
                self._bad_output(
                    f"(test mode, y=None) returned {_describe(scores)} for {len(X_batch)} inputs instead of "
                    f"scores of shape ({len(X_batch)}, C)",
                    scores is None,
                )
            correct += int(np.sum(np.argmax(scores, axis=1) == y[start : start + batch_size]))
        return correct / N

    def train(self):
        """
        Run optimization to train the model.

        Continues from self.iteration, so a Solver restored from a checkpoint picks
        up at the epoch after the one saved.
        """
        iterations_per_epoch = self._iterations_per_epoch()
        num_iterations = self.num_epochs * iterations_per_epoch

        bar = None
        if self.progress and self.iteration < num_iterations:
            bar = tqdm(total=num_iterations, initial=self.iteration, unit="it", desc="training")
        say = bar.write if bar is not None else print

        try:
            for t in range(self.iteration, num_iterations):
                self._step()

                # Maybe print training loss
                if self.verbose and t % self.print_every == 0:
                    say(f"(Iteration {t + 1} / {num_iterations}) loss: {self.loss_history[-1]:f}")
                if bar is not None:
                    # The epoch this iteration belongs to, counted from 1: the last one reads N/N.
                    epoch = f"{t // iterations_per_epoch + 1}/{self.num_epochs}"
                    bar.set_postfix(epoch=epoch, loss=f"{self.loss_history[-1]:.4f}", refresh=False)
                    bar.update(1)

                # At the end of every epoch, increment the epoch counter and decay
                # the learning rate.
                epoch_end = (t + 1) % iterations_per_epoch == 0
                if epoch_end:
                    self.epoch += 1
                    for k in self.optim_configs:
                        self.optim_configs[k]["learning_rate"] *= self.lr_decay

                # Check train and val accuracy on the first iteration, the last
                # iteration, and at the end of each epoch.
                first_it = t == 0
                last_it = t == num_iterations - 1
                if first_it or last_it or epoch_end:
                    train_acc = self.check_accuracy(self.X_train, self.y_train, num_samples=self.num_train_samples)
                    val_acc = self.check_accuracy(self.X_val, self.y_val, num_samples=self.num_val_samples)
                    self.train_acc_history.append(train_acc)
                    self.val_acc_history.append(val_acc)

                    if self.verbose:
                        say(f"(Epoch {self.epoch} / {self.num_epochs}) train acc: {train_acc:f}; val_acc: {val_acc:f}")

                    # Keep track of the best model
                    if val_acc > self.best_val_acc or not self.best_params:
                        self.best_val_acc = val_acc
                        self.best_params = {k: v.copy() for k, v in self.model.params.items()}
                        self.best_running_stats = checkpoint.running_stats(self.model)

                    if epoch_end and self.checkpoint_name is not None:
                        self.save_checkpoint(f"{self.checkpoint_name}_epoch_{self.epoch}.npz")
        finally:
            if bar is not None:
                bar.close()

        # At the end of training swap the best params into the model
        if self.best_params:
            self._swap_in_best()

    def save_checkpoint(self, path):
        """
        Write the training state to path as an .npz file, atomically and without pickle
        (see cs231n.checkpoint for what it holds).

        Inputs:
        - path: File to write; its folder must exist.
        """
        checkpoint.save(self, path)
        self.last_checkpoint = path
        if self.verbose:
            tqdm.write(f'Saving checkpoint to "{path}"')

    def load_checkpoint(self, path):
        """
        Restore the training state saved by save_checkpoint, so train() continues
        from the epoch after the one saved. Also restores np.random's state.

        Inputs:
        - path: An .npz file written by save_checkpoint.
        """
        checkpoint.load(self, path)


def _resolve_update_rule(rule):
    """Return the update function named by rule (a function of cs231n.optim), or rule itself if callable."""
    if callable(rule):
        return rule
    rules = sorted(k for k, v in vars(optim).items() if callable(v) and getattr(v, "__module__", "") == optim.__name__)
    if rule not in rules:
        raise ValueError(f'Invalid update_rule "{rule}"; use one of {rules} or pass a function '
                         "update(w, dw, config) -> (next_w, config)")
    return getattr(optim, rule)


def _describe(value):
    """A few words on what a value is, for error messages: 'None', 'shape (3, 4)', 'type str'."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"shape {value.shape}"
    return f"type {type(value).__name__}"
