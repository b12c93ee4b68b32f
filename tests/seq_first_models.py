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


class SeqFirstWithLengths(nn.Module):
    """(time, batch, features) and each sequence's length, shape (batch,): two places for one batch."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(4, 6)

    def forward(self, x, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
        _, h = self.gru(packed)
        last = h[-1]
        if lengths.numel() > 1:              # a branch on the batch again
            return last - last.mean(0)
        return last
