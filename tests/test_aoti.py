"""AOTInductor route of 10_shipping: cached packages, clean loading, the two kinds of .pt2."""
import copy
import dataclasses
import glob
import os
import platform
import re
import shutil
import subprocess
import sys
import typing

import pytest
import torch

import helpers as H
from models_with_state import CountsCalls
from outside_models import NarrowsBatch


@pytest.fixture(scope="module")
def digits_package():
    model, example, dynamic = H.ship_spec("digits_cnn")
    return model, H.aoti_package(model, example, dynamic, name="digits_cnn", quiet=True)  # built by `make aoti`


def test_package_matches_eager_on_any_batch(digits_package):
    model, package = digits_package
    compiled = H.load_aoti(package)
    images, _ = H.load_digits("test")
    assert H.parity(model, compiled, inputs=[images[:1], images], rtol=1e-4, atol=1e-5).all_close


def test_cond_package_keeps_both_branches():
    model, example, dynamic = H.ship_spec("cond_net")
    compiled = H.load_aoti(H.aoti_package(model, example, dynamic, name="cond_net", quiet=True))
    assert H.parity(model, compiled, inputs=[example.abs(), -example.abs(), torch.randn(7, 4)], rtol=1e-4, atol=1e-5)


def test_second_call_uses_the_cache(digits_package):
    model, package = digits_package
    again = H.aoti_package(model, torch.zeros(4, 1, 8, 8), H.batch_dim(), name="digits_cnn", quiet=True)
    assert again.path == package.path and not again.compiled
    assert H.cached_aoti_package(model, torch.ones(4, 1, 8, 8), H.batch_dim(), name="digits_cnn").path == package.path
    assert H.cached_aoti_package(model, torch.ones(5, 1, 8, 8), H.batch_dim(), name="digits_cnn") is None  # shapes count


def test_key_changes_with_weights_shapes_and_dims():
    model, example, dynamic = H.ship_spec("digits_cnn")
    key = H.aoti_cache_key(model, example, dynamic)
    assert key == H.aoti_cache_key(model, torch.zeros_like(example), dynamic)  # values do not matter, shapes do
    assert key != H.aoti_cache_key(model, torch.rand(4, 1, 9, 9), dynamic)
    assert key != H.aoti_cache_key(model, example, None)
    other = H.load_digits_cnn()
    with torch.no_grad():
        other.classifier.bias += 1
    assert key != H.aoti_cache_key(other, example, dynamic)


class Scale(torch.nn.Module):
    def __init__(self, factor):
        super().__init__()
        self.factor = factor  # a plain float: no weight holds it, the compiled code does

    def forward(self, x):
        return x * self.factor


class Block(torch.nn.Module):
    def forward(self, x):
        return x + 1


class Net(torch.nn.Module):
    def __init__(self, block):
        super().__init__()
        self.lin, self.block = torch.nn.Linear(4, 3), block

    def forward(self, x):
        return self.block(self.lin(x))


def test_key_changes_with_what_the_compiled_code_depends_on():
    x = torch.rand(2, 4)
    relu = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU()).eval()
    tanh = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh()).eval()
    tanh.load_state_dict(relu.state_dict())  # the same weights: only the layer differs
    assert H.aoti_cache_key(relu, x) != H.aoti_cache_key(tanh, x)
    assert H.aoti_cache_key(Scale(2.0), x) != H.aoti_cache_key(Scale(3.0), x)
    torch.manual_seed(0)
    net = Net(Block())
    # a submodule's own class is in the key by its source: editing Block.forward changes the key
    assert "return x + 1" in H.routes.aoti.model_description(net)
    torch.manual_seed(0)
    assert H.aoti_cache_key(net, x) == H.aoti_cache_key(Net(Block()), x)  # rebuilt the same: the same key
    assert H.aoti_cache_key(relu, x) == H.aoti_cache_key(relu.train().eval(), x)


def test_key_changes_with_a_buffer_outside_the_state_dict():
    # persistent=False keeps a buffer out of the state_dict, yet compiled code holds its values: a stale package
    # came back with a tick after the buffer changed
    class Scaled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 4)
            self.register_buffer("scale", torch.ones(4), persistent=False)

        def forward(self, x):
            return self.lin(x) * self.scale

    model, x = Scaled().eval(), torch.rand(2, 4)
    assert "scale" not in model.state_dict()
    before = H.aoti_cache_key(model, x)
    model.scale.fill_(10.0)
    assert H.aoti_cache_key(model, x) != before
    model.scale.fill_(1.0)
    assert H.aoti_cache_key(model, x) == before


def test_key_changes_with_a_tensor_set_on_one_of_torchs_layers():
    # a plain tensor attribute on torch's own Linear, read by the user's forward: the stale package came back
    class Shifted(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 4)
            self.lin.shift = torch.zeros(4)

        def forward(self, x):
            return self.lin(x) + self.lin.shift

    model, x = Shifted().eval(), torch.rand(2, 4)
    before = H.aoti_cache_key(model, x)
    model.lin.shift = torch.full((4,), 10.0)
    assert H.aoti_cache_key(model, x) != before
    model.lin.shift = torch.zeros(4)
    assert H.aoti_cache_key(model, x) == before
    for held in ([torch.zeros(4)], {"a": torch.zeros(4)}):  # a list or a dict of tensors on the layer as well
        model.lin.shift = held
        kept = H.aoti_cache_key(model, x)
        model.lin.shift = [torch.full((4,), 10.0)] if isinstance(held, list) else {"a": torch.full((4,), 10.0)}
        assert H.aoti_cache_key(model, x) != kept


