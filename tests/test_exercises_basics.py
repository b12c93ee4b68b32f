"""The 01 and 02 checkers accept the worked solutions and explain wrong answers."""

import math
import tempfile
from pathlib import Path

import pytest
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
    answers["branch, tensor([-3., 1., 2.]): 'double' or 'negate'"] = "double"
    assert not H.check_path_answers(answers)
    assert "is 0 greater than 0?" in capsys.readouterr().out
    answers = dict(SOL01.path_answers, **{"branch, tensor([5., -2.]): 'double' or 'negate'": "negate"})
    assert not H.check_path_answers(answers)  # "negate" everywhere: the branch questions do not share an answer
    out = capsys.readouterr().out
    assert "work out the sum and compare it with 0" in out and "0 greater than 0" not in out  # not a tie
    assert len({v for k, v in SOL01.path_answers.items() if k.startswith("branch")}) == 2
    answers = dict(SOL01.path_answers, **{"branch, tensor([5., -2.]): 'double' or 'negate'": "negative"})
    assert not H.check_path_answers(answers)
    assert "'double' or 'negate'" in capsys.readouterr().out.split("you said")[1]  # names the accepted words
    answers = dict(SOL01.path_answers, **{"loop, input of shape (12, 3): runs of the loop body": 3})
    assert not H.check_path_answers(answers)
    assert "count the rows" in capsys.readouterr().out
    answers = dict(SOL01.path_answers, **{"loop, input of shape (3, 40): runs of the loop body": "3"})
    assert H.check_path_answers(answers)  # a number typed as text is fine
    capsys.readouterr()
    assert not H.check_path_answers({q: None for q in H.PATH_QUESTIONS})
    assert "4 still empty" in capsys.readouterr().out
    fewer = dict(SOL01.path_answers)
    del fewer["loop, input of shape (12, 3): runs of the loop body"]
    assert not H.check_path_answers(fewer)  # a deleted question is missing, not empty
    assert "1 missing (copy the exercise cell's dict again)" in capsys.readouterr().out
    assert not H.check_path_answers([7, 1])
    assert "Give a dict" in capsys.readouterr().out
    edited = {key.replace("(12, 3)", "(12,3)"): value for key, value in SOL01.path_answers.items()}
    assert not H.check_path_answers(edited)  # an edited key: named, not reported as an empty question
    out = capsys.readouterr().out
    assert "'loop, input of shape (12,3): runs of the loop body' is not one of the questions" in out
    assert "still empty" not in out
    for odd in (float("nan"), True, 7.5):
        assert not H.check_path_answers(dict(SOL01.path_answers, **{"loop, input of shape (12, 3): runs of the loop body": odd}))
        assert "answer with a whole number" in capsys.readouterr().out
    assert H.check_path_answers(dict(SOL01.path_answers, **{"loop, input of shape (12, 3): runs of the loop body": 12.0}))
    capsys.readouterr()
    import numpy as np
    for whole in ("12.0", " 12 ", "12 times", "12 runs", torch.tensor(12.0), torch.tensor([12]), np.int64(12)):  # 12 in any dress is 12
        assert H.check_path_answers(dict(SOL01.path_answers, **{"loop, input of shape (12, 3): runs of the loop body": whole}))
    capsys.readouterr()
    assert not H.check_path_answers(dict(SOL01.path_answers, **{"loop, input of shape (12, 3): runs of the loop body": "-12"}))
    assert "count the rows" in capsys.readouterr().out  # a whole number, the wrong one
    for odd in ("inf", torch.tensor(12.5), torch.ones(2), "twelve"):
        assert not H.check_path_answers(dict(SOL01.path_answers, **{"loop, input of shape (12, 3): runs of the loop body": odd}))
        assert "answer with a whole number" in capsys.readouterr().out


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


class HalvesInPlace(nn.Module):
    """Right outputs, but `x /= 2` halves the caller's tensor too."""
    def forward(self, x):
        while x.abs().max() > 1:
            x /= 2
        return x


class ClosedForm(nn.Module):
    """Right outputs with a branch but no loop: the lines differ per input, yet nothing repeats."""
    def forward(self, x):
        peak = x.abs().max()
        if peak <= 1:
            return x
        return x / 2 ** torch.ceil(torch.log2(peak))


class NoAbs(nn.Module):
    """Forgets abs(): a large negative value is never halved."""
    def forward(self, x):
        while x.max() > 1:
            x = x / 2
        return x


