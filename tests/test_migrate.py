"""H.migrate converts TorchScript files to torch.export, checks them, and names what fails (10_shipping)."""
import subprocess
import sys
import warnings
from typing import Optional, Tuple
from pathlib import Path

import pytest
import torch
from torch import nn

import helpers as H
from helpers.migrate import ExampleError, parse_example

LEGACY = H.REPO_ROOT / "data" / "digits_cnn_legacy.pt"


def scripted(model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.jit.script(model)


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 4)

    def forward(self, x):
        if x.sum() > 0:
            return self.linear(x)
        return -x


class DataLoop(nn.Module):
    def forward(self, x):
        total = torch.zeros_like(x[0])
        for i in range(x.size(0)):
            total = total + x[i]
        return total


class ConstantLoop(nn.Module):
    def forward(self, x):
        for _ in range(3):
            x = x * 2
        return x


class TwoInputs(nn.Module):
    def forward(self, x, y):
        return x * 2 + y


def test_scripted_branch_converts_and_matches():
    report = H.migrate(scripted(Branchy()), torch.randn(3, 4))
    assert report.status == "ok" and report.parity.all_close
    assert report.dynamic_dims["dim 0"].startswith("dynamic") and report.dynamic_dims["dim 1"] == "fixed 4"
    assert any(n.target is torch.ops.higher_order.cond for n in report.program.graph.nodes)


def test_traced_model_converts():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(H.load_digits_cnn(), torch.randn(2, 1, 8, 8))
    assert H.migrate(traced, torch.randn(2, 1, 8, 8)).status == "ok"


def test_legacy_file_loads_without_its_class_and_saves(tmp_path):
    report = H.migrate(LEGACY, torch.rand(4, 1, 8, 8))
    assert report.status == "ok" and report.source == LEGACY.name
    saved = report.save(tmp_path / "digits.pt2")
    assert saved.is_file() and not list(tmp_path.glob(".*"))  # no temporary left behind
    x = torch.rand(6, 1, 8, 8)
    assert torch.allclose(torch.export.load(saved).module()(x), torch.jit.load(str(LEGACY))(x))


def test_batch_one_is_fixed_and_explained():
    report = H.migrate(LEGACY, torch.rand(1, 1, 8, 8))
    assert report.dynamic_dims["dim 0"] == "fixed 1"
    assert report.refused and any("batch size 1" in n for n in report.notes)
    assert report.status == "restricted" and report.summary.startswith("⚠") and not report  # as diagnose: not ✔
    with pytest.raises(ValueError, match=r"torch specialized it to be a constant, as it does with 0 and 1\): migrate "
                                         r"again with an example of 2 or more"):
        report.reexport(({0: torch.export.Dim("batch", min=1, max=64)},))


def test_reexport_with_learner_dims():
    report = H.migrate(LEGACY, torch.rand(4, 1, 8, 8))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # a reexport that frees the batch says nothing
        program = report.reexport(({0: torch.export.Dim("batch", min=1, max=64)},))
    assert [(c.lower, c.upper) for c in program.range_constraints.values()] == [(1, 64)]


def test_a_transposed_example_is_exported_from_a_contiguous_copy():
    # the program records its example's strides: a compiled route after it (a .pte) refused or misread every input
    from helpers.routes.aoti import memory_layout
    linear = nn.Linear(5, 3).eval()
    example = torch.randn(5, 4).t()
    report = H.migrate(torch.jit.script(linear), example)
    assert report.status == "ok" and memory_layout(report.program.example_inputs[0][0]) == "contiguous"
    again = report.reexport(({0: torch.export.Dim("batch", min=1, max=64)},))
    assert memory_layout(again.example_inputs[0][0]) == "contiguous"
    channels_last = torch.rand(2, 1, 8, 8).to(memory_format=torch.channels_last)  # a layout compiled code keeps
    kept = H.migrate(LEGACY, channels_last).program.example_inputs[0][0]
    assert memory_layout(kept) == "channels_last"
    assert example.stride() == (1, 4)  # the learner's tensor itself untouched


