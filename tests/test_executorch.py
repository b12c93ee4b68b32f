"""ExecuTorch route of 10_shipping: .pte files from the portable kernels and XNNPACK, run in ExecuTorch's runtime."""
import typing
import pytest
import torch

import helpers as H
from outside_models import NarrowsBatch

pytestmark = pytest.mark.skipif(not H.executorch_available(),
                                reason="executorch not installed: make venv installs requirements-shipping.txt")


@pytest.mark.parametrize("backend", ["portable", "xnnpack"])
def test_digits_pte_matches_eager(backend):
    model, example, dynamic = H.ship_spec("digits_cnn")
    pte = H.lower_to_pte(model, example, dynamic, backend=backend, name="digits_cnn")
    images, _ = H.load_digits("test")
    runner = H.pte_runner(pte)
    report = H.parity(model, runner, inputs=[images[:1], images[:8]], rtol=1e-4, atol=1e-5)
    assert report.all_close, report
    # .unchecked is the runtime's own call on flat tensors (10 times it alone): the same numbers, in a list
    assert torch.equal(runner.unchecked(images[:4])[0], runner(images[:4]))
    if backend == "portable":
        assert H.parity(model, runner, inputs=[images], rtol=1e-4, atol=1e-5).all_close
    else:  # executorch 1.5.1: the XNNPACK delegate refuses batches of 16 and more, lowered from an example of 4
        # (torch's CPU convolution chooses its kernel with a test on "batch >= 16"; see the tests below), which 10 shows
        with pytest.raises(RuntimeError, match=r"maximum capacity of \d+ elements"):
            runner(images)
    assert pte.size_bytes < 64 * 1024


def test_xnnpack_inside_cond_fails_and_decomposing_first_works(tmp_path):
    model, example, dynamic = H.ship_spec("cond_net")
    with pytest.raises(RuntimeError, match="was not decomposed or delegated") as lowered:
        H.lower_to_pte(model, example, dynamic, backend="xnnpack", name="cond_net", cache_dir=tmp_path)
    with pytest.raises(RuntimeError, match="was not decomposed or delegated") as recorded:  # the record, no lowering
        H.lower_to_pte(model, example, dynamic, backend="xnnpack", name="cond_net", cache_dir=tmp_path)
    assert str(recorded.value) == str(lowered.value)
    for error in (lowered.value, recorded.value):  # the way out, named beside ExecuTorch's own message
        assert any("pass decompose=True" in note for note in error.__notes__)
    pte = H.lower_to_pte(model, example, dynamic, backend="xnnpack", name="cond_net", decompose=True)
    assert H.parity(model, H.pte_runner(pte), inputs=[example.abs(), -example.abs(), torch.randn(6, 4)]).all_close


def test_bad_input_is_explained(tmp_path):
    with pytest.raises(ValueError, match="backend must be one of"):
        H.lower_to_pte(H.load_digits_cnn(), torch.rand(2, 1, 8, 8), backend="coreml")
    with pytest.raises(TypeError, match="not the class"):
        H.lower_to_pte(H.DigitsCNN, torch.rand(2, 1, 8, 8))
    with pytest.raises(FileNotFoundError, match="make aoti"):
        H.pte_runner(tmp_path / "missing.pte")


def test_startup_figures_are_read_from_the_build(tmp_path):
    import json
    path = tmp_path / "startup.json"
    from helpers.routes.ship_costs import _SNIPPETS_KEY
    path.write_text(json.dumps({"torch": torch.__version__, "snippets": _SNIPPETS_KEY,
                                "startup_seconds": {"python (eager)": 1.0}}))
    assert H.startup_figures(path)["startup_seconds"] == {"python (eager)": 1.0}
    assert H.startup_figures(tmp_path / "missing.json", measure_if_missing=False) == {}
    assert "on a machine it does not name" in H.startup_figures(path)["source"]
    # figures made on another machine (a hub image built elsewhere) are kept, and said to be that machine's
    from helpers.routes.ship_costs import this_machine
    for made_on, says in ((this_machine(), "on this machine"), ("x86_64 Elsewhere CPU, 64 CPUs", "on another machine")):
        path.write_text(json.dumps({"torch": torch.__version__, "snippets": _SNIPPETS_KEY, "machine": made_on,
                                    "startup_seconds": {"python (eager)": 1.0}}))
        assert says in H.startup_figures(path)["source"]
    # figures measured by other snippets (an older course) are measured again, not shown
    path.write_text(json.dumps({"torch": torch.__version__, "startup_seconds": {"python (eager)": 1.0}}))
    assert H.startup_figures(path, measure_if_missing=False) == {}


