"""“Will it script?”: the logic driven without a browser, and what the widget shows."""
import signal

import pytest
import torch

import helpers as H
from helpers.tools import will_it_script
from helpers.tools.will_it_script import OWN_CODE, attempt_html


def x():
    return [(torch.linspace(-2.0, 2.0, 6).reshape(2, 3),)]


def test_starter_scripts_and_shows_code(tmp_path):
    attempt = H.attempt_script(H.STARTER_FORWARD, x(), folder=tmp_path)
    assert attempt.ok and attempt.verdict == "scripts"
    assert "List[Tensor]" in attempt.code and "matches eager" in attempt.note


def test_syntax_error_is_reported_as_python_not_torchscript(tmp_path):
    attempt = H.attempt_script("def forward(self, x)\n    return x\n", folder=tmp_path)
    assert attempt.verdict == "not valid Python" and not attempt.ok
    assert attempt.short_error.startswith("SyntaxError:") and "line 1" in attempt.short_error
    assert "TorchScript" not in attempt.short_error and "before TorchScript" in attempt.headline
    assert "^" in attempt.full_error  # the caret under the offending spot


def test_scripting_failure_gives_one_line_and_full_text(tmp_path):
    attempt = H.attempt_script(H.gallery_entry("try_except").broken, folder=tmp_path)
    assert attempt.verdict == "fails to script"
    assert attempt.short_error == "UnsupportedNodeError: try blocks aren't supported"
    assert "\n" not in attempt.short_error and "<--- HERE" in attempt.full_error


@pytest.mark.parametrize("source", [
    "def forward(self, x):\n    return self.double(x)\n\ndef double(self, t):\n    return t * 2\n",
    "import math\n\n# a comment\ndef forward(self, x):\n    return x * math.pi\n",
    "def forward(self, x):\n    return x * math.pi\n\nimport math  # module level, even below forward\n",
])
def test_bare_forward_with_helpers_becomes_a_model(tmp_path, source):
    attempt = H.attempt_script(source, x(), folder=tmp_path)
    assert attempt.ok and "matches eager" in attempt.note, attempt.full_error


@pytest.mark.parametrize("source", [
    "def double(t):\n    return t * 2\n\ndef forward(self, x):\n    return double(x)\n",
    "def forward(self, x):\n    return double(x)\n\ndef double(t):\n    return t * 2\n",
    "def forward(self, x):\n    return self.twice(x)\n\n@torch.jit.export\ndef twice(self, t):\n    return 2 * t",
])
def test_a_plain_function_beside_forward_stays_a_function(tmp_path, source):
    # `double(x)` is called by name: made a method of Model it was "undefined value double"
    attempt = H.attempt_script(source, x(), folder=tmp_path)
    assert attempt.ok and "matches eager" in attempt.note, attempt.full_error


def test_the_full_message_names_the_learners_own_lines(tmp_path):
    source = "import math\n\ndef helper(x):\n    return x.foo()\n\ndef forward(self, x):\n    return helper(x)\n"
    attempt = H.attempt_script(source, x(), folder=tmp_path)
    assert attempt.verdict == "fails to script", attempt
    assert "snippet_" not in attempt.full_error and str(tmp_path) not in attempt.full_error
    assert "your code, line 4" in attempt.full_error and "your code, line 7" in attempt.full_error


@pytest.mark.parametrize("source, verdict, words", [
    ("", "no model", "empty"),
    ("y = 1\n", "no model", "class Model"),
    ("class Model:\n    pass\n", "no model", "nn.Module"),
    ("import not_a_module_anywhere\n\nclass Model(nn.Module):\n    pass\n", "Python error", "ModuleNotFoundError"),
    ("def forward(self, x):\n    return x.numpy()\n", "fails to script", "numpy"),
    ("def forward(self, x, bias=None):\n    return x if bias is None else x + bias\n", "fails when run",
     "Expected a proper Tensor"),
    ("def forward(self, x):\n    return x * torch.rand(())\n", "scripts", ""),
])
def test_verdicts(tmp_path, source, verdict, words):
    attempt = H.attempt_script(source, x(), folder=tmp_path)
    assert attempt.verdict == verdict, attempt
    assert words in attempt.short_error


