"""The benchmark helper measures what runs, reports what fails, and never claims more than its spread shows."""
import math
import shutil
import threading
import typing
import warnings

import matplotlib

import pytest
import torch
from torch import nn

import helpers as H
import helpers.tools.benchmark as benchmark
from outside_models import DropsAlways

matplotlib.use("Agg")

FAST = dict(rounds=3, block_seconds=0.001, seconds=0.3, progress=False)
TORCHSCRIPT = ["eager", "trace", "script", "script+freeze", "optimize_for_inference"]


def tiny():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)).eval()


X = torch.linspace(-1, 1, 8).reshape(2, 4)


class Unscriptable(nn.Module):
    def forward(self, x):
        try:
            return torch.relu(x)
        except RuntimeError:
            return x


def report_with(label, ratios_by_variant):
    """A report built from given per-round ratios, to test the wording without timing anything."""
    rows = {}
    for name, ratios in ratios_by_variant.items():
        rows[name] = H.VariantResult(name, times=[1e-3 * r for r in ratios], ratios=list(ratios))
    return H.BenchmarkReport(label, rows, input_shapes=[(1, 4)], threads=1, rounds=len(ratios), block_seconds=0.01)


# ---------------------------------------------------------------- verdicts and wording

@pytest.mark.parametrize("q25, q75, expected", [
    (0.3, 0.5, "faster"), (1.1, 1.4, "slower"), (0.8, 1.2, "no clear difference"),
    (0.9, 1.0, "no clear difference"), (1.0, 1.3, "no clear difference"), (math.nan, 1.0, "not measured"),
])
def test_ratio_verdict_needs_the_whole_spread_on_one_side(q25, q75, expected):
    assert H.ratio_verdict(q25, q75) == expected


def test_ratio_verdict_rejects_swapped_quartiles():
    with pytest.raises(ValueError, match="lower quartile first"):
        H.ratio_verdict(1.2, 0.8)


def test_describe_and_compare_gains_follow_the_numbers():
    mlp = report_with("mlp", {"eager": [1] * 7, "script": [0.4, 0.42, 0.41, 0.39, 0.45, 0.43, 0.4]})
    big = report_with("big", {"eager": [1, 1, 1, 1, 1], "script": [0.9, 1.1, 0.95, 1.05, 1.0]})
    assert "faster than eager" in mlp.describe("script") and "0.41× eager's time" in mlp.describe("script")
    assert "so were 7 of 7 rounds" in mlp.describe("script")
    assert "no clear difference" in big.describe("script")
    # big's row straddles 1: ranked below mlp, but not called a gain
    for pair in ((mlp, big), (big, mlp)):
        said = H.compare_gains(*pair, "script")
        assert said.startswith("script: a lower time ratio on mlp than on big") and "bigger gain" not in said
        assert "faster on mlp, no clear difference on big" in said
    faster = report_with("faster", {"eager": [1] * 7, "script": [0.8, 0.82, 0.79, 0.81, 0.85, 0.83, 0.8]})
    assert H.compare_gains(mlp, faster, "script").startswith("script: a bigger gain on mlp than on faster")
    few = report_with("few", {"eager": [1] * 5, "script": [0.8, 0.82, 0.79, 0.81, 0.85]})  # 5 of 5: 6%, not called
    assert few.verdict("script") == "too few rounds"
    said = H.compare_gains(mlp, few, "script")
    assert "bigger gain" not in said and "too few rounds to call on few" in said
    # quartiles apart, but in so few rounds that two equal gains are ordered this unevenly 10% of the time
    apart = report_with("apart", {"eager": [1] * 5, "script": [0.70, 0.80, 0.81, 0.83, 0.99]})
    behind = report_with("behind", {"eager": [1] * 5, "script": [0.84, 0.85, 0.90, 0.95, 1.10]})
    said = H.compare_gains(apart, behind, "script")
    assert said.startswith("script: the spreads do not overlap, but 5 and 5 rounds this far apart happen by chance "
                           "10% of the time") and "cannot rank" in said and "beyond" not in said
    close = report_with("close", {"eager": [1, 1, 1, 1, 1], "script": [0.38, 0.5, 0.44, 0.47, 0.36]})
    assert "the spreads overlap" in H.compare_gains(mlp, close, "script")
    slow = report_with("slow", {"eager": [1] * 7, "script": [1.12, 1.2, 1.15, 1.18, 1.23, 1.16, 1.19]})
    assert H.compare_gains(mlp, slow, "script").startswith("script: slower than eager on slow")  # no "gain" there
    with pytest.raises(KeyError, match="was not benchmarked"):
        mlp.describe("torch.compile")
    with pytest.raises(TypeError, match="two reports"):
        H.compare_gains(mlp, "big", "script")


def test_ratios_near_one_never_print_as_one_beside_a_verdict():
    r = report_with("m", {"eager": [1] * 7, "script": [0.97, 0.996, 0.997, 0.998, 0.997, 0.996, 0.998]})
    assert r.verdict("script") == "faster"
    line = str(r).splitlines()[-1]
    assert line.startswith("script") and "1.00" not in line and "–0.998)" in line


@pytest.mark.parametrize("ratios, expected", [
    ([0.5] * 7, (7, 0, 2 / 2 ** 7)), ([1.5] * 6, (0, 6, 2 / 2 ** 6)), ([0.5, 1.0, 1.5], (1, 1, 1.0)), ([], (0, 0, 1.0)),
    ([0.9] * 8 + [1.1], (8, 1, 2 * 10 / 2 ** 9)),
])
def test_sign_test_counts_rounds_on_each_side(ratios, expected):
    below, above, p = H.sign_test(ratios)
    assert (below, above) == expected[:2] and p == pytest.approx(expected[2])