def test_the_onnx_runtime_start_up_imports_no_torch():
    from helpers.routes.ship_costs import STARTUP_SNIPPETS, _PRELUDES
    code = _PRELUDES["ONNX Runtime .onnx"] + STARTUP_SNIPPETS["ONNX Runtime .onnx"]
    assert "torch" not in code  # a deployment with ONNX Runtime needs none


def test_a_dynamic_size_without_a_bound_is_refused_before_lowering(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(4, 3)).eval()
    with pytest.raises(ValueError, match=r"input 0 dim 0 has no upper bound.*Dim\('batch', min=1, max=64\)"):
        H.lower_to_pte(model, torch.randn(2, 4), ({0: torch.export.Dim("batch")},), name="unbounded",
                       cache_dir=tmp_path)
    assert not list(tmp_path.glob("*.json"))  # not recorded as a lowering failure
    # a program has no Dims to pass here: the advice is to export it again with a bounded one
    program = torch.export.export(model, (torch.randn(2, 4),), dynamic_shapes=({0: torch.export.Dim("batch")},))
    with pytest.raises(ValueError, match=r"no upper bound.*export it again with a bounded Dim.*report\.reexport"):
        H.lower_to_pte(program, name="unbounded_program", cache_dir=tmp_path)


def test_torch_lowers_a_size_without_a_bound_and_the_pte_holds_only_the_example_size(tmp_path):
    # why lower_to_pte refuses it (10's snippet says so): executorch itself lowers it without a word
    from executorch.exir import to_edge_transform_and_lower
    model = torch.nn.Sequential(torch.nn.Linear(4, 3)).eval()
    program = torch.export.export(model, (torch.randn(2, 4),), dynamic_shapes=({0: torch.export.Dim("batch")},))
    path = tmp_path / "unbounded.pte"
    path.write_bytes(to_edge_transform_and_lower(program).to_executorch().buffer)
    runner = H.pte_runner(path)
    assert torch.allclose(runner(torch.ones(2, 4)), model(torch.ones(2, 4)), atol=1e-6)
    with pytest.raises(RuntimeError, match=r"maximum capacity of 8 elements.*holds at most 8 values, sized when the "
                                           r"file was lowered.*this input needs 200"):
        runner(torch.ones(50, 4))


def test_a_list_argument_reaches_the_program_as_its_tensors(tmp_path):
    class ListIn(torch.nn.Module):
        def forward(self, xs):
            return xs[0] * 2 + xs[1]
    xs = [torch.randn(3, 4), torch.randn(3, 4)]
    pte = H.lower_to_pte(ListIn(), (xs,), name="list_in", cache_dir=tmp_path)
    assert H.parity(ListIn(), H.pte_runner(pte), inputs=[(xs,)]).all_close


def test_a_model_torch_export_refuses_gets_one_line_and_no_record(tmp_path):
    class TwoIn(torch.nn.Module):
        def forward(self, x, y):
            return x + y

    class Halve(torch.nn.Module):
        def forward(self, x):
            while x.norm() > 1:
                x = x / 2
            return x

    with pytest.raises(TypeError, match="pass example="):
        H.lower_to_pte(TwoIn(), None, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="torch.export failed before ExecuTorch") as caught:
        H.lower_to_pte(Halve(), torch.full((2,), 3.0), name="halve", cache_dir=tmp_path)
    assert "\n" not in str(caught.value) and caught.value.__suppress_context__
    assert not list(tmp_path.glob("*.json"))  # the model's problem, not a lowering outcome: nothing recorded



def test_a_dim_the_model_contradicts_gets_torchs_suggested_dim(tmp_path):
    with pytest.raises(ValueError, match="torch.export failed before ExecuTorch") as caught:
        H.lower_to_pte(NarrowsBatch().eval(), (torch.randn(4, 4),), ({0: torch.export.Dim("batch", max=16)},),
                       name="shape_branch", cache_dir=tmp_path)
    message = str(caught.value)
    assert "torch suggests: batch = Dim('batch', min=3, max=16)" in message and "\n" not in message
    from helpers.routes import export_check  # the one reader of torch's message, shared with the round trip
    assert export_check.dim_conflict("no such error") == ""


