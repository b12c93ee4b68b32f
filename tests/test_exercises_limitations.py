"""The 06 checkers accept the worked solutions and explain wrong answers."""

import numpy as np
import pytest
import torch
from torch import nn

import helpers as H

SOL06 = H.load_solution("06_limitations")


def test_solutions_pass(capsys):
    assert H.check_standardize_scriptable(SOL06.Standardize)
    assert H.check_running_peak(SOL06.PeakNormalize)
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

PEAK = 0.0


class PeakWithGlobal(nn.Module):  # the notebook's starting point
    def forward(self, x):
        global PEAK
        PEAK = max(PEAK, float(x.abs().max()))
        return x / PEAK


class PeakStartsAsInt(nn.Module):
    def __init__(self):
        super().__init__()
        self.peak = 0

    def forward(self, x):
        self.peak = max(self.peak, float(x.abs().max()))
        return x / self.peak


class PeakOfThisCallOnly(nn.Module):
    def __init__(self):
        super().__init__()
        self.peak = 0.0

    def forward(self, x):
        self.peak = float(x.abs().max())
        return x / self.peak


class PeakNoAttribute(nn.Module):
    def forward(self, x):
        return x / x.abs().max()


class PeakAsBuffer(nn.Module):  # another fair answer: a one-value tensor, saved as a buffer
    def __init__(self):
        super().__init__()
        self.register_buffer("peak", torch.zeros(()))

    def forward(self, x):
        self.peak = torch.maximum(self.peak, x.abs().max())
        return x / self.peak


@pytest.mark.parametrize("model, words", [
    (PeakWithGlobal, "global variables aren't supported"),
    (PeakStartsAsInt, "start it at 0.0"),
    (PeakOfThisCallOnly, "max(self.peak, ...)"),
    (PeakNoAttribute, "self.peak = 0.0"),
])
def test_peak_wrong_answers(capsys, model, words):
    assert not H.check_running_peak(model)
    out = capsys.readouterr().out
    assert out.startswith("✘") and words in out and out.count("\n") == 1


def test_peak_accepts_a_buffer(capsys):
    assert H.check_running_peak(PeakAsBuffer)
    assert capsys.readouterr().out.startswith("✔")


# ---------------------------------------------------------------- exercise 3

class ClipperAsGiven(nn.Module):
    def __init__(self, debug: bool = False):
        super().__init__()
        self.debug = debug
        self.outside = 0

    def forward(self, x):
        if self.debug:
            self.outside += self.count_outside(x)
        return x.clamp(-1.0, 1.0)

    def count_outside(self, x):
        return int(np.sum(np.abs(x.numpy()) > 1))


class ClipperUnusedNoAnnotations(ClipperAsGiven):
    @torch.jit.unused
    def count_outside(self, x):
        return int(np.sum(np.abs(x.numpy()) > 1))


class ClipperIgnored(ClipperAsGiven):
    @torch.jit.ignore
    def count_outside(self, x: torch.Tensor) -> int:
        return int(np.sum(np.abs(x.numpy()) > 1))


class ClipperHelperEmptied(ClipperAsGiven):
    @torch.jit.unused
    def count_outside(self, x: torch.Tensor) -> int:
        return 0


@pytest.mark.parametrize("model, words", [
    (ClipperAsGiven, "Decorate the helper"),
    (ClipperUnusedNoAnnotations, "-> int"),
    (ClipperIgnored, "@torch.jit.unused"),
    (ClipperHelperEmptied, "should count the 2 values"),
])
def test_debug_helper_wrong_answers(capsys, model, words):
    assert not H.check_saveable_debug_helper(model)
    out = capsys.readouterr().out
    assert out.startswith("✘") and words in out and out.count("\n") == 1


def test_checkers_explain_bad_arguments():
    with pytest.raises(TypeError, match="nn.Module class"):
        H.check_standardize_scriptable("Standardize")
    with pytest.raises(TypeError, match="class itself"):
        H.check_saveable_debug_helper(SOL06.Clipper())
    with pytest.raises(TypeError, match="constructor"):
        H.check_running_peak(type("NeedsArgs", (nn.Module,), {"__init__": lambda self, n: None}))