def test_code_that_cannot_be_printed_is_explained(tmp_path):
    attempt = H.attempt_script("def forward(self, x, bias=None):\n    return x\n", x(), folder=tmp_path)
    assert attempt.ok and attempt.code is None and "printing its `.code` fails" in attempt.note


def test_eager_failure_on_the_test_input_is_not_blamed_on_torchscript(tmp_path):
    attempt = H.attempt_script("def forward(self, x, y):\n    return x + y\n", x(), folder=tmp_path)
    assert attempt.ok and "eager model fails on it too" in attempt.note


def test_a_difference_from_eager_is_caught(tmp_path):
    # TorchScript prints floats its own way, so str(1.0) has another length than Python's "1.0".
    attempt = H.attempt_script("def forward(self, x):\n    return x + len(str(1.0))\n", x(), folder=tmp_path)
    assert attempt.verdict == "differs from eager" and not attempt.ok
    assert attempt.short_error.startswith("test input 0: values differ")


def test_mixed_list_shows_its_warning_and_union_type(tmp_path):
    attempt = H.attempt_script(H.gallery_entry("mixed_list").broken, x(), folder=tmp_path)
    assert attempt.ok and "heterogeneous types" in attempt.warning
    assert "List[Union[Tensor, int]]" in attempt.code


@pytest.mark.parametrize("source", ["while True:\n    pass\n\nclass Model(nn.Module):\n    pass\n",
                                    "def forward(self, x):\n    while True:\n        x = x + 1\n    return x\n"])
def test_endless_code_is_stopped(tmp_path, source):
    handler = signal.getsignal(signal.SIGALRM)
    attempt = H.attempt_script(source, x(), time_limit=0.3, folder=tmp_path)
    # "timed out" comes only from the alarm: the loop was interrupted rather than left to run
    assert attempt.verdict == "timed out" and "loop forever" in attempt.short_error
    assert "Stopped after 0.3 s" in attempt.short_error
    # and the alarm is put back as it was, so it cannot fire later in the learner's kernel
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0) and signal.getsignal(signal.SIGALRM) == handler


def test_every_preset_gives_the_gallery_verdict(tmp_path):
    logic = H.WillItScript(folder=tmp_path)
    for entry in H.GALLERY:
        broken = logic.choose(f"✘ {entry.title} (broken)")
        expected = {"script": "fails to script", "run": "fails when run", "warn": "scripts",
                    "differs": "differs from eager"}[entry.stage]
        assert broken.verdict == expected, (entry.key, broken)
        fixed = logic.choose(f"✔ {entry.title} (fixed)")
        assert fixed.ok and "matches eager" in fixed.note, (entry.key, fixed)


def test_one_update_does_the_work_once(tmp_path, monkeypatch):
    # An update is one import of the code and one scripting, whatever the machine's load: count them.
    calls = {"snippet_model": 0, "_script": 0}
    for name in calls:
        real = getattr(will_it_script, name)

        def counted(*args, _real=real, _name=name, **kwargs):
            calls[_name] += 1
            return _real(*args, **kwargs)
        monkeypatch.setattr(will_it_script, name, counted)
    logic = H.WillItScript(folder=tmp_path)
    calls.update(snippet_model=0, _script=0)
    assert logic.update().ok
    assert calls == {"snippet_model": 1, "_script": 1}


def test_widget_follows_presets_and_edits(tmp_path):
    widget = H.WillItScriptWidget(H.WillItScript(folder=tmp_path))
    assert "✔ scripts" in widget.result.value
    widget.preset.value = "✘ lambda (broken)"
    assert "lambda" in widget.editor.value and "Lambda aren" in widget.result.value
    widget.editor.value = "def forward(self, x)\n    return x\n"
    widget._on_button()
    assert "not valid Python" in widget.result.value
    widget.preset.value = OWN_CODE  # choosing "your own code" keeps the text
    assert widget.editor.value.startswith("def forward(self, x)")


def test_results_are_escaped_and_inputs_checked(tmp_path):
    attempt = H.attempt_script("def forward(self, x):\n    return x.numpy()  # <blink>\n", folder=tmp_path)
    page = attempt_html(attempt)
    assert "&lt;blink&gt;" in page and "<blink>" not in page
    with pytest.raises(TypeError, match="as a str"):
        H.attempt_script(None)
    with pytest.raises(KeyError, match="no preset"):
        H.WillItScript(folder=tmp_path).choose("nope")