@pytest.mark.parametrize("ratios, expected", [
    ([0.5] * 5, "too few rounds"),                # 5 of 5: two equally fast variants do that 6% of the time
    ([0.5] * 6, "faster"),                        # 6 of 6: 3%
    ([1.5] * 7, "slower"),
    ([0.8] * 11 + [1.02] * 4, "too few rounds"),  # IQR below 1, but 11 of 15 is 12%
    ([0.8] * 12 + [1.2] * 3, "faster"),           # 12 of 15: 3.5%
    ([0.8] * 4 + [1.2] * 3, "no clear difference"),
])
def test_a_verdict_needs_more_rounds_on_its_side_than_chance_gives(ratios, expected):
    r = report_with("m", {"eager": [1] * len(ratios), "script": ratios})
    assert r.verdict("script") == expected
    assert (expected == "too few rounds") == ("too few rounds to call" in r.describe("script"))


def test_identical_variants_rarely_get_a_verdict():
    """The rule on noise alone: two variants of the same speed, 5 to 15 rounds, 2000 simulated runs each."""
    import random
    rng = random.Random(0)
    for rounds in (5, 7, 9, 15):
        called = sum(report_with("m", {"eager": [1] * rounds, "script": [rng.lognormvariate(0, 0.1) for _ in range(rounds)]}
                                 ).verdict("script") in ("faster", "slower") for _ in range(2000))
        assert called / 2000 < 0.05, (rounds, called)


def test_a_few_runs_are_judged_by_their_whole_range_not_by_quartiles():
    # Three C++ runs: quartiles of three numbers would hide the one run that was slower than eager.
    r = report_with("m", {"eager": [1] * 3, "C++": [0.8, 0.85, 1.05]})
    cpp = r["C++"]
    assert cpp.few_runs and cpp.spread == (0.8, 1.05) and cpp.ratio_q75 < 1.0
    assert cpp.verdict == "no clear difference"
    assert "(0.80–1.05 over 3 runs)" in r.describe("C++")
    line = str(r).splitlines()[-1]
    assert "0.85 (0.80–1.05, 3 runs)" in line and "IQR" not in line
    three = report_with("m", {"eager": [1] * 3, "C++": [0.3, 0.35, 0.34]})
    assert three.verdict("C++") == "too few rounds"  # three of three: a coin does that a quarter of the time
    assert "too few rounds to call" in three.describe("C++") and "25% of the time" in three.describe("C++")
    # more rounds cannot help the C++ row: its runs are set by cpp_runs=, and six is the fewest that can be called
    assert "a cpp_runs= above the 3 it made" in three.describe("C++") and "more rounds" not in three.describe("C++")
    assert three.describe("C++").endswith("or thorough=True")  # 3 runs: thorough mode's 7 would help
    assert H.fewest_for_a_verdict() == 6
    assert report_with("m", {"eager": [1] * 6, "C++": [0.3] * 6}).verdict("C++") == "faster"
    many = report_with("m", {"eager": [1] * 10, "script": [0.5] * 9 + [1.2]})
    assert not many["script"].few_runs and many.verdict("script") == "faster"
    assert "its interquartile range is below 1, and so were 9 of 10 rounds" in many.describe("script")


# ---------------------------------------------------------------- real measurements on a tiny model

def test_every_torchscript_variant_is_measured_in_interleaved_rounds():
    report = H.benchmark_model(tiny(), X, label="tiny", variants=TORCHSCRIPT, **FAST)
    assert report.measured == TORCHSCRIPT and report.failures == {}
    for name in TORCHSCRIPT:
        row = report[name]
        assert len(row.times) == len(row.ratios) == report.rounds == 3
        assert all(t > 0 for t in row.times) and row.first_call_s > 0 and row.second_call_s > 0
        assert row.verdict in ("faster", "slower", "no clear difference", "too few rounds", "not measured")
        if name != "eager":
            assert row.prepare_s > 0 and row.max_abs_diff < 1e-5 and row.note == ""
    assert report["eager"].ratios == [1.0, 1.0, 1.0] and report["eager"].prepare_s is None
    text, page = str(report), report._repr_html_()
    assert text.startswith("tiny: input 2×4, 1 thread, 3 interleaved rounds")
    assert all(name in text and name in page for name in TORCHSCRIPT) and "<table>" in page


def test_a_model_that_does_not_script_fails_only_where_it_must():
    report = H.benchmark_model(Unscriptable().eval(), X, label="u", variants=TORCHSCRIPT, **FAST)
    assert set(report.failures) == {"script", "script+freeze", "optimize_for_inference"}
    assert all(why.startswith("prepare: UnsupportedNodeError: try blocks aren't supported")
               for why in report.failures.values())
    assert report.measured == ["eager", "trace"] and len(report["trace"].ratios) == 3
    assert "failed at prepare" in str(report) and "could not be measured (prepare)" in report.describe("script")
    texts = svg_texts(H.plot_benchmark(report))  # a picture with failed rows still draws, and says why
    assert texts.count("u: failed at prepare") == 2 * 3  # in both panels, for each of the three variants


class DictOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        return {"scores": self.lin(x), "total": x.sum()}


def test_a_dict_output_is_traced_as_torch_advises_and_the_row_says_so():
    report = H.benchmark_model(DictOut().eval(), X, label="d", variants=["eager", "trace"], **FAST)
    assert report.measured == ["eager", "trace"] and len(report["trace"].ratios) == 3
    assert report["trace"].note.startswith("traced with strict=False, as torch advises for a dict output")
    assert "strict=False" in str(report)


def test_rounds_make_one_warm_up_call_before_each_timed_block(monkeypatch):
    calls, blocks = [], []  # blocks: (calls made before the block, calls made after it)

    class Counted(nn.Module):
        def forward(self, x):
            calls.append(1)
            return x + 1

    class Watched(benchmark.timeit.Timer):
        def timeit(self, number=1):
            before = len(calls)
            seconds = super().timeit(number)
            blocks.append((before, len(calls)))
            assert len(calls) - before == number  # every call in the block is timed
            return seconds

    monkeypatch.setattr(benchmark.timeit, "Timer", Watched)
    report = H.benchmark_model(Counted().eval(), X, label="c", variants=["eager"], **FAST)
    assert report.rounds == len(blocks) == 3
    # between two timed blocks, exactly one untimed call: the warm-up (torch's Timer.timeit would make two)
    assert [start - end for (_, end), (start, _) in zip(blocks, blocks[1:])] == [1, 1]