def test_a_model_in_training_mode_is_refused_with_the_fix(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.5)).train()
    with pytest.raises(ValueError, match=r"training mode \(.*Dropout.*\): call model.eval\(\) first"):
        H.lower_to_pte(model, torch.randn(2, 4), cache_dir=tmp_path)
    with pytest.raises(ValueError, match="call model.eval"):
        H.aoti_package(model, torch.randn(2, 4), cache_dir=tmp_path)
    assert not list(tmp_path.iterdir())  # nothing built, nothing recorded


def test_a_dict_output_comes_back_a_dict(tmp_path):
    class DictOut(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 3)

        def forward(self, x):
            y = self.lin(x)
            return {"logits": y, "probs": y.softmax(-1)}

    model, x = DictOut().eval(), torch.randn(2, 4)
    run = H.pte_runner(H.lower_to_pte(model, (x,), name="dict_out", cache_dir=tmp_path))
    out = run(x)
    assert isinstance(out, dict) and list(out) == ["logits", "probs"]
    assert torch.allclose(out["probs"], model(x)["probs"], atol=1e-6)
    report = H.parity(model, run, inputs=[x], label="portable")
    assert report.all_close and not report.unkeyed  # the keys came back: no note about reading by position


@pytest.mark.parametrize("batch, takes_16", [(15, False), (16, True)])
def test_the_xnnpack_bound_follows_the_examples_side_of_16(tmp_path, batch, takes_16):
    # what 10 says: torch's CPU convolution tests "batch >= 16" to choose a kernel, and the lowering writes down
    # the example's side of that test: an example of 15 gives the bound of 15, one of 16 a file that takes every
    # batch tried, from 1 to the Dim's 1024
    model, _, dynamic = H.ship_spec("digits_cnn")
    images, _ = H.load_digits("test")
    pte = H.lower_to_pte(model, images[:batch], dynamic, backend="xnnpack", name=f"example_{batch}",
                         cache_dir=tmp_path, quiet=True)
    runner = H.pte_runner(pte)
    assert H.parity(model, runner, inputs=[images[:1], images[:15]], rtol=1e-4, atol=1e-5).all_close
    if takes_16:
        assert H.parity(model, runner, inputs=[images[:16], images, images.repeat(4, 1, 1, 1)[:1024]],
                        rtol=1e-4, atol=1e-5).all_close
    else:
        with pytest.raises(RuntimeError, match=r"maximum capacity of 960 elements"):
            runner(images[:16])


def test_the_xnnpack_bound_of_15_comes_from_torchs_cpu_convolution_kernels(tmp_path):
    # what 10 says of its 15 images: lowered with mkldnn and nnpack switched off, the same XNNPACK .pte runs 16 and 64
    model, example, dynamic = H.ship_spec("digits_cnn")
    images, _ = H.load_digits("test")
    with torch.backends.mkldnn.flags(enabled=False), torch.backends.nnpack.flags(enabled=False):
        pte = H.lower_to_pte(model, example, dynamic, backend="xnnpack", name="no_cpu_kernels", cache_dir=tmp_path,
                             quiet=True)
    runner = H.pte_runner(pte)
    assert H.parity(model, runner, inputs=[images[:16], images[:64]], rtol=1e-4, atol=1e-5).all_close


def test_the_runner_refuses_a_batch_outside_the_exported_range(tmp_path):
    class ShapeBranch(torch.nn.Module):  # the .pte keeps the branch of sizes above 2 only: 1 would answer wrongly
        def forward(self, x):
            if x.shape[0] > 2:
                return x.sum(0, keepdim=True)
            return x * 2

    batch = torch.export.Dim("batch", min=3, max=8)
    pte = H.lower_to_pte(ShapeBranch(), torch.randn(4, 4), ({0: batch},), name="shape_branch", cache_dir=tmp_path)
    runner = H.pte_runner(pte)
    assert torch.allclose(runner(torch.ones(5, 4)), torch.full((1, 4), 5.0))
    with pytest.raises(ValueError, match=r"input 0: size 1 at dimension 0, outside the range it was exported for "
                                         r"\(3 to 8\)"):
        runner(torch.ones(1, 4))


