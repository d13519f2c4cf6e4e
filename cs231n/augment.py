"""Data augmentation on minibatches of images in (N, C, H, W), done in pixel space.

get_data() returns images with the mean image subtracted. Flipping or shifting such an image flips or
shifts the mean too: the result is not the mean-subtracted version of a flipped (shifted) photo but
carries the mirrored mean minus the mean as an offset, which shows as a ghost outline once the mean is
added back (Fashion-MNIST's and CIFAR-10's mean images are not left-right symmetric). So every function
here takes mean_image: it adds the mean back, transforms the pixels, and subtracts the mean again, which
gives exactly the input the network would get for a transformed photo. mean_image=None means that X
already holds pixels on the 0..scale range.

Every function returns a new array of X's dtype and leaves its input untouched. Pass a
np.random.Generator as rng for repeatable draws; rng=None draws a seed from the global np.random state,
so np.random.seed() in a notebook makes the augmented runs repeatable too. compose() chains functions
into the ``augment=`` hook of the Solver, which calls it on every training minibatch:

    augment = compose(random_flips, random_crops, mean_image=data["mean_image"])
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


def _mean(mean_image, X):
    """Return mean_image in X's dtype, shaped (C, H, W) like one image of X, or None."""
    if mean_image is None:
        return None
    if X.dtype.kind != "f":
        raise ValueError(f"Mean-subtracted images are floating point, got {X.dtype}: use X.astype(np.float32).")
    mean = np.asarray(mean_image)
    if mean.shape != X.shape[1:]:
        raise ValueError(
            f"mean_image has shape {mean.shape} but the images have shape {X.shape[1:]}: "
            "pass the mean image that was subtracted from them, data['mean_image']."
        )
    return mean.astype(X.dtype, copy=False)


def _in_pixel_space(transform, X, mean_image):
    """Apply transform (pixels -> pixels) to X, adding mean_image back before and subtracting it after."""
    mean = _mean(mean_image, X)
    if mean is None:
        return transform(X)
    return transform(X + mean) - mean


def random_flips(X, rng=None, mean_image=None):
    """
    Mirror each image left-right with probability 0.5.

    Inputs:
    - X: Images of shape (N, C, H, W)
    - rng: np.random.Generator, seed, or None (global np.random state)
    - mean_image: Mean image of shape (C, H, W) that was subtracted from X, or None for pixel data

    Returns:
    - out: Array of shape (N, C, H, W) and X's dtype
    """
    X = _check_batch(X)
    mean = _mean(mean_image, X)
    flip = _generator(rng).random(X.shape[0]) < 0.5
    out = X.copy()
    if mean is None:
        out[flip] = X[flip, :, :, ::-1]
    else:
        out[flip] = (X[flip] + mean)[:, :, :, ::-1] - mean
    return out


def random_crops(X, pad=4, rng=None, mean_image=None):
    """
    Shift each image by up to pad pixels: pad it with black (pixel value 0) on every side, then crop it
    back to (H, W) at a random offset.

    Inputs:
    - X: Images of shape (N, C, H, W)
    - pad: Non-negative int, the largest shift in pixels; pad=0 returns a copy of X
    - rng: np.random.Generator, seed, or None (global np.random state)
    - mean_image: Mean image of shape (C, H, W) that was subtracted from X, or None for pixel data

    Returns:
    - out: Array of shape (N, C, H, W) and X's dtype
    """
    X = _check_batch(X)
    if isinstance(pad, bool) or not isinstance(pad, (int, np.integer)) or pad < 0:
        raise ValueError(f"pad must be a non-negative integer number of pixels, got {pad!r}.")
    N, C, H, W = X.shape
    _mean(mean_image, X)
    if pad == 0:
        return X.copy()
    gen = _generator(rng)
    dy = gen.integers(0, 2 * pad + 1, size=N)
    dx = gen.integers(0, 2 * pad + 1, size=N)

    def crop(P):
        padded = np.pad(P, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, (H, W), axis=(2, 3))
        # The advanced indices are split by the channel slice, so their axis comes first: (N, C, H, W).
        return windows[np.arange(N), :, dy, dx]

    return _in_pixel_space(crop, X, mean_image)


def color_jitter(X, brightness=0.1, contrast=0.1, scale=255.0, rng=None, mean_image=None):
    """
    Randomly change the brightness and contrast of each image, for any number of channels.

    The contrast factor c is drawn from [1 - contrast, 1 + contrast] and scales each image about
    its own mean; the brightness shift b is drawn from [-brightness, brightness] * scale and added.
    The result is clipped to the pixel range [0, scale], as a camera would.

    Inputs:
    - X: Floating-point images of shape (N, C, H, W)
    - brightness: Non-negative float, the largest shift as a fraction of scale
    - contrast: Float in [0, 1], the largest relative change of contrast
    - scale: Largest pixel value (255 for get_data's images)
    - rng: np.random.Generator, seed, or None (global np.random state)
    - mean_image: Mean image of shape (C, H, W) that was subtracted from X, or None for pixel data

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

    def jitter(P):
        mean = P.mean(axis=(1, 2, 3), keepdims=True)
        return np.clip((P - mean) * c + mean + b, 0, scale).astype(X.dtype, copy=False)

    return _in_pixel_space(jitter, X, mean_image)


def compose(*fns, mean_image=None):
    """
    Chain augmentation functions into one, applied left to right in pixel space.

    Inputs:
    - fns: Functions X -> X on batches of pixels of shape (N, C, H, W), e.g. random_flips or
      functools.partial(random_crops, pad=2, rng=rng); leave their own mean_image unset
    - mean_image: Mean image of shape (C, H, W) that was subtracted from the batches (data["mean_image"]):
      it is added back once before the first function and subtracted once after the last; None when the
      batches hold pixels

    Returns:
    - augment: Function X -> X applying every fn in turn, usable as Solver(augment=...)
    """
    for fn in fns:
        if not callable(fn):
            raise ValueError(f"compose takes functions X -> X, got {fn!r}.")

    def chain(P):
        for fn in fns:
            P = fn(P)
        return P

    def augment(X):
        X = _check_batch(X)
        return _in_pixel_space(chain, X, mean_image)

    return augment
