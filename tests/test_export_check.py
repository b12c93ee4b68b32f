"""The export round-trip check of 09 (helpers/routes/export_check.py and templates/test_export_roundtrip.py) on the sample models."""
import warnings
import importlib.util
import typing

import pytest
import torch
import torchvision

import helpers as H
from outside_models import DropsAlways, NamedTupleOut, NarrowsBatch, TrainingFlag
from helpers.routes import export_check
from helpers.course.workdir import REPO_ROOT
from models_with_state import CountsCalls, CountsOnly, RunningTotal


class LocalGate(torch.nn.Module):
    """Defined here only: the fresh process cannot import it, so a pass proves the file stands alone."""

    def forward(self, x):
        if x.sum() > 0:
            return x * 2
        return -x


BOTH_SIGNS = [torch.tensor([1.0, 2.0, 3.0]), torch.tensor([-1.0, -2.0, 0.5])]


def load_template():
    spec = importlib.util.spec_from_file_location("export_roundtrip_template",
                                                  REPO_ROOT / "templates" / "test_export_roundtrip.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- helpers/routes/export_check.py

def test_each_method_stops_where_it_should(tmp_path):
    with pytest.warns(torch.jit.TracerWarning):  # the tracer's own hint stays visible
        checks = H.export_roundtrip_checks(LocalGate(), BOTH_SIGNS, folder=tmp_path)
    assert [r.method for r in checks] == ["script", "trace", "export"]
    assert [r.stage for r in checks] == ["passed", "compare", "export"]
    assert checks["script"].ok and checks["script"].max_diffs == [0.0, 0.0]
    assert checks["script"].path.suffix == ".pt" and checks["script"].path.is_file()
    assert checks["trace"].failed_inputs == [1] and "torch.cond" in checks["trace"].hint
    assert "GuardOnDataDependentSymNode" in checks["export"].error and "torch.cond" in checks["export"].hint
    assert not checks.all_ok
    with pytest.raises(AssertionError, match="trace: the reloaded model disagrees with eager on input 1"):
        checks.assert_ok()
    html = checks._repr_html_()
    assert html.count("<tr>") == 4 and "passed" in html and "compare" in html
    with pytest.raises(KeyError, match="checked"):
        checks["onnx"]


def test_a_static_export_fails_at_run_time_on_another_batch_size(tmp_path):
    images, _ = H.load_digits("test")
    report = H.export_roundtrip_check(H.load_digits_cnn(), [images[:4], images[:5]], method="export", folder=tmp_path)
    assert report.stage == "run" and report.failed_inputs == [1]
    assert "Guard failed" in report.error and "dynamic_shapes" in report.hint
    with pytest.raises(AssertionError, match="dynamic_shapes"):
        report.assert_ok()


def test_training_mode_is_named_when_outputs_differ(tmp_path, monkeypatch):
    # stand-in for the fresh process: run the model again here, which draws new dropout masks
    def rerun(jobs, inputs, folder, timeout, imports=()):
        with torch.no_grad():
            return {m: {"stage": "ran", "outputs": [model(*a) for a in inputs], "errors": [""] * len(inputs)} for m in jobs}

    monkeypatch.setattr(export_check, "_run_fresh", rerun)
    model = H.sample_model("dropout_bn").train()
    report = H.export_roundtrip_check(model, [H.example_input("dropout_bn")], method="script", folder=tmp_path)
    assert report.stage == "compare" and "model.eval()" in report.hint and "Dropout" in report.hint


def test_training_mode_without_random_layers_is_not_blamed(tmp_path):
    model = LocalGate().train()  # training mode, but nothing in it draws randomly: the trace's branch is the cause
    checks = H.export_roundtrip_checks(model, [(x,) for x in BOTH_SIGNS], methods=("trace",), folder=tmp_path)
    assert checks["trace"].stage == "compare" and "model.eval()" not in checks["trace"].hint
    assert "recorded only what input 0 ran" in checks["trace"].hint


def test_tuple_outputs_pass_and_an_unloadable_file_is_reported(tmp_path, monkeypatch):
    real_export_and_save = export_check._export_and_save

    def broken_export_file(model, example, method, path, dynamic_shapes):
        if method == "export":
            path.write_bytes(b"not a model")  # as if the file were truncated on its way to production
        else:
            real_export_and_save(model, example, method, path, dynamic_shapes)

    monkeypatch.setattr(export_check, "_export_and_save", broken_export_file)
    checks = H.export_roundtrip_checks(H.sample_model("rnn_cell"), [H.example_input("rnn_cell")],
                                       methods=("script", "export"), folder=tmp_path)
    assert checks["script"].ok, checks  # two arguments in, a tuple of two tensors out
    assert str(checks["script"]).startswith("✔ script: saved, reloaded in a fresh process, agrees with eager on 1 input ")
    assert checks["export"].stage == "load" and "could not load" in checks["export"].summary


def test_inputs_and_options_are_validated(tmp_path):
    gate = LocalGate()
    with pytest.raises(TypeError, match="list of inputs"):
        H.export_roundtrip_check(gate, BOTH_SIGNS[0], folder=tmp_path)
    with pytest.raises(ValueError, match="inputs is empty"):
        H.export_roundtrip_check(gate, [], folder=tmp_path)
    with pytest.raises(TypeError, match="input 1 must be a tensor"):
        H.export_roundtrip_check(gate, [BOTH_SIGNS[0], [1.0]], folder=tmp_path)
    with pytest.raises(ValueError, match="method must be one of"):
        H.export_roundtrip_check(gate, BOTH_SIGNS, method="onnx", folder=tmp_path)
    with pytest.raises(TypeError, match="export_roundtrip_checks"):
        H.export_roundtrip_check(gate, BOTH_SIGNS, method=["script"], folder=tmp_path)
    with pytest.raises(ValueError, match="rtol"):
        H.export_roundtrip_check(gate, BOTH_SIGNS, rtol=-1, folder=tmp_path)
    with pytest.raises(TypeError, match="add parentheses"):
        H.export_roundtrip_check(LocalGate, BOTH_SIGNS, folder=tmp_path)
    with pytest.raises(ValueError, match="eager model itself fails on input 0"):
        H.export_roundtrip_check(H.sample_model("deep_mlp"), [torch.ones(1, 3)], folder=tmp_path)
    # each message names the function the learner called
    with pytest.raises(ValueError, match=r"^export_roundtrip_check: inputs is empty"):
        H.export_roundtrip_check(gate, [], folder=tmp_path)
    with pytest.raises(ValueError, match=r"^export_roundtrip_checks: inputs is empty"):
        H.export_roundtrip_checks(gate, [], folder=tmp_path)
    with pytest.raises(TypeError, match=r"^export_roundtrip_checks: input 1 must be a tensor"):
        H.export_roundtrip_checks(gate, [BOTH_SIGNS[0], [1.0]], folder=tmp_path)


def test_a_torchscript_model_is_refused_up_front(tmp_path):
    gate = LocalGate()
    for made in (torch.jit.trace(torch.nn.Linear(3, 3), BOTH_SIGNS[0]), torch.jit.script(gate)):
        with pytest.raises(TypeError, match=r"^export_roundtrip_checks exports the eager model .* already a "
                                            r"TorchScript copy .*: pass the nn.Module it was made from$") as caught:
            H.export_roundtrip_checks(made, BOTH_SIGNS, folder=tmp_path)
        assert "\n" not in str(caught.value)
    with pytest.raises(TypeError, match=r"^export_roundtrip_check exports the eager model"):
        H.export_roundtrip_check(torch.jit.script(gate), BOTH_SIGNS, method="export", folder=tmp_path)


class LoopsWhileNegative(torch.nn.Module):
    def forward(self, x):
        while x.sum() < 0:  # never ends on a negative input
            x = x * 1.0
        return x


def test_eager_that_never_finishes_on_a_later_input_is_stopped_and_named(tmp_path):
    import time
    started = time.perf_counter()
    with pytest.raises(ValueError, match=r"^export_roundtrip_checks: the eager model did not finish on input 1 "
                                         r"within 5 s .*a loop that never ends on it\?") as caught:
        H.export_roundtrip_checks(LoopsWhileNegative(), [torch.ones(3), -torch.ones(3)], methods=("script",),
                                  folder=tmp_path, timeout=10)
    assert "\n" not in str(caught.value) and time.perf_counter() - started < 30


# ---------------------------------------------------------------- templates/test_export_roundtrip.py

def test_template_passes_its_own_example(tmp_path):
    template = load_template()
    for name in template.CASES:
        for method in template.METHODS:
            template.test_export_roundtrip(name, method, tmp_path)


def test_template_checks_a_sample_model_with_a_dynamic_batch(tmp_path):
    template = load_template()
    images, _ = H.load_digits("test")
    path = template.roundtrip(H.load_digits_cnn(), [(images[:4],), (images[:1],), (images,)], "export", tmp_path,
                              {"x": {0: torch.export.Dim("batch")}})
    assert path.suffix == ".pt2" and path.is_file()


def test_template_names_the_first_input_that_differs():
    template = load_template()
    expected = [torch.ones(2), (torch.ones(2), torch.zeros(1))]
    template.assert_same_outputs("trace", expected, [torch.ones(2), (torch.ones(2), torch.zeros(1))])
    with pytest.raises(AssertionError, match="trace: input 1: the reloaded model differs from eager by up to 0.5"):
        template.assert_same_outputs("trace", expected, [torch.ones(2), (torch.ones(2), torch.full((1,), 0.5))])
    with pytest.raises(AssertionError, match="input 0: shape \\(2,\\) in eager, \\(3,\\) reloaded"):
        template.assert_same_outputs("export", expected[:1], [torch.ones(3)])
    with pytest.raises(AssertionError, match="eager gives 2 outputs, the reloaded model 1"):
        template.assert_same_outputs("script", expected[1:], [torch.ones(2)])


# ---------------------------------------------------------------- an operator from another library

try:
    import torchvision
except ImportError:  # the tests below skip themselves
    torchvision = None


class UsesNms(torch.nn.Module):
    def forward(self, boxes, scores):
        return torchvision.ops.nms(boxes, scores, 0.5)


NMS_INPUTS = [(torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]]), torch.tensor([0.9, 0.8, 0.7]))]