def test_a_wrong_input_raises_instead_of_giving_wrong_numbers(digits_package):
    compiled = H.load_aoti(digits_package[1])
    x = torch.rand(3, 1, 8, 8)
    for wrong, fragment in ((x.double(), "dtype torch.float64, compiled for torch.float32"),
                            (torch.rand(3, 1, 9, 8), "size 9 at dimension 2, compiled for 8"),
                            ((x * 10).int(), "dtype torch.int32"), (torch.rand(3, 8, 8), "3 dimensions")):
        with pytest.raises(ValueError, match=fragment):
            compiled(wrong)
    images, _ = H.load_digits("test")
    # any batch passes, 1 and 297 included: the dynamic size is not bounded by the check
    assert H.parity(digits_package[0], compiled, inputs=[images[:1], images], rtol=1e-4, atol=1e-5).all_close
    # .unchecked is torch's own loaded package: the same answers, and no check (10 times it alone)
    assert type(compiled.unchecked).__name__ == "AOTICompiledModel"
    assert torch.equal(compiled.unchecked(images[:4]), compiled(images[:4]))


def test_torchs_own_input_checks_refuse_batches_the_code_computes(digits_package):
    # AOTI_RUNTIME_CHECK_INPUTS=1 (which the C++ programs turn on) bounds the batch to 2-15 in this torch on the
    # machine the course was checked on (the upper bound follows the CPU's convolution kernel), narrower than the
    # Dim's 1-1024; when a torch stops doing so, this fails, and load_aoti can turn the switch on instead
    source = next(_wrapper_source(digits_package[1].path))
    upper = re.search(r"expected to be <= (\d+)", source)
    assert "expected it to be >= 2" in source and upper and int(upper.group(1)) < 1024


def _wrapper_source(path):
    import zipfile
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.endswith("wrapper.cpp"):
                yield archive.read(name).decode("utf-8", "replace")


