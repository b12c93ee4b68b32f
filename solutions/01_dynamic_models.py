"""Worked solutions for the exercises of 01_dynamic_models."""
import torch
from torch import nn

# Exercise 1. The loop body runs once per row (x.size(0)), whatever the number of columns.
# The branch tests x.sum() > 0: 5 + (-2) = 3 is positive (double); -3 + 1 + 2 = 0 is not greater than 0 (negate).
path_answers = {
    "loop, input of shape (12, 3): runs of the loop body": 12,
    "loop, input of shape (3, 40): runs of the loop body": 3,
    "branch, tensor([5., -2.]): 'double' or 'negate'": "double",
    "branch, tensor([-3., 1., 2.]): 'double' or 'negate'": "negate",
}


# Exercise 2. A `while` loop whose condition reads the data: Python decides, call by call,
# how many times the body runs.
class HalveUntilSmall(nn.Module):
    def forward(self, x):
        while x.abs().max() > 1:
            x = x / 2
        return x