def test_an_operator_from_another_library_keeps_its_cause_and_names_the_import(tmp_path):
    pytest.importorskip("torchvision")
    checks = H.export_roundtrip_checks(UsesNms(), NMS_INPUTS, methods=("script", "export"), folder=tmp_path)
    for method in ("script", "export"):
        report = checks[method]
        assert report.stage == "load" and "torchvision" in report.error and "nms" in report.error, report
        assert "`import torchvision`" in report.hint and "export it again" not in report.hint
        assert "imports=('torchvision',)" in report.hint
    assert checks["script"].error == "RuntimeError: Unknown builtin op: torchvision::nms."


def test_torch_suggested_fixes_are_kept(tmp_path):
    class Reshape(torch.nn.Module):
        def forward(self, x):
            return x.reshape(4, -1)

    advice = ("Encountering a dict at the output of the tracer might cause the trace to be incorrect. If you absolutely "
              "need this and know the side effects, pass strict=False to trace() to allow this behavior.")
    assert export_check.torch_suggestion(advice).startswith("torch suggests: If you absolutely need this")
    fixed = H.export_roundtrip_check(Reshape(), [torch.ones(8, 2)], method="export", folder=tmp_path,
                                     dynamic_shapes={"x": {0: torch.export.Dim("n")}})
    assert fixed.stage == "export" and "torch suggests: " in fixed.hint and "n = 4*_n" in fixed.hint



