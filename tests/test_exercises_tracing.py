"""The 03 exercise checkers accept the worked solutions and explain wrong answers."""

import warnings

import pytest
import torch

import helpers as H
from outside_models import NoSuperInit


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


class GuardsEmpty(torch.nn.Module):  # a learner's empty-batch guard: len(x) is a Python number while tracing
    def forward(self, x):
        if len(x) == 0:
            return x
        return torch.where(x.sum() > 0, x * 2, -x)


class WhereWithConstants(torch.nn.Module):  # right: torch.tensor constants warn, and are constant
    def forward(self, x):
        return torch.where(x.sum() > 0, x * torch.tensor(2.0), -x)


@pytest.mark.parametrize("model, warned", [
    (GuardsEmpty, "Using len to get tensor shape might cause the trace to be incorrect"),
    (WhereWithConstants, "torch.tensor results are registered as constants in the trace"),
])
def test_another_tracer_warning_is_named_in_the_praise_not_denied(model, warned, capsys):
    assert H.check_branch_without_if(model)  # the sign is a tensor operation, and the copy agrees everywhere
    out = capsys.readouterr().out
    assert out.startswith("✔ Right on the sign") and f"The tracer did warn “{warned}”" in out
    assert "no tracer warning" not in out


def test_branch_wrong_answers_get_feedback(capsys):
    assert not H.check_branch_without_if(StillBranching)
    assert "Converting a tensor to a Python boolean" in capsys.readouterr().out
    assert not H.check_branch_without_if(WrongBoundary)
    out = capsys.readouterr().out
    assert "for x = [1, -1] it should return [-1.0, 1.0]" in out and "sum 0 ≤ 0" in out
    assert not H.check_branch_without_if(NeedsArgument)
    assert "pass an instance" in capsys.readouterr().out
    assert not H.check_branch_without_if(lambda x: x)
    assert "expects a torch model" in capsys.readouterr().out
    assert not H.check_branch_without_if(None)
    assert "got None" in capsys.readouterr().out


class Elementwise(torch.nn.Module):
    """torch.where per element instead of on the sum: traces cleanly, wrong answers."""
    def forward(self, x):
        return torch.where(x > 0, x * 2, -x)


class ReturnsBool(torch.nn.Module):
    def forward(self, x):
        return x.sum() > 0


class ArithmeticChoice(torch.nn.Module):
    """No torch.where, yet a tensor operation makes the choice: right, and the praise must not name torch.where."""
    def forward(self, x):
        positive = (x.sum() > 0).to(x.dtype)
        return positive * (x * 2) + (1 - positive) * (-x)


class PerRow(torch.nn.Module):
    """The sum per row: right on every 1-D input, wrong on a 2-D one."""
    def forward(self, x):
        return torch.where(x.sum(-1, keepdim=True) > 0, x * 2, -x)


class FloatOfSum(torch.nn.Module):
    def forward(self, x):
        return x * 2 if float(x.sum()) > 0 else -x


def test_a_sum_per_row_and_float_are_named(capsys):
    assert not H.check_branch_without_if(PerRow)
    assert "yours decides on a sum per row, BranchModel on the sum of the whole input" in capsys.readouterr().out
    assert not H.check_branch_without_if(FloatOfSum)
    assert "tracing warned “Converting a tensor to a Python float" in capsys.readouterr().out


def test_branch_more_wrong_solutions(capsys):
    assert not H.check_branch_without_if(Elementwise)
    assert "for x = [2, -3] it should return [-2.0, 3.0]" in capsys.readouterr().out
    assert not H.check_branch_without_if(ReturnsBool)     # a bool tensor comes back: no crash, its dtype named
    assert "returns torch.bool" in capsys.readouterr().out
    assert H.check_branch_without_if(ArithmeticChoice)
    out = capsys.readouterr().out
    assert out.startswith("✔") and "torch.where" not in out


def test_catching_inputs_solution_passes(solution, capsys):
    assert H.check_catching_inputs(solution.my_check_inputs)
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


def test_a_bare_tuple_is_not_praised(solution, capsys):
    x, h = H.example_input("rnn_cell")
    bare = solution.my_check_inputs[0]          # the right (x, h), without the surrounding list
    assert not H.check_catching_inputs(bare)
    out = capsys.readouterr().out
    assert "raised TypeError" in out and "missing 1 required positional argument: 'h'" in out
    assert "TracingCheckError" not in out and "Put your tuple in a list" in out


def test_catching_inputs_odd_values(capsys):
    x, h = H.example_input("rnn_cell")
    assert not H.check_catching_inputs([(torch.full_like(x, float("nan")), h)])
    assert "holds NaN: the new state's sum is then NaN, and every comparison with NaN is False" in capsys.readouterr().out
    with pytest.raises(torch.jit.TracingCheckError):  # what the message says: torch refuses it, for NaN's rule
        torch.jit.trace(H.sample_model("rnn_cell"), (x, h), check_inputs=[(torch.full_like(x, float("nan")), h)])
    assert not H.check_catching_inputs([(torch.full_like(x, float("inf")), h)])  # inf - inf inside the layer: NaN out
    assert "output holds NaN or infinity" in capsys.readouterr().out
    # an infinity that tanh takes to -1 leaves the outputs finite: that input is judged like any other (sum -12 ≤ 0)
    assert H.check_catching_inputs([(x, torch.full_like(h, float("-inf")))])
    assert capsys.readouterr().out.startswith("✔ Right")
    assert not H.check_catching_inputs([(x > 0, h > 0)])        # bool tensors
    assert "eager model itself fails" in capsys.readouterr().out
    assert not H.check_catching_inputs(None)
    assert "you gave None." in capsys.readouterr().out
    assert not H.check_catching_inputs([(x, None)])
    assert "tuple (x, h) of two tensors" in capsys.readouterr().out


