"""The 09 exercise checkers accept the worked solutions and explain wrong answers."""

import pytest
import torch
from torch.export import Dim

import helpers as H


def load_solution():
    return H.load_solution("09_beyond_torchscript")


class PlainLimiter(torch.nn.Module):  # the exercise as given
    def forward(self, x):
        peak = x.abs().max()
        if peak > 1:
            return x / peak
        return x


class AliasingLimiter(torch.nn.Module):
    def forward(self, x):
        peak = x.abs().max()
        return torch.cond(peak > 1, lambda x, p: x / p, lambda x, p: x, (x, peak))


class AlwaysScales(torch.nn.Module):
    def forward(self, x):
        return x / x.abs().max()


class ScalesOnlyWhenExported(torch.nn.Module):
    """Right in eager mode, but the exported program keeps only one branch."""

    def forward(self, x):
        if torch.compiler.is_exporting():
            return x / x.abs().max()
        return PlainLimiter()(x)


class ClampLimiter(torch.nn.Module):  # clips into [-1, 1] instead of scaling: exports, but computes something else
    def forward(self, x):
        return x.clamp(-1.0, 1.0)


class SwappedCond(torch.nn.Module):  # torch.cond with the branches the wrong way round
    def forward(self, x):
        peak = x.abs().max()
        return torch.cond(peak > 1, lambda x, p: x.clone(), lambda x, p: x / p, (x, peak))


class SwappedIf(torch.nn.Module):  # the plain `if` with its branches the wrong way round
    def forward(self, x):
        peak = x.abs().max()
        if peak > 1:
            return x
        return x / peak


class DividesByMax(torch.nn.Module):  # forgets abs() everywhere: the largest value, not the largest size
    def forward(self, x):
        peak = x.max()
        return torch.cond(peak > 1, lambda x, p: x / p, lambda x, p: x.clone(), (x, peak))


class DividesByMaxAbsCondition(torch.nn.Module):  # the right condition, but divides by x.max()
    def forward(self, x):
        return torch.cond(x.abs().max() > 1, lambda x: x / x.max(), lambda x: x.clone(), (x,))


class MaskLimiter(torch.nn.Module):  # an odd answer: a bool tensor must not crash the checker
    def forward(self, x):
        return x.abs() > 1


class WhereLimiter(torch.nn.Module):
    def forward(self, x):
        peak = x.abs().max()
        return torch.where(peak > 1, x / peak, x)


class InPlaceLimiter(torch.nn.Module):  # a first try that divides in place: it must not change the checker's inputs
    def forward(self, x):
        peak = x.abs().max()
        if peak > 1:
            x /= peak
        return x


class DoesNothing(torch.nn.Module):
    def forward(self, x):
        return x.clone()


class CondDtypes(torch.nn.Module):  # branches of two dtypes: torch.cond refuses to merge them
    def forward(self, x):
        peak = x.abs().max()
        return torch.cond(peak > 1, lambda x, p: (x / p).half(), lambda x, p: x.clone(), (x, peak))


class PositiveSideOnly(torch.nn.Module):  # tests x > 1 only: a large negative value is never scaled
    def forward(self, x):
        peak = x.abs().max()
        return torch.cond((x > 1).any(), lambda x, p: x / p, lambda x, p: x.clone(), (x, peak))


class MaxWithoutAbs(torch.nn.Module):  # forgets abs() in the condition
    def forward(self, x):
        peak = x.abs().max()
        return torch.cond(x.max() > 1, lambda x, p: x / p, lambda x, p: x.clone(), (x, peak))


class BoolCond(torch.nn.Module):  # torch.cond, but on a Python bool: export still needs the value
    def forward(self, x):
        peak = x.abs().max()
        return torch.cond(bool(peak > 1), lambda x, p: x / p, lambda x, p: x.clone(), (x, peak))


