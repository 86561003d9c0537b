"""The offline upstream corpus: formula-driven images in the spirit of FractalDB (Kataoka et
al., "Pre-training without Natural Images", ACCV 2020). Each class is one iterated function
system (IFS) of 2-4 random contractive affine maps, drawn by the chaos game; its images are
the same IFS with one map's parameters scaled by a factor in [0.8, 1.2] (FractalDB's
intra-class variation), a random rotation, placement and colours. A class is kept only when
its attractor fills enough of the image to be a shape (FractalDB's filling-rate filter).

With `patch` > 1 each point is drawn as a square of a random side from 1 to `patch` pixels of
the drawing (one side per image): FractalDB's "patch" rendering, which its authors found to
transfer better than single points, and strokes of several widths. patch=1 (the default) draws
single points, exactly as before the option existed.

Everything is generated from a seed by numpy: the same seed gives the same PNG bytes, and no
image comes from any photograph or from the downstream data (scikit-learn's digits).
"""
import os

import numpy as np
from PIL import Image

DEFAULT_SEED = 2026
RENDER_SCALE = 2             # drawn at 2x and box-downsampled: smooth edges
POINTS_PER_PIXEL = 6         # chaos-game points per output pixel
MIN_FILL = 0.08              # share of the canvas an attractor must cover to be a class
MAPS = (2, 3, 4)
BURN_IN = 20


def _contractive_map(rng):
    """An affine map x -> A x + b whose linear part shrinks every direction."""
    while True:
        a = rng.uniform(-1.0, 1.0, size=(2, 2))
        if np.linalg.norm(a, 2) < 0.95 and abs(np.linalg.det(a)) > 0.02:
            return a, rng.uniform(-1.0, 1.0, size=2)


def _points(maps, n, rng, chains=256):
    """n points of the attractor by the chaos game (map i chosen with p ~ |det A_i|), run as
    `chains` independent chains at once, each past a burn-in before its points count."""
    weights = np.array([abs(np.linalg.det(a)) for a, _ in maps])
    mats = np.stack([a for a, _ in maps])
    shifts = np.stack([b for _, b in maps])
    steps = -(-n // chains)
    choice = rng.choice(len(maps), size=(BURN_IN + steps, chains), p=weights / weights.sum())
    x = rng.uniform(-1.0, 1.0, size=(chains, 2))
    out = []
    for t, k in enumerate(choice):
        x = np.einsum("cij,cj->ci", mats[k], x) + shifts[k]
        if t >= BURN_IN:
            out.append(x)
    return np.concatenate(out)[:n]


def _canvas(points, size, angle=0.0, centre=(0.5, 0.5), extent=0.8, side=1):
    """A size x size coverage map in [0, 1] of the points, rotated, fitted into `extent` of
    the image around `centre`; each point a side x side square of the drawing (RENDER_SCALE x)."""
    c, s = np.cos(angle), np.sin(angle)
    p = points @ np.array([[c, -s], [s, c]]).T
    lo, hi = p.min(axis=0), p.max(axis=0)
    span = max(float((hi - lo).max()), 1e-9)
    p = (p - (lo + hi) / 2) / span * extent + np.array(centre)
    big = size * RENDER_SCALE
    ij = np.clip((p * big).astype(int), 0, big - 1)
    grid = np.zeros((big, big))
    np.add.at(grid, (ij[:, 1], ij[:, 0]), 1.0)
    if side > 1:  # dilate by a side x side square: the union of shifted copies
        covered, grid = grid > 0, np.zeros_like(grid)
        for dy in range(side):
            for dx in range(side):
                grid[dy:, dx:] = np.maximum(grid[dy:, dx:], covered[:big - dy, :big - dx])
    grid = np.minimum(grid, 1.0).reshape(size, RENDER_SCALE, size, RENDER_SCALE).mean(axis=(1, 3))
    return grid


def fill_rate(maps, size=32, seed=0):
    grid = _canvas(_points(maps, size * size * POINTS_PER_PIXEL, np.random.default_rng(seed)), size)
    return float((grid > 0).mean())


def class_systems(num_classes, seed=DEFAULT_SEED, size=32):
    """The IFS of each class: lists of (A, b), found in a fixed order from the seed."""
    rng = np.random.default_rng(seed)
    systems = []
    while len(systems) < num_classes:
        maps = [_contractive_map(rng) for _ in range(rng.choice(MAPS))]
        if fill_rate(maps, size) >= MIN_FILL:
            systems.append(maps)
    return systems


def render(maps, size, rng, patch=1):
    """One RGB image of an IFS, with the intra-class variation drawn from rng; points drawn as
    squares of a side up to `patch` (module docstring)."""
    varied = list(maps)
    k = rng.integers(len(varied))
    a, b = varied[k]
    varied[k] = (a * rng.uniform(0.8, 1.2), b)
    if np.linalg.norm(varied[k][0], 2) >= 1.0:  # keep the map contractive
        varied[k] = maps[k]
    points = _points(varied, size * size * POINTS_PER_PIXEL, rng)
    grid = _canvas(points, size, angle=rng.uniform(0, 2 * np.pi),
                   centre=rng.uniform(0.4, 0.6, size=2), extent=rng.uniform(0.6, 0.9),
                   side=int(rng.integers(1, patch + 1)) if patch > 1 else 1)
    background = rng.uniform(0, 80, size=3)
    foreground = rng.uniform(150, 255, size=3)
    pixels = background + grid[..., None] * (foreground - background)
    return Image.fromarray(pixels.round().astype(np.uint8), mode="RGB")


def class_name(index):
    return f"ifs{index:04d}"


def write_fractals(root, num_classes=100, per_class=100, size=32, seed=DEFAULT_SEED, patch=1):
    """root/ifs<class>/<index>.png: num_classes x per_class images; returns the count.
    Each image's randomness depends only on (seed, class, index)."""
    if not (isinstance(patch, int) and patch >= 1):
        raise ValueError(f"patch must be a positive integer (the largest square a point is "
                         f"drawn as), got {patch!r}")
    for c, maps in enumerate(class_systems(num_classes, seed, size)):
        folder = os.path.join(root, class_name(c))
        os.makedirs(folder, exist_ok=True)
        for i in range(per_class):
            rng = np.random.default_rng([seed, c, i])
            render(maps, size, rng, patch).save(os.path.join(folder, f"{i:05d}.png"))
    return num_classes * per_class