def test_a_dim_the_model_contradicts_gets_torchs_suggested_dim(tmp_path):
    report = H.export_roundtrip_check(NarrowsBatch().eval(), [torch.randn(4, 4)], folder=tmp_path,
                                      dynamic_shapes=({0: torch.export.Dim("batch", max=16)},))
    assert report.stage == "export" and "torch suggests: batch = Dim('batch', min=3, max=16)" in report.hint
    # the same reader words it for lower_to_pte and aoti_package, whose messages are tested with them
    assert export_check.dim_conflict(RuntimeError("x")) == ""


def test_cause_line_reads_past_a_bare_error_name():
    assert export_check.cause_line("RuntimeError: \nUnknown builtin op: vision::roi_align.\nCould not find") == \
        "RuntimeError: Unknown builtin op: vision::roi_align."
    assert "import vision" in export_check.library_hint("Unknown builtin op: vision::roi_align.")
    assert export_check.library_hint("Unknown builtin op: aten::foo.") == ""


def test_template_names_the_cause_and_the_import_the_loader_needs(tmp_path):
    pytest.importorskip("torchvision")
    template = load_template()
    with pytest.raises(AssertionError) as info:
        template.roundtrip(UsesNms(), NMS_INPUTS, "script", tmp_path)
    first = str(info.value).splitlines()[0]
    assert "Unknown builtin op: torchvision::nms" in first and "`import torchvision`" in first
    template.LOADER_IMPORTS = ("torchvision",)
    try:
        template.roundtrip(UsesNms(), NMS_INPUTS, "script", tmp_path)  # with the import, it loads and agrees
    finally:
        template.LOADER_IMPORTS = ()


class ListIn(torch.nn.Module):
    def forward(self, xs: typing.List[torch.Tensor]):
        return xs[0] * 2 + xs[1]


def test_a_list_argument_makes_the_round_trip(tmp_path):
    inputs = [([torch.randn(3, 4), torch.randn(3, 4)],), ([torch.randn(3, 4), -torch.ones(3, 4)],)]
    checks = H.export_roundtrip_checks(ListIn(), inputs, methods=("script",), folder=tmp_path)
    assert checks["script"].stage == "passed", checks["script"]
    migrated = H.migrate(torch.jit.script(ListIn()), inputs[0])
    # the program keeps the example's list length: a list of another length is refused, not answered differently
    assert migrated.status == "restricted" and migrated.failure is None
    assert all("not structured like the example" in why for why in migrated.refused.values()), migrated.refused
    with pytest.raises(TypeError, match="one entry per forward argument"):
        H.export_roundtrip_checks(ListIn(), [(object(),)], methods=("script",), folder=tmp_path)


def test_a_list_input_is_one_argument_as_in_parity(tmp_path):
    # [x1, x2] is one list argument for parity, the benchmark and the diagnosis: the round trip and migrate read it so too
    pair = [torch.randn(3, 4), torch.randn(3, 4)]
    assert H.parity(ListIn(), ListIn(), inputs=[pair]).all_close
    checks = H.export_roundtrip_checks(ListIn(), [pair], methods=("script",), folder=tmp_path)
    assert checks["script"].stage == "passed", checks["script"]
    assert H.migrate(torch.jit.script(ListIn()), pair).failure is None
    with pytest.raises(TypeError, match="a list / dict of tensors"):  # numbers alone are no input
        H.export_roundtrip_checks(ListIn(), [[1.0, 2.0]], methods=("script",), folder=tmp_path)


def test_a_model_counting_its_calls_is_saved_as_it_was_passed(tmp_path):
    model = CountsCalls()
    checks = H.export_roundtrip_checks(model, [torch.randn(3), torch.randn(3)], methods=("script",), folder=tmp_path)
    assert checks["script"].stage == "passed", checks["script"]  # the file and eager both start from calls = 0
    assert model.calls == 0  # the learner's model was not run


def test_the_fresh_process_imports_what_imports_names_before_loading(tmp_path):
    pytest.importorskip("torchvision")
    checks = H.export_roundtrip_checks(UsesNms(), NMS_INPUTS, methods=("script", "export"), folder=tmp_path,
                                       imports=("torchvision",))
    assert all(checks[m].stage == "passed" for m in ("script", "export")), checks
    missing = H.export_roundtrip_checks(UsesNms(), NMS_INPUTS, methods=("script",), folder=tmp_path,
                                        imports=["no_such_module_here"])
    assert missing["script"].stage == "load" and "no_such_module_here" in missing["script"].error
    with pytest.raises(ValueError, match="module names"):
        H.export_roundtrip_checks(UsesNms(), NMS_INPUTS, methods=("script",), folder=tmp_path, imports=["os; rm"])