class AtLeastOne(nn.Module):
    """`>=` instead of `>`: a value of exactly 1 is halved too."""
    def forward(self, x):
        while x.abs().max() >= 1:
            x = x / 2
        return x


class OneLineLoop(nn.Module):
    def forward(self, x):
        while x.abs().max() > 1: x = x / 2  # noqa: E701 (a learner's style: the check must not depend on it)
        return x


class Recursive(nn.Module):
    def forward(self, x):
        if x.abs().max() > 1:
            return self.forward(x / 2)
        return x


def test_halving_wrong_solutions_are_rejected_with_the_mistake_named(capsys):
    assert not H.check_halving_model(HalvesInPlace)
    assert "changed the caller's tensor" in capsys.readouterr().out
    assert not H.check_halving_model(ClosedForm)
    out = capsys.readouterr().out
    assert "without a loop the data controls" in out and "✔" not in out
    assert not H.check_halving_model(NoAbs)
    assert "without abs(), so a large negative value such as -40 is not counted" in capsys.readouterr().out
    assert not H.check_halving_model(AtLeastOne)
    out = capsys.readouterr().out
    assert "for tensor([ 1., -1.])" in out and "1 is not above 1" in out and "(with `>`, not `>=`)" in out


def test_halving_right_in_any_style(capsys):
    for model in (OneLineLoop, Recursive, SOL01.HalveUntilSmall()):
        assert H.check_halving_model(model), model
        out = capsys.readouterr().out
        assert out.startswith("✔") and "0 to 100" in out


class HalvesOnFirst(nn.Module):
    """Watches x[0] only: right while the first value is the largest."""
    def forward(self, x):
        while x[0].abs() > 1:
            x = x / 2
        return x


class HalvesOnSum(nn.Module):
    """BranchModel's x.sum() as the condition: values that cancel never start the loop."""
    def forward(self, x):
        while x.sum().abs() > 1:
            x = x / 2
        return x


def halve(x):  # the loop in a function of the learner's file, outside the class
    while x.abs().max() > 1:
        x = x / 2
    return x


class LoopInAFunction(nn.Module):
    def forward(self, x):
        return halve(x)


class LoopInANestedFunction(nn.Module):
    def forward(self, x):
        def inner(y):
            while y.abs().max() > 1:
                y = y / 2
            return y
        return inner(x)


class _Halver(nn.Module):
    def forward(self, x):
        return halve(x)