def test_a_wrong_input_shape_is_one_line_before_any_copy_is_built():
    with pytest.raises(ValueError) as info:
        H.benchmark_model(tiny(), torch.ones(1, 5), label="wrong", variants=["eager", "trace", "script"], **FAST)
    message = str(info.value)
    assert "the eager model itself fails on the example with shape (1, 5)" in message and "\n" not in message
    assert "mat1 and mat2 shapes cannot be multiplied" in message


def test_a_grayscale_image_for_resnet18_is_an_error_not_a_crashed_kernel():
    # a scripted copy fed this input, then optimize_for_inference on it, crashes the process inside torch
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.resnet18(weights=None).eval()
    with pytest.raises(ValueError, match="fails on the example with shape \\(1, 1, 64, 64\\)"):
        H.benchmark_model(model, (torch.randn(1, 1, 64, 64),), **FAST)


def test_a_variant_that_computes_something_else_is_flagged():
    row = H.VariantResult("trace")
    benchmark._check_output(row, torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.5]))
    assert row.note == "output differs from eager by 0.5"
    same = H.VariantResult("script")
    benchmark._check_output(same, (torch.ones(2), torch.zeros(1)), (torch.ones(2), torch.zeros(1)))
    assert same.note == "" and same.max_abs_diff == 0
    shape = H.VariantResult("script")
    benchmark._check_output(shape, torch.ones(3), torch.ones(2))
    assert shape.max_abs_diff == math.inf and "differs" in shape.note


def test_first_calls_are_cold_even_when_the_class_was_scripted_before():
    model = tiny()
    warm = torch.jit.script(model)
    for _ in range(3):
        warm(X)  # this class's compiled forward is now profiled and optimized in this process
    for _ in range(2):
        script = H.benchmark_model(model, X, variants=["eager", "script"], **FAST)["script"]
        # the profiling executor optimizes during the second call: a cold copy shows it. A busy machine can
        # blur any ratio of times, so the test checks that both one-off calls are measured and reported.
        assert script.ok and script.first_call_s > 0 and script.second_call_s > 0 and script.median > 0
        print(f"second call / steady call: {script.second_call_s / script.median:.1f}x")


def test_the_time_budget_caps_the_rounds_but_not_below_the_minimum():
    report = H.benchmark_model(tiny(), X, variants=["eager", "script"], rounds=50, seconds=1e-6,
                               block_seconds=0.001, progress=False)
    assert report.rounds == H.QUICK_SETTINGS["min_rounds"]
    assert len(report["script"].ratios) == report.rounds
    # the title says that the minimum, not seconds=, set the time, and how to trade it for a rougher figure
    assert "rounds took" in str(report) and "beyond seconds=1e-06" in str(report) and "with 7 rounds, 7 of 7 on one side of 1" in str(report)
    assert " 0 s," not in str(report)  # a fraction of a second is written as one


def test_torch_compile_row_with_a_quick_backend():
    report = H.benchmark_model(tiny(), X, variants=["eager", "torch.compile"], compile_backend="eager", **FAST)
    row = report["torch.compile"]
    assert row.ok and row.max_abs_diff < 1e-6 and row.first_call_s > 0  # reported, never compared on time


# ---------------------------------------------------------------- the C++ row

def test_cpp_row_is_skipped_with_a_note_when_the_program_is_not_built(monkeypatch):
    monkeypatch.setattr(benchmark, "_cpp_binary", lambda: None)
    report = H.benchmark_model(tiny(), X, variants=["eager", "C++"], **FAST)
    assert report.measured == ["eager"] and report.failures == {}
    assert "not built" in report.skipped["C++"] and report.verdict("C++") == "skipped"
    assert report.describe("C++").startswith("C++ skipped: the C++ program is not built")
    assert "skipped: the C++ program is not built" in str(report)
    H.plot_benchmark(report)


def test_a_binary_older_than_its_source_counts_as_not_built(monkeypatch, tmp_path):
    import helpers.routes.cpp_build as cpp_runner
    monkeypatch.delenv("CXX", raising=False)
    source = tmp_path / "load_ts.cpp"
    source.write_text("// the program")
    monkeypatch.setattr(cpp_runner, "CPP_BUILD_DIR", tmp_path)
    monkeypatch.setattr(cpp_runner, "CPP_SOURCE", source)
    assert benchmark._cpp_binary() is None  # nothing built yet
    if shutil.which("g++") is None:
        pytest.skip("the build key names the compiler, and there is no g++ here")
    binary = cpp_runner._build_target("g++", shutil.which("g++"), source, tmp_path)[0]
    binary.write_text("#!/bin/sh\n")  # stands for the build of today's source
    assert benchmark._cpp_binary() == binary
    source.write_text("// the program, edited")  # the build now belongs to an older source
    assert benchmark._cpp_binary() is None


def test_cpp_program_that_fails_is_reported_and_the_rest_measured(monkeypatch, tmp_path):
    monkeypatch.setattr(benchmark, "_cpp_binary", lambda: "/bin/false")
    report = H.benchmark_model(tiny(), X, variants=["eager", "script", "C++"], work_dir=tmp_path, **FAST)
    assert report.measured == ["eager", "script"]
    assert report.failures["C++"].startswith("first call: RuntimeError")
    assert list(tmp_path.glob("*_frozen_for_cpp.pt"))  # the model file went where it was asked to


