"""Plotting helpers for the notebooks: image grids, first-layer weights and training curves.

matplotlib is imported inside the functions that draw, so importing this module stays cheap.
"""

from math import ceil, sqrt

import numpy as np

# Image shape (C, H, W) of a flattened first-layer input of each known size.
_IMAGE_SHAPES = {3 * 32 * 32: (3, 32, 32), 28 * 28: (1, 28, 28)}


def _check_images(Xs, name="Xs"):
    """Raise ValueError unless Xs is a non-empty (N, H, W, C) array with C = 1 or 3."""
    if Xs.ndim != 4 or Xs.shape[0] == 0 or Xs.shape[3] not in (1, 3):
        raise ValueError(
            f"{name} must have shape (N, H, W, C) with N >= 1 and C = 1 or 3, got {Xs.shape}; "
            "transpose NCHW arrays with x.transpose(0, 2, 3, 1)."
        )


def _rescale(G):
    """Return G scaled to [0, 1] over its whole range (zeros if G is constant)."""
    low, high = G.min(), G.max()
    return (G - low) / (high - low) if high > low else np.zeros_like(G)


def visualize_grid(Xs, ubound=255.0, padding=1):
    """
    Reshape a 4D tensor of image data to a grid for easy visualization.

    Each image is scaled to [0, ubound] on its own.

    Inputs:
    - Xs: Data of shape (N, H, W, C), C = 1 or 3
    - ubound: Output grid will have values scaled to the range [0, ubound]
    - padding: The number of blank pixels between elements of the grid

    Returns:
    - grid: float64 array of shape (G_H, G_W, C), G_H = g * H + (g - 1) * padding with g = ceil(sqrt(N))
    """
    Xs = np.asarray(Xs, dtype=np.float64)
    _check_images(Xs)
    N, H, W, C = Xs.shape
    grid_size = int(ceil(sqrt(N)))
    grid_height = H * grid_size + padding * (grid_size - 1)
    grid_width = W * grid_size + padding * (grid_size - 1)
    grid = np.zeros((grid_height, grid_width, C))
    for i in range(N):
        y0 = (i // grid_size) * (H + padding)
        x0 = (i % grid_size) * (W + padding)
        grid[y0:y0 + H, x0:x0 + W] = ubound * _rescale(Xs[i])
    return grid


def vis_grid(Xs):
    """
    Lay out images on a square grid with one-pixel borders, scaled to [0, 1] together.

    Inputs:
    - Xs: Data of shape (N, H, W, C), C = 1 or 3

    Returns:
    - G: float64 array of shape (A * (H + 1), A * (W + 1), C) with A = ceil(sqrt(N))
    """
    Xs = np.asarray(Xs, dtype=np.float64)
    _check_images(Xs)
    N, H, W, C = Xs.shape
    A = int(ceil(sqrt(N)))
    G = np.full((A * H + A, A * W + A, C), Xs.min())
    for n in range(N):
        y, x = divmod(n, A)
        G[y * H + y:(y + 1) * H + y, x * W + x:(x + 1) * W + x] = Xs[n]
    return _rescale(G)


def vis_nn(rows):
    """
    Lay out a list of rows of images on a grid with one-pixel borders, scaled to [0, 1] together.

    Inputs:
    - rows: List of N lists, each of D images of shape (H, W, C)

    Returns:
    - G: float64 array of shape (N * (H + 1), D * (W + 1), C)
    """
    N = len(rows)
    D = len(rows[0]) if N else 0
    if N == 0 or D == 0 or any(len(row) != D for row in rows):
        raise ValueError("rows must be a non-empty list of equally long, non-empty lists of (H, W, C) images.")
    H, W, C = np.shape(rows[0][0])
    G = np.ones((N * H + N, D * W + D, C))
    for y in range(N):
        for x in range(D):
            G[y * H + y:(y + 1) * H + y, x * W + x:(x + 1) * W + x] = rows[y][x]
    return _rescale(G)


def imshow_grid(grid, ax=None, ubound=255.0, title=None):
    """
    Show an image grid: RGB as is, one channel in gray.

    Inputs:
    - grid: Image of shape (G_H, G_W, C) with C = 1 or 3, values in [0, ubound]
      (visualize_grid's output), or (G_H, G_W)
    - ax: matplotlib Axes to draw on; None draws on the current Axes
    - ubound: Value shown as white
    - title: Optional title

    Returns:
    - ax: The Axes drawn on
    """
    import matplotlib.pyplot as plt

    grid = np.asarray(grid, dtype=np.float64)
    if grid.ndim == 3 and grid.shape[2] == 1:
        grid = grid[:, :, 0]
    if grid.ndim not in (2, 3) or (grid.ndim == 3 and grid.shape[2] != 3):
        raise ValueError(f"grid must have shape (G_H, G_W, C) with C = 1 or 3, got {grid.shape}.")
    if ax is None:
        ax = plt.gca()
    if grid.ndim == 2:
        ax.imshow(grid, cmap="gray", vmin=0.0, vmax=ubound)
    else:
        ax.imshow(np.clip(grid / ubound, 0.0, 1.0))
    ax.axis("off")
    if title is not None:
        ax.set_title(title)
    return ax


def weights_grid(W, image_shape=None, padding=1):
    """
    Turn first-layer weights into a grid with one image per filter or hidden unit.

    Inputs:
    - W: Conv weights of shape (F, C, HH, WW), or first fully-connected weights of shape (D, H)
      whose D = C * HH * WW inputs are the pixels of an image
    - image_shape: Image shape (C, HH, WW) of fully-connected weights; None infers it from D
      (3072 -> (3, 32, 32), 784 -> (1, 28, 28))
    - padding: Blank pixels between the images

    Returns:
    - grid: float64 array of shape (G_H, G_W, C) scaled to [0, 255] (see visualize_grid)
    """
    W = np.asarray(W)
    if W.ndim == 4:
        images = W.transpose(0, 2, 3, 1)
    elif W.ndim == 2:
        D, num_hidden = W.shape
        if image_shape is None:
            if D not in _IMAGE_SHAPES:
                raise ValueError(f"Cannot infer the image shape of {D} inputs: pass image_shape=(C, H, W).")
            image_shape = _IMAGE_SHAPES[D]
        if int(np.prod(image_shape)) != D:
            raise ValueError(f"image_shape {tuple(image_shape)} does not hold the {D} inputs of W {W.shape}.")
        images = W.T.reshape(num_hidden, *image_shape).transpose(0, 2, 3, 1)
    else:
        raise ValueError(f"W must be conv weights (F, C, H, W) or fully-connected weights (D, H), got {W.shape}.")
    return visualize_grid(images, padding=padding)


def show_weights(W, image_shape=None, ax=None, padding=1, title=None):
    """
    Show first-layer weights as images (see weights_grid).

    Inputs:
    - W: Conv weights of shape (F, C, HH, WW) or fully-connected weights of shape (D, H)
    - image_shape: Image shape (C, HH, WW) of fully-connected weights; None infers it from D
    - ax: matplotlib Axes to draw on; None draws on the current Axes
    - padding: Blank pixels between the images
    - title: Optional title

    Returns:
    - ax: The Axes drawn on
    """
    return imshow_grid(weights_grid(W, image_shape, padding), ax=ax, title=title)


def _history(run, name):
    """Return (loss, train_acc, val_acc, iterations_per_epoch) of a Solver or of a dict holding them."""
    keys = ("loss_history", "train_acc_history", "val_acc_history")
    if isinstance(run, dict):
        missing = [k for k in keys if k not in run]
        values = [run.get(k) for k in keys]
        per_epoch = run.get("iterations_per_epoch")
    else:
        missing = [k for k in keys if not hasattr(run, k)]
        values = [getattr(run, k, None) for k in keys]
        # The Solver's minibatches per epoch; X_train and batch_size are attributes of every Solver.
        X_train, batch_size = getattr(run, "X_train", None), getattr(run, "batch_size", None)
        per_epoch = max(len(X_train) // batch_size, 1) if X_train is not None and batch_size else None
    if missing:
        raise ValueError(f"{name!r} has no {', '.join(missing)}: pass a trained Solver or a dict with {keys}.")
    return (*values, per_epoch)


def plot_history(solvers, figsize=(15, 12), *, x="iteration", loss_scale="linear", title=None):
    """
    Plot training loss, training accuracy and validation accuracy of one or more runs.

    Inputs:
    - solvers: Dict mapping a run's name to a trained Solver or to a dict with the keys
      loss_history, train_acc_history and val_acc_history (and iterations_per_epoch for x="epoch")
    - figsize: Figure size in inches
    - x: "iteration" plots the loss of every minibatch against its iteration; "epoch" plots it against
      the epoch (so runs with different batch sizes line up) with each epoch's mean loss as a line
    - loss_scale: "linear" or "log" (for losses that span decades)
    - title: Optional title above the three plots

    Returns:
    - fig: The matplotlib Figure, with three Axes (loss, training accuracy and validation accuracy)
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    if not isinstance(solvers, dict) or not solvers:
        raise ValueError("solvers must be a non-empty dict {name: Solver or history dict}.")
    if x not in ("iteration", "epoch"):
        raise ValueError(f"x must be 'iteration' or 'epoch', got {x!r}.")
    if loss_scale not in ("linear", "log"):
        raise ValueError(f"loss_scale must be 'linear' or 'log', got {loss_scale!r}.")
    histories = {name: _history(run, name) for name, run in solvers.items()}
    if x == "epoch":
        unknown = [name for name, h in histories.items() if not h[3]]
        if unknown:
            raise ValueError(f"Cannot place {unknown[0]!r} on epochs: pass a Solver, or add iterations_per_epoch.")
    fig, axes = plt.subplots(3, 1, figsize=figsize, layout="constrained")
    loss_ax, train_ax, val_ax = axes
    for name, (loss, train_acc, val_acc, per_epoch) in histories.items():
        loss = np.asarray(loss, dtype=np.float64)
        if x == "iteration":
            (line,) = loss_ax.plot(np.arange(1, loss.size + 1), loss, "o", markersize=3)
        else:
            steps = np.arange(1, loss.size + 1) / per_epoch
            (line,) = loss_ax.plot(steps, loss, ".", markersize=2, alpha=0.3)
            whole = loss.size // per_epoch
            epoch_means = loss[:whole * per_epoch].reshape(whole, per_epoch).mean(axis=1)
            loss_ax.plot(np.arange(1, whole + 1), epoch_means, "-o", color=line.get_color())
        line.set_label(name)
        train_ax.plot(train_acc, "-o", color=line.get_color())
        val_ax.plot(val_acc, "-o", color=line.get_color())
    loss_ax.set_yscale(loss_scale)
    loss_ax.set_title("Training loss")
    loss_ax.set_xlabel("Iteration" if x == "iteration" else "Epoch")
    loss_ax.set_ylabel("Loss of a minibatch" if x == "iteration" else "Loss (dots: minibatches,\nline: epoch mean)")
    train_ax.set_title("Training accuracy")
    val_ax.set_title("Validation accuracy")
    for ax in (train_ax, val_ax):
        ax.set_xlabel("Epoch")
        ax.set_ylabel("Accuracy")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    # One legend for the three plots: inside the loss plot for one run, outside the plots for several, so
    # that it never hides a curve.
    if len(histories) == 1:
        legend = loss_ax.legend(loc="upper right", markerscale=3 if x == "epoch" else 2)
    else:
        legend = fig.legend(loc="outside right upper", markerscale=3 if x == "epoch" else 2)
    for handle in legend.legend_handles:
        handle.set_alpha(1)
    if title is not None:
        fig.suptitle(title)
    return fig


def _node(ax, xy, label, text, text_offset):
    """Draw a graph node: a labelled circle with its equation next to it."""
    from matplotlib.patches import Circle

    ax.add_patch(Circle(xy, 0.42, facecolor="#dbe9f6", edgecolor="#1f4e79", linewidth=1.5, zorder=2))
    ax.text(*xy, label, ha="center", va="center", fontsize=16, zorder=3)
    ax.text(xy[0] + text_offset[0], xy[1] + text_offset[1], text, ha="center", va="center", fontsize=12)


def _arrow(ax, start, end, bend=0.0):
    """Draw an arrow from node center start to node center end, stopping at the circles."""
    ax.annotate("", xy=end, xytext=start, zorder=1,
                arrowprops={"arrowstyle": "-|>", "color": "#333333", "linewidth": 1.4, "shrinkA": 17,
                            "shrinkB": 17, "connectionstyle": f"arc3,rad={bend}", "mutation_scale": 14})


def draw_batchnorm_graph(ax=None):
    """
    Draw the computation graph of batch normalization's normalization step: X -> mean, variance,
    standard deviation -> Y, with the equation of every node.

    Inputs:
    - ax: matplotlib Axes to draw on; None makes a new figure

    Returns:
    - ax: The Axes drawn on
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(11, 4))
    pos = {"x": (0.0, 0.0), "mu": (2.6, 1.6), "v": (5.2, 0.0), "sigma": (7.8, 0.0), "y": (10.4, 1.6)}
    _node(ax, pos["x"], "$X$", "input $x_1, \\dots, x_N$", (0, -0.8))
    _node(ax, pos["mu"], "$\\mu$", "$\\mu = \\frac{1}{N}\\sum_k x_k$", (-1.5, 0.2))
    _node(ax, pos["v"], "$v$", "$v = \\frac{1}{N}\\sum_k (x_k - \\mu)^2$", (0, -0.85))
    _node(ax, pos["sigma"], "$\\sigma$", "$\\sigma = \\sqrt{v + \\epsilon}$", (0, -0.85))
    _node(ax, pos["y"], "$Y$", "$y_i = \\frac{x_i - \\mu}{\\sigma}$", (1.2, 0.0))
    for start, end, bend in [("x", "mu", 0.0), ("x", "v", 0.0), ("mu", "v", 0.0), ("v", "sigma", 0.0),
                             ("sigma", "y", 0.0), ("mu", "y", 0.0), ("x", "y", -0.45)]:
        _arrow(ax, pos[start], pos[end], bend)
    ax.set_xlim(-1.2, 12.4)
    ax.set_ylim(-1.4, 3.6)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("Batch normalization as a computation graph (forward: along the arrows; backward: against them)")
    return ax


# Which (sample, channel) columns of an (N, C, H, W) activation share one mean and variance: the
# columns normalized together with sample 0, channel 0 for each method (G = 2 groups for group norm).
_NORM_GROUPS = {
    "Batch Norm": lambda n, c, C: c == 0,
    "Layer Norm": lambda n, c, C: n == 0,
    "Instance Norm": lambda n, c, C: n == 0 and c == 0,
    "Group Norm": lambda n, c, C: n == 0 and c < C // 2,
}


def _draw_block(ax, shaded, N, C, depth=0.45, height=3.0):
    """Draw an (N, C, H*W) block in oblique projection, one column per (n, c), shading the selected ones."""
    from matplotlib.patches import Polygon

    dx, dy = depth * 0.75, depth * 0.6
    for n in range(N - 1, -1, -1):  # back to front, left to right: the painter's algorithm
        for c in range(C):
            x0, y0 = c + n * dx, n * dy
            color = "#4a86c5" if shaded(n, c) else "white"
            faces = [
                [(x0, y0), (x0 + 1, y0), (x0 + 1, y0 + height), (x0, y0 + height)],
                [(x0, y0 + height), (x0 + 1, y0 + height), (x0 + 1 + dx, y0 + height + dy),
                 (x0 + dx, y0 + height + dy)],
                [(x0 + 1, y0), (x0 + 1 + dx, y0 + dy), (x0 + 1 + dx, y0 + height + dy), (x0 + 1, y0 + height)],
            ]
            for face in faces:
                ax.add_patch(Polygon(face, closed=True, facecolor=color, edgecolor="#333333", linewidth=0.8))
    return dx, dy, height


def draw_normalization_groups(N=4, C=6, figsize=(14, 3.6)):
    """
    Draw which values of an (N, C, H, W) activation share a mean and a variance under batch, layer,
    instance and group normalization (after Wu and He, "Group Normalization", 2018, figure 2).

    Inputs:
    - N: Number of samples drawn (depth)
    - C: Number of channels drawn (even; group norm is drawn with 2 groups)
    - figsize: Figure size in inches

    Returns:
    - fig: The matplotlib Figure, with one Axes per method
    """
    import matplotlib.pyplot as plt

    if N < 2 or C < 2 or C % 2:
        raise ValueError(f"Need N >= 2 and an even C >= 2 to draw the groups, got N={N}, C={C}.")
    fig, axes = plt.subplots(1, len(_NORM_GROUPS), figsize=figsize)
    for ax, (name, rule) in zip(axes, _NORM_GROUPS.items()):
        dx, dy, height = _draw_block(ax, lambda n, c, rule=rule: rule(n, c, C), N, C)
        ax.annotate("", xy=(C + 0.3, -0.45), xytext=(-0.05, -0.45),
                    arrowprops={"arrowstyle": "->", "linewidth": 1.2})
        ax.text(C / 2, -0.95, "C (channels)", ha="center", va="center", fontsize=10)
        ax.annotate("", xy=(-0.45, height + 0.3), xytext=(-0.45, 0.0),
                    arrowprops={"arrowstyle": "->", "linewidth": 1.2})
        ax.text(-0.85, height / 2, "H, W", ha="center", va="center", rotation=90, fontsize=10)
        ax.annotate("", xy=(C + 0.2 + N * dx, N * dy + 0.1), xytext=(C + 0.2, 0.1),
                    arrowprops={"arrowstyle": "->", "linewidth": 1.2})
        ax.text(C + 0.5 + N * dx, N * dy / 2, "N (samples)", ha="left", va="center", fontsize=10)
        ax.set_xlim(-1.3, C + N * dx + 3.2)
        ax.set_ylim(-1.4, height + N * dy + 0.5)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(name)
    fig.suptitle("Normalization methods: the blue values share one mean and one variance")
    fig.tight_layout()
    return fig
