"""Data augmentation on minibatches of images in (N, C, H, W).

Every function returns a new array and leaves its input untouched. Pass a np.random.Generator as rng
for repeatable draws; rng=None draws a seed from the global np.random state, so np.random.seed()
in a notebook makes the augmented runs repeatable too. compose() chains functions into the
``augment=`` hook of the Solver, which calls it on every training minibatch:

    augment = compose(random_flips, random_crops)
"""

import numpy as np


def _generator(rng):
    """Return a np.random.Generator for rng (a Generator, a seed, or None for the global state)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng(np.random.randint(0, 2**31 - 1))
    return np.random.default_rng(rng)


def _check_batch(X):
    """Return X as an array, or raise ValueError unless it is a batch of shape (N, C, H, W)."""
    X = np.asarray(X)
    if X.ndim != 4:
        raise ValueError(
            f"Expected a batch of images of shape (N, C, H, W), got shape {X.shape}; "
            "reshape flattened images with X.reshape(N, C, H, W)."
        )
    return X


def random_flips(X, rng=None):
    """
    Mirror each image left-right with probability 0.5.

    Inputs:
    - X: Images of shape (N, C, H, W)
    - rng: np.random.Generator, seed, or None (global np.random state)

    Returns:
    - out: Array of shape (N, C, H, W) and X's dtype
    """
    X = _check_batch(X)
    flip = _generator(rng).random(X.shape[0]) < 0.5
    out = X.copy()
    out[flip] = X[flip, :, :, ::-1]
    return out


def random_crops(X, pad=4, rng=None):
    """
    Zero-pad each image by pad pixels on every side, then crop it back to (H, W) at a random offset.

    Zero is the mean pixel of mean-subtracted data, so the border looks like an average background.

    Inputs:
    - X: Images of shape (N, C, H, W)
    - pad: Non-negative int, the largest shift in pixels; pad=0 returns a copy of X
    - rng: np.random.Generator, seed, or None (global np.random state)

    Returns:
    - out: Array of shape (N, C, H, W) and X's dtype
    """
    X = _check_batch(X)
    if isinstance(pad, bool) or not isinstance(pad, (int, np.integer)) or pad < 0:
        raise ValueError(f"pad must be a non-negative integer number of pixels, got {pad!r}.")
    N, C, H, W = X.shape
    if pad == 0:
        return X.copy()
    gen = _generator(rng)
    padded = np.pad(X, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (H, W), axis=(2, 3))
    dy = gen.integers(0, 2 * pad + 1, size=N)
    dx = gen.integers(0, 2 * pad + 1, size=N)
    # The advanced indices are split by the channel slice, so their axis comes first: (N, C, H, W).
    return windows[np.arange(N), :, dy, dx]


def color_jitter(X, brightness=0.1, contrast=0.1, scale=255.0, rng=None):
    """
    Randomly change the brightness and contrast of each image, for any number of channels.

    The contrast factor c is drawn from [1 - contrast, 1 + contrast] and scales each image about
    its own mean; the brightness shift b is drawn from [-brightness, brightness] * scale and added.
    Both work on mean-subtracted data, whose pixel range is scale (255 for get_data's arrays).

    Inputs:
    - X: Floating-point images of shape (N, C, H, W)
    - brightness: Non-negative float, the largest shift as a fraction of scale
    - contrast: Float in [0, 1], the largest relative change of contrast
    - scale: Pixel range of the data
    - rng: np.random.Generator, seed, or None (global np.random state)

    Returns:
    - out: Array of shape (N, C, H, W) and X's dtype
    """
    X = _check_batch(X)
    if X.dtype.kind != "f":
        raise ValueError(f"color_jitter needs floating-point images, got {X.dtype}: use X.astype(np.float32).")
    if brightness < 0 or not 0 <= contrast <= 1:
        raise ValueError(f"Need brightness >= 0 and 0 <= contrast <= 1, got {brightness} and {contrast}.")
    N = X.shape[0]
    gen = _generator(rng)
    c = gen.uniform(1 - contrast, 1 + contrast, size=(N, 1, 1, 1)).astype(X.dtype)
    b = (gen.uniform(-brightness, brightness, size=(N, 1, 1, 1)) * scale).astype(X.dtype)
    mean = X.mean(axis=(1, 2, 3), keepdims=True)
    return (X - mean) * c + mean + b


def compose(*fns):
    """
    Chain augmentation functions into one, applied left to right.

    Inputs:
    - fns: Functions X -> X on batches of shape (N, C, H, W), e.g. random_flips or
      functools.partial(random_crops, pad=2, rng=rng)

    Returns:
    - augment: Function X -> X applying every fn in turn, usable as Solver(augment=...)
    """
    for fn in fns:
        if not callable(fn):
            raise ValueError(f"compose takes functions X -> X, got {fn!r}.")

    def augment(X):
        for fn in fns:
            X = fn(X)
        return X

    return augment
