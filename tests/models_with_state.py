"""Models several test files share: ones that change their own Python state as they run."""
import torch


class CountsCalls(torch.nn.Module):
    """Adds how many times it has been called: eager and a copy agree only if each is called as often."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return x + self.calls


class CountsOnly(CountsCalls):
    """Counts its calls but leaves the count out of the output: copies agree, and lose the counter."""

    def forward(self, x):
        self.calls += 1
        return x * 2


class RunningTotal(torch.nn.Module):
    """Keeps a running total in a buffer and adds it: the outputs show the state, and a copy keeps it or not."""

    def __init__(self):
        super().__init__()
        self.register_buffer("total", torch.zeros(4))

    def forward(self, x):
        self.total += x.sum(0)
        return x + self.total


class CountsInBuffer(torch.nn.Module):
    """Counts its calls in a buffer the outputs do not show: only reading the copy's state can tell it is kept."""

    def __init__(self):
        super().__init__()
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x):
        self.calls += 1
        return x * 2


class AddsItsInputsSum(torch.nn.Module):
    """A buffer updated from .item(): the trace updates it too, by the example's amount whatever the input."""

    def __init__(self):
        super().__init__()
        self.register_buffer("total", torch.zeros(()))

    def forward(self, x):
        self.total += x.sum().item()
        return x * 2
