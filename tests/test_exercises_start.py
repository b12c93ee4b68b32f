"""The 00 exercise checker accepts the worked solution and explains a wrong answer."""

import io

import pytest
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
    assert H.check_gate_probe(scripted, torch.tensor([-1, -3]))  # integer tensors take the branch too


def test_odd_inputs_get_feedback_without_a_crash(capsys):
    scripted = torch.jit.script(Gate())
    cases = [
        (torch.tensor([2.0, -1.0]), "sum(x) = 1 > 0"),              # one side of the threshold
        (torch.tensor([0.5, -0.5]), "✔"),                            # the boundary: a zero sum is not positive
        (torch.tensor([True, False]), "bool tensor"),                # -x is not defined for bools
        (torch.tensor([float("nan"), -1.0]), "✔"),                   # NaN > 0 is false; -1 shows the negation
        (torch.tensor([float("nan")] * 2), "holds only NaN"),       # doubled or negated, NaN looks the same
        (torch.tensor([-1.0, 0.5], device="meta"), "meta device"),   # no values to read
        (torch.tensor([]), "x is empty"),                            # its negation shows nothing
        (torch.zeros(3), "holds only zeros"),                        # doubled or negated, 0 looks the same (as NaN)
        (torch.tensor([float("nan"), 0.0]), "only zeros and NaN"),  # [nan, -0.] and [nan, 0.] show no branch
        (torch.tensor([float("nan"), -0.0]), "only zeros and NaN"),
        (torch.tensor([-1.0, 0.5]).to_sparse(), "sparse_coo tensor"),  # no raw error from the loaded program
        (None, "you gave None"),
    ]
    for x, expected in cases:
        result = H.check_gate_probe(scripted, x)
        out = capsys.readouterr().out
        assert expected in out, (x, out)
        assert result == (expected == "✔")
    assert not H.check_gate_probe(Gate, torch.tensor([-1.0]))
    assert "you gave the class Gate" in capsys.readouterr().out
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


class AlwaysNegates(torch.nn.Module):
    """Negates every input: scripted, it has no branch for the probe to find."""
    def forward(self, x):
        return -x


def saved_and_loaded(module):
    buffer = io.BytesIO()
    torch.jit.save(module, buffer)
    buffer.seek(0)
    return torch.jit.load(buffer)


def test_a_model_that_does_not_branch_is_told_only_true_things(capsys):
    right_x = torch.tensor([-1.0, 0.5])
    with pytest.warns(torch.jit.TracerWarning):  # the trace keeps the doubling path only: that is the point
        trace = torch.jit.trace(Gate(), torch.tensor([1.0, 2.0]))
    loaded_trace = saved_and_loaded(trace)  # a loaded program that always doubles
    assert not H.check_gate_probe(loaded_trace, right_x)
    out = capsys.readouterr().out
    assert "sum(x) = -0.5 is not positive" in out and "> 0" not in out, out  # the old "-0.5 > 0" was false
    assert "returned [-2.0, 1.0] instead of -x = [1.0, -0.5]" in out, out
    assert not H.check_gate_probe(trace, right_x)
    assert "That is a traced module" in capsys.readouterr().out
    assert not H.check_gate_probe(torch.jit.script(AlwaysNegates()), right_x)  # right output, but no branch taken
    out = capsys.readouterr().out
    assert out.startswith("✘") and "no `if`" in out, out


@pytest.mark.parametrize("x, dressed", [
    (torch.tensor([[-1.0, -2.0]]), "shape (1, 2)"),
    (torch.tensor([-1.0, -2.0], dtype=torch.float64), "dtype torch.float64"),
    (torch.tensor([-1, -2]), "dtype torch.int64"),
])
def test_the_input_tried_above_is_named_in_any_shape_or_dtype(x, dressed, capsys):
    assert not H.check_gate_probe(torch.jit.script(Gate()), x)
    out = capsys.readouterr().out
    assert "the input tried above" in out and dressed in out, out


def test_praise_claims_a_load_only_where_there_was_one(capsys):
    assert H.check_gate_probe(torch.jit.script(Gate()), torch.tensor([-1.0, 0.5]))  # scripted, never loaded
    out = capsys.readouterr().out
    assert out.startswith("✔") and "loaded" not in out and "TorchScript program took its else branch" in out, out
    assert H.check_gate_probe(saved_and_loaded(torch.jit.script(Gate())), torch.tensor([-1.0, 0.5]))
    assert capsys.readouterr().out.startswith("✔")


def test_the_class_is_pointed_at_the_loaded_model(capsys):
    assert not H.check_gate_probe(Gate, torch.tensor([-1.0, 0.5]))
    out = capsys.readouterr().out
    assert "check_gate_probe(loaded, x)" in out and "parentheses" not in out, out  # Gate() is eager: rejected too


def test_inf_and_minus_inf_together_take_the_else_branch_and_the_praise_says_why(capsys):
    # their sum is NaN, which is not positive (NaN > 0 is false): the loaded model negates them, to -inf and inf
    assert H.check_gate_probe(torch.jit.script(Gate()), torch.tensor([float("inf"), float("-inf")]))
    out = capsys.readouterr().out
    assert "sum(x) is NaN, and NaN > 0 is false" in out and "= nan" not in out, out


def test_a_non_tensor_is_pointed_at_an_example_that_passes(capsys):
    assert not H.check_gate_probe(torch.jit.script(Gate()), [1.0])
    out = capsys.readouterr().out
    assert "torch.tensor([-1.0, 0.5])" in out and "[1.0, 2.0]" not in out


def test_a_minus_infinity_is_a_right_probe_and_plus_infinity_doubles(capsys):
    # the task asks only for a sum that is not positive: -inf is one, and the loaded model negates it to inf
    assert H.check_gate_probe(torch.jit.script(Gate()), torch.tensor([float("-inf"), 1.0]))
    assert "✔" in capsys.readouterr().out
    assert not H.check_gate_probe(torch.jit.script(Gate()), torch.tensor([float("inf"), -1.0]))
    assert "sum(x) = inf > 0" in capsys.readouterr().out


def test_an_integer_sum_that_wraps_around_is_named(capsys):
    # 2**62 + 2**62 is 2**63, one past int64's largest: x.sum() wraps to -2**63, "not positive" only by overflow
    assert H.check_gate_probe(torch.jit.script(Gate()), torch.tensor([2**62, 2**62]))
    out = capsys.readouterr().out
    assert "wrapped around" in out and "9.22337e+18" in out and "Right" not in out, out


def test_the_praise_shows_what_the_program_returned(capsys):
    assert H.check_gate_probe(torch.jit.script(Gate()), torch.tensor([-3.0, 1.0]))
    assert "It returned [3.0, -1.0], which is -x." in capsys.readouterr().out


def test_an_integer_sum_that_wraps_downward_is_named_either_way(capsys):
    assert H.check_gate_probe(torch.jit.script(Gate()), torch.tensor([-2**62] * 4))  # true sum -2**64, wraps to 0
    out = capsys.readouterr().out
    assert "the true sum of x, -1.84467e+19, is not positive" in out and "by accident" not in out, out
    assert not H.check_gate_probe(torch.jit.script(Gate()), torch.tensor([-2**63, -1]))  # wraps up to 2**63 - 1
    out = capsys.readouterr().out
    assert "past the smallest int64" in out and "wrapped around to 9.22337e+18 > 0" in out, out