def test_loading_leaves_no_aotinductor_folder(digits_package, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    H.load_aoti(digits_package[1])
    assert os.environ["TMPDIR"] == str(tmp_path)  # restored
    assert not glob.glob(str(tmp_path / "aotinductor_*"))


def test_the_two_pt2_files_are_not_interchangeable(digits_package, tmp_path, monkeypatch):
    model, package = digits_package
    exported = tmp_path / "digits.export.pt2"
    torch.export.save(torch.export.export(model, (torch.rand(2, 1, 8, 8),)), exported)
    assert any(e.endswith("models/model.json") for e in H.archive_names(exported, top_folder=False))
    assert any(e.endswith(".so") for e in H.archive_names(package, top_folder=False))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    with pytest.raises(RuntimeError, match="Failed to find a generated cpp file or so file"):
        torch._inductor.aoti_load_package(str(exported))  # torch's own words, several lines long
    with pytest.raises(ValueError, match="^digits.export.pt2 holds no compiled code: it is a torch.export.save file"
                                         ".*torch.export.load") as refused:
        H.load_aoti(exported)
    assert "Load it with torch.export.load" in H.short_message(refused.value)  # the advice survives the one-line cut
    # torch's own first line, whole, in a note (H.attempt prints notes on their own line)
    assert refused.value.__notes__ == ["torch said: Failed to find a generated cpp file or so file for model 'model' "
                                       "in the zip archive."]
    with H.attempt(show=False) as run:
        H.load_aoti(exported)
    assert "note    torch said: Failed to find a generated cpp file or so file for model 'model' in the zip archive." \
        in run.lines()
    with pytest.raises(RuntimeError, match="error when deserializing"):
        torch.export.load(package.path)


def test_no_cuda_notice_is_explained():
    notice = H.no_cuda_notice_source()
    assert notice["function"] == "_find_cuda_home" and "No CUDA runtime is found" in notice["line"]
    assert notice["condition"] == "if cuda_home and not torch.cuda.is_available():"
    # ...but the module calls the function only in a torch built with CUDA: a CPU-only torch never logs the notice
    assert "torch.cuda._is_compiled()" in notice["guard"] and "torch.version.cuda" in notice["guard"]
    assert notice["triggers"] == (notice["cuda_home"] is not None and not notice["gpu"])
    assert notice["cuda_build"] or not notice["triggers"]


def test_loading_a_package_imports_the_module_that_logs_the_notice(digits_package, tmp_path):
    # 10 says a load meets the notice too, not only a compile: a fresh torch imports cpp_extension when it loads
    probe = ("import os, sys, torch\n"
             "os.environ['TMPDIR'] = sys.argv[2]\n"
             "before = 'torch.utils.cpp_extension' in sys.modules\n"
             "torch._inductor.aoti_load_package(sys.argv[1])\n"
             "print(before, 'torch.utils.cpp_extension' in sys.modules)")
    done = H.run_python(["-c", probe, str(digits_package[1].path), str(tmp_path)], timeout=300)
    assert done.stdout.split() == ["False", "True"], done.stderr[-500:]


@pytest.mark.parametrize("bad, error, fragment", [
    (H.DigitsCNN, TypeError, "not the class"),
    ("model.pt", TypeError, "torch.nn.Module"),
    (None, TypeError, "torch.nn.Module"),
])
def test_bad_models_get_one_line_errors(bad, error, fragment):
    with pytest.raises(error, match=fragment):
        H.aoti_package(bad, torch.rand(2, 1, 8, 8))


def test_load_aoti_refuses_other_files(tmp_path):
    with pytest.raises(ValueError, match=".pt2"):
        H.load_aoti(tmp_path / "model.pt")
    with pytest.raises(FileNotFoundError, match="make aoti"):
        H.load_aoti(tmp_path / "missing.pt2")


def test_the_recorded_ranges_of_dynamic_sizes_are_checked_at_each_call():
    from helpers.routes.aoti import _input_problem, _input_specs
    model = torch.nn.Sequential(torch.nn.Linear(4, 3)).eval()
    program = torch.export.export(model, (torch.randn(8, 4),),
                                  dynamic_shapes=({0: torch.export.Dim("batch", min=2, max=64)},))
    (spec,) = _input_specs(program)
    assert spec["shape"] == [None, 4] and spec["ranges"] == [[2, 64], None]
    assert _input_problem(torch.randn(64, 4), spec) == ""
    assert "outside the range it was exported for (2 to 64)" in _input_problem(torch.randn(100, 4), spec)
    assert "outside the range" in _input_problem(torch.randn(1, 4), spec)
    unbounded = torch.export.export(model, (torch.randn(8, 4),), dynamic_shapes=({0: torch.export.Dim("b")},))
    assert _input_specs(unbounded)[0]["ranges"][0][1] is None  # no upper bound recorded as None
    assert _input_problem(torch.randn(5000, 4), _input_specs(unbounded)[0]) == ""
    assert _input_problem(torch.randn(100, 4), {"dtype": "float32", "shape": [None, 4]}) == ""  # an older record


def test_inputs_that_share_one_dim_must_agree_and_each_stays_in_its_range():
    from helpers.routes.aoti import _input_specs, inputs_problem

    class TwoInputs(torch.nn.Module):
        def forward(self, ids, x):
            return ids.float().sum(1) + x.sum(1)

    batch = torch.export.Dim("batch", min=1, max=64)
    program = torch.export.export(TwoInputs(), (torch.ones(3, 5, dtype=torch.long), torch.ones(3, 4)),
                                  dynamic_shapes=({0: batch}, {0: batch}))
    specs = _input_specs(program)
    assert specs[0]["symbols"][0] == specs[1]["symbols"][0] is not None
    assert inputs_problem([torch.ones(2, 5, dtype=torch.long), torch.ones(2, 4)], specs) == ""
    mismatch = inputs_problem([torch.ones(2, 5, dtype=torch.long), torch.ones(3, 4)], specs)
    assert "input 1 has size 3 at dimension 0, input 0 has size 2" in mismatch and "one Dim for both" in mismatch
    assert "outside the range" in inputs_problem([torch.ones(65, 5, dtype=torch.long), torch.ones(65, 4)], specs)


class _Doubled(torch.nn.Module):
    def forward(self, x, y):
        return torch.cat([x, x], 0) + y


class _OnlyDerived(torch.nn.Module):
    def forward(self, a, b):
        return a[1:].sum() + b[2:].sum()


def test_a_size_derived_from_a_dim_must_follow_it():
    from helpers.routes.aoti import _input_specs, inputs_problem
    t = torch.export.Dim("t", min=2, max=64)
    program = torch.export.export(_Doubled(), (torch.ones(3, 4), torch.ones(6, 4)),
                                  dynamic_shapes={"x": {0: t}, "y": {0: 2 * t}})
    specs = _input_specs(program)
    assert specs[1]["derived"][0][1:] == [2, 0] and specs[1]["ranges"][0] == [4, 128]
    assert inputs_problem([torch.ones(5, 4), torch.ones(10, 4)], specs) == ""
    wrong = inputs_problem([torch.ones(5, 4), torch.ones(8, 4)], specs)
    assert wrong == ("input 1 has size 8 at dimension 0, but the program was exported with that size as 2 × input "
                     "0's size at dimension 0 (here 2 × 5): it must be 10")
    assert "outside the range it was exported for (4 to 128)" in inputs_problem([torch.ones(5, 4), torch.ones(130, 4)],
                                                                                specs)
    # the Dim itself is no input's size: two derived sizes must agree with one whole number
    program = torch.export.export(_OnlyDerived(), (torch.ones(4), torch.ones(5)),
                                  dynamic_shapes={"a": {0: t + 1}, "b": {0: t + 2}})
    specs = _input_specs(program)
    assert inputs_problem([torch.ones(6), torch.ones(7)], specs) == ""
    assert "exported with that size as input 0's size" not in inputs_problem([torch.ones(6), torch.ones(9)], specs)
    assert inputs_problem([torch.ones(6), torch.ones(9)], specs).endswith("it must be 7")


def test_a_relation_dim_auto_adds_between_two_inputs_is_recorded_and_checked():
    from helpers.routes.aoti import relations_problem, size_relations
    from outside_models import InterleavedPair
    x, y = torch.ones(3, 4), torch.ones(6, 4)
    program = torch.export.export(InterleavedPair(), (x, y),
                                  dynamic_shapes=({0: torch.export.Dim.AUTO}, {0: torch.export.Dim.AUTO}))
    relations = size_relations(program, (x, y), ["x", "y"])
    assert ["T[0].size()[0] == ((1 + T[1].size()[0]) // 2)", "x.size()[0] == ((1 + y.size()[0]) // 2)"] in relations
    assert relations_problem([torch.ones(5, 4), torch.ones(10, 4)], relations) == ""
    wrong = relations_problem([torch.ones(5, 4), torch.ones(12, 4)], relations)
    assert wrong.startswith("the inputs break a rule on their sizes that the program was exported with: "
                            "x.size()[0] == ((1 + y.size()[0]) // 2) (here x.size()[0] = 5, y.size()[0] = 12)")
    assert size_relations(object(), (x, y), ["x", "y"]) == []  # a torch without the private record: nothing checked
    # a rule on one input's own sizes (pairs: an even length), which no range says
    from outside_models import PairsSummed
    program = torch.export.export(PairsSummed(), (torch.ones(3, 8),), dynamic_shapes=({0: torch.export.Dim.AUTO,
                                                                                       1: torch.export.Dim.AUTO},))
    relations = size_relations(program, (torch.ones(3, 8),), ["x"])
    assert relations_problem([torch.ones(3, 6)], relations) == ""
    odd = relations_problem([torch.ones(3, 7)], relations)
    assert odd.startswith("the inputs break a rule on its sizes that the program was exported with:") and "x.size()[1] = 7" in odd
    assert not any("!=" in named for _, named in relations)  # "not 1" rules are the range's


def test_the_cpp_runner_checks_inputs_as_load_aoti_does(digits_package):
    # C++'s own message for these is "expected size 3==2, stride ..." or nothing at all: say it in words first
    model, package = digits_package
    with pytest.raises(TypeError, match=r"input 0: dtype torch.float64, compiled for torch.float32"):
        H.run_aoti_cpp(package.path, torch.zeros(3, 1, 8, 8, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"input 0: size 9 at dimension 2, compiled for 8"):
        H.run_aoti_cpp(package.path, torch.zeros(3, 1, 9, 8))


class LoopsOnData(torch.nn.Module):
    def forward(self, x):
        while x.sum() < 10:  # a loop count from the data: torch.export refuses it
            x = x * 2
        return x


def test_a_model_export_refuses_gets_a_way_forward_not_only_torchs_words(tmp_path):
    with pytest.raises(H.AotiCompileError, match=r"torch.export failed before AOTInductor could start: .*"
                                                 r"fix the export first: H.diagnose\(model, example, routes=\['export'\]\)") as caught:
        H.aoti_package(LoopsOnData(), torch.ones(2), name="loops", cache_dir=tmp_path, quiet=True)
    assert "\n" not in str(caught.value)



def test_a_dim_the_model_contradicts_gets_torchs_suggested_dim_not_torch_cond(tmp_path):
    with pytest.raises(H.AotiCompileError) as caught:  # refused by torch.export: nothing compiles
        H.aoti_package(NarrowsBatch().eval(), torch.randn(4, 4), ({0: torch.export.Dim("batch", max=16)},),
                       cache_dir=tmp_path, quiet=True, progress=False)
    message = str(caught.value)
    assert "torch suggests: batch = Dim('batch', min=3, max=16)" in message and "\n" not in message
    assert "torch.cond" not in message and "H.diagnose" not in message  # a shape guard, and diagnose drops the Dims
    with pytest.raises(H.AotiCompileError, match=r"the example has a size of 1 .*give an example with 2 or more"):
        H.aoti_package(torch.nn.Linear(4, 3).eval(), torch.ones(1, 4), ({0: torch.export.Dim("batch")},),
                       cache_dir=tmp_path, quiet=True, progress=False)


def test_a_failure_inside_the_compiled_code_is_one_line_not_a_stack_of_frames():
    from helpers.routes.aoti import CheckedPackage

    def compiled(x):  # as the compiled library raises for a token outside the vocabulary
        raise RuntimeError("Error: index out of bounds: 0 <= tmp2 < 100L\n" +
                           "".join(f"frame #{i}: 0x7f00 in libtorch.so\n" for i in range(30)))

    package = CheckedPackage(compiled, [{"dtype": "int64", "shape": [None], "ranges": [None]}], "tokens.pt2")
    with pytest.raises(RuntimeError) as raised:
        package(torch.tensor([1000]))
    assert str(raised.value) == ("tokens.pt2: the compiled model failed on this input: Error: index out of bounds: "
                                 "0 <= tmp2 < 100L; an index is out of range (a token id the vocabulary does not "
                                 "hold?): pass indices from 0 to 99")


def test_a_token_past_the_table_fails_in_one_line_with_no_stack_on_stderr(tmp_path, capfd):
    from outside_models import TokenMean
    tokens = torch.tensor([[1, 2, 3], [4, 5, 6]])
    model = TokenMean().eval()
    package = H.aoti_package(model, tokens, name="token_mean", cache_dir=tmp_path, quiet=True, progress=False)
    compiled = H.load_aoti(package)
    assert torch.allclose(compiled(tokens), model(tokens), atol=1e-6)
    capfd.readouterr()
    with pytest.raises(RuntimeError) as raised:
        compiled(torch.tensor([[1, 2, 30], [4, 5, 6]]))
    assert "\n" not in str(raised.value) and "the compiled model failed on this input" in str(raised.value)
    assert "frame #" not in capfd.readouterr().err


def test_an_input_laid_out_otherwise_is_refused_not_read_wrong(digits_package):
    model, package = digits_package
    compiled = H.load_aoti(package)
    view = torch.randn(4, 1, 8, 8).transpose(2, 3)  # the same sizes, another order in memory
    with pytest.raises(ValueError, match=r"laid out strided in memory .*compiled for contiguous.*"
                                         r"x\.clone\(memory_format=torch\.contiguous_format\)"):
        compiled(view)
    assert torch.allclose(compiled(view.contiguous()), model(view), atol=1e-5)


def test_one_channel_images_in_channels_last_are_refused_though_is_contiguous_says_yes(digits_package):
    model, package = digits_package
    compiled = H.load_aoti(package)
    images = torch.randn(8, 1, 8, 8)
    last = images.to(memory_format=torch.channels_last)  # strides (64, 1, 8, 1): C is 1, so is_contiguous() is True
    assert last.is_contiguous() and last.contiguous() is last  # .contiguous() would change nothing
    # what the check prevents: the compiled code, called with these strides, gives other numbers than eager
    assert not torch.allclose(compiled._compiled(last), model(images), atol=1e-3)  # the package, unchecked
    with pytest.raises(ValueError, match=r"strides \(64, 1, 8, 1\).*x\.clone\(memory_format=torch\.contiguous_format\)"):
        compiled(last)
    assert torch.allclose(compiled(last.clone(memory_format=torch.contiguous_format)), model(images), atol=1e-5)


@pytest.mark.parametrize("shape, layout", [((2, 3, 4), "contiguous"), ((0, 3), "contiguous"), ((3, 0, 2), "contiguous"),
                                           ((2, 1, 8, 8), "contiguous"), ((2, 1, 8, 8), "channels_last"),
                                           ((2, 3, 1, 5), "channels_last"), ((2, 3, 4, 1, 5), "channels_last_3d"),
                                           ((), "contiguous")])
def test_layout_strides_are_torchs_own(shape, layout):
    from helpers.routes.aoti import _LAYOUTS, layout_strides
    assert layout_strides(shape, layout) == torch.empty(shape, memory_format=_LAYOUTS[layout]).stride()


def test_the_key_follows_the_examples_layout_and_takes_quantized_layers():
    conv = torch.nn.Conv2d(3, 4, 3).eval()
    x = torch.randn(2, 3, 8, 8)
    assert H.aoti_cache_key(conv, x) != H.aoti_cache_key(conv, x.to(memory_format=torch.channels_last))
    quantized = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(torch.nn.Linear(4, 4)), {torch.nn.Linear},
                                                       dtype=torch.qint8)
    assert len(H.aoti_cache_key(quantized, torch.randn(2, 4))) == 16  # packed parameters are no tensors: no crash


def test_the_key_follows_the_cpu_the_code_is_compiled_for(monkeypatch):
    from helpers.routes.aoti import aoti_cache_key, build_target
    model, example = torch.nn.Linear(4, 2), torch.randn(2, 4)
    monkeypatch.delenv("TORCHINDUCTOR_CPP_MARCH", raising=False)
    native = aoti_cache_key(model, example)
    here = build_target()
    assert here.startswith(f"{__import__('platform').machine()} {torch.backends.cpu.get_cpu_capability()} march=")
    assert "march=native" not in here or not __import__("shutil").which("g++")  # resolved by the compiler when it can
    monkeypatch.setenv("TORCHINDUCTOR_CPP_MARCH", "x86-64-v2")  # Inductor compiles for that CPU instead
    assert build_target("x86-64-v2").endswith("march=x86-64-v2") and aoti_cache_key(model, example) != native


class _DictAndNumber(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)

    def forward(self, d: typing.Dict[str, torch.Tensor], n: int):
        return self.lin(d["a"]) * n - d["b"]


def test_a_dict_in_another_key_order_is_put_in_the_compiled_order_and_another_number_is_refused():
    from helpers.routes.aoti import CheckedPackage, _input_specs, in_recorded_order
    model, a, b = _DictAndNumber().eval(), torch.randn(2, 4), torch.randn(2, 4)
    example = ({"a": a, "b": b}, 3)
    program = torch.export.export(model, example)
    specs = _input_specs(program)
    assert specs[2] == {"number": 3} and specs[0]["shape"] == [2, 4]  # the number is recorded, as the code fixed it
    structure = torch.utils._pytree.treespec_dumps(torch.utils._pytree.tree_flatten(example)[1])

    def compiled(*args):  # what the compiled code does: its tensors flat, in the order it was compiled for
        first, second = torch.utils._pytree.tree_leaves(args)[:2]
        return model({"a": first, "b": second}, 3)

    package = CheckedPackage(compiled, specs, "p.pt2", structure=structure)
    assert torch.equal(package({"b": b, "a": a}, 3), model({"a": a, "b": b}, 3))  # reordered: eager's answer
    with pytest.raises(ValueError, match=r"input 2: 5, but the program was exported with 3 there"):
        package({"a": a, "b": b}, 5)
    with pytest.raises(ValueError, match=r"input 0 is list, compiled for dict\('a', 'b'\)"):
        package([a, b], 3)
    with pytest.raises(ValueError, match=r"input 0 is a dict with keys 'a', compiled for dict\('a', 'b'\)"):
        package({"a": a}, 3)
    with pytest.raises(ValueError, match=r"input 0\['a'\] is list, compiled for one tensor or number there"):
        package({"a": [a], "b": b}, 3)  # eager would fail on the list; the flat code would have taken its tensor
    # the C++ program takes tensors only: with the number left out, the dict is still put in order
    reordered = in_recorded_order(({"b": b, "a": a},), structure, "p.pt2", specs)
    assert list(reordered[0]) == ["a", "b"]


def test_a_list_where_a_tensor_was_exported_is_refused_as_eager_would_and_a_tensor_where_a_list_was():
    from helpers.routes.aoti import in_recorded_order
    x = torch.randn(2, 4)
    one_tensor = torch.utils._pytree.treespec_dumps(torch.utils._pytree.tree_flatten((x,))[1])
    assert in_recorded_order((x,), one_tensor)[0] is x
    with pytest.raises(ValueError, match=r"p.pt2: input 0 is list, compiled for one tensor or number there"):
        in_recorded_order(([x],), one_tensor, "p.pt2")
    a_list = torch.utils._pytree.treespec_dumps(torch.utils._pytree.tree_flatten(([x, x],))[1])
    with pytest.raises(ValueError, match=r"p.pt2: input 0 is Tensor, compiled for list of 2"):
        in_recorded_order((x,), a_list, "p.pt2")


def _plus_one(x):
    return x + 1


def test_odd_arguments_get_one_line_that_names_them(tmp_path):
    with pytest.raises(TypeError, match="needs an example input to export with .* got NoneType"):
        H.aoti_package(torch.nn.Linear(2, 2), None, cache_dir=tmp_path)
    with pytest.raises(TypeError, match="got the class Linear"):
        H.load_aoti(torch.nn.Linear)
    with pytest.raises(TypeError, match="got the class Linear"):
        H.run_cpp(torch.nn.Linear, torch.ones(2))
    picture = H.draw_graph(torch.jit.script(_plus_one))  # a function: scripting nn.Linear here would rename the
    # Linear class that later tests in this process find in their files (torch mangles a second compiled type)
    with pytest.raises(ValueError, match=r"save\(\) writes .png, .svg or .mmd"):
        picture.save(tmp_path / "graph.jpg")
    assert not (tmp_path / "graph.jpg").exists()


def test_a_named_argument_gets_one_line_saying_to_pass_it_by_position(digits_package):
    _, package = digits_package
    compiled = H.load_aoti(package)
    images, _ = H.load_digits("test")
    with pytest.raises(TypeError, match=r"by position.*not with x="):
        compiled(x=images[:2])


def test_the_key_follows_the_convolution_kernels_switched_off(monkeypatch):
    """A build made with mkldnn or nnpack switched off keeps other size limits (10): it is another build; the keys
    made with torch's defaults stay those of the cached builds."""
    from helpers.routes.aoti import aoti_cache_key
    from helpers.routes.executorch_route import pte_cache_key
    model, example = torch.nn.Conv2d(1, 2, 3).eval(), torch.randn(4, 1, 8, 8)
    program = torch.export.export(model, (example,))
    defaults = aoti_cache_key(model, example), pte_cache_key(model, example), pte_cache_key(program)
    with torch.backends.mkldnn.flags(enabled=False), torch.backends.nnpack.flags(enabled=False):
        off = aoti_cache_key(model, example), pte_cache_key(model, example), pte_cache_key(program)
    with torch.backends.nnpack.flags(enabled=False):
        nnpack_off = aoti_cache_key(model, example)
    assert all(a != b for a, b in zip(defaults, off)) and nnpack_off not in (defaults[0], off[0])
    assert (aoti_cache_key(model, example), pte_cache_key(program)) == (defaults[0], defaults[2])  # back on: as before


def test_a_batch_of_one_from_numpy_or_a_slice_is_taken_and_an_empty_input_is_not_judged(digits_package):
    model, package = digits_package
    compiled = H.load_aoti(package)
    image = torch.randn(1, 8, 8)
    from_numpy = torch.from_numpy(image.numpy()[None])  # numpy's new axis has stride 0: never read for a batch of 1
    assert from_numpy.stride()[0] == 0
    assert torch.allclose(compiled(from_numpy), model(image[None]), atol=1e-5)
    sliced = torch.randn(5, 1, 8, 8)[2:3]
    assert torch.allclose(compiled(sliced), model(sliced), atol=1e-5)
    from helpers.routes.aoti import layout_problem
    assert layout_problem(torch.empty(0, 1, 8, 8).to(memory_format=torch.channels_last), "contiguous") == ""


def test_a_strided_example_is_compiled_from_a_contiguous_copy_so_calls_are_checked(tmp_path):
    model = torch.nn.Linear(4, 3).eval()
    wide = torch.randn(4, 5, 8)[:, :, :4]  # strides (40, 8, 1): neither contiguous nor channels_last
    package = H.aoti_package(model, wide, ({0: torch.export.Dim("batch", min=2, max=64)},), name="from_a_slice",
                             cache_dir=tmp_path, quiet=True, progress=False)
    assert package.key == H.aoti_cache_key(model, wide.contiguous(), ({0: torch.export.Dim("batch", min=2, max=64)},))
    compiled = H.load_aoti(package)
    assert torch.allclose(compiled(wide.contiguous()), model(wide), atol=1e-5)
    with pytest.raises(ValueError, match=r"laid out strided in memory .*compiled for contiguous.*may give wrong"):
        compiled(wide)


class _TwoInputs(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)

    def forward(self, x, y):
        return self.lin(x) + y


def test_an_example_eager_refuses_is_named_before_any_export_or_compile(tmp_path):
    bools = (torch.ones(2, 4, dtype=torch.bool), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"aoti_package: the eager model fails on the example \(RuntimeError: .*\): "
                                         r"fix the model, or pass an input it accepts"):
        H.aoti_package(_TwoInputs().eval(), bools, cache_dir=tmp_path, quiet=True, progress=False)
    assert not list(tmp_path.glob("*.pt2"))
    with pytest.raises(ValueError, match=r"lower_to_pte: the eager model fails on the example"):
        H.lower_to_pte(_TwoInputs().eval(), bools, cache_dir=tmp_path)
    assert not list(tmp_path.glob("*.json")) and not list(tmp_path.glob("*.pte"))  # no failure recorded in the cache


def test_a_forward_of_your_own_that_reads_self_training_is_refused_in_training_mode(tmp_path):
    from outside_models import TrainingFlag
    with pytest.raises(ValueError, match=r"training mode \(TrainingFlag, whose forward reads self.training\): call "
                                         r"model.eval\(\) first"):
        H.aoti_package(TrainingFlag(), torch.randn(2, 4), cache_dir=tmp_path, quiet=True, progress=False)


def _cpp_bounds(package) -> tuple:
    """The batch bounds the package's generated C++ checks its input against (its wrapper's messages)."""
    import zipfile
    with zipfile.ZipFile(package.path) as archive:
        wrapper = next(archive.read(n).decode() for n in archive.namelist() if n.endswith("wrapper.cpp"))
    return (set(re.findall(r"expected it to be >= (\d+)", wrapper)), set(re.findall(r"expected to be <= (\d+)", wrapper)))


@pytest.mark.skipif(not (sys.platform == "linux" and platform.machine() == "x86_64"),
                    reason="10's figures are those of x86-64 Linux")
def test_an_example_batch_of_16_moves_the_cpp_checks_lower_bound_to_16(digits_package):
    # what 10 says after "Why 15?": the lowering keeps the example's side of the convolution's "batch >= 16" test,
    # which sets the lower bound of the package's C++ checks too: an example of 4 gives 2 to 15, one of 16 gives 16 to 1024
    model, package = digits_package
    assert _cpp_bounds(package) == ({"2"}, {"15"})
    images, _ = H.load_digits("test")
    sixteen = H.aoti_package(model, images[:16], H.batch_dim(), name="digits_cnn_example16", quiet=True)
    assert _cpp_bounds(sixteen) == ({"16"}, {"1024"})


def test_a_load_into_a_chosen_scratch_folder_leaves_python_its_own_temp_folder(digits_package, tmp_path):
    # In a fresh process nothing has asked Python for its temp folder yet: the first ask must not happen inside
    # the load, where $TMPDIR points at the private folder that is removed right after.
    probe = ("import sys, tempfile, torch\n"
             "import helpers as H\n"
             "compiled = H.load_aoti(sys.argv[1], scratch=sys.argv[2])\n"
             "print(compiled(torch.rand(3, 1, 8, 8)).shape[1], tempfile.gettempdir() != sys.argv[2])\n"
             "with tempfile.TemporaryDirectory() as folder:\n"
             "    print('temp ok')\n")
    done = subprocess.run([sys.executable, "-c", probe, str(digits_package[1].path), str(tmp_path / "scratch")],
                          cwd=H.REPO_ROOT, env={**os.environ, "PYTHONPATH": str(H.REPO_ROOT)},
                          capture_output=True, text=True, timeout=300)
    assert done.stdout.split() == ["10", "True", "temp", "ok"], done.stderr[-800:]
    assert list((tmp_path / "scratch").iterdir()) == []


class _Difference(torch.nn.Module):
    def forward(self, x, y):
        return x - y


def test_torch_export_reads_one_tensor_given_for_two_arguments_as_one_input():
    # why aoti_package and lower_to_pte export from copies: a future torch that keeps them apart fails here
    x, y = torch.randn(3), torch.randn(3)
    program = torch.export.export(_Difference(), (x, x))
    assert torch.equal(program.module()(x, y), torch.zeros(3))


def test_an_example_giving_one_tensor_for_two_arguments_compiles_two_inputs(tmp_path):
    x, y = torch.randn(3), torch.randn(3)
    package = H.aoti_package(_Difference(), (x, x), name="difference", cache_dir=tmp_path, quiet=True, progress=False)
    assert torch.allclose(H.load_aoti(package)(x, y), x - y)
    # the two arguments as one tuple: eager refuses it, and so do both runners (the flat code would take it)
    with pytest.raises(TypeError, match=r"takes 2 arguments, got one tuple of 2: a tuple is one argument"):
        H.load_aoti(package)((x, y))
    if shutil.which(os.environ.get("CXX") or "g++"):
        with pytest.raises(TypeError, match=r"takes 2 arguments, got one tuple of 2"):
            H.run_aoti_cpp(package, (x, y))


def test_arguments_given_as_one_tuple_or_one_tuple_given_as_arguments_are_refused_as_eager_would():
    from helpers.routes.aoti import in_recorded_order
    x, y = torch.randn(2), torch.randn(2)
    spec = lambda example: torch.utils._pytree.treespec_dumps(torch.utils._pytree.tree_flatten(example)[1])
    two = spec((x, y))
    assert in_recorded_order((x, y), two) == (x, y)
    for wrong in [((x, y),), ([x, y],)]:
        with pytest.raises(TypeError, match=r"^p\.pt2 takes 2 arguments, got one \w+ of 2: .* pass them one by one"):
            in_recorded_order(wrong, two, "p.pt2")
    one_pair = spec(((x, y),))
    assert in_recorded_order(((x, y),), one_pair)[0] == (x, y)
    with pytest.raises(TypeError, match=r"^p\.pt2 takes one argument, a tuple of 2, got 2 arguments: pass them as one "
                                        r"tuple, as in eager, run\(\(a, b\)\)$"):
        in_recorded_order((x, y), one_pair, "p.pt2")


@dataclasses.dataclass
class _Scale:
    value: float = 2.0


class _Configured(torch.nn.Module):
    """Keeps what forward reads where plain attributes do not: a config object, a private float, a plain tensor."""
    def __init__(self, config, private=1.0, offset=None):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)
        self.config, self._private = config, private
        self.offset = torch.zeros(4) if offset is None else offset

    def forward(self, x):
        return self.lin(x) * self.config.value * self._private + self.offset


