"""The 04 checkers accept the worked solutions and explain wrong answers."""

from typing import Any, Optional

import warnings

import pytest
import torch
from torch import nn

import helpers as H
from outside_models import NoSuperInit

SOL04 = H.load_solution("04_scripting")


def test_solutions_pass(capsys):
    assert H.check_optional_input(SOL04.Centre)
    assert H.check_traced_branches(SOL04.ClipTimesThree())
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and all(line.startswith("✔") for line in out)


class CentreNoAnnotation(nn.Module):
    def forward(self, x, mean=None):
        if mean is None:
            return x - x.mean()
        return x - mean


class CentreTensorNone(nn.Module):
    def forward(self, x, mean: torch.Tensor = None):
        if mean is None:
            return x - x.mean()
        return x - mean


class CentreOptionalFloat(nn.Module):
    def forward(self, x, mean: Optional[float] = None):
        if mean is None:
            return x - x.mean()
        return x - mean


class CentreIgnoresMean(nn.Module):
    def forward(self, x):
        return x - x.mean()


class CentreUnscriptable(nn.Module):
    def forward(self, x, mean=None):
        try:
            return x - mean
        except TypeError:
            return x - x.mean()


class CentrePerColumn(nn.Module):
    def forward(self, x, mean: Optional[torch.Tensor] = None):
        if mean is None:
            return x - x.mean(0)
        return x - mean


class CentrePerRow(nn.Module):
    def forward(self, x, mean: Optional[torch.Tensor] = None):
        if mean is None:
            return x - x.mean(-1, keepdim=True)
        return x - mean


class CentreZeroMeansNone(nn.Module):
    def forward(self, x, mean: torch.Tensor = torch.zeros(())):
        if bool(mean.eq(0).all()):
            mean = x.mean()
        return x - mean


class CentreEmptyMeansNone(nn.Module):
    def forward(self, x, mean: torch.Tensor = torch.empty(0)):
        if mean.numel() == 0:
            return x - x.mean()
        return x - mean


class CentreZeroNumberMeansNone(nn.Module):  # a number, not a tensor, stands for "no mean"
    def forward(self, x, mean: float = 0.0):
        if mean == 0.0:
            return x - x.mean()
        return x - mean


class CentreOneRow(nn.Module):
    def forward(self, x, mean: Optional[torch.Tensor] = None):
        return (x - (x.mean() if mean is None else mean)).unsqueeze(0)


class CentreAndMean(nn.Module):
    def forward(self, x, mean: Optional[torch.Tensor] = None):
        if mean is None:
            mean = x.mean()
        return x - mean, mean


@pytest.mark.parametrize("model, words", [
    (CentreZeroMeansNone, "A given mean of zero must give x back"),
    (CentreZeroNumberMeansNone, "do not let a zero (a tensor or a number) stand for"),
    (CentreEmptyMeansNone, "Right answers, but `mean` compiles as Tensor"),
    (CentreOneRow, "gives shape (1, 3)"),
    (CentreAndMean, "returns a tuple of 2"),
    (NoSuperInit, "Building your model failed: AttributeError"),
])
def test_optional_input_names_a_stand_in_for_none_a_shape_a_tuple_and_a_failing_init(model, words, capsys):
    assert H.check_optional_input(model) is False
    out = capsys.readouterr().out
    assert out.startswith("✘") and words in out and "✔" not in out and "tensor(" not in out


@torch.jit.script_if_tracing
def soft_clip_by_where(x):
    peak = x.abs().max()
    return torch.where(peak > 1, x / peak, x)


class ClipDecoratedWhere(nn.Module):
    def forward(self, x):
        return soft_clip_by_where(x) * 3


def test_traced_branches_says_the_compiled_helper_is_called_but_holds_no_if(capsys):
    assert not H.check_traced_branches(ClipDecoratedWhere())
    out = capsys.readouterr().out
    assert "calls your compiled helper, but the helper holds no `if`" in out and "holds no call" not in out


@torch.jit.script_if_tracing
def soft_clip_where_behind_a_shape_if(x):
    peak = x.abs().max()
    if x.dim() > 5:  # an `if` the compiler keeps, on a dimension: the scaling itself is torch.where
        return x
    return torch.where(peak > 1, x / peak, x)


class ClipShapeIf(nn.Module):
    def forward(self, x):
        return soft_clip_where_behind_a_shape_if(x) * 3


@torch.jit.script_if_tracing
def soft_clip_on_a_number(x):
    peak = x.abs().max()
    if peak.item() > 1:  # the values read into a number inside the compiled helper: still decided at run time
        return x / peak
    return x


