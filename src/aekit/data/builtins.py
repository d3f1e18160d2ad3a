"""Built-in data sets: no network, no files, reproducible from a seed.

* ``digits``: scikit-learn's 1,797 8x8 handwritten digits, as uint8 images.
* ``shapes``: procedurally drawn squares, ellipses and triangles with known factors (shape,
  size, x, y, rotation): the test bed for latent traversals.
* ``sprites``: dSprites' factor grid (3 shapes x 6 scales x 40 orientations x 32 x 32
  positions) drawn procedurally on a 64x64 canvas (or a smaller one), with its factor table:
  the test bed for disentanglement metrics.
* ``parabola``: points on y = x^2 + noise, where a 1-D nonlinear autoencoder beats 1-D PCA.
* ``photos``: colour patches cut from the photographs scikit-image ships, for denoising and
  colourisation.
"""

from __future__ import annotations

import numpy as np

from .._memory import require_memory
from .dataset import Dataset

SHAPES = ("square", "ellipse", "triangle")


def digits() -> Dataset:
    from sklearn.datasets import load_digits

    raw = load_digits()
    # Pixel counts 0..16 scaled to 0..255 so that they are ordinary 8-bit images.
    X = np.round(raw.images * (255 / 16)).astype(np.uint8)[:, None]
    return Dataset(X, raw.target, "digits")


def shapes(count: int = 10000, size: int = 32, random_state: int = 0) -> Dataset:
    """White shapes on black, ``size`` x ``size``; ``y`` is the shape, ``factors`` has all five.

    Factors are drawn uniformly: scale in [0.35, 0.9] of the half-width, centre anywhere the
    shape fits, rotation in [0, 2 pi / symmetry) so that distinct angles look distinct.
    """
    if size < 8:
        raise ValueError(f"shapes needs size >= 8, got {size}")
    # the images, and one image drawn at 4x resolution (float64 coordinates)
    require_memory(count * size * size + 3 * 8 * (4 * size) ** 2, f"{count:,} shapes of {size}x{size}",
                   "ask for fewer or smaller images (--count, --size)")
    rng = np.random.default_rng(random_state)
    kind = rng.integers(0, len(SHAPES), count)
    scale = rng.uniform(0.35, 0.9, count)
    symmetry = np.array([4, 2, 3])[kind]  # rotational symmetry of square, ellipse, triangle
    rotation = rng.uniform(0, 1, count) * 2 * np.pi / symmetry
    margin = 1 - scale  # centre offsets, in half-widths, that keep the shape inside
    x = rng.uniform(-1, 1, count) * margin
    y = rng.uniform(-1, 1, count) * margin
    # Render at 4x and average 4x4 blocks: anti-aliased edges, so size changes are smooth.
    fine = 4 * size
    grid = (np.arange(fine) + 0.5) / fine * 2 - 1
    gx, gy = np.meshgrid(grid, grid)
    images = np.empty((count, size, size), dtype=np.uint8)
    for i in range(count):
        c, s = np.cos(rotation[i]), np.sin(rotation[i])
        u = (c * (gx - x[i]) + s * (gy - y[i])) / scale[i]  # shape-centred, rotated, unit-scaled
        v = (-s * (gx - x[i]) + c * (gy - y[i])) / scale[i]
        if kind[i] == 0:
            inside = np.maximum(np.abs(u), np.abs(v)) <= 0.7  # corners stay within radius 1
        elif kind[i] == 1:
            inside = (u / 0.95) ** 2 + (v / 0.55) ** 2 <= 1
        else:  # equilateral, vertices on the unit circle: three half-planes
            inside = (v >= -0.5) & (np.sqrt(3) * u + v <= 1) & (-np.sqrt(3) * u + v <= 1)
        images[i] = (inside.reshape(size, 4, size, 4).mean(axis=(1, 3)) * 255).round()
    factors = {"shape": kind, "size": scale, "x": x, "y": -y, "rotation": rotation}
    return Dataset(images[:, None], kind, "shapes", factors=factors)


# dSprites' factor grid (Matthey et al., 2017): the values each factor takes.
SPRITE_SHAPES = ("square", "ellipse", "heart")
SPRITE_GRID = {"shape": np.arange(3), "scale": np.linspace(0.5, 1.0, 6),
               "orientation": np.linspace(0, 2 * np.pi, 40), "x": np.linspace(0, 1, 32),
               "y": np.linspace(0, 1, 32)}
SPRITE_HALF_WIDTH = 0.3  # of the canvas' half-width, at scale 1


