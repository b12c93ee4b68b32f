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
    assert H.check_gate_probe(torch.jit.script(Gate()), load_solution().other_branch_input)
    assert capsys.readouterr().out.startswith("✔")


def test_wrong_answers_get_feedback(capsys):
    scripted = torch.jit.script(Gate())
    assert not H.check_gate_probe(scripted, torch.tensor([1.0]))
    assert "sum(x) = 1 > 0" in capsys.readouterr().out
    assert not H.check_gate_probe(scripted, [1.0])
    assert "should be a tensor" in capsys.readouterr().out
    assert H.check_gate_probe(scripted, torch.tensor([-1, -2]))  # integer tensors take the branch too


def test_odd_inputs_get_feedback_without_a_crash(capsys):
    scripted = torch.jit.script(Gate())
    cases = [
        (torch.tensor([2.0, -1.0]), "sum(x) = 1 > 0"),              # one side of the threshold
        (torch.tensor([0.5, -0.5]), "✔"),                            # the boundary: a zero sum is not positive
        (torch.tensor([True, False]), "bool tensor"),                # -x is not defined for bools
        (torch.tensor([float("nan"), -1.0]), "holds NaN"),           # -NaN never equals anything
        (None, "you gave a NoneType"),
    ]
    for x, expected in cases:
        result = H.check_gate_probe(scripted, x)
        out = capsys.readouterr().out
        assert expected in out, (x, out)
        assert result == (expected == "✔")
    assert not H.check_gate_probe(Gate, torch.tensor([-1.0]))
    assert "the class itself" in capsys.readouterr().out
    assert not H.check_gate_probe(None, torch.tensor([-1.0]))
    assert "should be the loaded model" in capsys.readouterr().out


def test_praise_says_what_happened(capsys):
    assert H.check_gate_probe(torch.jit.script(Gate()), torch.tensor([-3.0, 1.0]))
    assert "sum(x) = -2 is not positive" in capsys.readouterr().out


def test_the_eager_model_and_the_input_tried_above_are_named(capsys):
    assert not H.check_gate_probe(Gate(), torch.tensor([-3.0, 1.0]))   # eager branches anyway: not the question
    assert "That is the eager Gate" in capsys.readouterr().out
    assert not H.check_gate_probe(torch.jit.script(Gate()), torch.tensor([-1.0, -2.0]))
    assert "the input tried above" in capsys.readouterr().out
    assert not H.check_gate_probe(torch.jit.script(Gate()), torch.Tensor)
    assert "the class Tensor" in capsys.readouterr().out
