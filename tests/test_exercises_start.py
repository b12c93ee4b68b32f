"""The 00 exercise checker accepts the worked solution and explains a wrong answer."""

import torch

import helpers as H


class Gate(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x * 2
        return -x


def load_solution():
    return H.load_solution("00_start_here")


def test_solution_passes(capsys):
    assert H.check_other_branch(torch.jit.script(Gate()), load_solution().other_branch_input)
    assert capsys.readouterr().out.startswith("✔")


def test_wrong_answers_get_feedback(capsys):
    scripted = torch.jit.script(Gate())
    assert not H.check_other_branch(scripted, torch.tensor([1.0]))
    assert "sum(x) = 1 > 0" in capsys.readouterr().out
    assert not H.check_other_branch(scripted, [1.0])
    assert "should be a tensor" in capsys.readouterr().out
    assert H.check_other_branch(scripted, torch.tensor([-1, -2]))  # integer tensors take the branch too
