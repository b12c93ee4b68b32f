"""A sequence-first model for tests/test_batch_dim.py (in a file: torch.jit.script reads its source)."""
import torch
from torch import nn


class SeqFirstPool(nn.Module):
    """(time, batch, features), as nn.LSTM takes by default; pools over the batch when there is one to pool."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(4, 6)

    def forward(self, x):
        out, _ = self.lstm(x)
        last = out[-1]                       # (batch, 6)
        if x.size(1) > 1:                    # a branch on the batch: a trace keeps the example's side
            return last - last.mean(0)
        return last