def test_cpp_program_is_timed_beside_eager_when_built(tmp_path):
    if shutil.which("g++") is None:
        pytest.skip("no C++ compiler to build the program of 05")
    H.build_cpp(progress=False, quiet=True)  # cached: instant once 05 or test_cpp_runner built it
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        report = H.benchmark_model(tiny(), X[:1], variants=["eager", "C++"], cpp_runs=1, work_dir=tmp_path, **FAST)
    row = report["C++"]
    assert row.ok and len(row.times) == len(row.ratios) == 1 and row.max_abs_diff < 1e-5
    assert "whole process" in row.note
    # scripting, freezing and saving for the program warn of TorchScript's deprecation: in the row, not on stderr
    assert "deprecated" in row.note and not [w for w in escaped if issubclass(w.category, FutureWarning)]


def test_cpp_program_takes_two_inputs_as_time_cpp_does(tmp_path):
    if shutil.which("g++") is None:
        pytest.skip("no C++ compiler to build the program of 05")
    H.build_cpp(progress=False, quiet=True)

    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 3), nn.Linear(5, 3)

        def forward(self, x, y):
            return self.a(x) + self.b(y)

    example = (torch.randn(2, 4), torch.randn(2, 5))
    report = H.benchmark_model(TwoInputs().eval(), example, variants=["eager", "C++"], cpp_runs=1, work_dir=tmp_path,
                               **FAST)
    assert report["C++"].ok and report["C++"].max_abs_diff < 1e-5, report["C++"]


# ---------------------------------------------------------------- input checks and the picture

def test_learner_mistakes_get_one_line_errors():
    with pytest.raises(TypeError, match="add parentheses"):
        H.benchmark_model(nn.Linear, X)
    with pytest.raises(TypeError, match="tensor or a tuple of tensors"):
        H.benchmark_model(tiny(), [[1.0, 2.0]])
    with pytest.raises(ValueError, match=r"call model.eval\(\) first"):
        H.benchmark_model(tiny().train(), X)
    with pytest.raises(ValueError, match="unknown variant"):
        H.benchmark_model(tiny(), X, variants=["eager", "onnx"])
    with pytest.raises(ValueError, match="threads"):
        H.benchmark_model(tiny(), X, threads=0)
    with pytest.raises(ValueError, match="rounds must be a positive number"):
        H.benchmark_model(tiny(), X, rounds=0)
    with pytest.raises(TypeError, match="plot_benchmark takes"):
        H.plot_benchmark()


def test_plot_has_the_ratio_panel_and_the_one_off_cost_panel():
    a = report_with("a", {"eager": [1, 1, 1], "script": [0.5, 0.6, 0.55]})
    a["script"].first_call_s, a["script"].second_call_s, a["script"].prepare_s = 1e-3, 2e-3, 5e-3
    picture = H.plot_benchmark(a, report_with("b", {"eager": [1, 1, 1], "script": [0.9, 1.1, 1.0]}))
    texts = svg_texts(picture)
    assert texts[texts.index("eager") + 1] == "script"  # one row per variant, in the course's order
    assert any("÷ eager" in t for t in texts) and "1×" in texts and "seconds" in texts
    assert {"1 ms", "10 ms"} <= set(texts)  # the cost panel's decades, in seconds' units
    assert {"prepare", "1st call", "2nd call", "one steady call", "a", "b"} <= set(texts)  # both legends


def svg_texts(picture):
    """Every text of an SVG picture, in document order (each line of a several-line text apart)."""
    from xml.etree import ElementTree
    svg = ElementTree.fromstring(picture.svg)
    return ["".join(span.itertext()) for text in svg.iter("{http://www.w3.org/2000/svg}text")
            for span in (list(text) or [text])]


class RecordingBar:
    """Stands in for the tqdm bar: remembers how far it got and whether it was closed."""

    def __init__(self, total):
        self.total, self.n, self.closed = total, 0, False

    def update(self, n=1):
        self.n += n

    def set_description(self, text):
        pass

    def close(self):
        self.closed = True


@pytest.mark.parametrize("model, example", [(tiny(), X), (Unscriptable().eval(), X)])
def test_the_progress_bar_ends_full_and_closed(monkeypatch, model, example):
    bars = []
    monkeypatch.setattr(benchmark, "_progress_bar", lambda total, label, progress: bars.append(RecordingBar(total))
                        or bars[-1])
    H.benchmark_model(model, example, variants=TORCHSCRIPT, rounds=3, block_seconds=0.001, seconds=0.3)
    (bar,) = bars
    assert bar.closed and bar.n == bar.total > 0


def test_threads_are_restored_after_measuring():
    before = torch.get_num_threads()
    H.benchmark_model(tiny(), X, variants=["eager"], threads=1, **FAST)
    assert torch.get_num_threads() == before


# ---------------------------------------------------------------- the benchmark checks before it ranks

