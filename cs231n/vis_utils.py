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
    """Return (loss, train_acc, val_acc) histories of a Solver or of a dict holding them."""
    keys = ("loss_history", "train_acc_history", "val_acc_history")
    if isinstance(run, dict):
        missing = [k for k in keys if k not in run]
        values = [run.get(k) for k in keys]
    else:
        missing = [k for k in keys if not hasattr(run, k)]
        values = [getattr(run, k, None) for k in keys]
    if missing:
        raise ValueError(f"{name!r} has no {', '.join(missing)}: pass a trained Solver or a dict with {keys}.")
    return values


def plot_history(solvers, figsize=(15, 12)):
    """
    Plot training loss, training accuracy and validation accuracy of one or more runs.

    Inputs:
    - solvers: Dict mapping a run's name to a trained Solver or to a dict with the keys
      loss_history, train_acc_history and val_acc_history
    - figsize: Figure size in inches

    Returns:
    - fig: The matplotlib Figure, with three Axes (loss per iteration, accuracies per epoch)
    """
    import matplotlib.pyplot as plt

    if not isinstance(solvers, dict) or not solvers:
        raise ValueError("solvers must be a non-empty dict {name: Solver or history dict}.")
    histories = {name: _history(run, name) for name, run in solvers.items()}
    fig, axes = plt.subplots(3, 1, figsize=figsize)
    titles = ("Training loss", "Training accuracy", "Validation accuracy")
    xlabels = ("Iteration", "Epoch", "Epoch")
    for i, (ax, title, xlabel) in enumerate(zip(axes, titles, xlabels)):
        for name, history in histories.items():
            ax.plot(history[i], "o" if i == 0 else "-o", label=name, markersize=3 if i == 0 else 6)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.legend(loc="best", ncol=4)
    fig.tight_layout()
    return fig