def test_data_dependent_loop_fails_with_node_and_line(tmp_path):
    path = tmp_path / "loop.pt"
    scripted(DataLoop()).save(str(path))
    report = H.migrate(path, torch.randn(5, 3))
    assert report.status == "fails" and report.program is None
    assert report.failure.node_kind == "prim::Loop"
    assert "test_migrate.py, line" in report.failure.location
    assert "for i in range(x.size(0)):" in report.failure.source_line
    line = int(report.failure.location.rsplit("line ", 1)[1])  # the line it names is the loop's own
    assert "for i in range(x.size(0)):" in Path(__file__).read_text().splitlines()[line - 1]
    assert "LibTorch" in report.failure.advice and "dynamic value of number of iterations" in report.failure.cause
    with pytest.raises(ValueError, match="nothing to save"):
        report.save(tmp_path / "loop.pt2")


def test_a_while_loop_on_the_data_gets_while_advice_not_a_constant_count(tmp_path):
    from migrate_models import HalveUntilSmall
    path = tmp_path / "halve.pt"
    scripted(HalveUntilSmall()).save(str(path))
    report = H.migrate(path, torch.randn(5, 3) * 10)
    assert report.status == "fails" and report.failure.node_kind == "prim::Loop"
    assert "a `while` loop whose condition reads the data" in report.failure.advice
    assert "constant count" not in report.failure.advice and "torch.while_loop" in report.failure.advice
    assert "prototype" in torch.while_loop.__doc__  # as the advice says


def test_reexport_with_a_dim_the_program_cannot_take_is_one_line_with_a_way_on(tmp_path):
    from migrate_models import BranchOnBatch
    path = tmp_path / "branch.pt"
    scripted(BranchOnBatch()).save(str(path))
    report = H.migrate(path, torch.randn(3, 4))
    with pytest.raises(ValueError) as raised:
        report.reexport(({0: torch.export.Dim("b")},))
    message = str(raised.value)
    assert "\n" not in message and message.startswith("reexport: torch.export refused these dynamic shapes")
    assert "torch suggests: b = 3" in message and "A size the converted program fixed" in message


def test_constant_loop_converts():
    assert H.migrate(scripted(ConstantLoop()), torch.randn(2, 3)).status == "ok"


def test_two_inputs():
    report = H.migrate(scripted(TwoInputs()), (torch.randn(3, 2), torch.randn(3, 2)))
    assert report.status == "ok" and "input 1 dim 0" in report.dynamic_dims
    # both batches ran at size 1 in the same input: one note names both dimensions
    ranges = [n for n in report.notes if "recorded range" in n]
    assert len(ranges) == 1 and ranges[0].startswith("the recorded ranges of input 0 dim 0 and input 1 dim 0 start at 2")


def test_torchvision_resnet18(tmp_path):
    path = tmp_path / "resnet18.pt"
    scripted(H.torchvision_model("resnet18").eval()).save(str(path))
    report = H.migrate(path, torch.randn(2, 3, 64, 64))
    assert report.status == "ok", report


@pytest.mark.parametrize("source, error, fragment", [
    (None, TypeError, "takes a .pt path"),
    (Branchy, TypeError, "not the class"),
    (Branchy(), TypeError, "export it directly"),
    ("no_such_file.pt", FileNotFoundError, "no file"),
])
def test_bad_sources_get_one_line_errors(source, error, fragment):
    with pytest.raises(error, match=fragment) as caught:
        H.migrate(source, torch.randn(2, 4))
    assert "\n" not in str(caught.value)


def test_bad_example_is_the_learners_mistake():
    with pytest.raises(ValueError, match="itself fails on the example"):
        H.migrate(LEGACY, torch.randn(2, 3))
    with pytest.raises(TypeError, match="example must be a tensor"):
        H.migrate(LEGACY, "randn(2, 1, 8, 8)")


def test_parse_example_whitelist():
    assert parse_example("randn(1, 3, 64, 64)").shape == (1, 3, 64, 64)
    x, y = parse_example("rand(2, 8), zeros(2, dtype=int64)")
    assert y.dtype == torch.int64 and x.shape == (2, 8)
    assert parse_example("torch.ones((2, 3), dtype=torch.bool)").dtype == torch.bool
    for bad in ["__import__('os').system('id')", "randn(2, x)", "open('f')", "randn(2, device='cuda')", "1 + 2", ""]:
        with pytest.raises(ExampleError):
            parse_example(bad)