class FloatCond(torch.nn.Module):  # torch.cond on a comparison of Python floats: export needs the value too
    def forward(self, x):
        peak = x.abs().max()
        return torch.cond(float(peak) > 1, lambda x, p: x / p, lambda x, p: x.clone(), (x, peak))


class ItemCond(torch.nn.Module):  # .item() of the comparison: export keeps it symbolic, and the program is right
    def forward(self, x):
        peak = x.abs().max()
        return torch.cond((peak > 1).item(), lambda x, p: x / p, lambda x, p: x.clone(), (x, peak))


class ClampedPeak(torch.nn.Module):  # right values with no branch at all: not the technique asked for
    def forward(self, x):
        return x / x.abs().max().clamp(min=1)


class Float64Limiter(torch.nn.Module):
    def forward(self, x):
        return WhereLimiter()(x).double()


class FlatLimiter(torch.nn.Module):
    def forward(self, x):
        return WhereLimiter()(x).flatten()


class PerRowLimiter(torch.nn.Module):  # each row by its own peak: right on one row, wrong on two
    def forward(self, x):
        p = x.abs().amax(dim=1, keepdim=True)
        return torch.cond(p.max() > 1, lambda x, p: x / p, lambda x, p: x.clone(), (x, p))


class AlwaysTrueCond(torch.nn.Module):  # torch.cond around the one-formula answer: the condition never changes
    def forward(self, x):
        peak = x.abs().max()
        return torch.cond(peak >= 0, lambda x, p: x / p.clamp(min=1), lambda x, p: x.clone(), (x, peak))


class CondRanks(torch.nn.Module):  # branches of two ranks: torch.cond refuses to merge them
    def forward(self, x):
        peak = x.abs().max()
        return torch.cond(peak > 1, lambda x, p: (x / p).squeeze(0), lambda x, p: x.clone(), (x, peak))


class FirstRowPeak(torch.nn.Module):  # measures the first row only
    def forward(self, x):
        peak = x[0].abs().max()
        return torch.cond(peak > 1, lambda x, p: x / p, lambda x, p: x.clone(), (x, peak))


class RowsAboveOne(torch.nn.Module):  # scales only the rows whose own peak is above 1
    def forward(self, x):
        p = x.abs().amax(dim=1, keepdim=True)
        return torch.cond((p > 1).any(), lambda x, p: x / p.clamp(min=1), lambda x, p: x.clone(), (x, p))


class CondColumns(torch.nn.Module):  # branches return different columns: same shape, another storage offset
    def forward(self, x):
        peak = x.abs().max()
        b = torch.stack([x / peak, x], dim=-1)
        return torch.cond(peak > 1, lambda b: b[..., 0], lambda b: b[..., 1], (b,))


class CondSlice(torch.nn.Module):  # a branch returns a slice: torch.cond refuses a result that is not dense
    def forward(self, x):
        peak = x.abs().max()
        return torch.cond(peak > 1, lambda x, p: (x / p)[:, :2], lambda x, p: x[:, :2].clone(), (x, peak))


class CondOneOperandTwoParameters(torch.nn.Module):  # the functions take (x, peak), torch.cond is given (x,)
    def forward(self, x):
        peak = x.abs().max()
        return torch.cond(peak > 1, lambda x, peak: x / peak, lambda x, peak: x.clone(), (x,))


class CondTwoOperandsOneParameter(torch.nn.Module):  # torch.cond is given (x, peak), the functions take x alone
    def forward(self, x):
        peak = x.abs().max()
        return torch.cond(peak > 1, lambda x: x / x.abs().max(), lambda x: x.clone(), (x, peak))


class IfInsideABranch(torch.nn.Module):  # the `if` moved into true_fn instead of replaced
    def forward(self, x):
        peak = x.abs().max()

        def scale(x, p):
            if p > 1:
                return x / p
            return x.clone()
        return torch.cond(peak > 1, scale, lambda x, p: x.clone(), (x, peak))