class PaddingBranch(torch.nn.Module):  # an int64 input whose branch no input of the check takes
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(100, 8)

    def forward(self, ids):
        h = self.emb(ids).mean(1)
        if (ids == 0).any():
            h = h * 0.5
        return h


def test_a_trace_the_tracer_warned_about_passes_only_with_a_caveat(tmp_path):
    torch.manual_seed(0)
    inputs = [torch.randint(1, 100, (3, 6)), torch.randint(1, 100, (3, 6))]
    checks = H.export_roundtrip_checks(PaddingBranch().eval(), inputs, methods=("trace", "script"), folder=tmp_path)
    trace, script = checks["trace"], checks["script"]
    assert trace.ok and trace.summary.startswith("⚠ trace") and "at `if (ids == 0).any():`" in trace.summary
    assert script.summary.startswith("✔ script") and not script.caveat


def test_a_trace_that_fails_its_sanity_check_says_what_differed(tmp_path):
    checks = H.export_roundtrip_checks(CountsCalls(), [torch.randn(3)], methods=("trace",), folder=tmp_path)
    assert checks["trace"].stage == "export" and "differed across invocations" in checks["trace"].error
    assert "computes differently on each call" in checks["trace"].hint


class _Total(torch.nn.Module):
    def forward(self, x):
        return x.sum()


def test_the_fresh_process_runs_with_the_callers_thread_count(tmp_path):
    # another thread count sums in another order: a detector's boxes moved by 1e-3, a false "disagrees"
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        check = H.export_roundtrip_checks(_Total(), [torch.rand(2 ** 22)], methods=("script",), folder=tmp_path,
                                          rtol=0, atol=0)[0]
        assert check.ok, check
    finally:
        torch.set_num_threads(before)



def test_a_namedtuple_output_comes_back_from_the_fresh_process(tmp_path):
    # the class TorchScript makes for it cannot be pickled: its fields come back as a tuple, and nothing is left over
    checks = H.export_roundtrip_checks(NamedTupleOut(), [torch.randn(2, 4)], methods=("script", "trace"),
                                       folder=tmp_path)
    assert all(check.ok for check in checks), checks
    assert not list(tmp_path.glob("*.tmp"))


class _LSTMOut(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(8, 16, batch_first=True)

    def forward(self, x):
        return self.lstm(x)[0]


class _ListOut(torch.nn.Module):
    def forward(self, x):
        return [x * 2, x + 1]


def test_tracer_warnings_from_torchs_own_checks_raise_no_caveat_and_a_list_output_gets_its_own(tmp_path):
    lstm = H.export_roundtrip_checks(_LSTMOut().eval(), [torch.randn(2, 5, 8)], methods=("trace",), folder=tmp_path)
    assert lstm[0].ok and not lstm[0].caveat  # the LSTM's input-size check warns inside torch's rnn.py
    listed = H.export_roundtrip_checks(_ListOut(), [torch.ones(2)], methods=("trace",), folder=tmp_path)
    assert listed[0].ok and "a list or dict output is right only while" in listed[0].caveat


class _Encoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        layer = torch.nn.TransformerEncoderLayer(16, 2, 32, batch_first=True)
        self.encoder = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)

    def forward(self, x, mask):
        return self.encoder(x, src_key_padding_mask=mask)


def test_a_transformer_whose_trace_fails_its_check_gets_the_grad_mode_cause(tmp_path):
    mask = torch.zeros(2, 5, dtype=torch.bool)
    mask[0, 3:] = True
    check = H.export_roundtrip_checks(_Encoder().eval(), [(torch.randn(2, 5, 16), mask)], methods=("trace",),
                                      folder=tmp_path)[0]
    assert check.stage == "export" and "Tracing failed sanity checks" in check.error
    assert "fast path" in check.hint and "torch.no_grad()" in check.hint and "counter" not in check.hint
    # what the hint says of the diagnosis: its trace (check_trace=False) goes through and agrees on the same input
    report = H.diagnose(_Encoder().eval(), (torch.randn(2, 5, 16), mask), routes=["trace"], progress=False)
    assert report.status("trace") == "ok", str(report)


def test_an_exported_namedtuple_output_that_cannot_be_saved_gets_a_public_fix(tmp_path):
    check = H.export_roundtrip_checks(NamedTupleOut(), [torch.randn(2, 4)], methods=("export",), folder=tmp_path)[0]
    assert check.stage == "save" and "return a tuple or a dict from forward" in check.hint
    assert "_register_namedtuple" not in check.hint


def test_a_round_trip_on_outputs_within_atol_of_zero_says_so():
    class Branchy(torch.nn.Module):  # the trace keeps input 0's branch: wrong on input 1, by less than atol
        def forward(self, x):
            if x.mean() > 0:
                return x * 1e-9
            return x * 2e-9

    report = H.export_roundtrip_check(Branchy(), [torch.ones(3), -torch.ones(3)], method="trace")
    assert report.stage == "passed" and "within atol=1e-06 of zero" in report.caveat, report