def test_works_from_another_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("TS_WORKBOOK_WORK", str(tmp_path / "work"))
    monkeypatch.chdir(tmp_path)
    assert H.attempt_script(H.STARTER_FORWARD).ok


# ---------------------------------------------------------------- models the course did not write

STATEFUL = '''
class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("calls", torch.zeros(1))

    def forward(self, x):
        self.calls += 1
        return x * self.calls
'''

MOBILENET = '''
import torchvision

class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torchvision.models.mobilenet_v3_small(weights=None).eval()

    def forward(self, x):
        return self.net(x)
'''


def test_a_stateful_model_is_compared_fairly(tmp_path):
    inputs = [(torch.ones(2),), (torch.ones(2),), (torch.ones(2),)]
    attempt = H.attempt_script(STATEFUL, inputs, folder=tmp_path)
    assert attempt.ok and "matches eager PyTorch on 3 test inputs" in attempt.note, attempt


def test_a_big_model_is_not_taken_for_an_endless_loop(tmp_path):
    pytest.importorskip("torchvision")
    attempt = H.attempt_script(MOBILENET, [(torch.rand(1, 3, 64, 64),)], time_limit=5, folder=tmp_path)
    assert attempt.verdict == "scripts", attempt
    assert "loop forever" not in attempt.short_error