class _WhereInPlace(torch.nn.Module):
    def forward(self, x):
        x *= torch.where(x.sum() > 0, torch.tensor(2.0), torch.tensor(-1.0))
        return x


class _WhereDouble(torch.nn.Module):
    def forward(self, x):
        return torch.where(x.sum() > 0, x * 2, -x).double()


@torch.jit.script_if_tracing
def _branch(x):
    if bool(x.sum() > 0):
        return x * 2
    return -x


class _CompiledIf(torch.nn.Module):
    def forward(self, x):
        return _branch(x)


@pytest.mark.parametrize("answer, words", [
    (_WhereInPlace(), "changes its input in place"),
    (_WhereDouble(), "returns torch.float64"),
    (torch.jit.script(H.BranchModel()), "already a scripted module"),
    (_CompiledIf(), "still holds prim::If"),
])
def test_branch_in_place_dtype_and_compiled_if_are_named(answer, words, capsys):
    assert not H.check_branch_without_if(answer)
    out = capsys.readouterr().out
    assert out.startswith("✘") and words in out and "✔" not in out, out


class _HalfThreshold(torch.nn.Module):
    def forward(self, x):
        return torch.where(x.sum() > 0.5, x * 2, -x)


class _MeanThreshold(torch.nn.Module):
    def forward(self, x):
        return torch.where(x.mean() >= 0.3, x * 2, -x)


class _NegativeThreshold(torch.nn.Module):
    def forward(self, x):
        return torch.where(x.sum() > -0.5, x * 2, -x)


@pytest.mark.parametrize("answer, named", [(_HalfThreshold, "sum 0.01 > 0: double"),
                                           (_MeanThreshold, "sum 0.01 > 0: double"),
                                           (_NegativeThreshold, "sum 0 ≤ 0: negate")])
def test_a_condition_on_another_threshold_is_caught(answer, named, capsys):
    """Conditions on a threshold between 0 and 1 agreed with BranchModel on sums of 6, -6, -1, 1 and 0."""
    assert not H.check_branch_without_if(answer)
    out = capsys.readouterr().out
    assert out.startswith("✘ Not the same answers") and named in out, out