def test_a_list_of_another_length_gets_cause_lines_that_say_something():
    from typing import List

    class ListIn(torch.nn.Module):
        def forward(self, xs: List[torch.Tensor]):
            return torch.stack(xs).sum(0) * len(xs)

    table = H.export_roundtrip_checks(ListIn(), [[torch.ones(2)] * 3, [torch.ones(2)] * 2], methods=("trace", "export"))
    text = str(table)
    assert "Expected 3 elements in a list but found 2" in text and "nests differently" in text
    assert "The following operation failed" not in text


class ShiftByTensor(torch.nn.Module):
    """A number taken out of a tensor with int(): not an `if`, so the hint must name int()/item()."""
    def forward(self, x, k):
        return x.roll(int(k), 1)


def test_a_number_taken_out_of_a_tensor_gets_its_own_hint(tmp_path):
    checks = H.export_roundtrip_checks(ShiftByTensor(), [(torch.randn(2, 5), torch.tensor(2))], methods=("export",),
                                       folder=tmp_path)
    assert not checks["export"].ok and "int(t)" in checks["export"].hint and "`if`" not in checks["export"].hint


class FindsNothing(torch.nn.Module):
    """A detector with nothing to report: every output is empty, so agreeing compares no numbers."""
    def forward(self, x):
        return x[x > 1e9].reshape(-1, 4)


def test_a_round_trip_on_empty_outputs_gets_no_plain_tick(tmp_path):
    checks = H.export_roundtrip_checks(FindsNothing(), [torch.randn(2, 4)], methods=("script",), folder=tmp_path)
    assert checks["script"].ok and "nothing was compared" in checks["script"].caveat
    assert checks["script"].summary.startswith("⚠")


def test_state_a_trace_loses_is_said_even_when_the_answers_match(tmp_path):
    checks = H.export_roundtrip_checks(CountsOnly(), [torch.randn(2, 3), torch.randn(2, 3)],
                                       methods=("script", "trace"), folder=tmp_path)
    assert checks["trace"].ok and "that state is lost" in checks["trace"].caveat
    assert checks["trace"].summary.startswith("⚠")
    assert "state is lost" not in checks["script"].caveat  # the scripted copy keeps its attribute


def test_inputs_that_ran_and_disagree_are_named_beside_a_later_refusal(tmp_path):
    inputs = [torch.randn(2, 3), torch.randn(2, 3), torch.randn(5, 3)]
    checks = H.export_roundtrip_checks(CountsCalls(), inputs, methods=("export",), folder=tmp_path)
    export = checks["export"]
    assert export.stage == "run" and export.failed_inputs == [2], export
    assert "input 1, which ran, already disagrees" in export.hint and "self.calls" in export.hint, export.hint


def test_a_number_argument_to_trace_and_a_model_in_training_mode_get_their_own_hints(tmp_path):
    class IntArg(torch.nn.Module):
        def forward(self, x, n: int):
            return x * n

    traced = H.export_roundtrip_checks(IntArg(), [(torch.randn(2), 3)], methods=("trace",), folder=tmp_path)
    assert "pass the number as a tensor" in traced["trace"].hint, traced["trace"].hint

    class Drop(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.d = torch.nn.Dropout(0.5)

        def forward(self, x):
            return self.d(x)

    exported = H.export_roundtrip_checks(Drop(), [torch.randn(2, 3), torch.randn(4, 3)], methods=("export",),
                                         folder=tmp_path)
    assert exported["export"].hint.startswith("the model has layers in training mode"), exported["export"].hint


def test_the_trace_checks_own_many_line_warning_is_shown_in_one_line():
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Dropout(0.5)).train()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        H.export_roundtrip_checks(model, [torch.randn(6, 3)], methods=("trace",))
    shown = [str(w.message) for w in caught if issubclass(w.category, torch.jit.TracerWarning)]
    assert shown and all("\n" not in message for message in shown), shown


class _KeepConfident(torch.nn.Module):
    """How many boxes pass depends on the data; torchvision's batched_nms then decides on that count."""

    def forward(self, boxes, scores):
        keep = scores > 0.5
        return torchvision.ops.batched_nms(boxes[keep], scores[keep], torch.zeros_like(scores[keep], dtype=torch.long), 0.5)


def test_a_decision_inside_a_library_is_not_blamed_on_the_learners_code(tmp_path):
    boxes = torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]])
    checks = H.export_roundtrip_checks(_KeepConfident(), [(boxes, torch.tensor([0.9, 0.8, 0.3]))], methods=("export",),
                                       folder=tmp_path)
    hint = checks["export"].hint
    assert "inside torchvision (torchvision/ops/boxes.py:" in hint and "reached from your line (" in hint
    assert "torch.cond" not in hint, hint


def test_state_in_buffers_is_not_called_lost_and_a_trace_that_moved_them_is_named(tmp_path):
    x = torch.linspace(-1, 1, 12).reshape(3, 4)
    table = H.export_roundtrip_checks(RunningTotal(), [(x,), (x,)], methods=("trace", "export"), folder=tmp_path)
    export, trace = table["export"], table["trace"]
    assert export.stage == "passed" and "lost" not in export.caveat and "Python attributes" not in export.caveat
    assert trace.stage != "passed" and "tracing ran forward" in trace.hint and "buffer total" in trace.hint


