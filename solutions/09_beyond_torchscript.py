"""Worked solutions for the exercises of 09_beyond_torchscript."""
import torch
from torch import nn
from torch.export import Dim

import helpers as H


class Limiter(nn.Module):
    """Exercise 1: the same limiter, its `if` rewritten with torch.cond so torch.export keeps both branches."""

    def forward(self, x):
        peak = x.abs().max()
        # Both branches take the same operands and return a tensor of the same dtype (torch.cond refuses a
        # mismatch; 09 shows it). Neither returns x itself: torch.cond refuses that aliasing, hence x.clone().
        return torch.cond(peak > 1, lambda x, peak: x / peak, lambda x, peak: x.clone(), (x, peak))


def export_tempered_any_batch():
    """Exercise 2: one ExportedProgram of the two-input TemperedDigits for every batch size.

    Both arguments carry the batch in dimension 0, so both get the *same* Dim: with two different
    Dims, torch.export finds that they must always be equal and refuses ("Suggested fixes: n = m").
    The example batch has 4 images: with a batch of 1, torch.export would treat the size as the
    constant 1 and refuse the dynamic dimension.
    """
    batch = Dim("batch")
    return torch.export.export(H.TemperedDigits(), H.tempered_inputs(4),
                               dynamic_shapes={"images": {0: batch}, "temperature": {0: batch}})