class SignBranch(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x * 2
        return -x


def test_a_variant_that_diverges_is_shown_wrong_and_never_timed():
    report = H.benchmark_model(SignBranch().eval(), torch.ones(2, 3), variants=["eager", "trace", "script"], **FAST)
    trace = report["trace"]
    assert trace.verdict == "wrong" and not trace.ok and trace.times == [] and trace.ratios == []
    assert "diverges from eager at 'negated'" in trace.wrong and report.wrong == {"trace": trace.wrong}
    assert trace.parity.first_divergence == "negated"
    assert "computes something else" in report.describe("trace") and "faster" not in report.describe("trace")
    assert "wrong: diverges from eager at 'negated'" in str(report) and "wrong:" in report._repr_html_()
    assert report["script"].ok and report["script"].parity.all_close and "negated" in report["script"].checked_on
    assert report.measured == ["eager", "script"]
    H.plot_benchmark(report)


def test_a_model_that_changes_its_own_state_is_not_called_wrong_but_not_compared_either():
    from test_diagnose import SideEffect  # scales by how often it has run: copies that ran less answer otherwise
    model = SideEffect().eval()
    report = H.benchmark_model(model, torch.ones(3), variants=["eager", "script"], **FAST)
    assert model.calls == 0  # the timed calls ran on a copy: the learner's counter did not move
    script = report["script"]
    assert script.wrong is None and script.ok and report.wrong == {}
    assert script.note.startswith("answers not compared") and "self.calls: 0 → " in script.note
    assert "answers not compared" in str(report) and "answers not compared" in report.describe("script")


def test_a_trace_of_a_counter_whose_answers_follow_the_count_is_wrong_not_uncompared():
    """A trace writes the count it saw into its code: however often it runs, it cannot answer as eager does."""
    from test_diagnose import SideEffect
    report = H.benchmark_model(SideEffect().eval(), torch.ones(3), variants=["eager", "trace", "script"], **FAST)
    trace, script = report["trace"], report["script"]
    assert trace.verdict == "wrong" and trace.times == [] and "trace" not in report.measured
    assert "this copy has no self.calls" in trace.wrong and "computes something else" in report.describe("trace")
    assert script.wrong is None and script.note.startswith("answers not compared")  # the script keeps its count


def test_a_nan_in_the_example_raises_no_false_alarm():
    x = torch.linspace(-1, 1, 8).reshape(2, 4)
    x[0, 1] = math.nan
    report = H.benchmark_model(tiny(), x, variants=["eager", "trace", "script"], **FAST)
    assert report.wrong == {} and report.failures == {}
    assert all(report[name].note == "" for name in ("trace", "script"))


def test_two_inputs_and_an_int_input_are_checked_and_timed():
    class Mixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(10, 4)

        def forward(self, ids, scale):
            return self.embed(ids) * scale

    model = Mixed().eval()
    report = H.benchmark_model(model, (torch.tensor([[1, 2, 3]]), torch.tensor(2.0)),
                               variants=["eager", "trace", "script"], **FAST)
    assert report.measured == ["eager", "trace", "script"]
    assert "ints permuted" in report["trace"].checked_on


class BranchAboveTwo(nn.Module):  # a branch on the batch size, on the larger side of a batch-2 example
    def forward(self, x):
        return x.sum(0, keepdim=True) if x.shape[0] > 2 else x * 2


def test_a_trace_wrong_only_on_the_larger_batch_size_is_not_timed_as_right():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = H.benchmark_model(BranchAboveTwo().eval(), torch.randn(2, 4), variants=["eager", "trace"],
                                   rounds=3, progress=False)
    assert "batch 4" in report["trace"].wrong and "computes something else" in report.describe("trace")


class LazyScale(torch.nn.Module):
    """Fills a cache on its first call, then leaves it alone; its trace keeps the example's branch."""

    def __init__(self):
        super().__init__()
        self.scale = None

    def forward(self, x):
        if self.scale is None:
            self.scale = 2.0
        return x * self.scale if bool(x.sum() > 0) else -x


def test_a_cache_filled_once_does_not_excuse_a_copy_that_diverges():
    report = H.benchmark_model(LazyScale().eval(), torch.ones(2, 3), variants=["eager", "trace"], **FAST)
    trace = report["trace"]
    assert trace.verdict == "wrong" and "diverges from eager at 'negated'" in trace.wrong
    assert not (trace.note or "").startswith("answers not compared")


def test_a_scripted_torchvision_detector_is_compared_on_its_detections():
    import torchvision
    torch.manual_seed(0)
    detector = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(
        weights=None, weights_backbone=None, box_score_thresh=0.0).eval()
    report = H.benchmark_model(detector, ([torch.rand(3, 160, 160)],), variants=["eager", "script"],
                               progress=False, rounds=2, seconds=0.5)
    assert not report.rows["script"].wrong, report.rows["script"].wrong


def test_outputs_within_the_checks_tolerance_of_zero_are_said_to_be_hardly_compared():
    class Tiny(torch.nn.Module):
        def forward(self, x):
            return x * 1e-9

    report = H.benchmark_model(Tiny().eval(), torch.randn(4, 8), variants=["eager", "script"], progress=False,
                               rounds=2, seconds=0.2)
    assert "answers hardly compared" in report.rows["script"].note


def test_a_bool_output_is_measured_not_a_crash():
    class Positive(torch.nn.Module):
        def forward(self, x):
            return x > 0

    report = H.benchmark_model(Positive().eval(), torch.randn(4, 8), variants=["eager", "script"], progress=False,
                               rounds=2, seconds=0.2)
    assert not report.rows["script"].wrong and not report.failures


def test_ratios_near_one_never_print_as_one():
    from helpers.tools.benchmark_report import _x
    assert _x(0.9996) == "0.9996" and _x(1.0004) == "1.0004" and _x(0.998) == "0.998" and _x(0.5) == "0.50"
    assert _x(1) == "1.00" and _x(1.3) == "1.30"
    row = report_with("m", {"eager": [1] * 7, "script": [0.9996] * 7})
    assert "0.9996× eager's time" in row.describe("script") and "faster" in row.describe("script")


def test_eager_with_a_handful_of_times_gets_no_quartiles():
    r = report_with("m", {"eager": [1] * 3, "C++": [0.8, 0.85, 1.05]})
    assert "IQR" not in r.describe("eager") and "the median of 3 times" in r.describe("eager")
    assert "IQR" in report_with("m", {"eager": [1] * 7, "script": [0.5] * 7}).describe("eager")


def test_a_wrong_small_output_beside_a_large_one_marks_the_row_wrong():
    from test_parity import LargeBesideSmall
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = H.benchmark_model(LargeBesideSmall().eval(), torch.tensor([[2.0, 1.0, 0.5], [1.5, -0.3, 0.2]]),
                                   variants=["eager", "trace"], **FAST)
    assert report["trace"].wrong is not None, str(report)


def test_empty_outputs_are_said_to_compare_nothing():
    from test_export_check import FindsNothing
    report = H.benchmark_model(FindsNothing().eval(), torch.randn(2, 4), variants=["eager", "script"], **FAST)
    assert "every output eager gave was empty" in report["script"].note, str(report)


def test_torch_compile_giving_up_on_recompiles_is_said_in_one_line(capsys):
    from models_with_state import CountsCalls
    report = H.benchmark_model(CountsCalls().eval(), X, variants=["eager", "torch.compile"], compile_backend="eager",
                               **FAST)
    captured = capsys.readouterr()
    assert "hit config." not in captured.err + captured.out  # dynamo's multi-line warning is kept out
    assert "recompile limit" in report["torch.compile"].note, str(report)


def test_what_a_variant_warns_goes_into_its_row_in_one_line_not_onto_stderr(capsys):
    class ShapeBranch(torch.nn.Module):
        def forward(self, x):
            if x.shape[0] > 4:
                return x.sum(0, keepdim=True)
            return x * 2

    report = H.benchmark_model(ShapeBranch().eval(), torch.randn(3, 5), variants=["eager", "trace"], seconds=0.2,
                               progress=False)
    err = capsys.readouterr().err
    assert "TracerWarning" not in err and "Converting a tensor" not in err
    row = [r for r in report.table_rows() if r[0] == "trace"][0]
    assert row[-1].startswith("wrong: ") and "the tracer warned: Converting a tensor to a Python boolean" in row[-1]
    assert "\n" not in row[-1]


def test_a_trace_that_loses_a_counter_says_so_and_a_script_that_keeps_it_does_not(capsys):
    from models_with_state import CountsOnly  # same answers from every copy; only the script keeps the count

    report = H.benchmark_model(CountsOnly().eval(), torch.randn(3, 5), variants=["eager", "trace", "script"],
                               seconds=0.2, progress=False)
    rows = {r[0]: r[-1] for r in report.table_rows()[1:]}
    assert "does not keep the state eager changes as it runs (self.calls is not in this copy)" in rows["trace"]
    assert "does not keep" not in rows["script"]


class _SumOfList(torch.nn.Module):
    def forward(self, xs: typing.List[torch.Tensor]):
        total = xs[0]
        for x in xs[1:]:
            total = total + x
        return total


def test_a_copy_that_refuses_other_list_lengths_is_timed_with_a_note_not_called_wrong():
    # a trace fixes the list's length: it refuses other lengths (an error, never a wrong number), as diagnose says
    xs = [torch.randn(2, 3), torch.randn(2, 3)]
    report = H.benchmark_model(_SumOfList().eval(), (xs,), variants=["eager", "trace", "script"], **FAST)
    trace = report["trace"]
    assert trace.wrong is None and trace.verdict != "wrong" and trace.ratios, str(report)
    assert "refuses '1 item'" in trace.note and "timed on those" in trace.note
    assert not report["script"].note or "refuses" not in report["script"].note


def test_a_layer_left_in_training_mode_inside_an_eval_model_is_refused_by_name():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.5)).eval()
    model[1].train()
    with pytest.raises(ValueError, match=r"call model.eval\(\) first \(Dropout '1' in training mode\)"):
        H.benchmark_model(model, torch.ones(2, 4), variants=["eager", "script"], progress=False)