class BranchClosesOverItem(torch.nn.Module):  # a branch uses a Python number from .item(), not an operand
    def forward(self, x):
        peak = x.abs().max().item()
        return torch.cond(peak > 1, lambda x: x / peak, lambda x: x.clone(), (x,))


class DecorativeCond(torch.nn.Module):  # both branches are the same torch.where: the cond chooses nothing
    def forward(self, x):
        peak = x.abs().max()
        both = lambda x, p: torch.where(p > 1, x / p, x)  # noqa: E731 - the learner's own style
        return torch.cond(peak > 1, both, both, (x, peak))


@pytest.mark.parametrize("model, says", [
    (IfInsideABranch(), "a branch of torch.cond decides in Python on a tensor"),
    (BranchClosesOverItem(), "a Python number taken out of a tensor"),
    (DecorativeCond(), "its two branches give the same answer"),
])
def test_limiter_cond_used_wrongly_is_named(model, says, capsys):
    assert not H.check_limiter_exports(model)
    out = capsys.readouterr().out
    assert out.startswith("✘") and says in out and "UncapturedHigherOrderOpError" not in out, out


@pytest.fixture(scope="module")
def solution():
    return load_solution()


def test_limiter_solution_passes(solution, capsys):
    assert H.check_limiter_exports(solution.Limiter())
    out = capsys.readouterr().out
    assert out.startswith("✔") and "torch.cond" in out
    assert "exactly 1" not in out  # the solution's `peak > 1` leaves a peak of 1 alone, as the reference does


class LimiterAtOrAbove1(torch.nn.Module):
    """`>= 1`: a peak of exactly 1 takes the dividing branch, which gives the same answer."""

    def forward(self, x):
        peak = x.abs().max()
        return torch.cond(peak >= 1, lambda x, p: x / p, lambda x, p: x.clone(), (x, peak))


def test_limiter_at_or_above_1_passes_and_is_told_where_a_peak_of_1_went(capsys):
    assert H.check_limiter_exports(LimiterAtOrAbove1())
    out = capsys.readouterr().out
    assert out.startswith("✔") and "A peak of exactly 1 takes the scaling branch here" in out


@pytest.mark.parametrize("model, says", [
    (PlainLimiter(), "Replace the `if` with torch.cond, as section 1 wrote BranchModel's `if`"),
    (AliasingLimiter(), "x.clone()"),
    (ScalesOnlyWhenExported(), "kept only one branch"),
    (MaskLimiter(), "returns torch.bool"),
])
def test_limiter_wrong_answers_get_feedback(model, says, capsys):
    assert not H.check_limiter_exports(model)
    out = capsys.readouterr().out
    assert out.startswith("✘") and says in out
    if isinstance(model, PlainLimiter):  # the starter as given: where to look, not the answer's call
        assert "(x, peak)" not in out


class _ThresholdLimiter(torch.nn.Module):  # torch.cond on peak > threshold: right only for a threshold of 1
    def __init__(self, threshold):
        super().__init__()
        self.threshold = threshold

    def forward(self, x):
        peak = x.abs().max()
        return torch.cond(peak > self.threshold, lambda x, peak: x / peak, lambda x, peak: x.clone(), (x, peak))


class _NormLimiter(torch.nn.Module):  # the norm, not the largest |value|: passes 1 for a small input
    def forward(self, x):
        peak = x.abs().max()
        return torch.cond(x.norm() > 1, lambda x, peak: x / peak, lambda x, peak: x.clone(), (x, peak))