def sprites(count: int = 50_000, size: int = 64, random_state: int = 0) -> Dataset:
    """White shapes on black on dSprites' factor grid: ``count`` inputs drawn uniformly from its
    737,280 combinations (with replacement), ``size`` x ``size`` pixels; ``y`` is the shape,
    ``factors`` holds all five as the grid's values (``factors["..._index"]``: their positions
    on the grid, the discrete values disentanglement metrics read).

    A square, an ellipse and a heart, as in dSprites; orientation in 40 steps over a full turn
    (dSprites repeats the square's and ellipse's symmetric angles too), position anywhere a
    shape of the largest scale fits. Drawn anti-aliased (2x2 samples a pixel), so small scale and
    position steps change pixels smoothly.
    """
    if size < 16:
        raise ValueError(f"sprites needs size >= 16, got {size}")
    require_memory(count * size * size + 8 * 8 * (2 * size) ** 2, f"{count:,} sprites of {size}x{size}",
                   "ask for fewer or smaller images (--count, --size)")
    rng = np.random.default_rng(random_state)
    index = {name: rng.integers(0, len(values), count) for name, values in SPRITE_GRID.items()}
    value = {name: SPRITE_GRID[name][index[name]] for name in SPRITE_GRID}
    reach = 1 - SPRITE_HALF_WIDTH * 1.25  # centres that keep every shape and angle inside
    cx, cy = (2 * value["x"] - 1) * reach, (2 * value["y"] - 1) * reach
    fine = 2 * size
    grid = (np.arange(fine) + 0.5) / fine * 2 - 1
    gx, gy = np.meshgrid(grid, grid)
    images = np.empty((count, size, size), dtype=np.uint8)
    for i in range(count):
        c, s = np.cos(value["orientation"][i]), np.sin(value["orientation"][i])
        half = SPRITE_HALF_WIDTH * value["scale"][i]
        u = (c * (gx - cx[i]) + s * (gy - cy[i])) / half  # shape-centred, rotated, unit-scaled
        v = (-s * (gx - cx[i]) + c * (gy - cy[i])) / half
        if index["shape"][i] == 0:
            inside = np.maximum(np.abs(u), np.abs(v)) <= 0.8
        elif index["shape"][i] == 1:
            inside = (u / 1.0) ** 2 + (v / 0.55) ** 2 <= 1
        else:  # a heart: (x^2 + y^2 - 1)^3 <= x^2 y^3, point down
            hx, hy = 1.1 * u, -1.1 * v + 0.15
            inside = (hx**2 + hy**2 - 1) ** 3 <= hx**2 * hy**3
        images[i] = (inside.reshape(size, 2, size, 2).mean(axis=(1, 3)) * 255).round()
    factors = {**value, **{f"{name}_index": index[name] for name in SPRITE_GRID}}
    return Dataset(images[:, None], index["shape"], "sprites", factors=factors)


def parabola(count: int = 1000, noise: float = 0.05, random_state: int = 0) -> Dataset:
    """Points (x, x^2 + noise) with x uniform in [-1, 1]; ``factors["x"]`` is the hidden x."""
    rng = np.random.default_rng(random_state)
    require_memory(count * 8 * 6, f"{count:,} points", "ask for fewer (--count)")
    t = rng.uniform(-1, 1, count)
    X = np.column_stack([t, t**2 + noise * rng.standard_normal(count)]).astype(np.float32)
    return Dataset(X, None, "parabola", feature_names=["x", "y"], factors={"x": t})


PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field",
          "retina")


def photos(count: int = 5000, size: int = 32, random_state: int = 0) -> Dataset:
    """Random ``size`` x ``size`` RGB patches of scikit-image's photographs; ``y`` names the photo.

    Each photograph is first shrunk so that its shorter side is 8 patches long: patches then hold
    objects and edges rather than flat texture.
    """
    import skimage.data
    from PIL import Image

    # the patches, and the largest photograph enlarged so that its short side is 8 patches
    require_memory(count * 3 * size * size + 3 * (8 * size) ** 2 * 3, f"{count:,} photo patches of "
                   f"{size}x{size}", "ask for fewer or smaller patches (--count, --size)")
    rng = np.random.default_rng(random_state)
    pictures = []
    for name in PHOTOS:
        image = Image.fromarray(getattr(skimage.data, name)())
        shrink = 8 * size / min(image.size)
        pictures.append(np.asarray(image.resize((round(image.width * shrink), round(image.height * shrink)),
                                                Image.Resampling.LANCZOS)))
    which = rng.integers(0, len(pictures), count)
    X = np.empty((count, 3, size, size), dtype=np.uint8)
    for i, p in enumerate(which):
        h, w = pictures[p].shape[:2]
        top, left = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
        X[i] = pictures[p][top:top + size, left:left + size].transpose(2, 0, 1)
    return Dataset(X, np.asarray(PHOTOS)[which], "photos")


BUILTINS = {"digits": digits, "shapes": shapes, "sprites": sprites, "parabola": parabola, "photos": photos}