def test_a_plain_attribute_export_bakes_in_is_named(tmp_path):
    x = torch.ones(2, 4)
    table = H.export_roundtrip_checks(CountsCalls(), [(x,), (x,)], methods=("export",), folder=tmp_path)
    assert table["export"].stage == "compare" and "self.calls: 0 → 2" in table["export"].hint
    assert "baked in" in table["export"].hint


def test_a_first_input_of_batch_one_is_named_whatever_the_dynamic_shapes(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU()).eval()
    inputs = [torch.ones(1, 4), torch.ones(2, 4)]
    Dim = torch.export.Dim
    for shapes in (None, ({0: Dim.AUTO},), ({0: Dim("batch")},)):
        report = H.export_roundtrip_checks(model, inputs, methods=("export",), folder=tmp_path,
                                           dynamic_shapes=shapes)["export"]
        assert report.stage != "passed" and "put an input with 2 or more there first" in report.hint, (shapes, report)
    turned = H.export_roundtrip_checks(model, inputs[::-1], methods=("export",), folder=tmp_path,
                                       dynamic_shapes=({0: Dim("batch")},))["export"]
    assert turned.stage == "passed"


def test_a_trace_that_moved_a_buffer_the_output_ignores_gets_a_caveat(tmp_path):
    from models_with_state import CountsInBuffer
    x = torch.ones(2, 4)
    report = H.export_roundtrip_checks(CountsInBuffer(), [(x,), (x,)], methods=("trace",), folder=tmp_path)["trace"]
    assert report.stage == "passed" and "tracing ran forward, which moved the buffer calls" in report.caveat


class DictOut(torch.nn.Module):
    def forward(self, x):
        return {"double": x * 2}


def test_a_conversion_that_fails_is_named_by_its_method(tmp_path):
    # a trace that fails (two traces differ) said "export failed" before
    checks = H.export_roundtrip_checks(CountsCalls(), [torch.randn(3)], methods=("trace",), folder=tmp_path)
    assert checks["trace"].stage == "export" and checks["trace"].summary.startswith("✘ trace: tracing failed: "), \
        checks["trace"].summary


def test_a_dict_output_is_traced_with_strict_false_as_torch_advises(tmp_path):
    # torch's advice for a dict output (strict=False) cannot be passed to the check: it takes it, and says so
    checks = H.export_roundtrip_checks(DictOut(), BOTH_SIGNS, methods=("trace",), folder=tmp_path)
    assert checks["trace"].ok and checks["trace"].summary.startswith("⚠ trace"), checks["trace"]
    assert "traced with strict=False" in checks["trace"].caveat and "keys never change" in checks["trace"].caveat


class ScaledByDefault(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)

    def forward(self, x, scale: float = 2.0):
        return self.lin(x) * scale


def test_an_input_with_more_arguments_than_the_exported_one_is_told_so(tmp_path):
    report = H.export_roundtrip_check(ScaledByDefault().eval(), [(torch.randn(2, 4),), (torch.randn(2, 4), 3.0)],
                                      method="export", folder=tmp_path)
    assert not report.ok and report.failed_inputs == [1], str(report)
    assert "input 1 passes 2 arguments and input 0, which the program was exported from, 1" in report.hint, report.hint


def test_an_operator_of_an_unknown_namespace_is_not_promised_an_import_of_that_name():
    hint = export_check.library_hint("RuntimeError: Unknown builtin op: revlib::twice.")
    assert "registers revlib::" in hint and "must run `import revlib` first" not in hint
    known = export_check.library_hint("Unknown builtin op: torchvision::nms.")
    assert "must run `import torchvision` first" in known


class CondForTrace(torch.nn.Module):
    def forward(self, x):
        return torch.cond(x.sum() > 0, lambda x: x * 2, lambda x: -x, (x,))


def test_tracing_a_torch_cond_model_names_the_cond(tmp_path):
    row = H.export_roundtrip_check(CondForTrace(), [torch.ones(3)], method="trace", folder=tmp_path)
    assert row.stage == "export" and "the tracer cannot take a torch.cond" in row.hint, row.hint



def test_a_copy_of_the_training_mode_path_passes_with_a_caveat_not_a_plain_check(tmp_path):
    checks = H.export_roundtrip_checks(TrainingFlag(), [torch.randn(2, 4)], methods=("trace",), folder=tmp_path)
    assert checks["trace"].ok and checks["trace"].summary.startswith("⚠")
    assert "whose forward reads self.training" in checks["trace"].caveat and "model.eval()" in checks["trace"].caveat


def test_outputs_that_are_all_nan_pass_with_a_caveat(tmp_path):
    model = torch.nn.Linear(3, 2).eval()
    checks = H.export_roundtrip_checks(model, [torch.full((2, 3), float("nan"))], methods=("script",), folder=tmp_path)
    assert checks["script"].ok and checks["script"].summary.startswith("⚠") and "NaN only" in checks["script"].caveat


def test_a_trace_given_lists_of_other_lengths_is_told_that_it_keeps_the_first_length(tmp_path):
    x = torch.randn(3, 4)
    checks = H.export_roundtrip_checks(ListIn(), [([x, x],), ([x, x, x],)], methods=("trace",), folder=tmp_path)
    trace = checks["trace"]
    assert trace.stage == "run" and trace.failed_inputs == [1]
    assert "whose list holds 2 tensors, and a trace keeps that length (this input's holds 3)" in trace.hint