@pytest.mark.parametrize("change", ["config", "private", "offset"])
def test_the_cache_key_follows_what_forward_reads_outside_the_state_dict(change):
    torch.manual_seed(0)
    model = _Configured(_Scale(2.0))
    x = torch.randn(2, 4)
    before = H.aoti_cache_key(model, x)
    if change == "config":
        model.config = _Scale(3.0)
    elif change == "private":
        model._private = 3.0
    else:
        model.offset = torch.ones(4)
    assert H.aoti_cache_key(model, x) != before
    assert H.aoti_cache_key(copy.deepcopy(model), x) == H.aoti_cache_key(model, x)  # the same in another copy


def test_torch_layers_keep_their_keys_whatever_their_private_attributes():
    # a Conv2d keeps derived private attributes (_reversed_padding_repeated_twice): its settings are in extra_repr,
    # and the keys of packages cached before stay as they were
    from helpers.routes.aoti import model_description
    assert "~" not in model_description(torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1)))


class _AlwaysDrops(torch.nn.Module):
    def forward(self, x):
        return torch.nn.functional.dropout(x, 0.5, training=True)


@pytest.mark.parametrize("model, words", [(CountsCalls(), r"changes its own state on each call \(self\.calls: 0 → 1\)"),
                                          (_AlwaysDrops(), r"two eager calls on the example gave two answers")])
