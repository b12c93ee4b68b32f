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
