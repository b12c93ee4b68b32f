"""Worked solutions for the exercises of 06_limitations."""
import numpy as np
import torch
from torch import nn


# Exercise 1. Three fixes, one per rejected construct, and the maths untouched:
# **options -> a typed keyword argument; the lambda -> a module-level function (TorchScript
# compiles functions that forward calls); last_mean -> created in __init__, so forward may assign it.
def clip3(t: torch.Tensor) -> torch.Tensor:
    return t.clamp(-3.0, 3.0)


class StandardizeFixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.last_mean = torch.zeros(0)

    def forward(self, x, eps: float = 1e-5):
        self.last_mean = x.mean(dim=-1, keepdim=True)
        z = (x - self.last_mean) / (x.std(dim=-1, keepdim=True) + eps)
        return clip3(z)


# Exercise 2. The peak is an attribute of the model: TorchScript compiles `self.peak = max(...)`, and
# torch.jit.save stores the attribute's current value with the model. It starts at 0.0, not 0: TorchScript
# types an attribute from its value in __init__, and an int attribute cannot take the float from max().
class PeakNormalize(nn.Module):
    def __init__(self):
        super().__init__()
        self.peak = 0.0

    def forward(self, x):
        self.peak = max(self.peak, float(x.abs().max()))
        return x / self.peak


# Exercise 3. @torch.jit.unused, not @torch.jit.ignore: the deployed model never counts, and an ignored
# helper would stay a Python call that torch.jit.save refuses. The unused helper is compiled as "raise an
# error", so only a call with debug=True would fail. Its body is never compiled, so TorchScript takes its
# types from the annotations (Tensor in, Tensor out without them); `-> int` lets `self.outside += ...` compile.
class Clipper(nn.Module):
    def __init__(self, debug: bool = False):
        super().__init__()
        self.debug = debug
        self.outside = 0

    def forward(self, x):
        if self.debug:
            self.outside += self.count_outside(x)
        return x.clamp(-1.0, 1.0)

    @torch.jit.unused
    def count_outside(self, x: torch.Tensor) -> int:
        return int(np.sum(np.abs(x.numpy()) > 1))