def test_a_model_that_moves_between_calls_is_named_before_it_is_compiled(model, words, capsys):
    from helpers.routes.aoti import refuse_what_eager_refuses
    refuse_what_eager_refuses(model, (torch.ones(64),), "aoti_package")
    assert re.search(words, capsys.readouterr().out)
    if isinstance(model, CountsCalls):
        assert model.calls == 0  # a copy ran


def test_a_model_that_stays_put_gets_no_warning(capsys):
    from helpers.routes.aoti import refuse_what_eager_refuses
    refuse_what_eager_refuses(torch.nn.Linear(3, 2).eval(), (torch.ones(2, 3),), "aoti_package")
    assert capsys.readouterr().out == ""


def test_a_string_argument_is_recorded_as_fixed_and_another_string_refused():
    # without compiling: the input specs H.aoti_package records, and the check H.load_aoti runs on each call
    from outside_models import PicksHeadByName
    from helpers.routes.aoti import _input_specs, inputs_problem
    x = torch.randn(2, 4)
    specs = _input_specs(torch.export.export(PicksHeadByName().eval(), (x, "a")))
    assert specs[1] == {"number": "a"}
    assert inputs_problem([x, "a"], specs) == ""
    assert "'b', but the program was exported with 'a' there" in inputs_problem([x, "b"], specs)