def test_the_call_limit_grows_with_the_model():
    from helpers.tools.will_it_script import PARAMETERS_PER_LIMIT, _scaled
    small, big = torch.nn.Linear(2, 2), torch.nn.Linear(1000, 3 * PARAMETERS_PER_LIMIT // 1000)
    assert _scaled(5.0, small) == 5.0 and _scaled(5.0, big) > 3 * 5.0 * 0.99
    assert _scaled(None, big) is None


@pytest.mark.parametrize("limit, error, fragment", [
    (0, ValueError, "positive number of seconds"),
    (-1, ValueError, "positive number of seconds"),
    ("5", TypeError, "takes a number of seconds"),
    (True, TypeError, "takes a number of seconds"),
    (float("nan"), ValueError, "positive number of seconds"),
])
def test_bad_time_limits_get_one_line(limit, error, fragment):
    for call in (lambda: H.attempt_script(H.STARTER_FORWARD, time_limit=limit),
                 lambda: H.WillItScript(time_limit=limit),
                 lambda: H.will_it_script(time_limit=limit)):
        with pytest.raises(error, match=fragment) as info:
            call()
        assert "\n" not in str(info.value)


def test_no_time_limit_still_scripts(tmp_path):
    assert H.attempt_script(H.STARTER_FORWARD, time_limit=None, folder=tmp_path).ok


def test_a_tensor_input_is_one_argument_not_its_rows():
    from helpers.tools.will_it_script import attempt_script
    x = torch.randn(2, 3)
    for inputs in ([x], x, [(x,)]):
        attempt = attempt_script("def forward(self, x): return x.sum(0)", inputs)
        assert attempt.verdict == "scripts" and attempt.note.startswith("Runs and matches eager"), attempt.note
    with pytest.raises(TypeError, match="takes a list of inputs"):
        attempt_script("def forward(self, x): return x", inputs=3)


def test_a_list_input_is_one_argument_as_in_parity():
    source = ("def forward(self, xs: List[torch.Tensor]):\n"
              "    return xs[0] * 2 + xs[1]\n")
    attempt = H.attempt_script(source, inputs=[[torch.randn(3), torch.randn(3)]])
    assert attempt.ok and "matches eager" in attempt.note, (attempt, attempt.note)


def test_a_scripted_torchvision_detector_counts_as_matching_on_its_detections():
    source = '''
from typing import List
import torchvision
class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.det = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(
            weights=None, weights_backbone=None, box_score_thresh=0.0).eval()
    def forward(self, images: List[torch.Tensor]):
        return self.det(images)
'''
    torch.manual_seed(0)
    attempt = H.WillItScript(source, inputs=[([torch.rand(3, 160, 160)],)]).update()
    assert attempt.headline.startswith("✔"), (attempt.headline, attempt.short_error)


def test_an_unannotated_argument_used_as_a_list_gets_a_note_a_plain_x_does_not():
    looped = H.WillItScript("def forward(self, xs):\n    out = xs[0]\n    for t in xs[1:]:\n        out = out + t\n"
                            "    return out\n").update()
    assert "TorchScript took `xs` for a Tensor" in looped.note and "List[torch.Tensor]" in looped.note
    plain = H.WillItScript("def forward(self, x):\n    return x * 2\n").update()
    assert "no annotation" not in plain.note


def test_an_unannotated_list_or_int_argument_gets_the_annotation_to_add():
    listed = H.attempt_script("def forward(self, xs):\n    return xs[0] + xs[1]",
                              inputs=[([torch.randn(2), torch.randn(2)],)])
    assert listed.verdict == "fails when run" and "`xs: List[torch.Tensor]`" in listed.note, listed.note
    counted = H.attempt_script("def forward(self, x, n):\n    return x * n", inputs=[(torch.randn(2), 3)])
    assert counted.verdict == "fails when run" and "`n: int`" in counted.note, counted.note


@pytest.mark.parametrize("layer, name", [("nn.Dropout(0.5)", "Dropout 'layer'"), ("nn.BatchNorm1d(4)", "BatchNorm1d 'layer'")])
def test_a_model_in_training_mode_is_told_to_script_it_after_eval(layer, name):
    source = (f"class Model(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              f"        self.layer = {layer}\n\n    def forward(self, x):\n        return self.layer(x)\n")
    attempt = H.attempt_script(source, inputs=[torch.randn(3, 4)])
    assert attempt.verdict == "scripts" and f"training mode here ({name} active)" in attempt.note
    assert ("seeded alike" in attempt.note) == ("Dropout" in layer) and "Model().eval()" in attempt.note
    evaluated = source.replace(f"self.layer = {layer}\n", f"self.layer = {layer}\n        self.eval()\n")
    quiet = H.attempt_script(evaluated, inputs=[torch.randn(3, 4)])
    assert quiet.verdict == "scripts" and "training mode" not in quiet.note


def test_the_training_note_names_only_what_the_model_has_and_shows_when_eager_fails():
    norm_only = ("class Model(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                 "        self.norm = nn.BatchNorm1d(8)\n\n    def forward(self, x):\n        return self.norm(x)\n")
    attempt = H.attempt_script(norm_only, inputs=[torch.randn(1, 8)])  # one value per channel: eager refuses
    assert "the eager model fails on it too" in attempt.note and "training mode here (BatchNorm1d 'norm'" in attempt.note
    assert "dropout" not in attempt.note and "seeded" not in attempt.note
    idle = norm_only.replace("nn.BatchNorm1d(8)", "nn.Dropout(p=0.0)")
    assert "training mode" not in H.attempt_script(idle, inputs=[torch.randn(2, 8)]).note


FUNCTIONAL = ("import torch.nn.functional as F\nclass Model(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.lin = nn.Linear(4, 4)\n{extra}\n    def forward(self, x):\n        return {call}\n")


@pytest.mark.parametrize("call, left_at_default", [
    ("F.dropout(self.lin(x), 0.5)", True),
    ("torch.nn.functional.dropout2d(self.lin(x).unsqueeze(0))", True),
    ("torch.dropout(self.lin(x), 0.5, True)", False),
    ("F.dropout(self.lin(x), p=0.5, training=True)", False),
])
def test_a_functional_dropout_that_drops_in_eval_mode_too_is_named(call, left_at_default):
    source = FUNCTIONAL.format(extra="        self.eval()", call=call)
    attempt = H.attempt_script(source, inputs=[torch.randn(3, 4)])
    written = call.split("(")[0]
    assert attempt.verdict == "scripts" and f"`{written}` in forward drops values in eval mode too" in attempt.note
    assert ("left at its default, True" in attempt.note) == left_at_default and "`self.training`" in attempt.note
    assert "training mode here" not in attempt.note  # the model is in eval mode: no layer is named
    namespace = {}  # the note is true: the eval-mode model gives two answers to one input
    exec("import torch\nfrom torch import nn\n" + source, namespace)
    model, x = namespace["Model"](), torch.ones(3, 4)
    assert not model.training and not torch.equal(model(x), model(x))


def test_a_functional_dropout_given_self_training_is_named_only_in_training_mode():
    call = "F.dropout(self.lin(x), 0.5, training=self.training)"
    trained = H.attempt_script(FUNCTIONAL.format(extra="", call=call), inputs=[torch.randn(3, 4)])
    assert "training mode here (F.dropout given self.training active)" in trained.note, trained.note
    assert "seeded alike" in trained.note and "dropout then passes its input through" in trained.note
    assert "drops values in eval mode too" not in trained.note
    positional = FUNCTIONAL.format(extra="        self.eval()", call=call.replace("training=self.training", "self.training"))
    quiet = H.attempt_script(positional, inputs=[torch.randn(3, 4)])
    assert quiet.verdict == "scripts" and "dropout" not in quiet.note.lower(), quiet.note
    layer = H.attempt_script(FUNCTIONAL.format(extra="        self.drop = nn.Dropout(0.5)\n        self.eval()",
                                               call="self.drop(self.lin(x))"), inputs=[torch.randn(3, 4)])
    assert "dropout" not in layer.note.lower(), layer.note  # a layer turned off by eval(): nothing to say


@pytest.mark.parametrize("make", [lambda cls: cls, lambda cls: cls()])
def test_a_class_or_a_model_instead_of_its_source_gets_the_call_that_gives_the_source(make):
    class Counter(torch.nn.Module):
        def forward(self, x):
            return x + 1

    for call, name in ((H.will_it_script, "will_it_script"), (H.attempt_script, "attempt_script")):
        with pytest.raises(TypeError, match=rf"^{name} takes the model's source code as text, .*inspect\.getsource\(Counter\)"):
            call(make(Counter))


def test_matching_outputs_that_hold_nothing_are_not_called_a_match():
    # scripted, the model returns five times eager's numbers; they are so small that allclose cannot tell
    fooled = ("class Model(nn.Module):\n    def forward(self, x):\n        y = x * 1e-9\n"
              "        if torch.jit.is_scripting():\n            return y * 5\n        return y\n")
    result = H.attempt_script(fooled, inputs=[torch.randn(2, 3)])
    assert "matches" not in result.note and "within 1e-6 of zero" in result.note and "proves little" in result.note
    empty = H.attempt_script("class Model(nn.Module):\n    def forward(self, x):\n        return x[:0]\n",
                             inputs=[torch.randn(2, 3)])
    assert "empty (no values at all)" in empty.note and "matches" not in empty.note
    plain = H.attempt_script("class Model(nn.Module):\n    def forward(self, x):\n        return x * 2\n",
                             inputs=[torch.randn(2, 3)])
    assert "Runs and matches eager PyTorch on 1 test input." in plain.note


def test_the_source_of_one_class_not_named_model_is_scripted():
    source = "class MyNet(nn.Module):\n    def forward(self, x):\n        return x * 2\n"
    attempt = H.attempt_script(source, [torch.ones(2)])
    assert attempt.verdict == "scripts", attempt
    two = H.attempt_script(source + "\n\nclass Other(nn.Module):\n    def forward(self, x):\n        return x\n")
    assert two.verdict == "no model" and "your code defines MyNet, Other: name the one to script `Model`" in two.short_error


def test_a_file_name_given_as_source_is_named():
    with pytest.raises(TypeError, match="looks like a file name"):
        H.attempt_script("/nope/model.pt")


def test_an_embedding_model_with_trainable_outputs_warns_nothing(recwarn):
    source = ("class Model(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.emb = nn.Embedding(10, 3)\n\n    def forward(self, ids):\n        return self.emb(ids)\n")
    attempt = H.attempt_script(source, [torch.arange(4)])
    assert attempt.verdict == "scripts", attempt
    assert not [w for w in recwarn if "requires_grad" in str(w.message)]


def test_the_most_derived_model_class_is_the_one_scripted():
    source = ("class Base(nn.Module):\n    def forward(self, x):\n        return x\n\n"
              "class Net(Base):\n    def forward(self, x):\n        if x.sum() > 0:\n            return [x]\n"
              "        return x * 2\n")
    assert H.attempt_script(source, [torch.ones(2)]).verdict == "fails to script"  # Net's forward, not Base's
    sequential = "class Net(nn.Sequential):\n    def __init__(self):\n        super().__init__(nn.Linear(2, 2))\n"
    assert H.attempt_script(sequential, [torch.ones(2)]).verdict != "no model"


_LSTM_STATE_UNANNOTATED = """
class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(4, 5, batch_first=True)

    def forward(self, x, state):
        out, (h, c) = self.lstm(x, state)
        return out
"""


def test_an_unannotated_tuple_state_names_the_annotation_not_the_list_of_overloads():
    attempt = H.attempt_script(_LSTM_STATE_UNANNOTATED)
    assert not attempt.ok
    assert "Optional[Tuple[Tensor, Tensor]]" in attempt.short_error and "variants" not in attempt.short_error
    assert "annotate that argument as `Optional[Tuple[Tensor, Tensor]]`" in attempt.note
    fixed = _LSTM_STATE_UNANNOTATED.replace("def forward(self, x, state):",
                                            "def forward(self, x, state: Tuple[torch.Tensor, torch.Tensor]):")
    assert H.attempt_script("from typing import Tuple\n" + fixed).ok  # the annotation named is enough


def test_printed_text_that_differs_is_named_beside_a_matching_verdict(tmp_path):
    # eager prints torch.Size([2, 3]) and 0.1, the scripted copy [2, 3] and 0.10000000000000001: same returned values
    attempt = H.attempt_script('def forward(self, x):\n    print(f"{x.shape}", 0.1)\n    return x * 2\n', x(),
                               folder=tmp_path)
    assert attempt.verdict == "scripts" and "matches eager" in attempt.note
    assert "what forward printed differs: eager printed 'torch.Size([2, 3]) 0.1', the scripted copy '[2, 3] " \
           "0.10000000000000001'" in attempt.note, attempt.note


def test_printed_text_that_agrees_adds_no_note(tmp_path):
    attempt = H.attempt_script('def forward(self, x):\n    print("calling")\n    return x * 2\n', x(), folder=tmp_path)
    assert attempt.verdict == "scripts" and "printed" not in attempt.note


def test_a_numpy_test_input_is_refused_before_it_is_blamed_on_annotations(tmp_path):
    import numpy as np
    with pytest.raises(TypeError, match=r"takes tensors, not NumPy arrays: convert each with torch\.from_numpy"):
        H.attempt_script(H.STARTER_FORWARD, [np.ones((2, 3), np.float32)], folder=tmp_path)
    with pytest.raises(TypeError, match="NumPy"):
        H.attempt_script(H.STARTER_FORWARD, [(torch.ones(2, 3), np.ones(3))], folder=tmp_path)


def test_an_operations_own_argument_gets_no_advice_to_annotate_forward():
    # aten::sum's `self` given a list: not one of forward's arguments, so no annotation of forward fixes it
    summed = H.attempt_script("def forward(self, x):\n    return sum([x, x * 2])\n", inputs=[(torch.randn(2, 3),)])
    assert summed.verdict == "fails to script" and "annotate" not in summed.note
    annotated = H.attempt_script("def forward(self, x: int):\n    return x + 1\n", inputs=[(torch.randn(2, 3),)])
    assert annotated.verdict == "fails when run"
    assert annotated.note.startswith("forward's `x` is annotated as int, and the call passed a Tensor")


@pytest.mark.parametrize("body", ["return bool(x.sum() > 0)", "return 'pos'", "return 'a  b'.split()"])
def test_a_bool_or_a_string_is_a_value_not_an_empty_output(body):
    attempt = H.attempt_script(f"def forward(self, x):\n    {body}\n", inputs=[(torch.randn(2, 3),)])
    assert attempt.verdict == "scripts" and "empty" not in attempt.note and "Runs and matches eager" in attempt.note


def test_a_differing_type_says_which_side_is_which():
    attempt = H.attempt_script("def forward(self, x):\n    return round(2.5)\n", inputs=[(torch.randn(2, 3),)])
    assert attempt.short_error == "test input 0: an int against a float (eager's first, the scripted copy's second)"


def test_code_that_scripts_with_a_warning_says_so_in_the_verdict():
    attempt = H.attempt_script("def forward(self, x):\n    return [1, 2, x]\n", inputs=[(torch.randn(2, 3),)])
    assert attempt.verdict == "scripts" and attempt.warning
    assert attempt.note.startswith("TorchScript warned while compiling it") and "  " not in attempt.note


def test_a_none_default_without_optional_gets_the_annotation_to_write():
    attempt = H.attempt_script("def forward(self, x, mask=None):\n    if mask is not None:\n        x = x * mask\n"
                               "    return x * 2\n", inputs=[(torch.randn(2, 3),)])
    assert attempt.verdict == "fails when run" and "Optional[torch.Tensor] = None" in attempt.note


def test_a_forgotten_self_is_named_with_the_signature_to_write():
    attempt = H.attempt_script("def forward(x, y):\n    return x * y\n", inputs=[(torch.randn(2, 3), torch.randn(2, 3))])
    assert attempt.verdict == "fails to script"
    assert "`x` holds the Model" in attempt.note and "def forward(self, x, y)" in attempt.note
    assert "0x" not in attempt.short_error  # no memory address in the one line shown


@pytest.mark.parametrize("source, said", [
    ("def forward(x, scale: float = 2.0):\n    return x * scale\n", "def forward(self, x, scale: float = 2.0):"),
    ("def forward(x, *, k: int = 2):\n    return x * k\n", "def forward(self, x, *, k: int = 2):"),
    ("class Model(nn.Module):\n    @staticmethod\n    def forward(x):\n        return x * 2\n", "remove @staticmethod"),
])
def test_a_forgotten_self_keeps_the_signature_and_a_staticmethod_is_named(source, said):
    attempt = H.attempt_script(source, inputs=[(torch.randn(2, 3),)])
    assert said in attempt.note, attempt.note


def test_a_forgotten_self_that_scripts_gets_no_tick():
    # forward(x) compiles (x is the module), but eager cannot be called with an input: the headline says so
    attempt = H.attempt_script("def forward(x):\n    return x\n", inputs=[(torch.randn(2, 3),)])
    assert attempt.verdict == "eager fails" and attempt.headline.startswith("✘ scripts, but the eager model")
    assert attempt.note.startswith("forward's first parameter is the module itself") and "takes 1 positional" in attempt.short_error


def test_star_args_is_not_called_a_forgotten_self():
    attempt = H.attempt_script("def forward(*args):\n    return args[0]\n", inputs=[(torch.randn(2, 3),)])
    assert "holds the Model" not in attempt.note


def test_an_ignored_helper_that_stops_the_save_is_said_beside_the_verdict():
    source = ("class Model(nn.Module):\n    @torch.jit.ignore\n    def helper(self, x: torch.Tensor) -> torch.Tensor:\n"
              "        return x * 2\n\n    def forward(self, x):\n        return self.helper(x)\n")
    attempt = H.attempt_script(source, inputs=[(torch.randn(2, 3),)])
    assert attempt.verdict == "scripts" and "But it cannot be saved" in attempt.note and "@torch.jit.unused" in attempt.note


@pytest.mark.parametrize("source", [
    "def forward(this, x):\n    return x * 2\n",
    "class Model(nn.Module):\n    @classmethod\n    def forward(cls, x):\n        return x * 2\n",
    "class Model(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.lin = nn.Linear(3, 3)\n\n"
    "    def forward(this, x):\n        return this.lin(x)\n",
])
def test_self_under_another_name_is_not_called_forgotten(source):
    attempt = H.attempt_script(source, inputs=[(torch.randn(2, 3),)])
    assert attempt.verdict == "scripts" and "holds the Model" not in attempt.note, attempt.note


def test_a_lambda_kept_as_an_attribute_is_named_with_its_fix():
    source = ("class Model(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.act = lambda t: t * 2\n\n    def forward(self, x):\n        return self.act(x)\n")
    attempt = H.attempt_script(source, inputs=[(torch.randn(2, 3),)])
    assert attempt.verdict == "fails to script" and "act (a function kept on Model) does not compile" in attempt.short_error
    assert not attempt.short_error.endswith(")") and "module-level `def`" in attempt.note
