"""The 03 exercise checkers accept the worked solutions and explain wrong answers."""

import pytest
import torch

import helpers as H


@pytest.fixture(scope="module")
def solution():
    return H.load_solution("03_tracing")


def test_branch_solution_passes(solution, capsys):
    assert H.check_branch_without_if(solution.BranchWithoutIf)
    assert H.check_branch_without_if(solution.BranchWithoutIf())
    assert capsys.readouterr().out.startswith("✔")


class StillBranching(torch.nn.Module):  # the notebook's starting point
    def forward(self, x):
        if x.sum() > 0:
            return x * 2
        return -x


class WrongBoundary(torch.nn.Module):
    def forward(self, x):
        return torch.where(x.sum() >= 0, x * 2, -x)


class NeedsArgument(torch.nn.Module):
    def __init__(self, k):
        super().__init__()


def test_branch_wrong_answers_get_feedback(capsys):
    assert not H.check_branch_without_if(StillBranching)
    assert "Converting a tensor to a Python boolean" in capsys.readouterr().out
    assert not H.check_branch_without_if(WrongBoundary)
    out = capsys.readouterr().out
    assert "for x = [1, -1] it should return [-1.0, 1.0]" in out and "sum 0 ≤ 0" in out
    assert not H.check_branch_without_if(NeedsArgument)
    assert "pass an instance" in capsys.readouterr().out
    with pytest.raises(TypeError, match="expects a torch model"):
        H.check_branch_without_if(lambda x: x)


def test_catching_inputs_solution_passes(solution, capsys):
    assert H.check_catching_inputs(solution.catching_check_inputs)
    out = capsys.readouterr().out
    assert out.startswith("✔") and "TracingCheckError" in out and "≤ 0" in out


def test_catching_inputs_wrong_answers_get_feedback(capsys):
    x, h = H.example_input("rnn_cell")
    assert not H.check_catching_inputs([(2 * x, h)])  # the notebook's starting point: same branch
    assert "the trace passed its checks" in capsys.readouterr().out
    assert not H.check_catching_inputs([x])
    assert "should be a tuple (x, h)" in capsys.readouterr().out
    assert not H.check_catching_inputs([(torch.ones(2, 3), h)])
    assert "eager model itself fails on check input 0" in capsys.readouterr().out
    assert not H.check_catching_inputs([])
    assert "non-empty list" in capsys.readouterr().out