def test_a_number_of_another_type_than_the_one_fixed_at_export_is_refused():
    from helpers.routes.aoti import inputs_problem
    x, specs = torch.randn(2, 4), [{"dtype": "float32", "shape": [2, 4]}, {"number": 3}]
    assert inputs_problem([x, 3], specs) == ""
    # 3.0 == 3 and True == 1: equal, but eager computes with the float (x * 3.0 of an int x is float) or the bool
    assert inputs_problem([x, 3.0], specs).endswith("3.0 (float), but the program was exported with 3 (int) there, "
                                                    "fixed into its code: pass 3")
    assert "True, but the program was exported with 3 there" in inputs_problem([x, True], specs)
    assert "(int), but the program was exported with 2.0 (float)" in inputs_problem([x, 2], [specs[0], {"number": 2.0}])
    import numpy as np  # NumPy's scalars are the numbers they stand for: eager computes the same with them
    assert inputs_problem([x, np.int64(3)], specs) == ""
    assert inputs_problem([x, np.float64(2.0)], [specs[0], {"number": 2.0}]) == ""
    assert inputs_problem([x, np.True_], [specs[0], {"number": True}]) == ""
    assert "np.float64(3.0) (float), but the program was exported with 3 (int)" in inputs_problem([x, np.float64(3.0)], specs)


