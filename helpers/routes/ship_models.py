"""The small models 10_shipping sends down every route (AOTInductor, ExecuTorch, LibTorch, ONNX).

They live here, not in a notebook cell, so that ``make aoti`` can build their packages ahead with
the same cache key the notebook computes (the key includes the class's source).
"""
import torch
from torch import nn

__all__ = ["CondNet", "cond_net", "DualRouteNet"]


class CondNet(nn.Module):
    """A data-dependent branch written with ``torch.cond``: torch.export keeps both branches.

    Positive total -> ``relu(a(x))``; otherwise ``2 * b(x)``. Any batch size (the batch is dynamic).
    """

    def __init__(self, features: int = 4):
        super().__init__()
        self.a = nn.Linear(features, features)
        self.b = nn.Linear(features, features)

    def positive(self, x):
        return self.a(x).relu()

    def other(self, x):
        return self.b(x) * 2

    def forward(self, x):
        return torch.cond(x.sum() > 0, self.positive, self.other, (x,))


def cond_net(seed: int = 0) -> CondNet:
    """A ``CondNet`` with weights fixed by ``seed``, in eval mode."""
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = CondNet()
    finally:
        torch.random.set_rng_state(generator_state)  # building the model does not move the learner's seed
    return model.eval()


class DualRouteNet(nn.Module):
    """One source for both routes: a plain ``if`` for TorchScript, ``torch.cond`` for torch.export.

    ``torch.jit.is_scripting()`` is a constant True inside the scripting compiler, so the compiler
    keeps only the first branch (it still parses the ``torch.cond`` line, so the branches there are methods, not
    lambdas: 10 shows a lambda refused); torch.export runs the Python, where it is False, and records the ``torch.cond``.
    """

    def __init__(self, features: int = 4):
        super().__init__()
        self.a = nn.Linear(features, features)
        self.b = nn.Linear(features, features)

    def positive(self, x):
        return self.a(x).relu()

    def other(self, x):
        return self.b(x) * 2

    def forward(self, x):
        if torch.jit.is_scripting():
            if bool(x.sum() > 0):
                return self.positive(x)
            return self.other(x)
        return torch.cond(x.sum() > 0, self.positive, self.other, (x,))
