"""11_your_model's checkers accept the worked solutions and reject the mistakes learners really make."""
import dataclasses
import io
import re
from typing import NamedTuple

import pytest
import torch
from torch import nn
from torch.export import Dim

import helpers as H
from helpers.exercises import ex11_your_model
from helpers.exercises.ex11_your_model import HeadConfig, PairPool

SOLUTION = H.load_solution("11_your_model")


def verdict(check, answer, capsys):
    ok = check(answer)
    return ok, capsys.readouterr().out


# ---------------------------------------------------------------- exercise 1

class HardCoded(nn.Module):
    """Scripts, but forgets the config: right for the default only."""
    def __init__(self, cfg: HeadConfig = HeadConfig()):
        super().__init__()
        self.lin = nn.Linear(6, 3)

    def forward(self, x):
        return (self.lin(x).relu() * 2.0).clamp(-1.0, 1.0)


class IgnoredForward(nn.Module):
    def __init__(self, cfg: HeadConfig = HeadConfig()):
        super().__init__()
        self.cfg = cfg
        self.lin = nn.Linear(6, 3)

    @torch.jit.ignore
    def forward(self, x):
        y = self.lin(x)
        y = y.relu() if self.cfg.activation == "relu" else y.tanh()
        return (y * self.cfg.scale).clamp(-self.cfg.clip, self.cfg.clip)


class AsDict(nn.Module):
    """dataclasses.asdict: a dict mixing floats and a str, which TorchScript cannot type either."""
    def __init__(self, cfg: HeadConfig = HeadConfig()):
        super().__init__()
        self.cfg = dataclasses.asdict(cfg)
        self.lin = nn.Linear(6, 3)

    def forward(self, x):
        y = self.lin(x)
        y = y.relu() if self.cfg["activation"] == "relu" else y.tanh()
        return (y * self.cfg["scale"]).clamp(-self.cfg["clip"], self.cfg["clip"])


