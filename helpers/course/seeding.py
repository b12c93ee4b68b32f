"""Deterministic seeding for every notebook (introduced in 00_start_here)."""
import random

import numpy as np
import torch

__all__ = ["seed_everything"]


def seed_everything(seed: int = 0) -> int:
    """Seed Python, NumPy and torch so that every run of a notebook prints the same numbers."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed_everything expects an int seed, got {type(seed).__name__}: pass e.g. 0")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return seed