def test_cli_ok_and_fails(tmp_path):
    env_python = [sys.executable, "-m", "helpers.migrate"]
    out = tmp_path / "digits.pt2"
    done = subprocess.run(env_python + [str(LEGACY), "--example", "rand(4, 1, 8, 8)", "--output", str(out)],
                          capture_output=True, text=True, cwd=H.REPO_ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "✔ digits_cnn_legacy.pt" in done.stdout and "private" in done.stdout and out.is_file()
    again = subprocess.run(env_python + [str(LEGACY), "--example", "rand(4, 1, 8, 8)", "--output", str(out)],
                           capture_output=True, text=True, cwd=H.REPO_ROOT, timeout=600)
    assert again.returncode == 3 and "--overwrite" in again.stderr  # never replaces a file silently
    loop = tmp_path / "loop.pt"
    scripted(DataLoop()).save(str(loop))
    failed = subprocess.run(env_python + [str(loop), "--example", "randn(5, 3)", "--no-save"],
                            capture_output=True, text=True, cwd=H.REPO_ROOT, timeout=600)
    assert failed.returncode == 2 and "prim::Loop" in failed.stdout
    refused = subprocess.run(env_python + [str(loop), "--example", "eval('1')"],
                             capture_output=True, text=True, cwd=H.REPO_ROOT, timeout=600)
    assert refused.returncode == 3 and "eval() is not allowed" in refused.stderr
    missing = subprocess.run(env_python + [str(loop)], capture_output=True, text=True, cwd=H.REPO_ROOT, timeout=600)
    assert missing.returncode == 3 and "--example" in missing.stderr  # a command-line mistake, not a failed conversion
    from models_with_state import CountsCalls  # its program drops the count: other numbers, so no file unless asked
    counting, counted = tmp_path / "counting.pt", tmp_path / "counting.pt2"
    scripted(CountsCalls()).save(str(counting))
    kept_back = subprocess.run(env_python + [str(counting), "--example", "randn(4, 4)"],
                               capture_output=True, text=True, cwd=H.REPO_ROOT, timeout=600)
    assert kept_back.returncode == 1 and "not saved" in kept_back.stdout and not counted.exists(), kept_back.stdout
    anyway = subprocess.run(env_python + [str(counting), "--example", "randn(4, 4)", "--save-anyway"],
                            capture_output=True, text=True, cwd=H.REPO_ROOT, timeout=600)
    assert anyway.returncode == 1 and f"saved {counted}" in anyway.stdout and counted.is_file(), anyway.stdout


def test_cli_example_takes_numbers_and_lists_as_the_diagnosis_does():
    assert parse_example("randn(2, 6), 3")[1] == 3
    assert isinstance(parse_example("[randn(2, 3), randn(2, 3)]"), list)


def test_template_migrate_checks_a_legacy_file(tmp_path):
    import importlib.util
    spec = importlib.util.spec_from_file_location("roundtrip_template", H.REPO_ROOT / "templates" / "test_export_roundtrip.py")
    template = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(template)
    assert template.build_legacy_cases() == {}  # a new project starts with no legacy files
    converted = template.migrate(LEGACY, [(torch.rand(4, 1, 8, 8),), (torch.rand(1, 1, 8, 8),)], tmp_path)
    assert converted.suffix == ".pt2" and converted.is_file()
    loop = tmp_path / "loop.pt"
    scripted(DataLoop()).save(str(loop))
    with pytest.raises(RuntimeError, match="failed for node prim::Loop"):
        template.migrate(loop, [(torch.randn(5, 3),)], tmp_path)


def test_a_clean_migration_has_no_note_and_a_dropped_counter_is_named():
    clean = H.migrate(scripted(torch.nn.Linear(4, 3)), torch.randn(2, 4))
    assert clean.status == "ok" and not clean.parity.warnings and "read the notes" not in clean.parity.summary

    from models_with_state import CountsCalls
    counting = H.migrate(scripted(CountsCalls()), torch.randn(4, 4))
    assert counting.status == "diverges" and any("prim::SetAttr" in note for note in counting.notes), counting


class _LSTMWithState(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(8, 16, batch_first=True)

    def forward(self, x, state: Tuple[torch.Tensor, torch.Tensor]):
        return self.lstm(x, state)


class _OptionalBias(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 4)

    def forward(self, x, bias: Optional[torch.Tensor] = None):
        y = self.fc(x)
        if bias is not None:
            y = y + bias
        return y


def test_a_failure_inside_torchs_own_modules_or_the_converter_gets_advice_that_leads_somewhere(tmp_path):
    example = (torch.randn(2, 5, 8), (torch.zeros(1, 2, 16), torch.zeros(1, 2, 16)))
    inside_torch = H.migrate(torch.jit.script(_LSTMWithState()), example)
    assert inside_torch.status == "fails" and "inside torch's own rnn.py" in str(inside_torch)
    assert "same shape" not in str(inside_torch)  # not advice to edit torch's code
    converter_bug = H.migrate(torch.jit.script(_OptionalBias()), torch.randn(2, 4))
    assert converter_bug.status == "fails" and "a bug of the converter, not of your model" in str(converter_bug)


class IntArg(torch.nn.Module):
    def forward(self, x, k: int):
        return x * k


def test_a_number_argument_fixed_by_export_is_called_a_number_not_a_shape(tmp_path):
    path = tmp_path / "intarg.pt"
    torch.jit.script(IntArg()).save(str(path))
    report = H.migrate(path, (torch.randn(2, 3), 3))
    text = str(report)
    assert report.status == "restricted" and "number refused (numbers changed)" in text
    assert "shape refused" not in text and "keeps a number argument as a constant unless dynamic_shapes marks an int" in text


class FlagArg(torch.nn.Module):
    def forward(self, x, flag: bool):
        y = x * 2
        if flag:
            y = y.softmax(-1)
        return y


def test_a_bool_argument_fixed_by_export_is_called_a_flag_not_a_shape():
    report = H.migrate(torch.jit.script(FlagArg()), (torch.randn(2, 3), True))
    text = str(report)
    assert report.status == "restricted" and "flag refused (flags flipped)" in text, text
    assert "shape refused" not in text and "input shape(s)" not in text and "keeps a bool argument as a constant" in text


def test_a_model_saved_in_training_mode_is_told_to_call_eval():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4)).train()
    report = H.migrate(torch.jit.script(model), torch.randn(3, 4))
    assert report.status == "fails" and "training mode" in report.failure.advice and ".eval()" in report.failure.advice
    # the block that failed and the node inside it are both named, as such
    assert report.failure.node_kind == "prim::If" and report.failure.cause.startswith("inside it,")
    assert H.migrate(torch.jit.script(model).eval(), torch.randn(3, 4)).status == "ok"  # the advice works