def test_a_cpp_run_that_answers_otherwise_is_marked_wrong_and_not_timed(monkeypatch, tmp_path):
    from helpers.tools import benchmark
    model = torch.nn.Linear(4, 2).eval()
    x = torch.ones(3, 4)
    runs = []

    def off_by_one(binary, path, example, repeats, threads):  # a C++ program whose answers are not eager's
        runs.append(repeats)
        return 1e-5, 0.01, model(*example).detach() + 1
    monkeypatch.setattr(benchmark, "_cpp_binary", lambda: tmp_path / "load_ts")
    monkeypatch.setattr(benchmark, "_time_cpp_once", off_by_one)
    report = H.benchmark_model(model, x, variants=["eager", "C++"], progress=False, work_dir=tmp_path, seconds=0.2)
    row = report["C++"]
    assert row.wrong is not None and "largest |diff| 1" in row.wrong and not row.times and runs == [1]


def test_any_submodule_left_in_training_mode_is_refused_by_name():
    class Noisy(torch.nn.Module):  # not one of torch's random layers: it reads self.training itself
        def forward(self, x):
            return x + torch.randn_like(x) if self.training else x

    model = torch.nn.Sequential(torch.nn.Linear(4, 4), Noisy()).eval()
    model[1].train()
    with pytest.raises(ValueError, match=r"call model.eval\(\) first \(Noisy '1' in training mode\)"):
        H.benchmark_model(model, torch.ones(2, 4), variants=["eager", "script"], progress=False)


class DictWithIntKeys(nn.Module):
    def forward(self, x):
        return {0: x * 2, 1: x + 1}


class DictOfMixedValues(nn.Module):
    def forward(self, x):
        return {"a": x * 2, "b": [x + 1, (x - 1, x * 3)]}


def test_a_dict_torch_cannot_trace_is_one_line_without_its_tensors():
    report = H.benchmark_model(DictWithIntKeys().eval(), X, label="d", variants=["eager", "trace"], **FAST)
    assert report.failures["trace"] == ("prepare: RuntimeError: a traced model cannot return this dict: its keys "
                                        "must be strings or tensors, and its values tensors or tuples of tensors")
    mixed = H.benchmark_model(DictOfMixedValues().eval(), X, label="m", variants=["eager", "trace"], **FAST)
    assert mixed.failures["trace"] == ("prepare: RuntimeError: a traced model cannot have this output: List inputs to "
                                       "traced functions must have consistent element type. Found Tensor and "
                                       "Tuple[Tensor, Tensor]")
    # torch printed the output into its message while still tracing: the warnings of that printing are not the model's
    assert "warned" not in mixed["trace"].note
    assert H.DivergenceExplorer(DictOfMixedValues(), "trace", example=X).conversion_warnings() == []