class NoCfgArgument(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(6, 3)

    def forward(self, x):
        return self.lin(x)


class OneSidedClamp(SOLUTION.ConfiguredHead):  # reads the config, but forgets the lower bound
    def forward(self, x):
        y = self.lin(x)
        y = y.relu() if self.activation == "relu" else y.tanh()
        return (y * self.scale).clamp(max=self.clip)


class ExtraLayerFirst(SOLUTION.ConfiguredHead):  # right maths, but a layer built before lin changes lin's weights
    def __init__(self, cfg=H.HeadConfig()):
        nn.Module.__init__(self)
        self.extra = nn.Linear(6, 6)  # unused in forward; it draws random numbers before lin does
        self.lin = nn.Linear(6, 3)
        self.scale, self.clip, self.activation = cfg.scale, cfg.clip, cfg.activation


class ClampsInPlace(SOLUTION.ConfiguredHead):  # clamps its input in place, where the head clamps its output
    def forward(self, x):
        x.clamp_(-self.clip, self.clip)
        y = self.lin(x)
        y = y.relu() if self.activation == "relu" else y.tanh()
        return (y * self.scale).clamp(-self.clip, self.clip)


class UnusedForward(IgnoredForward):
    @torch.jit.unused
    def forward(self, x):
        y = self.lin(x)
        y = y.relu() if self.cfg.activation == "relu" else y.tanh()
        return (y * self.cfg.scale).clamp(-self.cfg.clip, self.cfg.clip)


class ClampBeforeScale(SOLUTION.ConfiguredHead):
    def forward(self, x):
        y = self.lin(x)
        y = y.relu() if self.activation == "relu" else y.tanh()
        return y.clamp(-self.clip, self.clip) * self.scale


class AlwaysRelu(SOLUTION.ConfiguredHead):  # reads scale and clip, but not the activation
    def forward(self, x):
        return (self.lin(x).relu() * self.scale).clamp(-self.clip, self.clip)


class FixedClip(SOLUTION.ConfiguredHead):  # reads the activation and scale, but clips at the default bound
    def forward(self, x):
        y = self.lin(x)
        y = y.relu() if self.activation == "relu" else y.tanh()
        return (y * self.scale).clamp(-1.0, 1.0)


class ClipsAtScale(SOLUTION.ConfiguredHead):  # reads the config, but the clamp's bounds from the wrong field
    def forward(self, x):
        y = self.lin(x)
        y = y.relu() if self.activation == "relu" else y.tanh()
        return (y * self.scale).clamp(-self.scale, self.scale)


class EndsInFloat64(nn.Module):
    def __init__(self, cfg: HeadConfig = HeadConfig()):
        super().__init__()
        self.lin = nn.Linear(6, 3)
        self.scale, self.clip, self.relu = cfg.scale, cfg.clip, cfg.activation == "relu"

    def forward(self, x):
        y = (self.lin(x) * self.scale).clamp(-self.clip, self.clip)
        return (y.relu() if self.relu else y.tanh()).double()


class TypoInInit(nn.Module):
    def __init__(self, cfg: HeadConfig = HeadConfig()):
        super().__init__()
        self.lin = nn.Linear(6, 3)
        self.scale = cfg.scal


class WrongTypeInInit(nn.Module):
    def __init__(self, cfg: HeadConfig = HeadConfig()):
        super().__init__()
        self.lin = nn.Linear(6, 3)
        self.scale = cfg.scale + "x"


class NoActivation(nn.Module):
    def __init__(self, cfg: HeadConfig = HeadConfig()):
        super().__init__()
        self.lin = nn.Linear(6, 3)
        self.scale, self.clip = cfg.scale, cfg.clip

    def forward(self, x):
        return (self.lin(x) * self.scale).clamp(-self.clip, self.clip)


def test_configured_head_solution(capsys):
    ok, out = verdict(H.check_configured_head, SOLUTION.ConfiguredHead, capsys)
    assert ok and out.startswith("✔") and "relu and tanh" in out


@pytest.mark.parametrize("answer, words", [
    (H.ConfiguredHead, "torch.jit.script fails on it"),
    (HardCoded, "gives the default config's numbers"),
    (OneSidedClamp, "still in eager, computes something else than ConfiguredHead"),
    (ClampBeforeScale, "still in eager, computes something else than ConfiguredHead"),
    (ExtraLayerFirst, "your model's Linear holds other weights than ConfiguredHead's"),
    (AlwaysRelu, "computes with activation='relu', not 'tanh': the config's activation does not reach forward"),
    (FixedClip, "computes with clip=1.0, not 0.5: the config's clip does not reach forward"),
    (NoActivation, "applies no relu: forward leaves the activation out"),
    (ClipsAtScale, "read each setting from its own field (scale, clip, activation)"),
    (IgnoredForward, "has no forward"),
    (UnusedForward, "@torch.jit.ignore or @torch.jit.unused on forward"),
    (ClampsInPlace, "changes its input in place"),
    (AsDict, "self.cfg (a dict whose values have different types)"),
    (NoCfgArgument, "keep the constructor taking the config"),
    (EndsInFloat64, "returns torch.float64, ConfiguredHead torch.float32"),  # right numbers, wrong dtype: no crash
    (TypoInInit, "fails in its __init__: AttributeError: 'HeadConfig' object has no attribute 'scal'"),
    (WrongTypeInInit, "fails in its __init__: TypeError"),  # it does take the config: no word of the constructor's arguments
    (SOLUTION.ConfiguredHead(), "Pass your class itself"),
    (None, "Pass your class itself"),
    (torch.tensor([True]), "Pass your class itself"),
])
def test_configured_head_rejects(answer, words, capsys):
    ok, out = verdict(H.check_configured_head, answer, capsys)
    assert not ok and out.startswith("✘") and words in out, out
    assert out.count("onstructor") <= 1 and ("dataclass" in out) == (answer is H.ConfiguredHead), out
    assert out.count("(") == out.count(")"), out  # torch's long parenthesis is not cut open
    if answer is H.ConfiguredHead:  # both ways out, the second checked in the test below
        assert "has not compiled" in out and "or compile the class first with torch.jit.script(HeadConfig)" in out
    if answer in (TypoInInit, WrongTypeInInit):
        assert "constructor" not in out and ".." not in out, out
    if answer in (OneSidedClamp, ClampBeforeScale):
        assert "hard-coded" not in out, out  # the config is read: the feedback must not say otherwise


# ---------------------------------------------------------------- exercise 2

def traced(model, example):
    return torch.jit.trace(model, example)


def exported_static(model, example):
    return torch.export.export(model, (example,)).module()


def exported_auto(model, example):
    return torch.export.export(model, (example,), dynamic_shapes=({1: Dim.AUTO},)).module()


def traced_checked(model, example):
    return torch.jit.trace(model, example, check_inputs=[(torch.randn(3, 4),)])


def cond_at_eight(model, example):  # torch.cond, both sides kept, but the boundary off by one
    class Cond(nn.Module):
        def forward(self, x):
            return torch.cond(x.shape[-1] >= 8, lambda t: t.unflatten(-1, (-1, 2)).mean(-1).cumsum(-1),
                              lambda t: t.cumsum(-1), (x,))
    return torch.export.export(Cond(), (example,), dynamic_shapes=({1: Dim.AUTO},)).module()


def keeps_python(model, example):  # scripts, runs, but the model itself stays Python: no file can hold it
    class Wrap(nn.Module):
        def __init__(self):
            super().__init__()
            self.fns = [model]

        @torch.jit.ignore
        def run(self, x: torch.Tensor) -> torch.Tensor:
            return self.fns[0](x)

        def forward(self, x):
            return self.run(x)
    return torch.jit.script(Wrap())


def returns_eager(model, example):
    return model


def returns_nothing(model, example):
    torch.jit.script(model)


def compiled(model, example):
    return torch.compile(model)


def exported_strict(model, example):  # a strict Dim: export refuses to specialise it
    return torch.export.export(model, (example,), dynamic_shapes=({1: Dim("L", min=4, max=20)},))


def wrapped(model, example):
    return lambda x: model(x)


def exported_from_ten(model, example):  # only lengths above 8: the branch is constant, torch objects to odd ones
    return torch.export.export(model, (example,), dynamic_shapes=({1: Dim("n", min=10)},))


def cond_with_named_dim(model, example):  # the branch is in the program, but a plain Dim allows odd lengths
    return torch.export.export(SOLUTION.PairPoolCond(), (example,), dynamic_shapes=({1: Dim("n")},))


def cond_from_six(model, example):  # the branch is in the program, but the learner's min leaves length 4 out
    return torch.export.export(SOLUTION.PairPoolCond(), (example,), dynamic_shapes=({1: 2 * Dim("_n", min=3)},))


def scripted_float64(model, example):
    class AsDouble(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = model

        def forward(self, x):
            return self.inner(x).double()
    return torch.jit.script(AsDouble())


def traced_float64(model, example):  # a traced function: the short lengths give another shape and another dtype
    return torch.jit.trace(lambda x: model(x).double(), example)


def fx_with_leaf(model, example):  # an fx graph that keeps the model whole as one call: its Python still runs
    class KeepsUserModules(torch.fx.Tracer):
        def is_leaf_module(self, module, name):
            return True

    root = nn.Sequential(model)
    return torch.fx.GraphModule(root, KeepsUserModules().trace(root))


class IgnoredForward(PairPool):
    @torch.jit.ignore
    def forward(self, x):  # stays Python: the copy in memory runs it, the saved file has no forward
        return super().forward(x)


def scripted_ignored_forward(model, example):
    return torch.jit.script(IgnoredForward())


class ReluFirst(nn.Module):  # a rewrite that changes its input in place first: eager, given the changed input, agrees
    def forward(self, x):
        x.relu_()
        if x.shape[-1] > 8:
            x = x.unflatten(-1, (-1, 2)).mean(-1)
        return x.cumsum(-1)


def scripted_in_place(model, example):
    return torch.jit.script(ReluFirst())


@pytest.mark.parametrize("answer", [SOLUTION.ship, SOLUTION.ship_exported])
def test_shipped_pool_solutions(answer, capsys):
    ok, out = verdict(H.check_shipped_pool, answer, capsys)
    assert ok and out.startswith("✔") and "both sides" in out and "from 4 to 20" in out
    assert "batches of 3, as the example" in out  # the check changes only the length, and says so
    assert "copy, agrees" not in out and ("copy agrees" in out or "copy, saved and loaded again, agrees" in out)
    assert ex11_your_model._LENGTHS == tuple(range(4, 21, 2))  # "every even length" is true


@pytest.mark.parametrize("answer, words", [
    (traced, "takes the other side of the branch: eager does not pool there (`4 > 8` is False), your copy does "
             "(a trace records the one path its example took; as it traced, the tracer warned about the `if` on the shape: "
             "\"Converting a tensor to a Python boolean might cause the trace to be incorrect\")"),  # the trace pools every input, short ones too
    (exported_static, "fails on length 4 (Guard failed"),
    (exported_auto, "kept the example's side of `x.shape[-1] > 8` as a guard"),  # dynamic, but one side only
    (exported_strict, "A Dim must stay free"),
    (cond_at_eight, "On length 8 the copy takes the other side"),  # not a trace: no word of traces
    (keeps_python, "cannot be saved, so it cannot ship"),
    (traced_checked, "TracingCheckError"),
    (returns_eager, "not None or the eager model"),
    (returns_nothing, "not None or the eager model"),
    (compiled, "torch.compile keeps running your Python class"),  # agrees on every length, but ships nothing
    (wrapped, "a function, not a converted copy"),
    (PairPool(), "Pass your function"),
    (PairPool, "Pass your function, e.g. check_shipped_pool(ship) (PairPool is a class)"),
    (None, "Pass your function"),
    (exported_from_ten, "torch's own suggestion: `_n = Dim('_n', min=5, max=oo)`; `n = 2*_n`"),  # not a word of `> 8` guards
    (scripted_float64, "On length 4 the copy returns torch.float64, eager torch.float32"),  # no crash in allclose
    (traced_float64, "On length 4 the copy returns torch.float64, eager torch.float32"),  # another shape too: no crash
    (fx_with_leaf, "calls your module '0' (PairPool) as one step"),
    (cond_with_named_dim, "the length must be even, and a Dim that says so (`2 * Dim(\"_n\")`) is what torch asks for"),
    (cond_from_six, "fails on length 4 (Guard failed: x.size()[1] >= 6"),
    (lambda model, example: torch.jit.script(model.forward), "scripted the method forward on its own"),
    (scripted_ignored_forward, "The saved file has no forward"),  # the copy in memory runs Python and agrees
    (scripted_in_place, "On length 4 the copy changes its input in place"),
])
def test_shipped_pool_rejects(answer, words, capsys):
    ok, out = verdict(H.check_shipped_pool, answer, capsys)
    assert not ok and out.startswith("✘") and words in out, out
    if answer is cond_at_eight:
        assert "trace" not in out, out
    if answer is exported_from_ten:
        assert "ties the length to one side of 8" not in out, out
        assert "this Dim starts at 10: give it no min" in out, out
    if answer is cond_from_six:  # its branch is already in the program: the bound is the learner's own range
        assert "holds the branch (a torch.cond)" in out and "min or max leaves length 4 out" in out, out
        assert "kept the example's side" not in out and "has to be part of the program" not in out, out
    if answer is cond_with_named_dim:  # its branch is already in the program: no claim that it is not
        assert "Even so" not in out and "this Dim starts" not in out, out


def test_a_trace_that_is_silently_wrong_is_named(capsys):
    class Averaging(nn.Module):  # both sides keep the length, so the trace runs everywhere and is wrong
        def forward(self, x):
            if x.shape[-1] > 8:
                return x * 0.5
            return x.cumsum(-1)

    def ship(model, example):
        return torch.jit.trace(Averaging(), example)
    ok, out = verdict(H.check_shipped_pool, ship, capsys)
    assert not ok and "computes something else" in out


# ---------------------------------------------------------------- exercise 3

def strict_trace(model, example):
    return torch.jit.trace(model, example)


def scripted(model, example):
    return torch.jit.script(model)


def as_tuple(model, example):
    class Tupled(nn.Module):
        def forward(self, x):
            out = model(x)
            return out["mean"], out["top"]
    return torch.jit.trace(Tupled(), example)


class MeanTop(NamedTuple):
    mean: torch.Tensor
    top: torch.Tensor


def as_named_tuple(model, example):  # torch's message suggests a NamedTuple: its trace returns a plain tuple
    class Named(nn.Module):
        def forward(self, x):
            out = model(x)
            return MeanTop(out["mean"], out["top"])
    return torch.jit.trace(Named(), example)


def renamed(model, example):
    class Renamed(nn.Module):
        def forward(self, x):
            out = model(x)
            return {"avg": out["mean"], "top": out["top"]}
    return torch.jit.trace(Renamed(), example, strict=False)


def saved_and_loaded(model, example):
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.trace(model, example, strict=False), buffer)
    buffer.seek(0)
    return torch.jit.load(buffer)


def traced_function(model, example):
    return torch.jit.trace(lambda x: tuple(model(x).values()), example)


class AbsFirst(nn.Module):
    def forward(self, x):
        x.abs_()
        return {"mean": x.mean(-1), "top": x.argmax(-1)}


def traced_in_place(model, example):
    return torch.jit.trace(AbsFirst(), example, strict=False)


def test_dict_trace_solution(capsys):
    ok, out = verdict(H.check_dict_trace, SOLUTION.trace_it, capsys)
    assert ok and out.startswith("✔")


@pytest.mark.parametrize("answer, words", [
    (strict_trace, 'It ends: "If you absolutely need this and know the side effects, pass strict=False to trace()'),
    (scripted, "not the module torch.jit.trace returns"),
    (saved_and_loaded, "saved and loaded again"),
    (traced_function, "a traced function, not the traced model"),
    (as_tuple, "must stay a dict"),
    (as_named_tuple, "returns a tuple (a wrapper returning a NamedTuple would give a plain tuple here too)"),
    (renamed, "keys changed"),
    (returns_eager, "return what torch.jit.trace gives you"),
    (H.Summary(), "Pass your function"),
    (H.Summary, "(Summary is a class)"),
    ("trace", "Pass your function"),
    (traced_in_place, "changes its input in place"),
    (lambda model, example: None, "returned None (a missing return?)"),
])
def test_dict_trace_rejects(answer, words, capsys):
    ok, out = verdict(H.check_dict_trace, answer, capsys)
    assert not ok and out.startswith("✘") and words in out, out


def test_the_tracer_warning_is_told_in_the_feedback_not_shown_raw(recwarn, capsys):
    ok, out = verdict(H.check_shipped_pool, traced, capsys)
    assert not ok and "as it traced, the tracer warned about the `if` on the shape" in out
    assert not [w for w in recwarn if issubclass(w.category, torch.jit.TracerWarning)]


class _FloatTop(nn.Module):
    """A learner's own Summary whose "top" came out float: torch.equal alone would call it equal to eager's ints."""
    def forward(self, x):
        return {"mean": x.mean(-1), "top": x.argmax(-1).float()}


def traces_a_float_top(model, example):
    return torch.jit.trace(_FloatTop(), example, strict=False)


def test_dict_trace_compares_dtypes(capsys):
    assert torch.equal(torch.tensor([1.0, 2.0]), torch.tensor([1, 2]))  # why the dtype needs a check of its own
    ok, out = verdict(H.check_dict_trace, traces_a_float_top, capsys)
    assert not ok and out.startswith("✘"), out
    assert "'top' has dtype torch.float32, eager's torch.int64" in out, out


class _NT(NamedTuple):
    scale: float
    clip: float
    activation: str


class AsNamedTuple(nn.Module):
    """A NamedTuple config: TorchScript types it as a plain Tuple, whose fields have no names."""
    def __init__(self, cfg: HeadConfig = HeadConfig()):
        super().__init__()
        self.cfg = _NT(cfg.scale, cfg.clip, cfg.activation)
        self.lin = nn.Linear(6, 3)

    def forward(self, x):
        y = self.lin(x)
        y = y.relu() if self.cfg.activation == "relu" else y.tanh()
        return (y * self.cfg.scale).clamp(-self.cfg.clip, self.cfg.clip)


class _FreshDataclass(H.ConfiguredHead):
    """A class of its own: once a class failed to script in this process, torch says only "failed earlier"."""


class _FreshDict(AsDict):
    """A class of its own, as above; its message is cut just after a full stop."""


@pytest.mark.parametrize("answer", [AsNamedTuple, _FreshDataclass, _FreshDict])
def test_configured_head_messages_have_no_stray_punctuation(answer, capsys):
    ok, out = verdict(H.check_configured_head, answer, capsys)
    assert not ok and out.startswith("✘"), out
    assert "failed earlier" not in out, out  # the message under test is torch's first one
    assert not re.search(r"[.:;,]\s*[.:;,]|[.:;,]…|…[.:;,]", out.replace("(...)", "")), out  # e.g. "'activation'.:."


def test_scripting_the_dataclass_first_is_a_fix_the_feedback_rightly_offers():
    # in a process of its own: a class scripted once stays compiled for the whole process
    code = ("import io, torch, helpers as H\n"
            "torch.jit.script(H.HeadConfig)\n"
            "print(H.check_configured_head(H.ConfiguredHead))")
    done = H.run_python(["-c", code], timeout=300)
    assert done.stdout.strip().splitlines()[-1] == "True", done.stdout + done.stderr[-500:]


def test_dict_trace_without_the_example_is_told_the_example_is_missing(capsys):
    assert not H.check_dict_trace(lambda model, example: torch.jit.trace(model))
    out = capsys.readouterr().out
    assert "The example is missing" in out and "dict output" not in out, out


def _ship_swapped(example, model):  # the arguments the other way round
    return torch.jit.script(model)


def test_shipped_pool_names_swapped_arguments(capsys):
    assert not H.check_shipped_pool(_ship_swapped)
    out = capsys.readouterr().out
    assert out.startswith("✘ ship(...) raised TypeError") and "your function takes (example, model): swap" in out, out


class _CondPool(torch.nn.Module):
    def forward(self, x):
        return torch.cond(x.shape[-1] > 8, lambda t: t.unflatten(-1, (-1, 2)).mean(-1).cumsum(-1),
                          lambda t: t.cumsum(-1), (x,))


@pytest.mark.parametrize("name", ["n", "length"])
def test_the_even_length_suggestion_is_read_whatever_the_dim_is_called(name, capsys):
    def ship(model, example):
        return torch.export.export(_CondPool(), (example,), dynamic_shapes=({1: torch.export.Dim(name)},)).module()

    assert not H.check_shipped_pool(ship)
    out = capsys.readouterr().out
    assert f'`2 * Dim("_{name}")`' in out and "the length must be even" in out and "Even so" not in out, out


def test_a_derived_dim_as_torch_suggests_ships_the_cond_pool(capsys):
    # the exercise's sentence: dynamic_shapes takes 2 * Dim(...) like a Dim, and then the cond model exports
    def ship(model, example):
        length = 2 * torch.export.Dim("_length")
        return torch.export.export(_CondPool(), (example,), dynamic_shapes=({1: length},)).module()

    assert H.check_shipped_pool(ship)
    assert capsys.readouterr().out.startswith("✔")


def test_a_cond_exported_without_a_free_length_and_a_graph_module_get_their_own_words(capsys):
    def cond_static(model, example):  # the branch written with torch.cond, the length left fixed
        return torch.export.export(_CondPool(), (example,))

    def graph_module(model, example):  # the program's graph_module, whose outputs come in a tuple
        return torch.export.export(_CondPool(), (example,), dynamic_shapes=({1: 2 * torch.export.Dim("_n")},)).graph_module

    assert not H.check_shipped_pool(cond_static)
    out = capsys.readouterr().out
    assert "fails on length 4 (Guard failed: x.size()[1] == 12)" in out and "even of a torch.cond" in out, out
    assert not H.check_shipped_pool(graph_module)
    out = capsys.readouterr().out
    assert out.startswith("✘ On length 4 the copy returns a tuple holding one tensor, where eager returns a tensor") \
        and "return the program's .module()" in out, out