def test_a_model_in_training_mode_without_such_layers_is_not_told_to_call_eval():
    class WhileLoop(torch.nn.Module):
        def forward(self, x):
            while x.sum() < 10:
                x = x * 2
            return x

    report = H.migrate(torch.jit.script(WhileLoop()), torch.ones(2, 3))  # training mode, but no dropout or batch norm
    assert report.status == "fails" and "training mode" not in report.failure.advice, report.failure.advice


def test_state_lost_in_the_conversion_is_said_even_when_the_answers_match():
    class CountsCalls(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            return x * 2

    report = H.migrate(torch.jit.script(CountsCalls()), torch.randn(3, 2))
    assert report.status == "ok" and report.summary.startswith("⚠"), report.summary
    assert any("the answers matched here, but that state is lost" in note for note in report.notes)


def test_a_range_starting_at_2_that_runs_size_1_is_explained():
    report = H.migrate(LEGACY, torch.rand(4, 1, 8, 8))
    assert report.dynamic_dims["dim 0"] == "dynamic [2, ∞]"
    note = next(n for n in report.notes if "recorded range starts at 2" in n)
    assert note.startswith("dim 0's") and "'batch 1', of size 1 there, ran and matches" in note
    assert "dim 2" not in " ".join(report.notes)  # height starts at 4 here: nothing to explain
    assert report.status == "ok" and report.summary.startswith("✔")
    fixed = H.migrate(LEGACY, torch.rand(1, 1, 8, 8))  # fixed to 1: no range to explain
    assert not any("recorded range" in n for n in fixed.notes)


def test_an_empty_batch_and_a_size_1_dimension_are_named_and_a_list_input_is_labelled_by_tensor(tmp_path):
    from migrate_models import ListAndBias, SequenceMean, Square  # noqa: E402  (files: scripting needs source)
    empty = H.migrate(torch.jit.script(Square()), torch.zeros(0, 3))
    assert empty.summary.startswith("⚠") and any("batch size 0" in n for n in empty.notes)
    # the status says it too (code reads it): the program refuses the batch of 2 the TorchScript model runs
    assert empty.status == "restricted" and "Guard failed" in empty.refused["dim 0 of size 2"], empty.refused
    # an empty second input: its note names the size the example had there
    from migrate_models import CatRows  # noqa: E402
    second = H.migrate(torch.jit.script(CatRows()), (torch.randn(2, 3), torch.zeros(0, 3)))
    note = next(n for n in second.notes if "was fixed at the example's size" in n)
    assert note.startswith("input 1 dim 0 was fixed at the example's size of 0 (") and second.status == "restricted", note
    sequence = H.migrate(torch.jit.script(SequenceMean()), torch.randn(4, 1, 3))
    assert any(n.startswith("dim 1 was fixed at the example's size of 1") and "refuses a size of 2" in n
               for n in sequence.notes), sequence.notes
    assert sequence.status == "restricted" and "dim 1 of size 2" in sequence.refused
    channels = H.migrate(LEGACY, torch.rand(4, 1, 8, 8))  # a channel count of 1 the convolution needs: nothing to say
    assert channels.status == "ok" and not any("fixed at the example's size" in n for n in channels.notes)
    listed = H.migrate(torch.jit.script(ListAndBias()), ([torch.randn(3, 4), torch.randn(5, 4)], torch.randn(1, 4)))
    assert listed.status == "restricted" and "3 items" in listed.refused  # a refusal, not another answer
    assert "tensor 2 dim 0" in listed.dynamic_dims and "input 1 dim 0" not in listed.dynamic_dims
    assert not any("batch size 1" in n for n in listed.notes)  # the batch is the list's length, 2
    assert not any("recorded range starts at 2" in n and "'example'" in n for n in listed.notes)


def test_a_list_example_for_two_arguments_shows_its_shapes_and_how_arguments_map(tmp_path):
    class Two(torch.nn.Module):
        def forward(self, x, y):
            return x + y

    path = tmp_path / "two.pt"
    torch.jit.script(Two()).save(str(path))
    with pytest.raises(ValueError, match=r"with shape \[\(2, 3\), \(2, 3\)\] .*found type 'list'; a list is one "
                                         r"argument, a tuple \(x, y\) is two\): pass an input"):
        H.migrate(path, [torch.ones(2, 3), torch.ones(2, 3)])


def test_a_detector_whose_attribute_the_converter_cannot_take_gets_a_clean_line(tmp_path):
    import torchvision
    detector = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(weights=None,
                                                                                  weights_backbone=None).eval()
    path = tmp_path / "detector.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.script(detector).save(str(path))
        report = H.migrate(path, ([torch.rand(3, 240, 320)],))
    line = report.summary
    assert report.status == "fails" and "conversion fails: Unknown type" in line and "BoxCoder" in line, line
    assert "0x" not in line and "…" not in line and "fails at RuntimeError" not in line
    assert "scripted class BoxCoder" in line and "torch.export.export" in line


def test_a_size_1_first_dimension_the_model_itself_needs_gets_no_batch_advice():
    from migrate_models import OneRow, Square  # noqa: E402  (a file: scripting needs source)
    report = H.migrate(torch.jit.script(OneRow()), torch.randn(1, 4))
    assert report.dynamic_dims["dim 0"] == "fixed 1"
    assert not any("batch size 1" in n for n in report.notes), report.notes  # a size of 2 fails in TorchScript too
    batched = H.migrate(torch.jit.script(Square()), torch.randn(1, 3))
    note = next(n for n in batched.notes if "batch size 1" in n)
    assert "dim 0 of its first input" in note and "refuses a size of 2 there" in note
    # its batch of 2 is refused, counted once: the parity rows' "batch 2" is that shape, so no "dim 0 of size 2" again
    assert set(batched.refused) == {"batch 2", "batch 3"} and batched.status == "restricted"
    assert "refuses 2 input shape(s)" in " ".join(batched.notes)


def test_a_line_in_a_notebook_cell_is_named_as_such_not_by_ipykernels_hash():
    from helpers.routes.migrate import _source_line
    marked = "        for i in range(x.size(0)):\n        ~~~~~~~~~~~~~~~~~~~~~~~~~~\n"
    assert _source_line(f'  File "/tmp/ipykernel_2110/124315999.py", line 5\n        total = x[0]\n{marked}') == (
        "a notebook cell, line 5", "for i in range(x.size(0)):")
    assert _source_line(f'  File "/home/me/model.py", line 5\n{marked}')[0] == "model.py, line 5"


def test_migrate_leaves_the_callers_scripted_model_as_it_was():
    from models_with_state import RunningTotal
    scripted = torch.jit.script(RunningTotal())
    H.migrate(scripted, torch.ones(3, 4))
    assert torch.equal(scripted.total, torch.zeros(4))


class TinyOutputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 4)

    def forward(self, x):
        return self.linear(x) * 1e-9  # every output within parity's atol of zero: zeros would match too