class FormatsThenIntKeys(nn.Module):
    def forward(self, x):
        self.last = f"mean {x.mean():.3f}"  # the model's own conversion to a number: the tracer warns of it
        return {0: x * 2, 1: x + 1}


def test_the_models_own_tracer_warning_stays_when_the_trace_fails_on_its_output():
    warned = H.DivergenceExplorer(FormatsThenIntKeys(), "trace", example=X).conversion_warnings()
    assert warned == ["Converting a tensor to a Python number might cause the trace to be incorrect"]


def test_parity_inside_the_benchmark_says_nothing_false_about_lines():
    report = H.benchmark_model(tiny(), X, label="t", variants=["eager", "trace"], **FAST)
    assert not any("no Python source to watch" in w for w in report["trace"].parity.warnings)


class HoldsALockBeforeItsLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin, self.lock = nn.Linear(4, 4), threading.Lock()

    def forward(self, x):
        with self.lock:
            pass
        return self.lin(x)


def test_a_scripting_error_that_ends_in_source_is_named_by_its_first_line():
    report = H.benchmark_model(HoldsALockBeforeItsLayer().eval(), X, label="l", variants=["eager", "script"], **FAST)
    assert report.failures["script"].startswith("prepare: RuntimeError: Module 'HoldsALockBeforeItsLayer' has no "
                                                "attribute 'lock'")


def test_the_advice_for_more_runs_never_asks_for_what_was_done():
    # 6 of 7 C++ runs below 1 cannot be called; the advice once said "at least 6 (it made 7), or thorough=True"
    from helpers.tools.benchmark_report import _fewest_of, _more
    assert [_fewest_of(n) for n in (5, 6, 7, 9, 15)] == [None, 6, 7, 8, 12]  # the two-sided sign test's thresholds
    assert _more("C++", 7) == ("more runs of the program: a cpp_runs= above the 7 it made (with more runs, a split "
                               "a little less uneven can be called)")


class DoublesItsInput(torch.nn.Module):
    def forward(self, x):
        return x.mul_(2)


def test_the_learners_example_is_left_as_it_was():
    x = torch.arange(8.0).reshape(2, 4)
    H.benchmark_model(DoublesItsInput().eval(), x, variants=["eager", "script"], **FAST)
    assert torch.equal(x, torch.arange(8.0).reshape(2, 4))  # the timed calls doubled a copy, not x


def test_a_model_in_training_mode_without_random_layers_is_told_so_without_blaming_a_layer():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU())  # training mode, nothing random in it
    with pytest.raises(ValueError, match=r"call model.eval\(\) first \(the model is in training mode\)$"):
        H.benchmark_model(model, torch.ones(2, 4), variants=["eager", "script"], progress=False)
    # freezing is a reason only when a freezing variant is asked for
    with pytest.raises(ValueError, match=r"call model.eval\(\) first \(the model is in training mode\): freezing "
                                         r"needs it$"):
        H.benchmark_model(model, torch.ones(2, 4), variants=["eager", "script+freeze"], progress=False)


def test_a_torchscript_copy_is_refused_as_the_eager_model():
    scripted = torch.jit.script(torch.nn.Linear(4, 2).eval())
    with pytest.raises(TypeError, match="already a TorchScript copy"):
        H.benchmark_model(scripted, torch.ones(2, 4), variants=["eager"], progress=False)


# ---------------------------------------------------------------- the model as given is the reference, timed or not

class BranchBelowThree(nn.Module):  # a branch on the batch size: a trace at batch 4 is wrong at batch 1
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.lin = nn.Linear(4, 3)

    def forward(self, x):
        if x.shape[0] > 2:
            return self.lin(x).relu()
        return self.lin(x) * 2


def test_without_eager_in_variants_every_copy_is_still_checked_against_the_model():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's warning about the branch: the row says it
        report = H.benchmark_model(BranchBelowThree().eval(), torch.randn(4, 4), variants=["trace", "script"], **FAST)
    assert list(report.rows) == ["trace", "script"]  # eager answered, but was not timed
    trace = report["trace"]
    assert trace.verdict == "wrong" and "diverges from eager at 'batch 1'" in trace.wrong and not trace.times
    script = report["script"]
    assert script.ok and script.parity.all_close and "batch 1" in script.checked_on and not script.ratios
    # timed, with nothing to divide by: never "not measured" beside the times it shows
    assert script.verdict == "no eager time to compare with" and "not measured" not in str(report)
    assert "no eager time to compare with" in report.describe("script")


def test_variants_as_one_name_or_any_iterable_of_names_are_a_list_of_names():
    one = H.benchmark_model(tiny(), X, variants="script+freeze", **FAST)
    assert list(one.rows) == ["script+freeze"]  # not "script" as well, which the string contains
    assert one["script+freeze"].parity.all_close
    generated = H.benchmark_model(tiny(), X, variants=(v for v in ("eager", "script")), **FAST)
    assert generated.measured == ["eager", "script"]


class CountsInItsAnswer(nn.Module):  # its answer moves with every call: copies that ran apart never agree
    def __init__(self):
        super().__init__()
        self.calls = 0
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        self.calls += 1
        return self.lin(x) + self.calls


def test_the_cpp_row_of_a_model_that_counts_its_calls_is_not_compared_like_the_other_rows(monkeypatch, tmp_path):
    def program(binary, path, example, repeats, threads):  # the C++ program as 05 runs it: the saved file, loaded
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return 1e-5, 0.01, torch.jit.load(str(path))(*example)
    monkeypatch.setattr(benchmark, "_cpp_binary", lambda: tmp_path / "load_ts")
    monkeypatch.setattr(benchmark, "_time_cpp_once", program)
    report = H.benchmark_model(CountsInItsAnswer().eval(), torch.randn(2, 4), variants=["eager", "script", "C++"],
                               work_dir=tmp_path, **FAST)
    cpp = report["C++"]
    assert cpp.wrong is None and report.wrong == {} and cpp.ok and cpp.times, cpp
    assert cpp.note.startswith("answers not compared: the model changes its own state") and "self.calls" in cpp.note
    assert "1st call = a whole process" in cpp.note  # how it was timed, after what it answered
    assert "output differs" not in cpp.note  # the count explains the difference: no second, contradicting word
    assert report["script"].note.startswith("answers not compared")
    assert "output differs" not in report["script"].note  # nor on the script row: "not compared" and a difference clash
    assert "answers not compared" in report.describe("C++") and "1st call" not in report.describe("C++")