@pytest.mark.parametrize("model, says", [
    (_ThresholdLimiter(2.0), "its largest absolute value is 1.2, above 1: the condition must be x.abs().max() > 1"),
    (_ThresholdLimiter(0.5), "at most 1: the condition must be x.abs().max() > 1, not a sum, a norm"),
    (_NormLimiter(), "at most 1: the condition must be x.abs().max() > 1, not a sum, a norm"),
    (_ThresholdLimiter(1.1), "its largest absolute value is 1.02, above 1: the condition must be x.abs().max() > 1"),
    (_ThresholdLimiter(1.19), "its largest absolute value is 1.02, above 1"),
    (_ThresholdLimiter(0.95), "whose largest absolute value is 0.98, at most 1"),
])
def test_limiter_thresholds_other_than_1_are_caught_and_named(model, says, capsys):
    assert not H.check_limiter_exports(model)
    out = capsys.readouterr().out
    assert out.startswith("✘") and says in out, out


@pytest.mark.parametrize("model, says", [
    (InPlaceLimiter(), "changed its input in place"),
    (CondDtypes(), "must return the same dtype (section 1); yours give torch.float16 and torch.float32"),
    (Float64Limiter(), "returns torch.float64"),
    (FlatLimiter(), "gives shape (3,)"),
    (PositiveSideOnly(), "measure x's size in both directions"),
    (MaxWithoutAbs(), "measure x's size in both directions"),
    (BoolCond(), "your forward calls torch.cond, but torch.export still stops"),
    (FloatCond(), "a condition turned into a Python number or bool first (float(...), int(...), bool(...))"),
    (PerRowLimiter(), "scales each row by that row's own largest value"),
    (AlwaysTrueCond(), "the condition is True on all 9 inputs of the example's shape"),
    (CondOneOperandTwoParameters(), "yours do not match (missing required positional argument: peak)"),
    (CondTwoOperandsOneParameter(), "yours do not match (Too many positional arguments: got 2, expected 1)"),
    (CondRanks(), "must return the same number of dimensions (section 1); yours give 1 and 2"),
    (CondSlice(), "a slice or view that is not dense in memory"),
    (FirstRowPeak(), "is in a later row: the condition must measure the whole of x"),
    (RowsAboveOne(), "it scales each row above 1 by that row's own largest value"),
    (CondColumns(), "laid out differently in memory"),
    (AlwaysScales(), "also when that value is at most 1, which scales small inputs up"),
    (ClampLimiter(), "clips each value into [-1, 1], as clamp does"),
    (SwappedCond(), "has the two branches swapped"),
    (SwappedIf(), "has the two branches swapped"),
    (DividesByMax(), "divides by x.max(), the largest value"),
    (DividesByMaxAbsCondition(), "divides by x.max(), the largest value"),
])
def test_limiter_feedback_names_the_mistake(model, says, capsys):
    assert not H.check_limiter_exports(model)
    out = capsys.readouterr().out
    assert out.startswith("✘") and says in out and "Keep what it computes" not in out, out


def test_an_in_place_answer_leaves_the_checkers_inputs_as_they_were(capsys):
    before = {k: v.clone() for k, v in H.LIMITER_INPUTS.items()}
    assert not H.check_limiter_exports(InPlaceLimiter())
    assert all(torch.equal(H.LIMITER_INPUTS[k], v) for k, v in before.items())
    assert not H.check_limiter_exports(DoesNothing())  # so a model that does nothing is still refused
    assert "Keep what it computes" in capsys.readouterr().out


class ConstantCondition(torch.nn.Module):  # torch.cond written, but on a Python bool: export inlines one branch
    def forward(self, x):
        peak = x.abs().max()
        return torch.cond(x.numel() > 1, lambda x, p: x / p.clamp(min=1), lambda x, p: x.clone(), (x, peak))


@pytest.mark.parametrize("model, did", [
    (WhereLimiter(), "selects with torch.where"), (ClampedPeak(), "one formula serves both cases"),
    (ConstantCondition(), "your torch.cond's condition is a plain Python bool"),
])
def test_a_right_answer_without_torch_cond_is_refused_for_what_it_did(model, did, capsys):
    assert H.check_limiter_exports(model) is False
    out = capsys.readouterr().out
    assert out.startswith("✘ Right on all") and "without torch.cond" in out and did in out, out
    assert ("torch.where" in out.split("This exercise")[0]) == (did == "selects with torch.where")