def test_the_pte_runner_checks_a_relation_dim_auto_added_between_two_inputs(tmp_path):
    from outside_models import InterleavedPair
    x, y = torch.ones(3, 4), torch.ones(6, 4)
    pte = H.lower_to_pte(InterleavedPair(), (x, y), ({0: torch.export.Dim.AUTO(max=32)}, {0: torch.export.Dim.AUTO(max=64)}),
                         name="interleaved", cache_dir=tmp_path)
    runner = H.pte_runner(pte)
    assert torch.equal(runner(torch.ones(5, 4), torch.ones(10, 4)), InterleavedPair()(torch.ones(5, 4), torch.ones(10, 4)))
    with pytest.raises(ValueError, match=r"break a rule on their sizes .*x.size\(\)\[0\] == \(\(1 \+ "
                                         r"y.size\(\)\[0\]\) // 2\) \(here x.size\(\)\[0\] = 5, y.size\(\)\[0\] = 12\)"):
        runner(torch.ones(5, 4), torch.ones(12, 4))


def test_a_pte_lowered_from_a_program_checks_the_programs_size_rules_too(tmp_path):
    from outside_models import PairsSummed
    program = torch.export.export(PairsSummed(), (torch.ones(3, 8),),
                                  dynamic_shapes=({0: torch.export.Dim.AUTO(max=16), 1: torch.export.Dim.AUTO(max=32)},))
    runner = H.pte_runner(H.lower_to_pte(program, name="pairs", cache_dir=tmp_path))
    assert torch.equal(runner(torch.ones(3, 6)), PairsSummed()(torch.ones(3, 6)))
    with pytest.raises(ValueError, match=r"break a rule on its sizes .*\(here x.size\(\)\[1\] = 7"):
        runner(torch.ones(3, 7))