def test_the_cpp_row_is_checked_against_the_model_without_eager_in_variants(monkeypatch, tmp_path):
    model = torch.nn.Linear(4, 2).eval()
    monkeypatch.setattr(benchmark, "_cpp_binary", lambda: tmp_path / "load_ts")
    monkeypatch.setattr(benchmark, "_time_cpp_once", lambda binary, path, example, repeats, threads:
                        (1e-5, 0.01, model(*example).detach() + 1))  # a program whose answers are not the model's
    report = H.benchmark_model(model, torch.ones(3, 4), variants=["C++"], work_dir=tmp_path, **FAST)
    assert report["C++"].wrong is not None and "largest |diff| 1" in report["C++"].wrong


def test_an_empty_list_of_variants_is_said_to_be_empty():
    with pytest.raises(ValueError, match="variants is empty: name at least one of"):
        H.benchmark_model(torch.nn.Identity().eval(), (torch.ones(2, 2),), variants=[])


class _TiedDetections(torch.nn.Module):
    """Keeps two of four candidate boxes whose scores all tie, breaking the tie by the input's sign."""
    def forward(self, x):
        boxes = torch.stack([x + i for i in range(4)])
        scores = torch.full((4,), 0.5)
        kept = torch.topk(scores, 2).indices
        if x.sum() > 0:  # a trace keeps the example's way of breaking the tie
            kept = 3 - kept
        return {"boxes": boxes[kept], "scores": scores[kept]}


def test_a_copy_that_keeps_other_boxes_among_tied_scores_is_wrong_and_says_where_the_ties_are():
    report = H.benchmark_model(_TiedDetections().eval(), torch.ones(4), variants=["eager", "trace"], **FAST)
    trace = report["trace"]
    assert trace.verdict == "wrong" and "diverges from eager at 'negated'" in trace.wrong
    assert "differs only in rows whose out['scores'] ties with another score" in trace.wrong, trace.wrong




def test_randomness_in_forward_itself_is_not_called_a_wrong_copy():
    report = H.benchmark_model(DropsAlways().eval(), torch.randn(3, 4), variants=["eager", "trace", "script"], **FAST)
    for variant in ("trace", "script"):
        row = report[variant]
        assert row.wrong is None, row.wrong
        assert "eager itself gives two different answers" in row.note, row.note


class _RareBranch(torch.nn.Module):
    """A branch no checking input takes: a trace holds the other side, and times like a right copy."""

    def forward(self, x):
        if x.max() > 1000:
            return x * 0
        return x + 1


def test_a_row_checked_on_one_path_only_says_what_went_unrun():
    report = H.benchmark_model(_RareBranch().eval(), torch.randn(3, 4), variants=["eager", "trace"], seconds=0.2,
                               progress=False)
    note = report.rows["trace"].note
    assert "no input ran `return x * 0`" in note and "timed on a path it computes wrongly" in note, note


class _PaddedEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True), 2)

    def forward(self, x, pad):
        return self.encoder(x, src_key_padding_mask=pad)


def test_a_trace_of_a_padded_encoder_is_not_called_wrong_for_eagers_fast_path_zeros():
    x, pad = torch.randn(3, 5, 16), torch.zeros(3, 5, dtype=torch.bool)
    pad[0, 3:] = pad[2, 1:] = True
    report = H.benchmark_model(_PaddedEncoder().eval(), (x, pad), variants=("eager", "trace"), seconds=0.2)
    trace = report["trace"]
    assert not trace.wrong and "output differs from eager" not in trace.note, trace.note
    assert "nn.TransformerEncoder's fast path, which writes zeros where the mask pads" in trace.note


def test_bfloat16_rounding_is_not_called_an_output_difference():
    from helpers.tools.benchmark import _check_output
    from types import SimpleNamespace
    reference = torch.tensor([0.75, -0.5, 0.25], dtype=torch.bfloat16)
    one_step = reference + torch.tensor([2 ** -8, 0.0, 0.0], dtype=torch.bfloat16)  # one rounding step at 0.75
    row = SimpleNamespace(note="", max_abs_diff=None)
    assert _check_output(row, one_step, reference) and "output differs" not in row.note
    assert not _check_output(row, reference + 0.5, reference)  # a real difference still is one
    row32 = SimpleNamespace(note="", max_abs_diff=None)
    assert not _check_output(row32, one_step.float(), reference.float())  # in float32 that gap is a difference


def test_the_title_names_a_zero_dimensional_input():
    class Squares(torch.nn.Module):
        def forward(self, x):
            return x * x + 1

    report = H.benchmark_model(Squares().eval(), torch.tensor(2.0), variants=["eager"], progress=False, seconds=0.05)
    assert "input 0-d (one number)," in str(report).splitlines()[0]


def test_a_one_line_failure_keeps_its_fix_at_the_end():
    # the C++ runner's message for a torchvision operator is about 400 characters, with the way out last
    from helpers.tools.benchmark import _why
    long_line = RuntimeError("Unknown builtin op: torchvision::nms. " + "The model calls torchvision's C++ operators; " * 6
                             + "build torchvision against LibTorch and pass libraries=[...]")
    assert _why(long_line).endswith("pass libraries=[...]")
    many_lines = RuntimeError("first line\n" + "x" * 400 + "\nlast")
    assert len(_why(many_lines)) <= 220
