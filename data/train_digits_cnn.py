"""Retrain helpers.digits.DigitsCNN on data/digits.npz and write data/digits_cnn_state.pt.

Runs in a few seconds on a laptop CPU: `python data/train_digits_cnn.py`. Seeded, so a rerun on
the same torch gives the same weights.
"""
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from helpers.digits import DIGITS_WEIGHTS, DigitsCNN, load_digits  # noqa: E402


def main(epochs: int = 30, seed: int = 0):
    torch.manual_seed(seed)  # same initial weights and batch order on every run
    x, y = load_digits("train")
    model = DigitsCNN()
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            batch = order[i:i + 64]
            optimiser.zero_grad()
            loss_fn(model(x[batch]), y[batch]).backward()
            optimiser.step()
    model.eval()
    x_test, y_test = load_digits("test")
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    torch.save(model.state_dict(), DIGITS_WEIGHTS)
    print(f"test accuracy {accuracy:.3f}; wrote {DIGITS_WEIGHTS.name} "
          f"({DIGITS_WEIGHTS.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