class _Bag(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.bag = torch.nn.EmbeddingBag(20, 4, mode="sum")

    def forward(self, tokens, offsets):
        return self.bag(tokens, offsets)


def test_a_pte_whose_operator_has_no_kernel_says_which_not_only_a_code(tmp_path):
    example = (torch.tensor([1, 2, 3, 4]), torch.tensor([0, 2]))
    pte = H.lower_to_pte(_Bag().eval(), example, name="bag", cache_dir=tmp_path)
    with pytest.raises(RuntimeError, match=r"did not load .*0x:14.*no kernel in this runtime.*_embedding_bag") as caught:
        H.pte_runner(pte)
    assert "\n" not in str(caught.value)


class TwoIn(torch.nn.Module):
    def forward(self, x, y):
        return x + y


class Lookup(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.table = torch.nn.Embedding(10, 3)

    def forward(self, ids):
        return self.table(ids)


def test_the_runner_counts_the_inputs_and_cuts_the_runtimes_message_to_its_cause(tmp_path):
    two = H.pte_runner(H.lower_to_pte(TwoIn(), (torch.ones(3), torch.ones(3)), name="two_in", cache_dir=tmp_path))
    with pytest.raises(TypeError, match=r"takes 2 inputs \(float32 \(3\), float32 \(3\)\), got 1$"):
        two(torch.ones(3))
    two.input_specs = None  # a .pte lowered elsewhere, with no record: the runtime's own count, in the same words
    with pytest.raises(RuntimeError, match=r"takes 2 inputs, got 3$"):
        two(torch.ones(3), torch.ones(3), torch.ones(3))
    lookup = H.pte_runner(H.lower_to_pte(Lookup().eval(), (torch.tensor([1, 2]),), name="lookup", cache_dir=tmp_path))
    with pytest.raises(RuntimeError) as caught:
        lookup(torch.tensor([1, 12]))
    message = str(caught.value)
    assert "12 >= weight.size(0) 10" in message and "aten::embedding" in message  # what is wrong, and where
    assert "type id" not in message and "\n" not in message and len(message) < 300
    assert "index is out of range" in message and "pass ids from 0 to 9" in message


class TopK(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.table = torch.nn.Embedding(10, 4)

    def forward(self, ids, k: int = 3):
        return self.table(ids)[:, :k] * k


def test_a_number_fixed_at_export_may_be_left_out_and_another_is_refused(tmp_path):
    model, ids = TopK().eval(), torch.tensor([[1, 2, 3, 4]])
    run = H.pte_runner(H.lower_to_pte(model, (ids, 3), name="top_k", cache_dir=tmp_path))
    assert torch.equal(run(ids, 3), model(ids, 3))
    assert torch.equal(run(ids), model(ids, 3))  # as H.load_aoti and the C++ runners take it: the number put back
    with pytest.raises(ValueError, match=r"input 1: 4, but the program was exported with 3 there"):
        run(ids, 4)
    with pytest.raises(ValueError, match=r"input 1: 3\.0 \(float\), but the program was exported with 3 \(int\) there.*pass 3$"):
        run(ids, 3.0)  # equal to 3, but eager's result would be float: the runtime said only "expected type Int"
    with pytest.raises(TypeError, match=r"takes 2 inputs \(int64 \(1, 4\), 3\), got 3$"):
        run(ids, 3, 3)


class Options(torch.nn.Module):
    def forward(self, x, scale: float, k: int = 3, flag: bool = True):
        return (x * scale)[:, :k] if flag else x


class ListK(torch.nn.Module):
    def forward(self, xs: typing.List[torch.Tensor], k: int):
        return (xs[0] + xs[1])[:, :k]


def test_the_numbers_at_the_end_may_be_left_out_and_a_short_list_is_counted(tmp_path):
    model, x = Options().eval(), torch.randn(2, 6)
    run = H.pte_runner(H.lower_to_pte(model, (x, 2.0, 3, True), name="options", cache_dir=tmp_path))
    for call in ((x, 2.0, 3, True), (x, 2.0, 3), (x, 2.0), (x,)):  # forward's defaults left out, as load_aoti takes
        assert torch.equal(run(*call), model(x, 2.0, 3, True)), len(call)
    a, b = torch.randn(2, 6), torch.randn(2, 6)
    short = H.pte_runner(H.lower_to_pte(ListK().eval(), ([a, b], 2), name="list_k", cache_dir=tmp_path))
    assert torch.equal(short([a, b]), ListK()([a, b], 2))
    with pytest.raises(TypeError, match=r"takes 3 inputs \(float32 \(2, 6\), float32 \(2, 6\), 2\), got 2"):
        short([a], 2)  # the list is short, not the number: "input 1: got int, compiled for a tensor" before


def test_an_input_of_another_rank_gets_the_rank_named_before_any_layout_copy(tmp_path):
    conv = torch.nn.Conv2d(3, 4, 3, padding=1).eval()
    example = torch.randn(2, 3, 8, 8).to(memory_format=torch.channels_last)
    run = H.pte_runner(H.lower_to_pte(conv, example, name="conv_cl", cache_dir=tmp_path))
    with pytest.raises(ValueError, match=r"input 0: 3 dimensions \(3, 8, 8\), compiled for 4$"):
        run(torch.randn(3, 8, 8))  # an IndexError from the layout copy before
    with pytest.raises(ValueError, match=r"input 0: 5 dimensions .*, compiled for 4$"):
        run(torch.randn(2, 3, 8, 8, 2))  # the copy's own "required rank 4", blamed on ExecuTorch, before


def test_the_orders_of_dimensions_the_runtime_reads():
    from helpers.routes.executorch_route import _runtime_order
    image = torch.randn(2, 3, 8, 8)
    assert _runtime_order(image) and _runtime_order(image.to(memory_format=torch.channels_last))
    assert _runtime_order(image[:, :2]) and _runtime_order(image[0:1]) and _runtime_order(torch.tensor(1.0))
    assert not _runtime_order(image.transpose(2, 3)) and not _runtime_order(image[:1].expand(2, 3, 8, 8))
    assert not _runtime_order(torch.randn(2, 3, 4, 4, 4).to(memory_format=torch.channels_last_3d))


def test_a_program_exported_from_an_odd_layout_is_refused_in_one_line(tmp_path):
    linear = torch.nn.Linear(5, 3).eval()
    program = torch.export.export(linear, (torch.randn(5, 4).t(),))  # a transposed view: every input failed in addmm
    with pytest.raises(ValueError, match=r"^lower_to_pte: this program was exported from an example whose input 0 lies "
                                         r"in memory in another order of dimensions \(strides \(1, 4\) for shape "
                                         r"\(4, 5\)\).*export it again from contiguous copies"):
        H.lower_to_pte(program, name="transposed", cache_dir=tmp_path)
    assert not list(tmp_path.glob("*.pte"))
    for sliced in (torch.randn(4, 10)[:, :5], torch.randn(8, 5)[::2], torch.randn(4, 5)[:, :1].expand(4, 5)[:, :5]):
        if sliced.stride(1) == 0:  # a broadcast: refused as well (the runtime failed on it before)
            with pytest.raises(ValueError, match="another order of dimensions"):
                H.lower_to_pte(torch.export.export(linear, (sliced,)), name="broadcast", cache_dir=tmp_path)
            continue
        # a slice's gaps keep the order the runtime reads: lowered, and right (refused for a while, wrongly)
        run = H.pte_runner(H.lower_to_pte(torch.export.export(linear, (sliced,)), name="sliced", cache_dir=tmp_path))
        assert H.parity(linear, run, inputs=[torch.randn(4, 5), sliced]).all_close
    run = H.pte_runner(H.lower_to_pte(linear, torch.randn(5, 4).t(), name="transposed", cache_dir=tmp_path))
    assert H.parity(linear, run, inputs=[torch.randn(4, 5), torch.randn(5, 4).t()]).all_close  # the model: a copy


class DictIn(torch.nn.Module):
    def forward(self, batch):
        return batch["a"] - 2 * batch["b"]


def test_a_dict_argument_in_another_key_order_reaches_the_right_inputs(tmp_path):
    example = ({"a": torch.ones(3), "b": torch.zeros(3)},)
    run = H.pte_runner(H.lower_to_pte(DictIn(), example, name="dict_in", cache_dir=tmp_path))
    swapped = {"b": torch.zeros(3), "a": torch.ones(3)}
    assert torch.equal(run(swapped), DictIn()(swapped))  # 1, not -2: each tensor to its key
    with pytest.raises(ValueError, match=r"input 0 is a dict with keys 'a', 'c', compiled for dict\('a', 'b'\)"):
        run({"a": torch.ones(3), "c": torch.zeros(3)})


def test_a_named_argument_gets_one_line_saying_to_pass_it_by_position(tmp_path):
    example = ({"a": torch.ones(3), "b": torch.zeros(3)},)
    run = H.pte_runner(H.lower_to_pte(DictIn(), example, name="dict_in", cache_dir=tmp_path))
    with pytest.raises(TypeError, match=r"by position.*not with batch="):
        run(batch=example[0])


def test_the_runtime_wrapper_imports_the_lowering_side_and_the_extension_does_not():
    """What 10 says of H.pte_runner's choice: importing executorch.runtime imports executorch.exir and torch's compiler
    stack, which running a .pte never needs; the C++ extension it wraps imports none of them."""
    import subprocess
    import sys
    probe = ("import sys, importlib; importlib.import_module(sys.argv[1]); "
             "print(sorted(m for m in ('executorch.exir', 'torch._inductor', 'torch._dynamo') if m in sys.modules))")
    seen = {}
    for module in ("executorch.extension.pybindings._C", "executorch.runtime"):
        done = subprocess.run([sys.executable, "-c", probe, module], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-1000:]
        seen[module] = done.stdout.strip().splitlines()[-1]
    assert seen["executorch.extension.pybindings._C"] == "[]"
    assert seen["executorch.runtime"] == "['executorch.exir', 'torch._dynamo', 'torch._inductor']"


class _Difference(torch.nn.Module):
    def forward(self, x, y):
        return x - y


def test_an_example_giving_one_tensor_for_two_arguments_lowers_two_inputs(tmp_path):
    x, y = torch.randn(3), torch.randn(3)
    pte = H.lower_to_pte(_Difference(), (x, x), backend="portable", name="difference", cache_dir=tmp_path, quiet=True)
    assert torch.allclose(H.pte_runner(pte)(x, y), x - y)


class _Doubling(torch.nn.Module):
    def forward(self, x):
        while x.sum() < 10:
            x = x * 2
        return x


def test_an_export_failure_names_the_line_and_a_fix_that_leads_to_a_pte(tmp_path):
    from helpers.routes.executorch_route import PteExportError  # a ValueError, in one line
    with pytest.raises(PteExportError) as refused:
        H.lower_to_pte(_Doubling(), torch.ones(2, 3), name="doubling", cache_dir=tmp_path)
    said = str(refused.value)
    assert "while x.sum() < 10" in said and "tensor operations of a fixed shape" in said
    assert "torch.jit.script" not in said  # no .pte comes from TorchScript


class _Pair(typing.NamedTuple):
    a: torch.Tensor
    b: torch.Tensor


class _NamedTupleOut(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 3)

    def forward(self, x):
        y = self.lin(x)
        return _Pair(y, 2 * y)


def test_a_namedtuple_output_gets_the_way_out_beside_torchs_private_advice(tmp_path):
    for attempt in ("lowered", "recorded"):  # the second raises from the record, with the same note
        with pytest.raises(NotImplementedError, match="_register_namedtuple") as caught:
            H.lower_to_pte(_NamedTupleOut().eval(), (torch.randn(2, 4),), backend="portable", cache_dir=tmp_path)
        assert any("return a tuple or a dict from forward" in note for note in caught.value.__notes__), attempt


class _ComplexSquare(torch.nn.Module):
    def forward(self, z):
        return (z * z.conj()).real


def test_a_complex_input_gets_the_way_out_beside_the_edge_dialects_dtype_error(tmp_path):
    with pytest.raises(Exception, match="mismatched dtypes") as caught:
        H.lower_to_pte(_ComplexSquare(), (torch.randn(3, 4, dtype=torch.complex64),), cache_dir=tmp_path)
    assert any("torch.view_as_real" in note for note in caught.value.__notes__)


def test_a_string_argument_runs_with_its_exported_value_and_another_is_refused(tmp_path):
    from outside_models import PicksHeadByName
    model, x = PicksHeadByName().eval(), torch.randn(2, 4)
    runner = H.pte_runner(H.lower_to_pte(model, (x, "a"), cache_dir=tmp_path))
    with torch.no_grad():
        assert torch.allclose(runner(x, "a"), model(x, "a"), rtol=1e-5, atol=1e-6)  # the runtime takes no str itself
    with pytest.raises(ValueError, match="'b', but the program was exported with 'a' there"):
        runner(x, "b")


def test_a_pte_runner_passes_each_input_in_the_layout_its_program_was_lowered_for(tmp_path):
    # The lowered program reads memory in the example's order without checking it: made contiguous, a channels_last
    # model's input gave wrong numbers with no error. The runner copies each input into the recorded layout.
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                                torch.nn.Flatten(), torch.nn.Linear(8, 5)).eval()
    x = torch.randn(2, 3, 8, 8)
    last = x.to(memory_format=torch.channels_last)
    for example in (last, x):
        run = H.pte_runner(H.lower_to_pte(model, example, name="layouts", cache_dir=tmp_path, quiet=True))
        for given in (last, x, x.transpose(2, 3).contiguous().transpose(2, 3)):  # a transposed view too
            torch.testing.assert_close(run(given), model(given), rtol=1e-5, atol=1e-6)
    # a channels_last_3d example, which the runtime does not take, is lowered from a contiguous copy
    scale = torch.nn.Sequential(torch.nn.Identity()).eval()
    cube = torch.randn(2, 3, 4, 4, 4)
    run = H.pte_runner(H.lower_to_pte(scale, cube.to(memory_format=torch.channels_last_3d), name="cube",
                                      cache_dir=tmp_path, quiet=True))
    for given in (cube, cube.to(memory_format=torch.channels_last_3d)):
        torch.testing.assert_close(run(given), given)


def test_draw_graph_of_a_pte_runner_points_to_the_program_it_was_made_from(tmp_path):
    run = H.pte_runner(H.lower_to_pte(torch.nn.Linear(3, 2).eval(), torch.randn(2, 3), name="drawn", cache_dir=tmp_path,
                                      quiet=True))
    with pytest.raises(TypeError, match=r"^draw_graph got an ExecuTorch program \(.pte\), which holds compiled code, "
                                        r"not a graph to draw: draw the ExportedProgram it was made from"):
        H.draw_graph(run)


def test_the_runtime_block_hides_pytree_warnings_only_while_it_runs():
    import logging
    from helpers.routes.executorch_route import _quiet_native
    log, seen = logging.getLogger("torch.utils._pytree"), []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: seen.append(record.getMessage())
    level = log.level
    log.addHandler(handler)
    try:
        with _quiet_native():
            log.warning("registered an Enum")  # what executorch's import makes torch say
            log.error("a real error")
        log.warning("after the block")
    finally:
        log.removeHandler(handler)
    assert seen == ["a real error", "after the block"]
    assert log.level == level and not log.filters  # left as it was (a level change cleared every logger's cache)
