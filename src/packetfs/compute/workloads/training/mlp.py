"""The model and data: scikit-learn's bundled digits (8x8 images, 10 classes, no download), a seeded
stratified split, and a one-hidden-layer MLP (tanh, softmax cross-entropy) in numpy with its parameters as
one flat float64 vector, so a gradient is one array to quantize and ship."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError

DATASETS = ("digits",)
MODELS = ("mlp",)


@dataclass(frozen=True)
class Dataset:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int


def load(name: str, seed: int, test_fraction: float = 0.25) -> Dataset:
    if name not in DATASETS:
        raise InputError(f"unknown dataset {name!r}; one of {', '.join(DATASETS)}")
    if not 0.05 <= test_fraction <= 0.5:
        raise InputError("the test fraction must be 0.05..0.5")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = d.data.astype(np.float64) / 16.0  # pixel intensities 0..16 -> 0..1
    xtr, xte, ytr, yte = train_test_split(x, d.target, test_size=test_fraction, random_state=seed % 2**32,
                                          stratify=d.target)
    return Dataset(np.ascontiguousarray(xtr), ytr.astype(np.int64), np.ascontiguousarray(xte),
                   yte.astype(np.int64), 10)


class MLP:
    """inputs -> hidden (tanh) -> classes (softmax). ``params`` is the flat vector [W1, b1, W2, b2]."""

    def __init__(self, inputs: int, hidden: int, classes: int) -> None:
        if not 1 <= hidden <= 4096:
            raise InputError("--hidden must be 1..4096")
        self.shapes = [(inputs, hidden), (hidden,), (hidden, classes), (classes,)]
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        self.size = sum(self.sizes)

    def init(self, seed: int) -> np.ndarray:
        rng = np.random.default_rng([seed, 0x4D4C50])
        i, h = self.shapes[0]
        c = self.shapes[2][1]
        return np.concatenate([
            rng.normal(0, 1 / np.sqrt(i), i * h), np.zeros(h), rng.normal(0, 1 / np.sqrt(h), h * c), np.zeros(c),
        ])

    def unpack(self, params: np.ndarray) -> list[np.ndarray]:
        out, o = [], 0
        for shape, n in zip(self.shapes, self.sizes, strict=True):
            out.append(params[o : o + n].reshape(shape))
            o += n
        return out

    def predict(self, params: np.ndarray, x: np.ndarray) -> np.ndarray:
        w1, b1, w2, b2 = self.unpack(params)
        return np.argmax(np.tanh(x @ w1 + b1) @ w2 + b2, axis=1)

    def accuracy(self, params: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(self.predict(params, x) == y))

    def grad_sum(self, params: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
        """Sum over the rows of x of the cross-entropy gradient (flat), and the summed loss."""
        w1, b1, w2, b2 = self.unpack(params)
        h = np.tanh(x @ w1 + b1)
        z = h @ w2 + b2
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        loss = float(-np.log(p[np.arange(len(y)), y] + 1e-300).sum())
        dz = p
        dz[np.arange(len(y)), y] -= 1.0
        dw2 = h.T @ dz
        db2 = dz.sum(axis=0)
        dh = (dz @ w2.T) * (1 - h * h)
        dw1 = x.T @ dh
        db1 = dh.sum(axis=0)
        return np.concatenate([dw1.ravel(), db1, dw2.ravel(), db2]), loss