def test_randomness_in_forward_itself_is_named_not_blamed_on_the_copy(tmp_path):
    checks = H.export_roundtrip_checks(DropsAlways().eval(), [torch.randn(3, 4), torch.randn(2, 4)],
                                       methods=("script", "trace"), folder=tmp_path)
    for method in ("script", "trace"):
        assert checks[method].stage == "compare", checks[method]
        assert "eager itself gives two different answers" in checks[method].hint
        assert "recorded only what input 0 ran" not in checks[method].hint


class _BranchOnRows(torch.nn.Module):
    def forward(self, x):
        return x * 2 if x.shape[0] > 2 else x - 1


def test_a_guard_that_dynamic_shapes_cannot_lift_is_not_told_to_pass_dynamic_shapes(tmp_path):
    rows = torch.export.Dim.AUTO
    checks = H.export_roundtrip_checks(_BranchOnRows(), [torch.randn(3, 4), torch.randn(5, 4), torch.randn(1, 4)],
                                       methods="export", dynamic_shapes={"x": {0: rows}}, folder=tmp_path)
    report = checks["export"]
    assert report.stage == "run" and "Guard failed" in report.error, report
    assert "exported with dynamic_shapes and still guards" in report.hint and "torch.cond" in report.hint
    assert "pass dynamic_shapes" not in report.hint


class _TopTwo(torch.nn.Module):
    def forward(self, x):
        return torch.topk(x, 2)


def test_a_copy_that_differs_only_where_scores_tie_is_told_so(tmp_path, monkeypatch):
    # stand-in for the fresh process: the copy returns the indices of equal values from the other end of the row
    def reversed_ties(jobs, inputs, folder, timeout, imports=()):
        def other(x):
            values, indices = torch.topk(x.flip(-1), 2)
            return values, x.shape[-1] - 1 - indices
        return {m: {"stage": "ran", "outputs": [other(*a) for a in inputs], "errors": [""] * len(inputs)} for m in jobs}

    monkeypatch.setattr(export_check, "_run_fresh", reversed_ties)
    report = H.export_roundtrip_check(_TopTwo(), [torch.zeros(2, 5)], method="script", folder=tmp_path)
    assert report.stage == "compare" and "ties with another value in its row" in report.hint, report.hint
    assert "says nothing against the copy" in report.hint


class KeywordDefault(torch.nn.Module):  # `scale` left at its default by every input: a trace or an export fixes it
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)

    def forward(self, x, scale: float = 2.0):
        return self.lin(x) * scale


def test_a_default_no_input_passed_is_named_for_trace_and_export_not_script(tmp_path):
    inputs = [torch.randn(3, 4), torch.randn(3, 4)]
    table = H.export_roundtrip_checks(KeywordDefault().eval(), inputs, folder=tmp_path)
    assert all(report.ok for report in table)
    for method in ("trace", "export"):
        assert f"`scale=2.0` at its default, and the {method} fixed it into its graph" in table[method].caveat
    assert "scale" not in table["script"].caveat


def test_a_static_export_checked_on_one_size_only_passes_with_a_caveat(tmp_path):
    images, _ = H.load_digits("test")
    report = H.export_roundtrip_check(H.load_digits_cnn(), [images[:4], images[4:8]], method="export", folder=tmp_path)
    assert report.stage == "passed" and "exported without dynamic_shapes" in report.caveat
    assert str(report).startswith("⚠ export")
    batch = {"x": {0: torch.export.Dim("batch", min=1, max=64)}}
    freed = H.export_roundtrip_check(H.load_digits_cnn(), [images[:4], images[4:8]], method="export",
                                     dynamic_shapes=batch, folder=tmp_path / "freed")
    assert freed.stage == "passed" and "dynamic_shapes" not in freed.caveat


class _TwoInputs(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3, 3)

    def forward(self, a, b):
        return self.linear(a) * b


def test_a_dim_torch_would_pin_names_what_fixes_the_size_not_only_its_pin():
    # the second input shares the batch but was given no Dim: torch's fix (b = 2) would pin the size
    b = torch.export.Dim("b")
    report = H.export_roundtrip_check(_TwoInputs(), [(torch.randn(2, 3), torch.randn(2, 3)),
                                                      (torch.randn(5, 3), torch.randn(5, 3))],
                                      dynamic_shapes=({0: b}, None), method="export")
    assert report.stage == "export" and "which pins it instead of freeing it" in report.hint
    assert "an input of the same size given no Dim" in report.hint


class _Scaled(torch.nn.Module):
    def forward(self, idx, scale: float = 1.0):
        return idx * scale


def test_a_number_fixed_at_export_is_named_not_taken_for_a_size():
    idx = torch.arange(4)
    report = H.export_roundtrip_check(_Scaled(), [(idx, 2.0), (idx, 3.0)], method="export")
    assert "Guard failed: scale == 2.0" in str(report)
    assert report.hint.startswith("the program fixed the number `scale` at input 0's value, 2.0")
    assert "dims that vary" not in report.hint


class _NoneDefaultMask(torch.nn.Module):  # scripts; its save fails on the undefined Tensor None became
    def forward(self, x, scale: float = 2.0, mask=None):
        if mask is not None:
            x = x * mask
        return x * scale


def test_a_copy_that_scripts_but_cannot_be_saved_is_not_called_a_scripting_failure():
    report = H.export_roundtrip_check(_NoneDefaultMask(), [torch.randn(2, 3)], method="script")
    assert not report.ok and report.stage == "save"
    assert "scripting worked, and saving the copy failed" in report.summary
    assert "Optional[torch.Tensor]" in report.hint and "cannot compile" not in report.hint