class LoopInASubmodule(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = _Halver()

    def forward(self, x):
        return self.inner(x)


@pytest.mark.parametrize("model, words", [
    (HalvesOnFirst, "for tensor([ 0.5000, -3.0000]) you return tensor([ 0.5000, -3.0000])"),
    (HalvesOnSum, "for tensor([ 3., -3.]) you return tensor([ 3., -3.])"),
])
def test_halving_conditions_on_one_value_or_on_the_sum_are_caught(model, words, capsys):
    assert not H.check_halving_model(model)
    out = capsys.readouterr().out
    assert out.startswith("✘ Not yet") and words in out, out


@pytest.mark.parametrize("model", [LoopInAFunction, LoopInANestedFunction, LoopInASubmodule])
def test_halving_loop_anywhere_in_the_learners_code_counts(model, capsys):
    assert H.check_halving_model(model)
    assert capsys.readouterr().out.startswith("✔ Right")


class ClosedFormByLog2(nn.Module):
    """2 ** k with k from math.log2: torch cannot turn 2 ** 100, a Python int, into a float tensor's scalar."""
    def forward(self, x):
        peak = float(x.abs().max())
        return x if peak <= 1 else x / 2 ** math.ceil(math.log2(peak))


def test_halving_closed_form_that_overflows_is_named(capsys):
    assert not H.check_halving_model(ClosedFormByLog2)
    out = capsys.readouterr().out
    assert out.startswith("✘") and "OverflowError" in out and "A power of 2 computed as a Python number" in out \
        and "while" in out, out


class CountedPower(torch.nn.Module):
    """A loop the data controls, counting n, then one division by 2 ** n: 2 ** 100 overflows the same way."""
    def forward(self, x):
        n = 0
        while x.abs().max() / 2 ** n > 1:
            n += 1
        return x / 2 ** n


class AbsInPlace(torch.nn.Module):
    def forward(self, x):
        while x.abs_().max() > 1:  # the in-place call is in the condition, not in the halving
            x = x / 2
        return x


class ThresholdAboveOne(torch.nn.Module):
    def forward(self, x):
        while x.abs().max() > 1.2:
            x = x / 2
        return x


class RightLoopWrongReturn(torch.nn.Module):
    def forward(self, x):
        while x.abs().max() > 1:
            x = x / 2
        return x.unsqueeze(0)


class RightLoopReturnsAList(torch.nn.Module):
    def forward(self, x):
        while x.abs().max() > 1:
            x = x / 2
        return x.tolist()


class ThresholdJustAboveOne(torch.nn.Module):
    def forward(self, x):
        while x.abs().max() > 1 + 1e-3:  # an epsilon "for safety": 1.0001 is left alone
            x = x / 2
        return x


class ThresholdJustBelowOne(torch.nn.Module):
    def forward(self, x):
        while x.abs().max() > 1 - 1e-3:  # the mirror epsilon: 0.9999999 is halved
            x = x / 2
        return x


class HalvesOnNorm(torch.nn.Module):
    def forward(self, x):
        while x.norm() > 1:
            x = x / 2
        return x


class HalvesOnAbsSum(torch.nn.Module):
    def forward(self, x):
        while x.abs().sum() > 1:
            x = x / 2
        return x


class ConditionWorkedOutOnce(torch.nn.Module):
    def forward(self, x):
        big = x.abs().max() > 1
        while big:
            x = x / 2
        return x


@pytest.mark.parametrize("model, words, never", [
    (ThresholdJustAboveOne, "its largest |value| is 1.0000001, above 1", "✔"),
    (ThresholdJustBelowOne, "even 0.99999994, so your threshold is below 1", "`>=`"),
    (HalvesOnNorm, "compares the norm of x", "`>=`"),
    (HalvesOnAbsSum, "compares the sum of the |values|", "`>=`"),
    (ConditionWorkedOutOnce, "a condition worked out once before the loop", "✔"),
    (CountedPower, "A power of 2 computed as a Python number", "logarithm"),
    (AbsInPlace, "x.abs_()", "write `x = x / 2`, which"),
    (ThresholdAboveOne, "its largest |value| is 1.01, above 1", "✔"),
    (RightLoopWrongReturn, "returns shape (1, 2), where x has shape (2,)", "Halve while"),
    (RightLoopReturnsAList, "returns a list", "Halve while"),
])
def test_halving_mistakes_beside_a_right_loop_are_named(model, words, never, capsys):
    assert not H.check_halving_model(model)
    out = capsys.readouterr().out
    assert out.startswith("✘") and words in out and never not in out, out


def test_halving_odd_input_does_not_crash(capsys):
    for odd in (None, 3, "model"):
        assert not H.check_halving_model(odd)
        assert capsys.readouterr().out.startswith("✘")


def test_halving_feedback(capsys):
    assert not H.check_halving_model(DoesNothing)
    assert "expected tensor([0.7500, 0.0000])" in capsys.readouterr().out
    assert not H.check_halving_model(FixedLoop())
    assert "leave small inputs alone" in capsys.readouterr().out
    assert not H.check_halving_model(NoBranches)
    assert "without a loop the data controls" in capsys.readouterr().out


def first_or_zero_int(x):
    if x.numel() == 0:
        return 0
    return x[0]


def first_or_zero_sum(x):
    if x.numel() == 0:
        return torch.zeros(())
    return x.sum()


def first_or_zero_vector(x):
    if x.numel() == 0:
        return torch.zeros(1)
    return x[0]


def first_or_zero_int_tensor(x):
    if x.numel() == 0:
        return torch.tensor(0)
    return x[0]


def first_or_zero_slice(x):
    if x.numel() == 0:
        return torch.zeros(())
    return x[:1]


def first_or_zero_empty(x):
    if x.numel() == 0:
        return torch.empty(())
    return x[0]


def first_or_zero_empty_like(x):
    if x.numel() == 0:
        return torch.empty_like(x.sum())
    return x[0]


def first_or_zero_raises(x):
    if x.numel() == 0:
        raise ValueError("empty")
    return x[0]


def test_a_partial_and_a_raise_in_the_compiled_code_get_one_plain_line(capsys):
    import functools
    assert not H.check_type_fix(functools.partial(SOL02.first_or_zero))  # script hands a partial back: no graph
    assert capsys.readouterr().out.startswith("✘ torch.jit.script compiled nothing from a partial")
    assert not H.check_type_fix(first_or_zero_raises)
    assert capsys.readouterr().out == "✘ It compiles, but fails on tensor([]): your function raised ValueError: empty.\n"


def test_uninitialised_memory_is_refused_whatever_it_holds(capsys):
    for answer, kind in ((first_or_zero_empty, "aten::empty"), (first_or_zero_empty_like, "aten::empty_like")):
        assert not H.check_type_fix(answer)
        out = capsys.readouterr().out
        assert out.startswith(f"✘ It compiles, but it returns {kind}'s tensor for an empty x: uninitialised memory")


def test_type_fix_wrong_shapes_and_dtypes_are_rejected(capsys):
    assert not H.check_type_fix(first_or_zero_vector)
    out = capsys.readouterr().out
    assert "shape (1,)" in out and "0-dimensional scalar" in out and "✔" not in out
    assert "zero for an empty x a scalar too: torch.zeros(())" in out and "Keep x[0]" not in out
    assert not H.check_type_fix(first_or_zero_slice)  # the zero is right here: the slice is the mistake
    out = capsys.readouterr().out
    assert "shape (1,)" in out and "Keep x[0] itself for a non-empty x: x[:1]" in out and "zero" not in out
    assert not H.check_type_fix(first_or_zero_int_tensor)
    assert "dtype torch.int64" in capsys.readouterr().out
    assert not H.check_type_fix(None) and not H.check_type_fix(nn.Linear)
    out = capsys.readouterr().out
    assert "you gave None." in out and "the class Linear" in out


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


def one_level_count(graph, kind):
    """Looks inside blocks, but only one level deep: misses a loop inside a branch."""
    total = 0
    for node in graph.nodes():
        total += node.kind() == kind
        for block in node.blocks():
            total += sum(inner.kind() == kind for inner in block.nodes())
    return total


def two_level_count(graph, kind):
    """Looks inside blocks and inside their blocks, but no deeper: a fixed depth, not a walk."""
    total = 0
    for node in graph.nodes():
        total += node.kind() == kind
        for block in node.blocks():
            for inner in block.nodes():
                total += inner.kind() == kind
                for deeper in inner.blocks():
                    total += sum(n.kind() == kind for n in deeper.nodes())
    return total


def found_or_not(graph, kind):
    return any(node.kind() == kind for node in graph.nodes())


def test_count_kind_wrong_solutions(capsys):
    assert not H.check_count_kind(one_level_count)
    assert "a loop inside a branch" in capsys.readouterr().out
    assert not H.check_count_kind(two_level_count)  # passes every case two blocks deep: not the one three deep
    assert "three blocks deep" in capsys.readouterr().out
    assert not H.check_count_kind(found_or_not)
    out = capsys.readouterr().out
    assert "Python int" in out and "wrap" not in out  # int(True) would still be found-or-not: no such advice
    assert not H.check_count_kind(lambda graph, kind: None)
    assert "returned None" in capsys.readouterr().out
    assert not H.check_count_kind(None)
    assert "Pass your function itself" in capsys.readouterr().out


class _CappedHalving(nn.Module):  # right for every input that needs at most 10 halvings
    def forward(self, x):
        for _ in range(10):
            if x.abs().max() > 1:
                x = x / 2
        return x


class _ForgetsTheAssignment(nn.Module):  # `x / 2` alone: the loop never ends
    def forward(self, x):
        while x.abs().max() > 1:
            x / 2
        return x


class _HalvesIntoDouble(nn.Module):
    def forward(self, x):
        while x.abs().max() > 1:
            x = x / 2
        return x.double()


class _HundredRounds(nn.Module):  # exactly the halvings the largest test input needs: right outputs, fixed length
    def forward(self, x):
        for _ in range(100):
            if x.abs().max() > 1:
                x = x / 2
        return x


@pytest.mark.parametrize("model, words", [
    (_CappedHalving, "for tensor([5000.,    0.])"),
    (_HundredRounds, "the loop's length is fixed"),
    (_ForgetsTheAssignment, "did not finish"),
    (_HalvesIntoDouble, "returns torch.float64"),
])
def test_halving_cap_endless_loop_and_dtype(model, words, capsys):
    assert not H.check_halving_model(model)
    out = capsys.readouterr().out
    assert out.startswith("✘") and words in out, out


def test_count_kind_rejects_a_text_count(capsys):
    assert not H.check_count_kind(lambda graph, kind: str(graph).count(kind))
    assert "aten::mul_ is another kind" in capsys.readouterr().out


def count_text_of_calls(graph, kind):
    return str(graph).count(kind + "(")  # "aten::mul(" is not in "aten::mul_(": only a string constant catches it


def test_count_kind_rejects_a_text_count_of_calls(capsys):
    assert not H.check_count_kind(count_text_of_calls)
    out = capsys.readouterr().out
    assert out.startswith("✘") and "a string constant that spells aten::mul" in out, out
    assert "A count of text (str(graph) or str(node)) counts that string too" in out, out


def count_with_find_all_nodes(graph, kind):
    return len(graph.findAllNodes(kind))


def test_count_kind_says_findallnodes_did_the_walk(capsys):
    assert H.check_count_kind(count_with_find_all_nodes)  # torch's own recursive search is a right answer
    out = capsys.readouterr().out
    assert out.startswith("✔") and "graph.findAllNodes(kind) did the walk for you" in out, out
    assert H.check_count_kind(SOL02.count_kind)  # a walk written out is not told findAllNodes did it
    assert "findAllNodes" not in capsys.readouterr().out


first_or_zero_lambda = lambda x: x[0] if x.numel() > 0 else torch.zeros(())  # noqa: E731 (the learner's attempt)


def first_or_zero_open(x):
    if x.numel() == 0:
        return torch.zeros(())
    print(open)  # a Python builtin TorchScript does not support: an error about no return
    return x[0]


def test_type_fix_names_a_lambda_and_diagnoses_only_return_errors(capsys):
    assert not H.check_type_fix(first_or_zero_lambda)
    out = capsys.readouterr().out
    assert out.startswith("✘") and "That is a lambda" in out and "must give a Tensor" not in out, out
    assert not H.check_type_fix(first_or_zero_open)
    out = capsys.readouterr().out
    assert "TorchScript still rejects it" in out and "must give a Tensor" not in out, out


def first_or_zero_min(x):
    if x.numel() == 0:
        return torch.zeros(())
    return x.min()


def test_type_fix_catches_the_smallest_value(capsys):
    assert not H.check_type_fix(first_or_zero_min)  # equal to x[0] whenever the first element is the smallest
    out = capsys.readouterr().out
    assert "for tensor([4., 3.])" in out and "x's smallest value" in out and "expected 4.0" in out, out


class FixedLengthLoop(nn.Module):
    def forward(self, x):
        for _ in range(200):
            if x.abs().max() > 1:
                x = x / 2
        return x


def test_a_loop_of_fixed_length_with_an_if_inside_is_not_a_loop_the_data_decides(capsys):
    assert not H.check_halving_model(FixedLengthLoop)
    out = capsys.readouterr().out
    assert "ran 201 times on every input" in out and "the loop's length is fixed" in out


def count_every_node_in_blocks(graph, kind):
    total = 0
    for node in graph.nodes():
        if node.kind() == kind:
            total += 1
        for block in node.blocks():
            total += len(list(block.nodes()))  # the slip: no kind test inside the block
    return total


def test_a_walk_that_counts_every_node_inside_blocks_is_told_so(capsys):
    assert not H.check_count_kind(count_every_node_in_blocks)
    assert "inside the blocks your walk counts every node" in capsys.readouterr().out


def count_twice_in_blocks(graph, kind):
    total = 0
    for node in graph.nodes():
        total += node.kind() == kind
        for block in node.blocks():
            total += sum(inner.kind() == kind for inner in block.nodes())  # the slip: this loop and the
            total += count_twice_in_blocks(block, kind)                     # recursion both count the block
    return total


def test_a_walk_that_counts_block_nodes_twice_is_told_so_not_told_to_compare_kinds(capsys):
    assert not H.check_count_kind(count_twice_in_blocks)
    out = capsys.readouterr().out
    assert "counts each node inside a block twice" in out and "compare node.kind() == kind there too" not in out


def test_count_kind_told_to_wrap_a_numpy_or_tensor_count_in_int_not_a_float_one(capsys):
    import numpy as np
    for wrong in (lambda graph, kind: np.int64(SOL02.count_kind(graph, kind)),
                  lambda graph, kind: torch.tensor(SOL02.count_kind(graph, kind))):
        assert not H.check_count_kind(wrong)
        out = capsys.readouterr().out
        assert "Python int" in out and "wrap the count in int(...)" in out, out
    assert not H.check_count_kind(lambda graph, kind: float(SOL02.count_kind(graph, kind)))
    out = capsys.readouterr().out
    assert "Python int" in out and "wrap" not in out, out


def first_or_nan(x):
    if x.numel() == 0:
        return torch.tensor(float("nan"))
    return x[0]


def test_type_fix_a_nan_for_an_empty_input_is_told_to_return_a_zero_without_blaming_torch_empty(capsys):
    assert not H.check_type_fix(first_or_nan)
    out = capsys.readouterr().out
    assert out.startswith("✘") and "return a zero, torch.zeros(())" in out and "torch.empty" not in out, out


def test_count_kind_slips_that_count_too_many_are_named_for_what_they_did(capsys):
    def plus_top_level(graph, kind):  # thinks findAllNodes searches only inside the blocks
        return len(graph.findAllNodes(kind)) + sum(node.kind() == kind for node in graph.nodes())

    assert not H.check_count_kind(plus_top_level)
    out = capsys.readouterr().out
    assert "top-level nodes of that kind" in out and "aten::sum_" not in out, out

    def by_text(graph, kind):  # a walk that counts the kind's name in each node's text
        def walk(block):
            total = 0
            for node in block.nodes():
                total += str(node).count(kind)
                for inner in node.blocks():
                    total += walk(inner)
            return total
        return walk(graph)

    assert not H.check_count_kind(by_text)
    out = capsys.readouterr().out
    assert out.startswith("✘") and "counts every node" not in out and "twice" not in out, out
    assert "a test on text" in out or "aten::mul_ is another kind" in out, out


def test_a_class_whose_init_skips_super_init_is_told_to_call_it(capsys):
    class Halving(torch.nn.Module):
        def __init__(self):  # no super().__init__(): a plain attribute is accepted, the call fails later
            self.limit = 1.0

        def forward(self, x):
            while x.abs().max() > self.limit:
                x = x / 2
            return x

    for answer in (Halving, Halving()):
        assert not H.check_halving_model(answer)
        out = capsys.readouterr().out
        assert "does not call super().__init__()" in out and "_backward_hooks" not in out, out


def test_a_type_fix_with_an_argument_torchscript_does_not_know_gets_the_reason_not_the_variant_list(capsys):
    import textwrap
    source = textwrap.dedent('''
        def first_or_zero(x):
            if x.numel() > 0:
                return x[0]
            return torch.zeros((), requires_grad=True)
    ''')
    namespace = {"torch": torch, "__name__": "answer"}
    path = Path(tempfile.mkdtemp()) / "answer.py"  # TorchScript reads a function's source from its file
    path.write_text(source)
    exec(compile(source, str(path), "exec"), namespace)
    assert not H.check_type_fix(namespace["first_or_zero"])
    out = capsys.readouterr().out
    assert "aten::zeros: Keyword argument requires_grad unknown" in out and "variants are available" not in out, out


def first_or_none(x):
    if x.numel() == 0:
        return None
    return x[0]


def test_type_fix_names_a_none_return_as_none(capsys):
    assert not H.check_type_fix(first_or_none)
    out = capsys.readouterr().out
    assert "it returns None; expected the tensor 0.0" in out and "NoneType" not in out, out


def test_every_checker_given_none_says_none_in_words(capsys):
    """A checker handed None (a cell run before the answer was defined) says "None", never the type's name "NoneType"."""
    import inspect
    checkers = [getattr(H, name) for name in dir(H) if name.startswith("check_") and name != "check_gallery"]
    assert len(checkers) > 20
    for check in checkers:
        needed = [p for p in inspect.signature(check).parameters.values()
                  if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        try:
            verdict = check(*[None] * len(needed))
        except KeyError as error:  # the gallery's card lookup: a one-line KeyError naming the cards
            verdict, out = False, str(error)
        else:
            out = capsys.readouterr().out
        assert verdict is False or verdict is None, check.__name__
        assert "NoneType" not in out and out.strip(), (check.__name__, out)


def test_a_count_kind_walk_that_never_ends_is_stopped_in_one_line(capsys):
    def count_kind(graph, kind):  # a worklist walk that forgets to move on
        todo, i, count = list(graph.nodes()), 0, 0
        while i < len(todo):
            node = todo[i]
            count += node.kind() == kind
            for block in node.blocks():
                todo.extend(block.nodes())
        return count

    assert not H.check_count_kind(count_kind)
    out = capsys.readouterr().out
    assert out.startswith("✘ count_kind(graph of") and "LearnerCodeStopped: it ran for more than 5 s and was stopped" in out, out
