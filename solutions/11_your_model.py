"""Worked solutions for the exercises of 11_your_model."""
import torch
from torch import nn
from torch.export import Dim

from helpers.exercises.ex11_your_model import HeadConfig


# Exercise 1. TorchScript types every attribute; it has no type for a dataclass instance kept on the
# module unless the dataclass has been compiled first (torch.jit.script(HeadConfig) also works, for the whole
# process). Copy the fields forward reads into attributes of their own: float, float and str all script.
class ConfiguredHead(nn.Module):
    def __init__(self, cfg: HeadConfig = HeadConfig()):
        super().__init__()
        self.scale = cfg.scale
        self.clip = cfg.clip
        self.activation = cfg.activation
        self.lin = nn.Linear(6, 3)

    def forward(self, x):
        y = self.lin(x)
        y = y.relu() if self.activation == "relu" else y.tanh()
        return (y * self.scale).clamp(-self.clip, self.clip)


# Exercise 2. A trace keeps one side of `x.shape[-1] > 8`, and an export specialises to one side. Two ways
# keep both. The one with a promise behind it: torch.jit.script compiles the `if` (LibTorch).
def ship(model, example):
    return torch.jit.script(model)


# The torch.export route: torch.cond carries the branch into the program, with the length marked dynamic. Its
# two branches return different lengths (n/2 and n): torch 2.14 takes that, but torch.cond's documentation asks
# for the same shape (09), so no later torch promises to.
class PairPoolCond(nn.Module):
    def forward(self, x):
        return torch.cond(x.shape[-1] > 8,
                          lambda t: t.unflatten(-1, (-1, 2)).mean(-1).cumsum(-1),
                          lambda t: t.cumsum(-1), (x,))


def ship_exported(model, example):
    program = torch.export.export(PairPoolCond(), (example,), dynamic_shapes=({1: Dim.AUTO},))
    return program.module()


# Exercise 3. strict=False lets the tracer return a dict, on the promise that its keys never depend on the input.
def trace_it(model, example):
    return torch.jit.trace(model, example, strict=False)