class ClipOnANumber(nn.Module):
    def forward(self, x):
        return soft_clip_on_a_number(x) * 3


def test_traced_branches_refuses_an_if_on_a_shape_beside_a_where(capsys):
    assert not H.check_traced_branches(ClipShapeIf())
    out = capsys.readouterr().out
    assert out.startswith("✘") and "decides on something other than the values" in out and "✔" not in out


def test_traced_branches_takes_an_if_on_a_number_read_from_the_tensor(capsys):
    assert H.check_traced_branches(ClipOnANumber())
    assert capsys.readouterr().out.startswith("✔")


@torch.jit.script_if_tracing
def is_big(x) -> bool:  # the condition compiled alone: the `if` itself stays in traced Python
    return bool(x.abs().max() > 1)


class ClipDecoratedCondition(nn.Module):
    def forward(self, x):
        peak = x.abs().max()
        return (x / peak if is_big(x) else x) * 3


def test_traced_branches_says_where_the_decorator_goes_when_the_condition_alone_is_compiled(capsys):
    assert not H.check_traced_branches(ClipDecoratedCondition())
    out = capsys.readouterr().out
    assert out.startswith("✘") and "decorate the helper that holds the whole `if` and returns the tensor" in out


def test_optional_feedback(capsys):
    assert not H.check_optional_input(CentreNoAnnotation)
    out = capsys.readouterr().out
    assert "fails without mean" in out and "a type that allows None" in out
    assert "Expected a proper Tensor but got None" in out  # torch's own reason, not its generic first line
    for wrongly_typed, compiled in ((CentreTensorNone, "Tensor"), (CentreOptionalFloat, "Optional[float]")):
        assert not H.check_optional_input(wrongly_typed)
        out = capsys.readouterr().out
        assert f"compiles `mean` as {compiled}" in out and "Optional[torch.Tensor]" in out
        assert "Without an annotation" not in out  # they did annotate: the hint must say what is wrong instead
    assert not H.check_optional_input(CentreIgnoresMean())
    assert "fails with mean" in capsys.readouterr().out
    assert not H.check_optional_input(CentreUnscriptable)
    assert "torch.jit.script rejects it: try blocks aren't supported" in capsys.readouterr().out
    for model, which in ((CentrePerColumn, "a mean per column"), (CentrePerRow, "a mean per row")):
        assert not H.check_optional_input(model)
        out = capsys.readouterr().out
        assert which in out and "subtract x.mean(), the mean of every value" in out and "tensor(" not in out
    assert not H.check_optional_input(lambda x: x)
    assert "nn.Module class or an instance" in capsys.readouterr().out
    assert not H.check_optional_input(None)
    assert "got None" in capsys.readouterr().out


def soft_clip_plain(x):
    peak = x.abs().max()
    if peak > 1:
        return x / peak
    return x


class ClipUndecorated(nn.Module):
    def forward(self, x):
        return soft_clip_plain(x) * 3


class ClipChangedMaths(nn.Module):
    def forward(self, x):
        return SOL04.soft_clip(x) * 2


def test_traced_branches_feedback(capsys):
    assert not H.check_traced_branches(ClipUndecorated())
    out = capsys.readouterr().out
    assert "the `if` was frozen" in out and "compiled, not traced" in out
    assert not H.check_traced_branches(ClipChangedMaths)
    assert "Keep the model's maths" in capsys.readouterr().out



class ClipWhere(nn.Module):
    """A torch.where rewrite: right answers, but neither a compiled helper nor an `if`."""
    def forward(self, x):
        peak = x.abs().max()
        return torch.where(peak > 1, x / peak, x) * 3


@torch.jit.script
def soft_clip_scripted(x):
    peak = x.abs().max()
    if bool(peak > 1):
        return x / peak
    return x


class ClipScriptedHelper(nn.Module):
    """@torch.jit.script on the helper instead of script_if_tracing: the `if` is compiled too."""
    def forward(self, x):
        return soft_clip_scripted(x) * 3


def soft_clip_no_abs(x):
    peak = x.max()
    if peak > 1:
        return x / peak
    return x


class ClipNoAbs(nn.Module):
    def forward(self, x):
        return torch.jit.script_if_tracing(soft_clip_no_abs)(x) * 3