def test_limiter_messages_show_inputs_without_float_noise(capsys):
    assert not H.check_limiter_exports(InPlaceLimiter())
    out = capsys.readouterr().out
    assert "[[3.0, -4.0, 1.0]]" in out and "0000000" not in out, out


@pytest.mark.parametrize("answer, says", [
    (PlainLimiter, "add parentheses"), (None, "got None"), (torch.tensor([float("nan")]), "got Tensor"),
])
def test_limiter_check_answers_odd_arguments_with_one_line(answer, says, capsys):
    assert H.check_limiter_exports(answer) is False
    out = capsys.readouterr().out
    assert out.startswith("✘") and says in out and out.count("\n") == 1


def test_limiter_inputs_cover_both_regimes_and_the_boundary():
    peaks = [float(x.abs().max()) for x in H.LIMITER_INPUTS.values()]
    assert any(p > 1 for p in peaks) and any(p < 1 for p in peaks) and 1.0 in peaks


def test_reference_limiter_covers_both_regimes():
    big, small = H.LIMITER_INPUTS["large, mixed signs"], H.LIMITER_INPUTS["small"]
    assert H.reference_limiter(big).abs().max() == 1 and torch.equal(H.reference_limiter(small), small)


def test_tempered_solution_passes(solution, capsys):
    assert H.check_tempered_digits_program(solution.export_tempered_any_batch())
    assert capsys.readouterr().out.startswith("✔ One program, two inputs, a dynamic batch")


def test_tempered_model_divides_each_image_by_its_own_temperature():
    images, temperature = H.tempered_inputs(3)
    assert temperature.tolist() == [0.5, 1.25, 2.0]
    scores = H.load_digits_cnn()(images)
    expected = torch.softmax(scores / temperature[:, None], dim=1)
    assert torch.allclose(H.TemperedDigits()(images, temperature), expected)


def test_tempered_inputs_refuses_impossible_sizes():
    with pytest.raises(ValueError, match="1 or more"):
        H.tempered_inputs(0)
    with pytest.raises(ValueError, match="only 297 test digits"):
        H.tempered_inputs(1000)


def test_tempered_static_program_gets_the_sharing_hint(capsys):
    static = torch.export.export(H.TemperedDigits(), H.tempered_inputs(4))
    assert not H.check_tempered_digits_program(static)
    out = capsys.readouterr().out
    assert "A batch of 1 fails" in out and "Guard failed" in out and "one and the same Dim" in out


def test_tempered_wrong_answers_get_feedback(capsys):
    images, _ = H.tempered_inputs(4)
    cnn_only = torch.export.export(H.load_digits_cnn(), (images,), dynamic_shapes={"x": {0: Dim("batch")}})
    assert not H.check_tempered_digits_program(cnn_only)
    assert "export H.TemperedDigits() itself, with its two arguments" in capsys.readouterr().out
    assert not H.check_tempered_digits_program(H.TemperedDigits())
    assert "not the model itself" in capsys.readouterr().out
    assert not H.check_tempered_digits_program("program.pt2")
    assert "you gave a str" in capsys.readouterr().out
    assert not H.check_tempered_digits_program(H.TemperedDigits)
    assert "you gave the class TemperedDigits" in capsys.readouterr().out
    assert not H.check_tempered_digits_program(None)
    assert "you gave None" in capsys.readouterr().out
    untrained = H.TemperedDigits()
    untrained.cnn = H.DigitsCNN().eval()
    batch = Dim("batch")
    other = torch.export.export(untrained, H.tempered_inputs(4),
                                dynamic_shapes={"images": {0: batch}, "temperature": {0: batch}})
    assert not H.check_tempered_digits_program(other)
    out = capsys.readouterr().out
    assert "other probabilities than the eager model" in out and "weights or its forward differ" in out