def test_an_already_traced_or_scripted_answer_is_named_for_what_it_is(solution, capsys):
    """A traced copy is not called scripted, and a scripted copy of a torch.where answer is not said to hold an `if`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # trace's deprecation notice
        traced = torch.jit.trace(solution.BranchWithoutIf(), torch.ones(3))
    assert not H.check_branch_without_if(traced)
    out = capsys.readouterr().out
    assert "already a traced module" in out and "scripted" not in out and "`if`" not in out, out
    assert not H.check_branch_without_if(torch.jit.script(solution.BranchWithoutIf()))
    out = capsys.readouterr().out
    assert "already a scripted module" in out and "`if`" not in out, out


def test_a_check_input_of_one_tensor_is_counted(capsys):
    x, h = H.example_input("rnn_cell")
    assert not H.check_catching_inputs([(-x,)])
    assert "you gave a tuple of 1 item." in capsys.readouterr().out
    assert H.check_catching_inputs([[-x, h]])  # torch.jit.trace takes a list [x, h] as the arguments, as a tuple
    capsys.readouterr()
    assert not H.check_catching_inputs([(x.tolist(), h.tolist())])
    assert "a tuple of 2 items, list rather than tensors" in capsys.readouterr().out


def test_a_threshold_just_above_zero_is_caught():
    class SmallThreshold(torch.nn.Module):
        def forward(self, x):
            return torch.where(x.sum() > 1e-3, x * 2, -x)
    assert not H.check_branch_without_if(SmallThreshold)


@pytest.mark.parametrize("epsilon", [1e-6, 1e-9, 1e-10, 1e-12, torch.finfo(torch.float32).tiny])
def test_a_float_safety_epsilon_is_caught_and_named(epsilon, capsys):
    class Epsilon(torch.nn.Module):
        def forward(self, x):
            return torch.where(x.sum() > epsilon, x * 2, -x)  # "for float safety": differs on sums in (0, epsilon]
    assert not H.check_branch_without_if(Epsilon)
    assert "compares with a number above 0 (an epsilon" in capsys.readouterr().out


def test_a_mean_for_the_sum_is_right_and_not_told_otherwise(capsys):
    class Mean(torch.nn.Module):
        def forward(self, x):
            return torch.where(x.mean() > 0, x * 2, -x)  # the same sign as the sum: the same branch
    assert H.check_branch_without_if(Mean)


def test_a_nan_cleanup_is_caught_and_named(capsys):
    class Cleaned(torch.nn.Module):
        def forward(self, x):
            return torch.where(x.sum() > 0, x * 2, -x).nan_to_num()  # "for safety": NaN becomes 0
    assert not H.check_branch_without_if(Cleaned)
    out = capsys.readouterr().out
    assert "x = [nan]" in out and "turned a NaN into a number" in out and "sum nan is not > 0" in out


@pytest.mark.parametrize("rule", [lambda x: torch.where(x.sum() <= 0, -x, 2 * x),
                                  lambda x: (x.sum() > 0).float() * 2 * x - (x.sum() <= 0).float() * x])
def test_nan_passed_through_by_either_written_rule_is_right(rule, capsys):
    class Rule(torch.nn.Module):
        def forward(self, x):
            return rule(x)
    assert H.check_branch_without_if(Rule), capsys.readouterr().out


def test_a_tuple_of_argument_tuples_is_taken_as_torch_takes_it(solution, capsys):
    as_tuple = tuple(solution.my_check_inputs)  # ((x, h),): torch.jit.trace refuses the trace with it too
    assert H.check_catching_inputs(as_tuple)
    assert capsys.readouterr().out.startswith("✔")


def test_a_class_that_is_not_a_module_is_not_told_to_add_parentheses(capsys):
    class NotAModel:
        def forward(self, x):
            return x

    assert not H.check_branch_without_if(NotAModel)
    out = capsys.readouterr().out
    assert "not an nn.Module" in out and "add parentheses" not in out, out


class _FirstThreeValues(torch.nn.Module):  # decides on the first three values only
    def forward(self, x):
        return torch.where(x[:3].sum() > 0, x * 2, -x)


class _SkipsSuperInit(torch.nn.Module):
    def __init__(self):  # builds without error, but nn.Module never set it up
        self.k = 2

    def forward(self, x):
        return torch.where(x.sum() > 0, x * 2, -x)


class _MisspelledForward(torch.nn.Module):
    def foward(self, x):
        return torch.where(x.sum() > 0, x * 2, -x)


class _DecidesOnAList(torch.nn.Module):
    def forward(self, x):
        if sum(x.tolist()) > 0:
            return x * 2
        return -x


class _OneTensorInATuple(torch.nn.Module):
    def forward(self, x):
        return (torch.where(x.sum() > 0, x * 2, -x),)


@pytest.mark.parametrize("answer, words", [
    (_FirstThreeValues, "for x = [1, 1, 1, -5] it should return [-1.0, -1.0, -1.0, 5.0]"),
    (_OneTensorInATuple, "returns a tuple: return one tensor"),
    (NoSuperInit, "Building your model failed: AttributeError"),
    (_SkipsSuperInit, "does not call super().__init__()"),
    (torch.nn.Module, "not nn.Module itself"),
    (_MisspelledForward, "defines no forward (it has foward)"),
    (_DecidesOnAList, "`.tolist()` takes the numbers out of the tensor"),
])
def test_a_rule_on_the_first_values_a_tuple_and_a_failing_init_are_named(answer, words, capsys):
    assert H.check_branch_without_if(answer) is False
    out = capsys.readouterr().out
    assert out.startswith("✘") and words in out and "✔" not in out and "tensor(" not in out


class _WithCond(torch.nn.Module):
    def forward(self, x):
        return torch.cond(x.sum() > 0, lambda t: t * 2, lambda t: -t, (x,))


def test_a_torch_cond_answer_is_told_that_the_tracer_cannot_take_it(capsys):
    assert H.check_branch_without_if(_WithCond) is False
    out = capsys.readouterr().out
    assert "torch.jit.trace cannot trace torch.cond" in out and "torch.where" in out
    assert "Keep forward(x) to tensor operations" not in out  # torch.cond is a tensor operation


def test_the_catching_inputs_solution_uses_the_names_the_notebook_checks(solution):
    # pasted over the exercise cell's own line, the solution must define what its check line reads
    import nbformat
    from helpers.course.workdir import REPO_ROOT
    cells = nbformat.read(REPO_ROOT / "notebooks" / "03_tracing.ipynb", 4).cells
    check = next(c.source for c in cells if "H.check_catching_inputs(" in c.source and c.cell_type == "code")
    assert "H.check_catching_inputs(my_check_inputs)" in check and "cell_x, cell_h = H.example_input" in check
    assert isinstance(solution.my_check_inputs, list) and torch.equal(solution.cell_x, H.example_input("rnn_cell")[0])


def test_a_trace_that_fails_is_not_blamed_on_a_python_decision(capsys):
    class WhereTimesLength(torch.nn.Module):  # torch.where, times a Python bool: the trace fails on every call
        def forward(self, x):
            return torch.where(x.sum() > 0, x * 2, -x) * (len(x) > 0)

    assert not H.check_branch_without_if(WhereTimesLength)
    out = capsys.readouterr().out
    assert out.startswith("✘ Eager is right, but the traced copy fails on x = ") and "decided in Python" not in out, out