def test_a_match_on_outputs_within_atol_of_zero_is_no_tick(tmp_path):
    path = tmp_path / "tiny.pt"
    torch.jit.script(TinyOutputs().eval()).save(str(path))
    report = H.migrate(path, torch.randn(3, 4))
    assert report.status == "ok" and report.summary.startswith("⚠"), report  # matched, but that proves little
    assert any(n.startswith("the comparison: ") and "within atol=1e-06 of zero" in n for n in report.notes), report
    from helpers.migrate import main
    assert main([str(path), "--example", "randn(3, 4)", "--no-save"]) == 1  # the command line's code says it too


class OwnTrainingBranch(nn.Module):
    def forward(self, x):
        if self.training:  # no dropout or batch norm: parity sees no random layer
            return x * 2
        return x


def test_a_file_saved_in_training_mode_is_no_tick_even_without_random_layers(tmp_path):
    path = tmp_path / "own.pt"
    torch.jit.script(OwnTrainingBranch().train()).save(str(path))
    report = H.migrate(path, torch.randn(3, 4))
    assert report.summary.startswith("⚠") and any("is in training mode" in n for n in report.notes), report
    assert torch.equal(report.program.module()(torch.ones(2)), torch.full((2,), 2.0))  # the training branch, as said
    torch.jit.script(OwnTrainingBranch().eval()).save(str(path))
    assert H.migrate(path, torch.randn(3, 4)).summary.startswith("✔")