class _IgnoresTemperature(torch.nn.Module):  # a learner's own copy, each with one change
    def __init__(self, change):
        super().__init__()
        self.cnn, self.change = H.load_digits_cnn().eval(), change

    def forward(self, images, temperature):
        scores = self.cnn(images)
        if self.change == "ignores":
            return torch.softmax(scores, dim=1)
        if self.change == "multiplies":
            return torch.softmax(scores * temperature.unsqueeze(1), dim=1)
        return scores / temperature.unsqueeze(1)


@pytest.mark.parametrize("change, named", [("ignores", "ignores its temperature argument"),
                                           ("multiplies", "times the temperature, not divided"),
                                           ("no softmax", "with no softmax")])
def test_a_tempered_copy_that_handles_temperature_wrongly_is_told_which_way(change, named, capsys):
    batch = Dim("batch")
    program = torch.export.export(_IgnoresTemperature(change), H.tempered_inputs(4),
                                  dynamic_shapes={"images": {0: batch}, "temperature": {0: batch}})
    assert not H.check_tempered_digits_program(program)
    out = capsys.readouterr().out
    assert named in out and "weights" not in out, out


def test_tempered_separate_dims_are_refused_by_torch_with_the_fix():
    # what a learner sees before the checker: torch itself says the two sizes must be equal
    with pytest.raises(torch._dynamo.exc.UserError, match="must always be equal"), H.quiet_export():
        torch.export.export(H.TemperedDigits(), H.tempered_inputs(4),
                            dynamic_shapes={"images": {0: Dim("n")}, "temperature": {0: Dim("m")}})


def test_tempered_mistakes_in_the_dims_and_shapes_are_named(capsys):
    images, temperature = H.tempered_inputs(4)
    capped = Dim("capped", max=100)
    program = torch.export.export(H.TemperedDigits(), (images, temperature),
                                  dynamic_shapes={"images": {0: capped}, "temperature": {0: capped}})
    assert not H.check_tempered_digits_program(program)
    assert "your Dim's max= leaves a batch of 297 out" in capsys.readouterr().out
    assert not H.check_tempered_digits_program(program.module())
    assert "not program.module()" in capsys.readouterr().out
    from_two = Dim("from_two", min=2)  # every batch runs (torch adds no check for min=2), yet 1 is declared out
    program = torch.export.export(H.TemperedDigits(), (images, temperature),
                                  dynamic_shapes={"images": {0: from_two}, "temperature": {0: from_two}})
    assert not H.check_tempered_digits_program(program)
    assert "declares batches of 2 and more only" in capsys.readouterr().out
    for hint in (Dim.AUTO, Dim.DYNAMIC):  # torch picks a range from 2: the message says why, and what declares 1
        program = torch.export.export(H.TemperedDigits(), (images, temperature),
                                      dynamic_shapes={"images": {0: hint}, "temperature": {0: hint}})
        assert not H.check_tempered_digits_program(program)
        out = capsys.readouterr().out
        assert "declares batches of 2 and more only" in out and "If you used Dim.AUTO or Dim.DYNAMIC" in out, out
    batch = Dim("batch")
    column = torch.export.export(H.TemperedDigits(), (images, temperature[:, None]),
                                 dynamic_shapes={"images": {0: batch}, "temperature": {0: batch}})
    assert not H.check_tempered_digits_program(column)
    out = capsys.readouterr().out
    assert "temperature argument was exported with 2 dimensions" in out and "(N,)" in out


def test_torchs_suggested_fix_for_one_dynamic_argument_fixes_the_size():
    # 09's exercise prose: a suggestion such as `batch = 4` fixes the size instead of freeing it
    with pytest.raises(torch._dynamo.exc.UserError, match=r"Suggested fixes:\s+batch = 4"), H.quiet_export():
        torch.export.export(H.TemperedDigits(), H.tempered_inputs(4),
                            dynamic_shapes={"images": {0: Dim("batch")}, "temperature": None})