def test_draw_graph_of_a_loaded_package_points_to_the_program_it_was_made_from(digits_package):
    import torch._inductor
    for loaded in (H.load_aoti(digits_package[1]), torch._inductor.aoti_load_package(str(digits_package[1].path))):
        with pytest.raises(TypeError, match=r"^draw_graph got a compiled AOTInductor package, which holds compiled "
                                            r"code, not a graph to draw: draw the ExportedProgram"):
            H.draw_graph(loaded)
    with pytest.raises(TypeError, match=r"^draw_graph got the path of an AOTInductor package, which holds compiled code"):
        H.draw_graph(digits_package[1].path)


class _TakeK(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(8, 8)

    def forward(self, x, k: int):
        return self.lin(x)[:, :k]


def test_an_int_marked_dynamic_is_refused_since_the_package_ignores_it(tmp_path):
    model, x = _TakeK().eval(), torch.randn(3, 8)
    shapes = ({0: torch.export.Dim("b", min=1, max=64)}, torch.export.Dim.DYNAMIC)
    program = torch.export.export(model, (x, 4), dynamic_shapes=shapes)
    assert program.module()(x, 5).shape == (3, 5)  # the program itself takes the int
    # torch's own package of it, without the helpers: every k answered for none of them (all 8 columns)
    from torch._inductor import aoti_compile_and_package, aoti_load_package
    compiled = aoti_load_package(aoti_compile_and_package(program, package_path=str(tmp_path / "direct.pt2")))
    assert [tuple(compiled(x, k).shape) for k in (4, 5, 2)] == [(3, 8)] * 3
    with pytest.raises(ValueError, match=r"^aoti_package: input 1 is a number marked dynamic in dynamic_shapes; .*"
                                         r"ignores the number it is called with .*leave it out of dynamic_shapes"):
        H.aoti_package(model, (x, 4), shapes, name="take_k", cache_dir=tmp_path / "cache", progress=False)
    assert not list((tmp_path / "cache").glob("*.pt2"))
    # refused from the call itself, before the export and the cache (a package cached before the refusal existed
    # has the same key), by position or by forward's argument name
    def no_export(*args, **kwargs):
        raise AssertionError("exported")

    for given in (shapes, {"x": shapes[0], "k": torch.export.Dim.DYNAMIC}):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(torch.export, "export", no_export)
            with pytest.raises(ValueError, match=r"^aoti_package: input 1 is a number marked dynamic"):
                H.aoti_package(model, (x, 4), given, name="take_k", cache_dir=tmp_path / "cache", progress=False)
    # without the Dim the int is fixed: the package answers for 4 and refuses 5 (H.load_aoti's check)
    package = H.aoti_package(model, (x, 4), shapes[:1] + (None,), name="take_k", cache_dir=tmp_path / "cache",
                             progress=False, quiet=True)
    assert torch.equal(H.load_aoti(package)(x, 4), model(x, 4))
    with pytest.raises(ValueError, match="exported with 4 there"):
        H.load_aoti(package)(x, 5)