def test_traced_branches_wrong_solutions(capsys):
    assert not H.check_traced_branches(ClipWhere)
    out = capsys.readouterr().out
    assert "no call to a compiled helper and no `if`" in out and "torch.where" in out and "✔" not in out
    assert not H.check_traced_branches(torch.jit.script(ClipUndecorated()))
    assert "already a scripted module" in capsys.readouterr().out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # trace's own "already a ScriptModule" note
        traced = torch.jit.trace(ClipUndecorated(), torch.tensor([0.5, -0.25]))
    assert not H.check_traced_branches(traced)
    out = capsys.readouterr().out
    assert "already a traced module" in out and "scripted" not in out, out
    assert not H.check_traced_branches(ClipNoAbs)
    assert "Keep the model's maths" in capsys.readouterr().out   # [-1.5, 0.5, 0.2]: the peak is large only in abs
    assert not H.check_traced_branches(None)
    assert "got None" in capsys.readouterr().out


class ClipScriptedInTheCall(nn.Module):
    def forward(self, x):
        return torch.jit.script(soft_clip_no_abs_kept)(x) * 3


def soft_clip_no_abs_kept(x):
    peak = x.abs().max()
    if peak > 1:
        return x / peak
    return x


def test_traced_branches_praise_names_what_was_done(capsys):
    assert H.check_traced_branches(ClipScriptedHelper)
    out = capsys.readouterr().out
    assert out.startswith("✔") and "prim::CallFunction" in out
    assert "You compiled it with torch.jit.script" in out and out.count("\n") == 1
    assert H.check_traced_branches(ClipScriptedInTheCall)
    assert "You compiled it with torch.jit.script" in capsys.readouterr().out
    assert H.check_traced_branches(SOL04.ClipTimesThree)
    assert "torch.jit.script," not in capsys.readouterr().out  # the decorator the exercise asks for: no aside


# ---------------------------------------------------------------- in place, dtype, a decorated forward

class CentreInPlace(nn.Module):
    def forward(self, x, mean: Optional[torch.Tensor] = None):
        return x.sub_(x.mean() if mean is None else mean)


class CentreDouble(SOL04.Centre):
    def forward(self, x, mean: Optional[torch.Tensor] = None):
        return (x - (x.mean() if mean is None else mean)).double()


class CentreIgnored(nn.Module):
    @torch.jit.ignore
    def forward(self, x, mean: Optional[torch.Tensor] = None):
        return x - (x.mean() if mean is None else mean)


@pytest.mark.parametrize("model, words", [
    (CentreInPlace, "changes its input in place"),
    (CentreDouble, "returns torch.float64"),
    (CentreIgnored, "compiled nothing"),
])
def test_optional_input_in_place_dtype_and_ignored_forward(model, words, capsys):
    from helpers.exercises import ex04_scripting as ex04
    before = [tuple(a.clone() for a in args) for _, args in ex04._CENTRE_CASES]
    assert not H.check_optional_input(model)
    out = capsys.readouterr().out
    assert out.startswith("✘") and words in out, out
    assert all(torch.equal(a, b) for old, (_, new) in zip(before, ex04._CENTRE_CASES) for a, b in zip(old, new))


class ClipInPlace(nn.Module):
    def forward(self, x):
        peak = x.abs().max()
        if peak > 1:
            x /= peak
        return x * 3


def test_traced_branches_names_an_in_place_change_and_keeps_its_inputs(capsys):
    from helpers.exercises import ex04_scripting as ex04
    before = ex04._LARGE.clone()
    assert not H.check_traced_branches(ClipInPlace())
    assert "changes its input in place" in capsys.readouterr().out
    assert torch.equal(ex04._LARGE, before)
    assert not H.check_traced_branches(ClipUndecorated())  # and the untouched starting code is still judged right
    assert "Decorate the helper" in capsys.readouterr().out


def soft_clip_by_item(x):
    peak = x.abs().max()
    if peak.item() > 1:  # a Python number, not a bool: the tracer words its warning otherwise
        return x / peak
    return x


class ClipByItem(nn.Module):
    def forward(self, x):
        return soft_clip_by_item(x) * 3


def test_the_tracer_warning_is_quoted_as_it_was_raised(capsys):
    assert not H.check_traced_branches(ClipUndecorated())
    assert 'The tracer warned ("Converting a tensor to a Python boolean might cause the trace to be incorrect")' \
        in capsys.readouterr().out
    assert not H.check_traced_branches(ClipByItem())
    out = capsys.readouterr().out
    assert '"Converting a tensor to a Python number' in out and "boolean" not in out, out


class MeanAsAny(nn.Module):
    def forward(self, x, mean: Any = None):
        if mean is None:
            mean = x.mean()
        return x - mean


def test_a_mean_typed_any_is_named_by_the_type_torch_found(capsys):
    assert not H.check_optional_input(MeanAsAny)
    out = capsys.readouterr().out
    assert "but instead found type 'Any'" in out and "The following variants" not in out, out