def test_values_in_messages_are_short_floats_and_whole_ints():
    from helpers.exercises._common import values
    assert values(torch.tensor([[0.2, -0.5, 1 / 3]])) == "[[0.2, -0.5, 0.3333]]"
    assert values(torch.tensor([1.0, 2.0])) == "[1.0, 2.0]" and values(torch.tensor([3, 4])) == "[3, 4]"
    assert values(torch.tensor(True)) == "True" and values(None) == "None"


def test_an_exported_module_is_named_as_such(capsys):
    module = torch.export.export(load_solution().Limiter(), (H.LIMITER_INPUTS["small"],)).module()
    assert not H.check_limiter_exports(module)
    assert "an exported program's module" in capsys.readouterr().out


def test_a_wrong_formula_is_named_only_when_it_gives_every_answer(capsys):
    class SwappedOnTheFirstInputOnly(torch.nn.Module):  # swapped on one input, right on the others: no name fits
        def forward(self, x):
            if torch.equal(x, H.LIMITER_INPUTS["large, mixed signs"]):
                return x.clone()
            return H.reference_limiter(x)

    assert not H.check_limiter_exports(SwappedOnTheFirstInputOnly())
    out = capsys.readouterr().out
    assert "swapped" not in out and "Keep what it computes" in out, out


@pytest.mark.parametrize("condition", ["x.norm() > 1", "x.abs().sum() > 1", "peak > 0.5"])
def test_a_limiter_whose_condition_is_not_the_peak_above_1_is_caught(condition, tmp_path, capsys):
    source = f'''import torch
from torch import nn


class Limiter(nn.Module):
    def forward(self, x):
        peak = x.abs().max()
        return torch.cond({condition}, lambda x, p: x / p, lambda x, p: x.clone(), (x, peak))
'''
    path = tmp_path / "limiter_answer.py"
    path.write_text(source)
    import importlib.util
    spec = importlib.util.spec_from_file_location("limiter_answer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert not H.check_limiter_exports(module.Limiter())
    out = capsys.readouterr().out
    assert "scales up the small, sum above 1 input" in out and "not a sum, a norm or a threshold below 1" in out


def test_a_tempered_program_exported_with_keyword_inputs_is_judged_by_its_batches(capsys):
    from torch.export import Dim
    batch = Dim("batch")
    images, temperature = H.tempered_inputs(4)
    with H.quiet_export():
        program = torch.export.export(H.TemperedDigits(), (), kwargs={"images": images, "temperature": temperature},
                                      dynamic_shapes={"images": {0: batch}, "temperature": {0: batch}})
    assert H.check_tempered_digits_program(program)
    assert H.check_tempered_digits_program(program.run_decompositions())  # stale symbols in range_constraints
    assert capsys.readouterr().out.count("✔") == 2



def test_a_tempered_program_in_another_dtype_or_a_torchscript_copy_is_named(capsys):
    images, temperature = H.tempered_inputs(4)
    batch = torch.export.Dim("batch", min=1, max=297)
    doubled = torch.export.export(H.TemperedDigits().double(), (images.double(), temperature.double()),
                                  dynamic_shapes=({0: batch}, {0: batch}))
    assert not H.check_tempered_digits_program(doubled)
    out = capsys.readouterr().out
    assert out.startswith("✘") and "exported on torch.float64 inputs" in out, out
    assert not H.check_tempered_digits_program(torch.jit.trace(H.TemperedDigits(), (images, temperature)))
    out = capsys.readouterr().out
    assert "TorchScript copy" in out and "not the model itself" not in out, out


def test_a_cond_on_item_of_the_comparison_exports_and_is_accepted(capsys):
    # .item() inside torch.export gives a symbolic bool that torch.cond takes: the program is right on every input
    assert H.check_limiter_exports(ItemCond())
    assert capsys.readouterr().out.startswith("✔")
