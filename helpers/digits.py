"""The digits data set and the small CNN trained on it (introduced in 03_tracing; exported again in 05 and 09).

``data/digits.npz`` holds 1,797 real 8x8 handwritten digits; ``data/digits_cnn_state.pt`` holds
the weights of ``DigitsCNN`` trained on them by ``data/train_digits_cnn.py`` in a few seconds.
"""
from pathlib import Path

import numpy as np
import torch
from torch import nn

__all__ = ["DigitsCNN", "load_digits", "load_digits_cnn", "DIGITS_FILE", "DIGITS_WEIGHTS"]

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DIGITS_FILE = DATA_DIR / "digits.npz"
DIGITS_WEIGHTS = DATA_DIR / "digits_cnn_state.pt"
TEST_SIZE = 297  # the last 297 images are held out; the first 1,500 train the model


class DigitsCNN(nn.Module):
    """Two convolutions and a linear layer: 8x8 grey image in, 10 digit scores out."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # 8 x 4 x 4
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 16 x 2 x 2
        )
        self.classifier = nn.Linear(16 * 2 * 2, 10)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def load_digits(split: str = "test"):
    """Images as float tensors ``(N, 1, 8, 8)`` scaled to 0..1, and labels ``(N,)``.

    ``split`` is ``"train"`` (first 1,500), ``"test"`` (last 297) or ``"all"``.
    """
    if split not in ("train", "test", "all"):
        raise ValueError(f"load_digits(split=...) takes 'train', 'test' or 'all', got {split!r}")
    if not DIGITS_FILE.is_file():
        raise FileNotFoundError(f"{DIGITS_FILE} is missing: restore it with `git checkout data/` "
                                "or rebuild it with `python data/make_digits.py`")
    with np.load(DIGITS_FILE) as data:
        images, labels = data["images"], data["labels"]
    x = torch.from_numpy(images.astype(np.float32) / 16.0).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    if split == "train":
        return x[:-TEST_SIZE], y[:-TEST_SIZE]
    if split == "test":
        return x[-TEST_SIZE:], y[-TEST_SIZE:]
    return x, y


def load_digits_cnn() -> DigitsCNN:
    """The trained CNN, in eval mode, ready to export."""
    if not DIGITS_WEIGHTS.is_file():
        raise FileNotFoundError(f"{DIGITS_WEIGHTS} is missing: restore it with `git checkout data/` "
                                "or retrain with `python data/train_digits_cnn.py`")
    model = DigitsCNN()
    model.load_state_dict(torch.load(DIGITS_WEIGHTS, weights_only=True))
    return model.eval()