def test_a_traced_or_scripted_centre_is_named_as_such(capsys):
    traced = torch.jit.trace(SOL04.Centre(), torch.ones(3), check_trace=False)
    assert not H.check_optional_input(traced)
    out = capsys.readouterr().out
    assert out.startswith("✘ That is already a") and "traced" in out and "fails with mean" not in out


def _peak_clip(x):
    peak = x.abs().max()
    if peak > 1:
        return x / peak
    return x


ignored_clip = torch.jit.ignore(lambda x: _peak_clip(x))  # a new function: the marker stays off _peak_clip
unused_clip = torch.jit.unused(lambda x: _peak_clip(x))


class ClipIgnored(nn.Module):
    def forward(self, x):
        return ignored_clip(x) * 3


class ClipUnused(nn.Module):
    def forward(self, x):
        return unused_clip(x) * 3


@pytest.mark.parametrize("model, marker", [(ClipIgnored, "ignore"), (ClipUnused, "unused")])
def test_traced_branches_names_ignore_or_unused_taken_for_the_compiling_decorator(model, marker, capsys):
    assert not H.check_traced_branches(model)
    out = capsys.readouterr().out
    assert f"marked @torch.jit.{marker}" in out and "Use @torch.jit.script_if_tracing instead" in out, out
    assert "Decorate the helper" not in out  # they did decorate it: the advice names the decorator


class ClipReturnsPair(nn.Module):
    def forward(self, x):
        return SOL04.soft_clip(x) * 3, x


@pytest.mark.parametrize("model, words", [(ClipUndecorated(), "Not yet: traced on [0.5, -0.25, 0.1]"),
                                          (ClipChangedMaths(), "Keep the model's maths as given: eager on"),
                                          (ClipReturnsPair(), "returns a tuple")])
def test_traced_branches_shows_values_not_tensor_reprs(model, words, capsys):
    assert not H.check_traced_branches(model)
    out = capsys.readouterr().out
    assert words in out and "tensor(" not in out, out


class MeanRenamed(nn.Module):
    def forward(self, x, mu: Optional[torch.Tensor] = None):
        if mu is None:
            mu = x.mean()
        return x - mu


class MeanRounded(nn.Module):
    def forward(self, x, mean: Optional[torch.Tensor] = None):
        if mean is None:
            mean = x.mean()
        return x - mean.round()


class CentreInAList(nn.Module):
    def forward(self, x, mean: Optional[torch.Tensor] = None):
        if mean is None:
            mean = x.mean()
        return [x - mean]


class ForwardMisspelled(nn.Module):
    def foward(self, x, mean: Optional[torch.Tensor] = None):
        return x


@pytest.mark.parametrize("answer, words", [
    (MeanRenamed, "forward's second argument is called mu: keep its name, `mean`"),
    (MeanRounded, "the mean made a whole number"),
    (CentreInAList, "returns a list of 1"),
    (ForwardMisspelled, "ForwardMisspelled defines no forward (it has foward): check the spelling"),
])
def test_optional_input_names_a_renamed_argument_a_rounded_mean_a_list_and_a_misspelled_forward(answer, words, capsys):
    assert not H.check_optional_input(answer)
    out = capsys.readouterr().out
    assert words in out and "@torch.jit.ignore" not in out and "compiles as ?" not in out, out


class _SoftClip(nn.Module):
    def forward(self, x):
        peak = x.abs().max()
        if peak > 1:
            return x / peak
        return x


class ClipInScriptedSubmodule(nn.Module):  # the `if` kept in a scripted submodule (section 5): right by another road
    def __init__(self):
        super().__init__()
        self.clip = torch.jit.script(_SoftClip())

    def forward(self, x):
        return self.clip(x) * 3


class WhereInScriptedSubmodule(nn.Module):  # a scripted submodule with no `if`: still the tensor-operations rewrite
    def __init__(self):
        super().__init__()
        self.clip = torch.jit.script(_WhereClip())

    def forward(self, x):
        return self.clip(x) * 3


class _WhereClip(nn.Module):
    def forward(self, x):
        peak = x.abs().max()
        return torch.where(peak > 1, x / peak, x)


def test_an_if_kept_in_a_scripted_submodule_is_not_called_a_rewrite(capsys):
    assert H.check_traced_branches(ClipInScriptedSubmodule())
    out = capsys.readouterr().out
    assert out.startswith("✔") and "scripted submodule" in out and "tensor operations" not in out
    assert not H.check_traced_branches(WhereInScriptedSubmodule())
    assert "no `if`" in capsys.readouterr().out