class _IgnoredHelper(torch.nn.Module):
    @torch.jit.ignore
    def helper(self, x):
        return x * 2

    def forward(self, x):
        return self.helper(x)


def test_an_ignored_method_that_stops_the_save_is_named_with_its_way_out():
    report = H.export_roundtrip_check(_IgnoredHelper(), [torch.randn(2, 3)], method="script")
    assert report.stage == "save" and "@torch.jit.unused" in report.hint


class _PaddedEncoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        layer = torch.nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
        self.encoder = torch.nn.TransformerEncoder(layer, 2)

    def forward(self, x, pad):
        return self.encoder(x, src_key_padding_mask=pad)


def test_an_exported_padded_encoder_is_compared_with_eagers_ordinary_path_and_says_so():
    x, pad = torch.randn(3, 5, 16), torch.zeros(3, 5, dtype=torch.bool)
    pad[0, 3:] = pad[2, 1:] = True
    report = H.export_roundtrip_checks(_PaddedEncoder().eval(), [(x, pad)], methods=("export",))["export"]
    assert report.stage == "passed", report
    assert "nn.TransformerEncoder's fast path, which writes zeros where the mask pads" in report.caveat


class _OptionalBias(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 3)

    def forward(self, x, bias: typing.Optional[torch.Tensor] = None):
        y = self.lin(x)
        return y if bias is None else y + bias


def test_an_optional_argument_given_none_is_an_input_and_the_trace_hint_names_none():
    table = H.export_roundtrip_checks(_OptionalBias().eval(), [(torch.randn(2, 4), None)],
                                      methods=("script", "trace"))
    assert table["script"].stage == "passed", table
    assert table["trace"].stage == "export" and "None is not one" in table["trace"].hint, table
    assert "number" not in table["trace"].hint


def test_odd_input_names_a_none_inside_and_takes_one_as_a_whole_argument():
    from helpers.course.guards import model_args, odd_input
    x = torch.randn(2)
    assert model_args((x, None)) == (x, None) and model_args((None, None)) is None
    assert odd_input(([None], x)) == "a tuple holding None" and odd_input((None, None)) == "a tuple with no tensor in it"


class _IntKeys(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)

    def forward(self, feats):
        return self.lin(feats[0]) + feats[1]


def test_a_dict_with_int_keys_is_an_input_and_the_annotation_named_fits_it():
    t = torch.randn(2, 4)
    table = H.export_roundtrip_checks(_IntKeys().eval(), [{0: t, 1: t}], methods=("export", "script"))
    assert table["export"].stage == "passed", table
    assert table["script"].stage == "run" and "`Dict[int, torch.Tensor]` for int keys" in table["script"].hint, table


class _WeightNormed(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(8, 8))

    def forward(self, x):
        return self.lin(x)


def test_an_error_raised_from_python_code_torchscript_ran_keeps_its_cause():
    table = H.export_roundtrip_checks(_WeightNormed().eval(), [torch.randn(2, 8)], methods=("script",))
    assert table["script"].stage == "run", table
    assert table["script"].error == "RuntimeError: Parametrization is not working with scripting.", table


def test_a_pt2_that_does_not_load_gives_torchs_reason_not_the_warnings_above():
    from outside_models import ReturnsAString
    report = H.export_roundtrip_checks(ReturnsAString(), [torch.randn(3, 4)], methods=["export"])
    text = str(report)
    assert "Unable to deserialize output node Argument(as_string=ok)" in text
    assert "a .pt2 cannot hold a str output" in text and "warnings above" not in text


def test_diagnose_names_why_an_exported_copy_does_not_load():
    from outside_models import ReturnsAString
    report = H.diagnose(ReturnsAString(), torch.randn(3, 4), routes=["export"], progress=False)
    assert report.status("export") == "fails"
    assert "as_string=ok" in report.results["export"].reason and "warnings above" not in report.results["export"].reason


def test_a_zero_dimensional_input_gets_no_note_about_sizes_it_does_not_have():
    class Squares(torch.nn.Module):
        def forward(self, x):
            return x * x + 1

    report = H.export_roundtrip_checks(Squares(), [torch.tensor(2.0)], methods=["export"])
    assert "takes the example's sizes only" not in str(report) and str(report).startswith("✔")
    sized = H.export_roundtrip_checks(Squares(), [torch.ones(3)], methods=["export"])
    assert "takes the example's sizes only" in str(sized)


def test_load_program_keeps_torchs_logged_traceback_off_the_screen_and_restores_the_loggers(tmp_path, capfd):
    import io
    import logging
    from outside_models import ReturnsAString
    from helpers.routes.export_bridge import load_program
    buffer = io.BytesIO()
    torch.export.save(torch.export.export(ReturnsAString(), (torch.randn(3, 4),)), buffer)
    buffer.seek(0)
    handlers = {name: list(logging.getLogger(name).handlers) for name in ("torch.export", "torch._export")}
    with pytest.raises(RuntimeError, match="Unable to deserialize output node"):
        load_program(buffer)
    assert "SerializeError" not in capfd.readouterr().err  # torch.export.load alone prints its traceback here
    assert handlers == {name: list(logging.getLogger(name).handlers) for name in handlers}
