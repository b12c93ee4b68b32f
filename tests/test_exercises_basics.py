"""The 01 and 02 checkers accept the worked solutions and explain wrong answers."""

import torch
from torch import nn

import helpers as H


load_solution = H.load_solution


SOL01 = load_solution("01_dynamic_models")
SOL02 = load_solution("02_what_is_torchscript")


def test_solutions_pass(capsys):
    assert H.check_path_answers(SOL01.path_answers)
    assert H.check_halving_model(SOL01.HalveUntilSmall)
    assert H.check_type_fix(SOL02.first_or_zero)
    assert H.check_count_kind(SOL02.count_kind)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 4 and all(line.startswith("✔") for line in out)


def test_path_answers_feedback(capsys):
    answers = dict(SOL01.path_answers)
    answers["branch, tensor([0., 0.]): 'double' or 'negate'"] = "double"
    assert not H.check_path_answers(answers)
    assert "is 0 greater than 0?" in capsys.readouterr().out
    answers = dict(SOL01.path_answers, **{"branch, tensor([2., -5.]): 'double' or 'negate'": "double"})
    assert not H.check_path_answers(answers)
    out = capsys.readouterr().out
    assert "work out the sum and compare it with 0" in out and "0 greater than 0" not in out  # not a tie
    answers = dict(SOL01.path_answers, **{"branch, tensor([2., -5.]): 'double' or 'negate'": "negative"})
    assert not H.check_path_answers(answers)
    assert "'double' or 'negate'" in capsys.readouterr().out.split("you said")[1]  # names the accepted words
    answers = dict(SOL01.path_answers, **{"loop, input of shape (7, 2): runs of the loop body": 2})
    assert not H.check_path_answers(answers)
    assert "count the rows" in capsys.readouterr().out
    answers = dict(SOL01.path_answers, **{"loop, input of shape (1, 10): runs of the loop body": "1"})
    assert H.check_path_answers(answers)  # a number typed as text is fine
    capsys.readouterr()
    assert not H.check_path_answers({q: None for q in H.PATH_QUESTIONS})
    assert "4 still empty" in capsys.readouterr().out
    assert not H.check_path_answers([7, 1])
    assert "Give a dict" in capsys.readouterr().out


class DoesNothing(nn.Module):
    def forward(self, x):
        return x


class FixedLoop(nn.Module):
    def forward(self, x):
        for _ in range(3):
            x = x / 2
        return x


class NoBranches(nn.Module):
    """Right numbers, but one path for every input: what the exercise is not about."""
    def forward(self, x):
        steps = torch.ceil(torch.log2(x.abs().max())).clamp(min=0)
        return x / 2 ** steps


def test_halving_feedback(capsys):
    assert not H.check_halving_model(DoesNothing)
    assert "expected tensor([0.7500, 0.2500])" in capsys.readouterr().out
    assert not H.check_halving_model(FixedLoop())
    assert "leave small inputs alone" in capsys.readouterr().out
    assert not H.check_halving_model(NoBranches)
    assert "same number of times" in capsys.readouterr().out


def first_or_zero_int(x):
    if x.numel() == 0:
        return 0
    return x[0]


def first_or_zero_sum(x):
    if x.numel() == 0:
        return torch.zeros(())
    return x.sum()


def test_type_fix_feedback(capsys):
    assert not H.check_type_fix(first_or_zero_int)
    out = capsys.readouterr().out
    assert "TorchScript still rejects it" in out and "type int" in out and "must give a Tensor" in out
    assert "torch.zeros" not in out  # the feedback points at the problem, not at the literal fix
    assert not H.check_type_fix(first_or_zero_sum)
    assert "Keep x[0]" in capsys.readouterr().out
    assert not H.check_type_fix(3)
    assert "Pass your function itself" in capsys.readouterr().out


def flat_count(graph, kind):
    return sum(node.kind() == kind for node in graph.nodes())


def test_count_kind_feedback(capsys):
    assert not H.check_count_kind(flat_count)
    out = capsys.readouterr().out
    assert "expected 1" in out and "node.blocks()" in out
    assert not H.check_count_kind(lambda graph, kind: graph.missing())
    assert "failed: AttributeError" in capsys.readouterr().out