def test_reexport_with_malformed_dynamic_shapes_says_so_not_that_a_size_was_fixed(tmp_path):
    from migrate_models import Square
    path = tmp_path / "square.pt"
    scripted(Square()).save(str(path))
    report = H.migrate(path, torch.randn(3, 4))
    with pytest.raises(ValueError) as raised:
        report.reexport(({0: torch.export.Dim("b")}, {0: torch.export.Dim("c")}))  # two specs for one input
    assert "Give one entry per input" in str(raised.value) and "stays fixed" not in str(raised.value)


def test_reexport_that_frees_nothing_says_so(tmp_path):
    from migrate_models import BranchOnBatch
    path = tmp_path / "branch.pt"
    scripted(BranchOnBatch()).save(str(path))
    report = H.migrate(path, torch.randn(3, 4))
    with pytest.warns(UserWarning, match="every input size of the new program is fixed"):
        program = report.reexport(({0: torch.export.Dim.AUTO},))
    assert program.module()(torch.ones(3, 4)).shape == (3, 4)


class _RunningMean(torch.nn.Module):
    """Tensor state it updates on every call: a count (written back, prim::SetAttr) and a mean (in place)."""
    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.zeros(6))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    def forward(self, x):
        self.count += 1
        self.mean.mul_(0.9).add_(0.1 * x.mean(0))
        return x - self.mean


