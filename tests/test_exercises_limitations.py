"""The 06 checkers accept the worked solutions and explain wrong answers."""

import numpy as np
import pytest
import torch
from torch import nn

import helpers as H

SOL06 = H.load_solution("06_limitations")


def test_solutions_pass(capsys):
    assert H.check_standardize_scriptable(SOL06.Standardize)
    assert H.check_call_counter(SOL06.CountedDouble)
    assert H.check_saveable_debug_helper(SOL06.Clipper)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and all(line.startswith("✔") for line in out)


# ---------------------------------------------------------------- exercise 1

class StandardizeAsGiven(nn.Module):  # the notebook's starting point
    def forward(self, x, **options):
        eps = options.get("eps", 1e-5)
        clip = lambda t: t.clamp(-3.0, 3.0)  # noqa: E731
        self.last_mean = x.mean(dim=-1, keepdim=True)
        z = (x - self.last_mean) / (x.std(dim=-1, keepdim=True) + eps)
        return clip(z)


class StandardizeForgetsMean(nn.Module):
    def forward(self, x, eps: float = 1e-5):
        mean = x.mean(dim=-1, keepdim=True)
        return ((x - mean) / (x.std(dim=-1, keepdim=True) + eps)).clamp(-3.0, 3.0)


class StandardizeNoClip(nn.Module):
    def __init__(self):
        super().__init__()
        self.last_mean = torch.zeros(0)

    def forward(self, x, eps: float = 1e-5):
        self.last_mean = x.mean(dim=-1, keepdim=True)
        return (x - self.last_mean) / (x.std(dim=-1, keepdim=True) + eps)


class StandardizeNoEps(nn.Module):
    def __init__(self):
        super().__init__()
        self.last_mean = torch.zeros(0)

    def forward(self, x):
        self.last_mean = x.mean(dim=-1, keepdim=True)
        return ((x - self.last_mean) / (x.std(dim=-1, keepdim=True) + 1e-5)).clamp(-3.0, 3.0)


@pytest.mark.parametrize("model, words", [
    (StandardizeAsGiven, "still fails"),
    (StandardizeForgetsMean, "last_mean"),
    (StandardizeNoClip, "the result changed"),
    (StandardizeNoEps, "eps"),
])
def test_standardize_wrong_answers(capsys, model, words):
    assert not H.check_standardize_scriptable(model)
    out = capsys.readouterr().out
    assert out.startswith("✘") and words in out


# ---------------------------------------------------------------- exercise 2

CALLS = 0


class CountedWithGlobal(nn.Module):
    def forward(self, x):
        global CALLS
        CALLS += 1
        return x * 2


class CountedNever(nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        return x * 2


class CountedNoAttribute(nn.Module):
    def forward(self, x):
        return x * 2


@pytest.mark.parametrize("model, words", [
    (CountedWithGlobal, "global variables aren't supported"),
    (CountedNever, "from 0 to 3"),
    (CountedNoAttribute, "self.calls = 0"),
])
def test_counter_wrong_answers(capsys, model, words):
    assert not H.check_call_counter(model)
    out = capsys.readouterr().out
    assert out.startswith("✘") and words in out


# ---------------------------------------------------------------- exercise 3

class ClipperAsGiven(nn.Module):
    def __init__(self, debug: bool = False):
        super().__init__()
        self.debug = debug

    def forward(self, x):
        if self.debug:
            self.report(x)
        return x.clamp(-1.0, 1.0)

    def report(self, x):
        print("values outside [-1, 1]:", int(np.sum(np.abs(x.numpy()) > 1)))


class ClipperIgnored(ClipperAsGiven):
    @torch.jit.ignore
    def report(self, x: torch.Tensor) -> None:
        print("values outside [-1, 1]:", int(np.sum(np.abs(x.numpy()) > 1)))


@pytest.mark.parametrize("model, words", [
    (ClipperAsGiven, "still fails"),
    (ClipperIgnored, "@torch.jit.unused"),
])
def test_debug_helper_wrong_answers(capsys, model, words):
    assert not H.check_saveable_debug_helper(model)
    out = capsys.readouterr().out
    assert out.startswith("✘") and words in out


def test_checkers_explain_bad_arguments():
    with pytest.raises(TypeError, match="nn.Module class"):
        H.check_standardize_scriptable("Standardize")
    with pytest.raises(TypeError, match="class itself"):
        H.check_saveable_debug_helper(SOL06.Clipper())
    with pytest.raises(TypeError, match="constructor"):
        H.check_call_counter(type("NeedsArgs", (nn.Module,), {"__init__": lambda self, n: None}))
