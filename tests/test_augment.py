"""Tests of cs231n.augment: shapes, dtypes, determinism, exactness and purity."""

import functools

import numpy as np
import pytest

from cs231n.augment import color_jitter, compose, random_crops, random_flips
from cs231n.gradient_check import rel_error


def batch(shape=(16, 3, 8, 8), dtype=np.float64, seed=0):
    """Random images spanning 256 values, centred on 0 like mean-subtracted data."""
    return (np.random.default_rng(seed).uniform(-128, 128, size=shape)).astype(dtype)


ALL = [random_flips, random_crops, color_jitter]


@pytest.mark.parametrize("fn", ALL)
@pytest.mark.parametrize("shape", [(16, 3, 8, 8), (7, 1, 28, 28)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shape_dtype_kept_and_input_untouched(fn, shape, dtype):
    X = batch(shape, dtype)
    X_before = X.copy()
    out = fn(X, rng=np.random.default_rng(1))
    assert out.shape == X.shape and out.dtype == X.dtype
    assert out is not X and not np.shares_memory(out, X)
    assert np.array_equal(X, X_before)


@pytest.mark.parametrize("fn", ALL)
def test_seeded_rng_is_deterministic(fn):
    X = batch()
    a = fn(X, rng=np.random.default_rng(231))
    b = fn(X, rng=np.random.default_rng(231))
    c = fn(X, rng=np.random.default_rng(232))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("fn", ALL)
def test_global_seed_makes_default_rng_repeatable(fn):
    X = batch()
    np.random.seed(0)
    a = fn(X)
    np.random.seed(0)
    b = fn(X)
    assert np.array_equal(a, b)


def test_flips_are_exact_mirrors_of_about_half():
    X = batch((200, 3, 5, 6))
    out = random_flips(X, rng=np.random.default_rng(0))
    flipped = np.array([np.array_equal(o, x[:, :, ::-1]) for o, x in zip(out, X)])
    kept = np.array([np.array_equal(o, x) for o, x in zip(out, X)])
    assert np.all(flipped ^ kept)
    assert 70 < flipped.sum() < 130


def test_crops_with_zero_pad_are_identity():
    X = batch()
    out = random_crops(X, pad=0, rng=np.random.default_rng(0))
    assert np.array_equal(out, X) and not np.shares_memory(out, X)


def test_crops_are_shifted_windows_of_the_padded_image():
    X = batch((50, 2, 6, 7))
    pad = 2
    out = random_crops(X, pad=pad, rng=np.random.default_rng(3))
    padded = np.pad(X, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    shifts = set()
    for i in range(X.shape[0]):
        matches = [(dy, dx) for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)
                   if np.array_equal(out[i], padded[i, :, dy:dy + 6, dx:dx + 7])]
        assert matches, f"image {i} is not a crop of its padded image"
        shifts.add(matches[0])
    assert len(shifts) > 5


def test_color_jitter_zero_strength_is_identity():
    X = (0.5 * batch((4, 1, 28, 28)) + 128).astype(np.float32)  # inside 0..255: nothing clipped
    out = color_jitter(X, brightness=0.0, contrast=0.0, rng=np.random.default_rng(0))
    assert rel_error(out, X) < 1e-5


def test_color_jitter_changes_brightness_and_contrast_within_bounds():
    X = 128 + 0.3 * batch((64, 3, 8, 8))  # pixels well inside 0..255, so that nothing is clipped
    out = color_jitter(X, brightness=0.1, contrast=0.2, rng=np.random.default_rng(0))
    shift = out.mean(axis=(1, 2, 3)) - X.mean(axis=(1, 2, 3))
    assert np.all(np.abs(shift) <= 0.1 * 255 + 1e-9) and np.abs(shift).max() > 5
    ratio = out.std(axis=(1, 2, 3)) / X.std(axis=(1, 2, 3))
    assert np.all((ratio >= 0.8 - 1e-9) & (ratio <= 1.2 + 1e-9)) and np.ptp(ratio) > 0.1


def test_compose_applies_in_order_and_serves_as_solver_hook():
    X = batch()
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    augment = compose(functools.partial(random_flips, rng=rng_a), functools.partial(random_crops, pad=1, rng=rng_a))
    expected = random_crops(random_flips(X, rng=rng_b), pad=1, rng=rng_b)
    assert np.array_equal(augment(X), expected)
    assert np.array_equal(compose()(X), X)


@pytest.mark.parametrize("call", [
    lambda: random_flips(np.zeros((3, 8, 8))),
    lambda: random_crops(np.zeros((2, 3, 8, 8)), pad=-1),
    lambda: random_crops(np.zeros((2, 3, 8, 8)), pad=1.5),
    lambda: color_jitter(np.zeros((2, 3, 8, 8), dtype=np.uint8)),
    lambda: color_jitter(np.zeros((2, 3, 8, 8)), contrast=1.5),
    lambda: compose(random_flips, "crop"),
])
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()


def photos(shape=(40, 1, 6, 7), seed=0):
    """Pixel images on 0..255 with a mean image that is far from left-right symmetric."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 200, shape[3])  # bright on the right
    return np.clip(rng.uniform(0, 55, size=shape) + ramp, 0, 255)


def test_flips_work_in_pixel_space_and_leave_no_offset():
    P = photos()
    mean = P.mean(axis=0)
    assert not np.allclose(mean, mean[:, :, ::-1])
    X = P - mean
    out = random_flips(X, rng=np.random.default_rng(4), mean_image=mean)
    pixels = out + mean
    flipped = np.array([np.allclose(o, p[:, :, ::-1]) for o, p in zip(pixels, P)])
    kept = np.array([np.array_equal(o, x) for o, x in zip(out, X)])
    assert np.all(flipped ^ kept) and 5 < flipped.sum() < 35
    # Flipping the mean-subtracted images instead leaves the mean minus its mirror image on every flipped one.
    naive = random_flips(X, rng=np.random.default_rng(4))
    offset = (naive - out)[flipped]
    assert np.allclose(offset, (mean - mean[:, :, ::-1])[None], atol=1e-9)


def test_crops_pad_with_black_pixels_not_with_the_mean():
    P = photos((30, 2, 5, 6))
    mean = P.mean(axis=0)
    pad = 2
    out = random_crops(P - mean, pad=pad, rng=np.random.default_rng(1), mean_image=mean) + mean
    padded = np.pad(P, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    for i in range(P.shape[0]):
        assert any(np.allclose(out[i], padded[i, :, dy:dy + 5, dx:dx + 6])
                   for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)), f"image {i} is not a crop"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compose_adds_the_mean_once_and_matches_pixel_space(dtype):
    P = photos((12, 3, 8, 8)).astype(dtype)
    mean = P.mean(axis=0)
    chain = compose(functools.partial(random_flips, rng=np.random.default_rng(7)),
                    functools.partial(random_crops, pad=1, rng=np.random.default_rng(8)),
                    mean_image=mean)
    out = chain(P - mean)
    expected = random_crops(random_flips(P, rng=np.random.default_rng(7)), pad=1, rng=np.random.default_rng(8)) - mean
    assert out.dtype == dtype
    assert np.allclose(out, expected, atol=1e-3 if dtype == np.float32 else 1e-9)


def test_color_jitter_in_pixel_space_stays_in_the_pixel_range():
    P = photos((20, 3, 8, 8))
    mean = P.mean(axis=0)
    out = color_jitter(P - mean, brightness=0.5, contrast=0.5, rng=np.random.default_rng(0), mean_image=mean)
    pixels = out + mean
    assert pixels.min() >= -1e-9 and pixels.max() <= 255 + 1e-9
    assert np.isclose(pixels.min(), 0) or np.isclose(pixels.max(), 255)
    same = color_jitter(P, brightness=0.5, contrast=0.5, rng=np.random.default_rng(0))
    assert np.allclose(pixels, same, atol=1e-9)


@pytest.mark.parametrize("call", [
    lambda: random_flips(np.zeros((2, 1, 4, 4)), mean_image=np.zeros((1, 4, 5))),
    lambda: random_crops(np.zeros((2, 1, 4, 4)), pad=1, mean_image=np.zeros((4, 4))),
    lambda: compose(random_flips, mean_image=np.zeros((3, 4, 4)))(np.zeros((2, 1, 4, 4))),
    lambda: random_flips(np.zeros((2, 1, 4, 4), dtype=np.uint8), mean_image=np.zeros((1, 4, 4))),
])
def test_wrong_mean_image_raises_value_error_naming_it(call):
    with pytest.raises(ValueError, match="mean_image|Mean-subtracted"):
        call()