def test_tensor_state_the_program_updates_is_called_kept_and_saved_as_converted(tmp_path):
    path = tmp_path / "running.pt"
    torch.jit.script(_RunningMean().eval()).save(str(path))
    report = H.migrate(path, torch.randn(4, 6), progress=False)
    assert report.status == "ok" and not any("keeps no such state" in note for note in report.notes)
    assert any("the converted program updates them too" in note for note in report.notes)
    saved = torch.export.load(report.save(tmp_path / "running.pt2")).module()
    assert dict(saved.named_buffers())["count"].item() == 0  # the checks' calls did not move what is saved
    legacy = torch.jit.load(str(path))
    for _ in range(3):
        x = torch.randn(4, 6)
        assert torch.allclose(legacy(x), saved(x))  # and the state moves on alike


class _LstmWithState(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.lstm = torch.nn.LSTM(4, 6, batch_first=True)

    def forward(self, x, state: Tuple[torch.Tensor, torch.Tensor]):
        out, (h, c) = self.lstm(x, state)
        return out, (h, c)


def test_a_state_whose_batch_sits_in_dimension_1_is_varied_with_the_input_given_batch_dim(tmp_path):
    example = (torch.randn(3, 5, 4), (torch.randn(1, 3, 6), torch.randn(1, 3, 6)))
    path = tmp_path / "lstm.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.trace(_LstmWithState().eval(), example).save(str(path))  # (the converter fails on a scripted LSTM)
    report = H.migrate(path, example, progress=False, batch_dim=(0, 1))
    assert report.status in ("ok", "restricted"), report
    batches = [r for r in report.parity.rows if r.label.startswith("batch")]
    assert batches and all(r.close for r in batches)  # x and the state resized together: each batch ran and matched
    assert not [label for label in report.refused if label.startswith("batch")], report.refused
    with pytest.raises(ValueError, match="migrate: batch_dim"):
        H.migrate(path, example, progress=False, batch_dim=(0, 1, 2))


def test_cli_takes_the_batch_dimension(tmp_path):
    command = [sys.executable, "-m", "helpers.migrate", str(LEGACY), "--example", "rand(4, 1, 8, 8)", "--no-save"]
    done = subprocess.run(command + ["--batch-dim", "0"], capture_output=True, text=True, cwd=H.REPO_ROOT, timeout=600)
    assert done.returncode == 0 and "✔ digits_cnn_legacy.pt" in done.stdout, done.stderr[-1000:]
    for wrong, said in (("one", "--batch-dim takes whole numbers"), ("0,1", "batch_dim=(...) has one entry per input")):
        refused = subprocess.run(command + ["--batch-dim", wrong], capture_output=True, text=True, cwd=H.REPO_ROOT,
                                 timeout=600)
        assert refused.returncode == 3 and said in refused.stderr and "Traceback" not in refused.stderr, refused.stderr


def test_training_mode_alone_is_no_caveat_when_no_code_reads_it(tmp_path):
    path = tmp_path / "embed.pt"
    torch.jit.script(nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 2)).train()).save(str(path))  # training flag on
    report = H.migrate(path, torch.randint(0, 10, (3, 5)))
    assert report.summary.startswith("✔") and not any("is in training mode" in n for n in report.notes), report


class _SmallEncoder(nn.Module):
    """Traced, then converted: the program asserts a size torch.export recorded (u1 >= 4), and batch 1 fails it."""
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)

    def forward(self, x):
        return self.enc(x)


def test_a_runtime_assertion_on_another_size_is_a_refused_shape_not_a_divergence():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(_SmallEncoder().eval(), torch.randn(2, 5, 8), check_trace=False)
    report = H.migrate(traced, torch.randn(2, 5, 8))
    assert report.status == "restricted" and not report and report.summary.startswith("⚠"), report
    assert "Runtime assertion failed for expression" in report.refused["batch 1"]
    text = str(report)
    assert "  shape refused (batch 1): RuntimeError: Runtime assertion failed for expression" in text
    assert "differs from the TorchScript model" not in text and "largest |diff|" in report.verdict
    assert "input    shape" not in text  # no parity table: nothing diverged


