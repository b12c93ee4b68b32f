"""Small TorchScript-able models for tests/test_migrate.py (in a file: torch.jit.script reads their source)."""
from typing import List

import torch


class Square(torch.nn.Module):
    def forward(self, x):
        return x * x


class SequenceMean(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 4)

    def forward(self, x):  # (batch, time, 3): the mean over time
        return self.lin(x).mean(1)


class ListAndBias(torch.nn.Module):
    def forward(self, xs: List[torch.Tensor], y):
        return xs[0].sum(0) + xs[1].sum(0) + y


class OneRow(torch.nn.Module):
    def forward(self, x):  # (1, 4) only: its first dimension is no batch
        return x.reshape(4) * 2


class HalveUntilSmall(torch.nn.Module):
    def forward(self, x):  # a while loop on the data: how many halvings depends on the values
        while x.abs().max() > 1:
            x = x / 2
        return x


class BranchOnBatch(torch.nn.Module):
    def forward(self, x):  # a branch on the batch size: the converted program keeps the example's side, fixed
        if x.shape[0] > 100:
            return x * 2
        return x


class MaskedConstantLoop(torch.nn.Module):
    """A loop of constant count (64) whose body the converter fails on: not a trip count that depends on the input."""
    def forward(self, x):
        n = x.size(0)
        total = torch.zeros_like(x[0])
        for i in range(64):
            j = min(i, n - 1)
            total = total + x[j] * float(i < n)
        return total


class BreakOnRows(torch.nn.Module):
    """A loop of fixed count that stops at the input's rows with a `break`: still as many turns as the input says."""
    def forward(self, x):
        total = torch.zeros_like(x[0])
        for i in range(64):
            if i >= x.size(0):
                break
            total = total + x[i]
        return total


class CatRows(torch.nn.Module):
    """Two inputs whose rows are stacked: the second may be empty."""

    def forward(self, x, y):
        return torch.cat([x, y], 0).sum(0)
