"""Worked solutions for the exercises of 09_beyond_torchscript."""
import torch
from torch import nn
from torch.export import Dim

import helpers as H


class Limiter(nn.Module):
    """Exercise 1: the same limiter, its `if` rewritten with torch.cond so torch.export keeps both branches."""

    def forward(self, x):
        peak = x.abs().max()
        # Both branches take the same operands and return a tensor of the same shape and dtype.
        return torch.cond(peak > 1, lambda x, peak: x / peak, lambda x, peak: x.clone(), (x, peak))


def export_digits_any_batch():
    """Exercise 2: one ExportedProgram of the digits CNN for every batch size.

    The example batch has 4 images: with a batch of 1, torch.export would treat the size as the
    constant 1 and refuse the dynamic dimension.
    """
    images, _ = H.load_digits("test")
    return torch.export.export(H.load_digits_cnn(), (images[:4],), dynamic_shapes={"x": {0: Dim("batch")}})