def test_a_runtime_assertion_is_a_refusal_only_on_an_input_that_changes_a_size():
    from helpers.routes.migrate import _refusal
    asserted = "RuntimeError: Runtime assertion failed for expression u1 >= 4 on node 'ge_1'"
    assert _refusal("batch 1", asserted) and _refusal("3 items", asserted) and _refusal("size 3 in dim 1", asserted)
    assert not _refusal("zeros", asserted) and not _refusal("example", asserted)  # same sizes: the data tripped it
    assert _refusal("zeros", "AssertionError: Guard failed: x.size()[0] == 2") and not _refusal("batch 1", "")


def test_an_output_that_is_no_pt2_file_is_a_usage_error_before_any_conversion(tmp_path, capsys):
    from helpers.migrate import main
    path = tmp_path / "tiny.pt"
    torch.jit.script(TinyOutputs().eval()).save(str(path))
    for output, said in ((tmp_path / "out.txt", "not a .pt2 file"), (tmp_path, "is a folder"),
                         (tmp_path / "missing" / "out.pt2", "does not exist")):
        assert main([str(path), "--example", "randn(3, 4)", "--output", str(output)]) == 3
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err
    assert not (tmp_path / "out.txt").exists()


def test_a_state_dict_file_is_named_for_what_it_is(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(nn.Linear(2, 2).state_dict(), path)
    with pytest.raises(ValueError, match=r"migrate: weights.pt was written by torch.save \(tensors or a state_dict\)"):
        H.migrate(path, torch.randn(2, 2))


def test_a_file_calling_another_librarys_operator_is_named_and_the_command_line_imports_it(tmp_path):
    import torchvision

    class Suppress(nn.Module):  # calls torchvision::nms: a sound TorchScript file, loadable once torchvision is imported
        def forward(self, boxes, scores):
            return torchvision.ops.nms(boxes, scores, 0.5)

    path = tmp_path / "suppress.pt"
    scripted(Suppress()).save(str(path))
    command = [sys.executable, "-m", "helpers.migrate", str(path), "--example", "rand(4, 4), rand(4)", "--no-save"]
    plain = subprocess.run(command, capture_output=True, text=True, cwd=H.REPO_ROOT, timeout=600)
    assert plain.returncode == 3 and "calls torchvision::nms" in plain.stderr and "--import torchvision" in plain.stderr
    assert "is not a TorchScript file" not in plain.stderr
    imported = subprocess.run(command + ["--import", "torchvision"], capture_output=True, text=True,
                              cwd=H.REPO_ROOT, timeout=600)
    assert imported.returncode != 3 and "could not be loaded" not in imported.stderr, imported.stderr
    assert "suppress.pt" in imported.stdout
    missing = subprocess.run(command + ["--import", "no_such_module_here"], capture_output=True, text=True,
                             cwd=H.REPO_ROOT, timeout=600)
    assert missing.returncode == 3 and "--import no_such_module_here: ModuleNotFoundError" in missing.stderr


@pytest.mark.parametrize("example", [
    (torch.randn(2, 4), None),          # the Optional argument given None: accepted as an example, not "no tensor"
    (torch.randn(2, 4),),               # left out
    (torch.randn(2, 4), torch.zeros(4)),  # given a tensor
])
def test_an_optional_tensor_argument_is_named_as_what_the_converter_cannot_take(example):
    report = H.migrate(torch.jit.script(_OptionalBias().eval()), example)
    assert report.status == "fails", report  # a torch whose converter takes Optional[Tensor] fails this test
    assert "forward has an Optional[Tensor] argument (bias), which torch's converter does not take" in \
        report.failure.advice


def test_a_program_whose_saved_file_does_not_load_back_fails_with_torchs_reason(tmp_path):
    from outside_models import ReturnsAString
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = H.migrate(torch.jit.script(ReturnsAString()), torch.randn(3, 4))
    assert report.status == "fails" and report.program is None
    assert "does not load back" in report.summary and "as_string=ok" in report.summary
    assert "a .pt2 cannot hold a str output" in report.summary
    with pytest.raises(ValueError, match="nothing to save"):
        report.save(tmp_path / "converted.pt2")
    assert not list(tmp_path.iterdir())


def test_a_program_that_loads_back_is_not_held_up_by_the_round_trip():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = H.migrate(torch.jit.script(nn.Linear(4, 2).eval()), torch.randn(3, 4))
    assert report.status == "ok" and report.program is not None
