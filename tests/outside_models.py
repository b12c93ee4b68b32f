"""Small models whose outputs the course's own models do not have, shared by the tests of several tools."""
from typing import NamedTuple

import torch


class Pair(NamedTuple):
    logits: torch.Tensor
    total: torch.Tensor


class NamedTupleOut(torch.nn.Module):
    def forward(self, x) -> Pair:
        return Pair(x * 2, x.sum())


class DoublesInPlace(torch.nn.Module):
    """Changes its input in place and returns it: the output is the input tensor itself."""

    def forward(self, x):
        x.mul_(2)
        return x


class TriplesInPlace(torch.nn.Module):
    """Like DoublesInPlace with another factor: a wrong copy of it."""

    def forward(self, x):
        x.mul_(3)
        return x


class InPlaceBySign(torch.nn.Module):
    """Changes its input in place by a factor that depends on the input's sign: a trace keeps one factor."""

    def forward(self, x):
        if x.sum() > 0:
            x.mul_(2)
        else:
            x.mul_(3)
        return x


IN_PLACE_BRANCH_SOURCE = '''class Model(nn.Module):
    def forward(self, x):
        y = x.add_(1)
        if y.sum() > 0:
            return y * 3
        return y
'''


class TinyUnrolled(torch.nn.Module):
    """A large output beside one of about 1e-9, whose loop over the batch a trace unrolls without a warning."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)

    def forward(self, x):
        h = self.lin(x)
        total = torch.zeros(4)
        for i in range(x.shape[0]):
            total = total + h[i:i + 1].sum(0)
        return h, total * 1e-9


class InterleavedPair(torch.nn.Module):
    """y holds two rows for each of x's; with Dim.AUTO on both, export ties their sizes by a check of its own."""

    def forward(self, x, y):
        return x + y[0::2] + y[1::2]


class PairsSummed(torch.nn.Module):
    """Sums neighbouring pairs along dimension 1: only even lengths work, a rule Dim.AUTO keeps as a check."""

    def forward(self, x):
        return x.reshape(x.shape[0], 2, -1).sum(1)


class TokenMean(torch.nn.Module):
    """Embeds int64 token ids and averages them: an id past the table is an error inside the compiled code."""

    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(10, 3)

    def forward(self, tokens):
        return self.emb(tokens).mean(1)


class Lookup(torch.nn.Module):
    """An embedding lookup: its answer on one token id says nothing of the others."""

    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(10, 3)

    def forward(self, tokens):
        return self.emb(tokens)


class NarrowsBatch(torch.nn.Module):  # a branch on the batch size: torch.export narrows a batch Dim to min=3
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 3)

    def forward(self, x):
        if x.shape[0] > 2:
            return self.lin(x).relu()
        return self.lin(x) * 2


class TrainingFlag(torch.nn.Module):
    """No Dropout or BatchNorm: forward reads the mode itself, so a copy made in training mode keeps that path."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)

    def forward(self, x):
        y = self.lin(x)
        if self.training:
            return y * 0.5
        return y


class AlwaysNaN(torch.nn.Module):
    def forward(self, x):
        return (x * 0) / (x * 0)  # 0 / 0 for every finite input, NaN for the rest


class NoSuperInit(torch.nn.Module):
    """A learner's class that forgot super().__init__(): building it raises, before any checker sees a model."""

    def __init__(self):
        self.two = torch.nn.Parameter(torch.tensor(2.0))  # before Module.__init__: nn.Module refuses it

    def forward(self, x):
        return x


class DropsAlways(torch.nn.Module):
    """F.dropout left at its default training=True: random even after eval(), with no layer in training mode."""
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)

    def forward(self, x):
        return torch.nn.functional.dropout(self.lin(x), 0.5)


class PicksHeadByName(torch.nn.Module):
    """A str argument that picks a layer: export, ONNX, AOTInductor and ExecuTorch keep the example's string."""

    def __init__(self):
        super().__init__()
        self.heads = torch.nn.ModuleDict({"a": torch.nn.Linear(4, 2), "b": torch.nn.Linear(4, 3)})

    def forward(self, x, name: str):
        return self.heads[name](x)


class ReturnsAString(torch.nn.Module):
    """A (tensor, str) output: it scripts and exports, but a .pt2 of it does not load back."""

    def forward(self, x):
        return x * 2, "ok"
