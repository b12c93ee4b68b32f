"""helpers/routes/cpp_runner.py: the C++ program builds once, runs without Python, and agrees with Python.

The real build is cached in cpp/build/ (the first run of this file compiles for 15-20 s, later runs
reuse it). The caching, locking and error paths are also checked with a stand-in compiler, a
small shell script, so they run in a fraction of a second.
"""
import json
import os
import re
import shutil
import stat
import subprocess
import threading
import typing
from pathlib import Path

import pytest
import torch

import helpers as H
from helpers.routes import cpp_build

FAKE_COMPILER = """#!/bin/sh
# Stands in for g++: answers --version, logs each compile, writes a tiny executable to the -o path.
if [ "$1" = "--version" ]; then echo "fakecc 1.0"; exit 0; fi
out=""; prev=""
for a in "$@"; do [ "$prev" = "-o" ] && out="$a"; prev="$a"; done
echo compile >> "$(dirname "$0")/calls.log"
sleep 0.3
printf '#!/bin/sh\\necho fake\\n' > "$out"
chmod +x "$out"
"""

BROKEN_COMPILER = """#!/bin/sh
if [ "$1" = "--version" ]; then echo "brokencc 1.0"; exit 0; fi
echo "load_ts.cpp:12:5: error: 'torch' has not been declared"
exit 1
"""


def make_script(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def fake(tmp_path):
    """A stand-in compiler, a copy of the source and an empty build folder."""
    compiler = make_script(tmp_path, "fakecc", FAKE_COMPILER)
    source = tmp_path / "load_ts.cpp"
    source.write_text(H.CPP_SOURCE.read_text())
    calls = tmp_path / "calls.log"

    def build(**kwargs):
        return H.build_cpp(compiler=str(compiler), source=source, build_dir=tmp_path / "build", progress=False,
                           quiet=True, **kwargs)

    build.source, build.count = source, (lambda: len(calls.read_text().splitlines()) if calls.exists() else 0)
    return build


@pytest.fixture(scope="module")
def real_binary():
    if shutil.which(os.environ.get("CXX") or "g++") is None:
        pytest.skip("no C++ compiler on this machine")
    return H.build_cpp(progress=False, quiet=True)


@pytest.fixture(scope="module")
def digits_files(tmp_path_factory, real_binary):
    folder = tmp_path_factory.mktemp("cpp")
    cnn = H.load_digits_cnn()
    x, y = H.load_digits("test")
    scripted, traced = folder / "scripted.pt", folder / "traced.pt"
    torch.jit.script(cnn).save(str(scripted))
    torch.jit.trace(cnn, x[:1]).save(str(traced))
    weights = folder / "weights.pt"
    torch.save(cnn.state_dict(), weights)
    return cnn, x, y, scripted, traced, weights


# ---------------------------------------------------------------- the real program

def test_cpp_output_agrees_with_python(digits_files):
    cnn, x, y, scripted, traced, _ = digits_files
    with torch.inference_mode():
        expected = cnn(x)
    for path in (scripted, traced):
        out = H.run_cpp(path, x)
        assert out.shape == expected.shape
        torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
        assert torch.equal(out.argmax(1), expected.argmax(1))
    assert (out.argmax(1) == y).float().mean() > 0.8  # real digits, read correctly from C++


def test_time_cpp_reports_its_own_measurements(digits_files):
    _, x, _, scripted, _, _ = digits_files
    run = H.time_cpp(scripted, x[:8], repeats=5)
    assert run.program == "C++" and run.runs == 5 and run.run_ms > 0 and run.load_ms > 0 and run.wall_s > 0
    assert run.output.shape == (8, 10)
    assert run.threads == torch.get_num_threads()  # computes like this Python process by default
    assert 0 < run.work_ms / 1000 < run.wall_s and run.startup_s == pytest.approx(run.wall_s - run.work_ms / 1000)
    assert H.time_cpp(scripted, x[:8], repeats=2, threads=2).threads == 2
    assert "C++: start-up" in str(run) and "median of 5" in str(run)


def test_python_twin_does_the_same_job(digits_files):
    cnn, x, _, scripted, traced, weights = digits_files
    with torch.inference_mode():
        expected = cnn(x)
    twin = H.time_fresh_python(traced, x, repeats=3)
    assert twin.program == "Python" and twin.runs == 3 and twin.threads == torch.get_num_threads()
    torch.testing.assert_close(twin.output, expected, rtol=1e-5, atol=1e-5)
    assert 0 < twin.work_ms / 1000 < twin.wall_s and twin.startup_s > 0
    with pytest.raises(H.TorchScriptFileError, match="Python program cannot load weights.pt: weights.pt was written by torch.save"):
        H.time_fresh_python(weights, x[:1], repeats=1)
    with pytest.raises(RuntimeError, match=r"Python program failed \(exit 1\)"):
        H.time_fresh_python(scripted, torch.zeros(3), repeats=1)


def test_run_arguments_are_checked(digits_files, tmp_path):
    _, x, _, scripted, _, _ = digits_files
    for timer in (H.time_cpp, H.time_fresh_python):
        with pytest.raises(ValueError, match="repeats must be a whole number"):
            timer(scripted, x[:1], repeats=0)
        with pytest.raises(ValueError, match="threads must be a whole number"):
            timer(scripted, x[:1], threads=0)
        with pytest.raises(FileNotFoundError, match="save the model first"):
            timer(tmp_path / "missing.pt", x[:1])
        with pytest.raises(TypeError, match="path of a saved TorchScript file"):
            timer(42, x[:1])


def test_binary_checks_its_arguments(real_binary, digits_files, tmp_path):
    _, x, _, scripted, _, _ = digits_files
    inp = H.write_tensor_file(tmp_path / "x.f32", x[:1])
    bare = subprocess.run([str(real_binary.path)], env={}, capture_output=True, text=True)
    assert bare.returncode == 2 and "usage: load_ts MODEL.pt INPUTS.pt OUTPUT.pt [REPEATS [THREADS]]" in bare.stderr
    bad = subprocess.run([str(real_binary.path), str(scripted), str(inp), str(tmp_path / "y.f32"), "1", "x"],
                         env={}, capture_output=True, text=True)
    assert bad.returncode == 2 and "THREADS must be a whole number" in bad.stderr
    # The four-argument form still works and leaves the thread count to LibTorch.
    ok = subprocess.run([str(real_binary.path), str(scripted), str(inp), str(tmp_path / "y.f32"), "2"],
                        env={}, capture_output=True, text=True)
    assert ok.returncode == 0 and "runs=2 threads=" in ok.stdout
    # The plain float32 files of the first version still work, in and out.
    assert H.read_tensor_file(tmp_path / "y.f32").shape == (1, 10)


def test_second_build_is_cached(real_binary):
    before = real_binary.path.stat().st_mtime_ns
    again = H.build_cpp(progress=False, quiet=True)
    assert not again.compiled and again.path == real_binary.path  # a cache hit: nothing compiled
    assert again.path.stat().st_mtime_ns == before  # not rewritten
    assert os.readlink(H.CPP_BUILD_DIR / "load_ts") == again.path.name


def test_binary_needs_no_python(real_binary):
    data = real_binary.path.read_bytes()
    assert b"libtorch_cpu.so" in data and b"libpython" not in data


def test_not_torchscript_gives_clear_error(digits_files, tmp_path):
    _, x, _, _, _, weights = digits_files
    with pytest.raises(H.TorchScriptFileError, match="cannot load weights.pt: weights.pt was written by torch.save"):
        H.run_cpp(weights, x[:1])
    text = tmp_path / "notes.pt"
    text.write_text("not a model")
    with pytest.raises(H.TorchScriptFileError, match="not a zip archive .* so it is not a TorchScript file"):
        H.run_cpp(text, x[:1])
    with pytest.raises(FileNotFoundError, match="save the model first"):
        H.run_cpp(tmp_path / "missing.pt", x[:1])
    with pytest.raises(TypeError, match="a C\\+\\+ program cannot receive"):
        H.run_cpp(weights, object())


def test_model_that_fails_on_the_input(digits_files):
    _, _, _, scripted, _, _ = digits_files
    with pytest.raises(RuntimeError, match=r"exit 5\): the model failed on the input"):
        H.run_cpp(scripted, torch.zeros(3))  # a CNN cannot take a 1-d tensor


def test_a_torchvision_operator_gets_advice_that_can_work(real_binary, tmp_path):
    torchvision = pytest.importorskip("torchvision")

    class Nms(torch.nn.Module):
        def forward(self, boxes, scores):
            return torchvision.ops.nms(boxes, scores, 0.5)

    path = tmp_path / "nms.pt"
    torch.jit.script(Nms()).save(str(path))
    boxes, scores = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.1]]), torch.tensor([0.9, 0.8])
    with pytest.raises(RuntimeError) as info:
        H.run_cpp(path, (boxes, scores))
    message = str(info.value)
    assert "torchvision::nms" in message and "built from source against LibTorch" in message and "\n" not in message


# ---------------------------------------------------------------- building, with a stand-in compiler

def test_builds_once_and_rebuilds_when_the_source_changes(fake):
    first = fake()
    assert first.compiled and first.path.is_file() and fake.count() == 1
    second = fake()
    assert not second.compiled and second.path == first.path and fake.count() == 1
    fake.source.write_text(fake.source.read_text() + "\n// changed\n")
    third = fake()
    assert third.compiled and third.path != first.path and fake.count() == 2
    assert not first.path.exists()  # the stale binary is removed
    assert fake(force=True).compiled and fake.count() == 3


def test_progress_bar_ticks_while_compiling(tmp_path, capsys):
    compiler = make_script(tmp_path, "fakecc", FAKE_COMPILER)
    build = H.build_cpp(compiler=str(compiler), build_dir=tmp_path / "build", progress=True)
    captured = capsys.readouterr()
    assert build.compiled and "compiling load_ts.cpp" in captured.err  # tqdm writes to stderr
    assert f"built {build.path}" in captured.out or "✔ built" in captured.out


def test_two_builds_at_once_compile_once(fake):
    results = []
    threads = [threading.Thread(target=lambda: results.append(fake())) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fake.count() == 1
    assert sorted(r.compiled for r in results) == [False, True]
    assert results[0].path == results[1].path
    assert not list(results[0].path.parent.glob("*.tmp"))  # no half-written file left behind


def test_no_compiler_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no compiler on it
    monkeypatch.delenv("CXX", raising=False)
    with pytest.raises(H.CppToolchainError, match=r"no C\+\+ compiler found .*apt-get install g\+\+"):
        H.build_cpp(build_dir=tmp_path / "build", progress=False)
    with pytest.raises(H.CppToolchainError, match="'clang-99' is not on PATH"):
        H.build_cpp(compiler="clang-99", build_dir=tmp_path / "build", progress=False)


def test_compiler_error_is_quoted(tmp_path):
    broken = make_script(tmp_path, "brokencc", BROKEN_COMPILER)
    with pytest.raises(H.CppBuildError, match="error: 'torch' has not been declared .* full log in"):
        H.build_cpp(compiler=str(broken), build_dir=tmp_path / "build", progress=False, quiet=True)
    assert not list((tmp_path / "build").glob("load_ts-*"))


def test_build_key_follows_source_compiler_and_torch():
    base = cpp_build.build_key("int main(){}", "g++ 12", "2.14.1", ["g++", "-O1"])
    assert base == cpp_build.build_key("int main(){}", "g++ 12", "2.14.1", ["g++", "-O1"])
    assert base != cpp_build.build_key("int main(){ }", "g++ 12", "2.14.1", ["g++", "-O1"])
    assert base != cpp_build.build_key("int main(){}", "g++ 13", "2.14.1", ["g++", "-O1"])
    assert base != cpp_build.build_key("int main(){}", "g++ 12", "2.15.0", ["g++", "-O1"])


def test_build_command_matches_the_documented_one():
    command = H.cpp_build_command("out")
    assert command[:3] == ["g++", "-O1", "-std=c++20"]
    assert "-ltorch_cpu" in command and "-lc10" in command and "-Wl,--no-as-needed" in command
    assert any(c.startswith("-Wl,-rpath,") and c.endswith("torch/lib") for c in command)


# ---------------------------------------------------------------- tensor files

def test_tensor_file_round_trip(tmp_path):
    x = torch.linspace(-1, 1, 24).reshape(2, 3, 4)
    path = H.write_tensor_file(tmp_path / "x.f32", x)
    assert path.read_bytes().startswith(b"f32 3 2 3 4\n")
    assert torch.equal(H.read_tensor_file(path), x)
    assert torch.equal(H.read_tensor_file(H.write_tensor_file(tmp_path / "s.f32", torch.tensor(2.5))),
                       torch.tensor(2.5))
    assert H.read_tensor_file(H.write_tensor_file(tmp_path / "i.f32", torch.arange(3))).dtype == torch.float32


def test_tensor_file_errors(tmp_path):
    bad = tmp_path / "bad.f32"
    bad.write_bytes(b"hello\n")
    with pytest.raises(ValueError, match="not a tensor file"):
        H.read_tensor_file(bad)
    short = tmp_path / "short.f32"
    short.write_bytes(b"f32 1 4\n" + b"\0" * 8)
    with pytest.raises(ValueError, match="needs 16"):
        H.read_tensor_file(short)
    with pytest.raises(TypeError, match="torch.Tensor"):
        H.write_tensor_file(tmp_path / "x.f32", [1.0])
    with pytest.raises(TypeError, match="complex"):
        H.write_tensor_file(tmp_path / "x.f32", torch.zeros(2, dtype=torch.complex64))


# ---------------------------------------------------------------- the other programs and the library (stand-in compiler)

def test_each_program_and_the_library_build_and_cache_apart(tmp_path):
    compiler = make_script(tmp_path, "fakecc", FAKE_COMPILER)
    kwargs = dict(compiler=str(compiler), build_dir=tmp_path / "build", progress=False, quiet=True)
    builds = {program: H.build_cpp(program=program, **kwargs) for program in H.CPP_PROGRAMS}
    library = H.custom_op_library(**kwargs)
    assert all(b.compiled for b in builds.values()) and library.compiled
    assert library.path.name.startswith("libworkbook_ops-") and library.path.name.endswith(".so")
    assert len({b.path for b in builds.values()} | {library.path}) == len(H.CPP_PROGRAMS) + 1
    assert not any(b.compiled for b in (H.build_cpp(program="aoti_run", **kwargs), H.custom_op_library(**kwargs)))
    assert H.cached_cpp_binary("main", compiler=str(compiler), build_dir=tmp_path / "build") == builds["main"].path
    assert os.readlink(tmp_path / "build" / "libworkbook_ops.so") == library.path.name


def test_link_lines_say_what_each_build_needs():
    aoti, library, main = (H.cpp_build_command("out", program=p) for p in ("aoti_run", "custom_op", "main"))
    assert "-ltorch" in aoti and "-ltorch" not in main  # the compiled model in a package needs libtorch.so
    assert "-shared" in library and "-fPIC" in library and str(H.CPP_BUILD_DIR.parent / "custom_op" / "clip_relu.cpp") in library
    with pytest.raises(ValueError, match="unknown C\\+\\+ program 'nope'"):
        H.cpp_build_command("out", program="nope")
    with pytest.raises(ValueError, match="H.custom_op_library"):
        H.build_cpp(program="custom_op")


def test_read_only_repository_builds_into_the_home_cache(monkeypatch, tmp_path):
    # A shared hub: the repository (with what `make cpp` built ahead) cannot be written by the learner.
    compiler = make_script(tmp_path, "fakecc", FAKE_COMPILER)
    repo_build = tmp_path / "repo" / "cpp" / "build"
    monkeypatch.setattr(cpp_build, "CPP_BUILD_DIR", repo_build)
    monkeypatch.setattr(cpp_build, "_writable", lambda folder: folder != repo_build)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    home = tmp_path / "cache" / "torchscript-workbook" / "cpp"
    built = H.build_cpp(program="main", compiler=str(compiler), progress=False, quiet=True)
    assert built.compiled and built.path.parent == home and not repo_build.exists()
    # A build made ahead in the repository is used, and nothing is compiled.
    ahead = H.build_cpp(program="load_ts", compiler=str(compiler), build_dir=repo_build, progress=False, quiet=True)
    again = H.build_cpp(program="load_ts", compiler=str(compiler), progress=False, quiet=True)
    assert not again.compiled and again.path == ahead.path
    assert H.cached_cpp_binary("load_ts", compiler=str(compiler)) == ahead.path


# ---------------------------------------------------------------- value files (the structured format)

def test_value_file_round_trip(tmp_path):
    inputs = (torch.arange(3), torch.tensor([True, False]), torch.ones(2, dtype=torch.float64),
              [torch.zeros(1), torch.ones(1)], {"a": torch.tensor(2.5)}, 3, 0.5, "text")
    path = H.write_value_file(tmp_path / "in.pt", inputs)
    back = H.read_value_file(path)
    assert isinstance(back, tuple) and len(back) == len(inputs)
    assert back[0].dtype == torch.int64 and back[1].dtype == torch.bool and back[2].dtype == torch.float64
    assert back[5:] == (3, 0.5, "text") and torch.equal(back[4]["a"], torch.tensor(2.5))
    assert H.read_value_file(H.write_value_file(tmp_path / "one.pt", torch.ones(2)))[0].shape == (2,)
    assert not list(tmp_path.glob("*.tmp"))


def test_value_file_writes_only_the_values_of_a_view(tmp_path):
    big = torch.zeros(1000, 100)
    small = H.write_value_file(tmp_path / "view.pt", big[:1]).stat().st_size
    assert small < 20_000  # the view's 100 values, not the 100 000 of its storage


def test_value_file_refuses_what_cpp_cannot_read(tmp_path):
    import numpy as np
    with pytest.raises(H.CppInputError, match="input 0 is a ndarray.*torch.from_numpy"):
        H.write_value_file(tmp_path / "x.pt", np.zeros(2))
    with pytest.raises(H.CppInputError, match=r"input 1\[0\] is a set"):
        H.write_value_file(tmp_path / "x.pt", (torch.ones(1), [set()]))
    with pytest.raises(H.CppInputError, match="key"):
        H.write_value_file(tmp_path / "x.pt", {(1, 2): torch.ones(1)})
    assert not (tmp_path / "x.pt").exists()


def test_readme_commands_are_the_ones_the_helpers_run():
    """cpp/README.md's by-hand commands, with $FLAGS and $T expanded, are cpp_build_command's, flag for flag."""
    text = (H.CPP_BUILD_DIR.parent / "README.md").read_text()
    flags = re.search(r'^FLAGS="([^"]+)"$', text, re.MULTILINE).group(1)
    t = str(cpp_build.torch_dir())
    documented = {}
    for line in re.findall(r"^g\+\+ \$FLAGS (.+)$", text, re.MULTILINE):
        words = f"g++ {flags} {line}".replace("$T", t).split()
        documented[Path(words[words.index("-o") + 1]).name] = words
    targets = {"load_ts": "load_ts", "main": "main", "aoti_run": "aoti_run", "aoti_main": "aoti_main",
               "libworkbook_ops.so": "custom_op"}
    assert set(documented) == set(targets)
    for name, program in targets.items():
        expected = cpp_build.cpp_build_command(f"cpp/build/{name}", program=program)
        source = str(cpp_build._target(program).source.relative_to(H.CPP_BUILD_DIR.parent.parent))
        expected = [source if word == str(cpp_build._target(program).source) else word for word in expected]
        assert sorted(documented[name]) == sorted(expected), name


def test_a_torch_export_file_is_pointed_to_the_aoti_runner(tmp_path):
    pt2 = tmp_path / "program.pt2"
    torch.export.save(torch.export.export(torch.nn.Linear(2, 2), (torch.randn(1, 2),)), str(pt2))
    with pytest.raises(H.TorchScriptFileError, match="H.run_aoti_cpp"):
        H.run_cpp(pt2, torch.randn(1, 2))


def test_run_cpp_without_inputs_names_run_cpp(tmp_path):
    path = tmp_path / "m.pt"
    torch.jit.script(torch.nn.Linear(2, 2)).save(str(path))
    with pytest.raises(H.CppInputError, match=r"^run_cpp needs the model's inputs after the path, e\.g\. run_cpp\(path, x\)"):
        H.run_cpp(path)


def test_run_aoti_cpp_names_run_aoti_cpp_not_the_helper_it_calls(tmp_path):
    with pytest.raises(TypeError, match=r"^run_aoti_cpp takes the path of an AOTInductor package"):
        H.run_aoti_cpp(None, torch.ones(2))
    package = tmp_path / "m.pt2"
    package.write_bytes(b"")  # no inputs is refused before the file is read
    with pytest.raises(H.CppInputError, match=r"^run_aoti_cpp needs the model's inputs after the path"):
        H.run_aoti_cpp(package)


def test_the_program_is_the_first_argument_of_both_build_helpers(tmp_path):
    # a positional name once went to `force` (rebuilding load_ts) or to `compiler` (None for a build that exists)
    assert H.cached_cpp_binary("load_ts") == H.cached_cpp_binary(program="load_ts") is not None
    with pytest.raises(ValueError, match="unknown C\\+\\+ program 'aoti'"):
        H.cached_cpp_binary("aoti")
    with pytest.raises(TypeError):
        H.build_cpp("aoti_run", True)  # force is keyword-only: no positional flag rebuilds by surprise


def test_the_cpp_program_runs_a_file_saved_in_training_mode_as_in_eval_mode(tmp_path):
    # what run_cpp's docstring says: load_ts.cpp calls model.eval(), so dropout is off in C++
    path = tmp_path / "dropout.pt"
    torch.jit.script(torch.nn.Dropout(0.5).train()).save(str(path))
    x = torch.ones(1000)
    assert torch.equal(H.run_cpp(path, x), x)
    assert torch.jit.load(str(path)).training and (torch.jit.load(str(path))(x) == 0).any()


def test_a_program_name_of_another_type_gets_the_worded_error():
    for odd in (["main"], {"p": 1}, None, 3):
        with pytest.raises(ValueError, match="unknown C\\+\\+ program"):
            H.cached_cpp_binary(odd)


class _ReadsLayout(torch.nn.Module):
    """Answers by its input's memory layout, as code with a fast path for contiguous tensors may."""
    def forward(self, x):
        if x.is_contiguous():
            return x.reshape(x.shape[0], -1) * 2
        return x.reshape(x.shape[0], -1) * 3


def test_a_channels_last_input_reaches_cpp_in_its_layout(real_binary, tmp_path):
    path = tmp_path / "layout.pt"
    torch.jit.script(_ReadsLayout()).save(str(path))
    x = torch.randn(2, 3, 4, 4).to(memory_format=torch.channels_last)
    assert torch.equal(H.run_cpp(path, x), torch.jit.load(str(path))(x))  # the layout's answer, not a copy's
    assert torch.equal(H.run_cpp(path, x.contiguous()), x.reshape(2, -1) * 2)


class AddsInts(torch.nn.Module):
    def forward(self, x, n: int, extra: typing.Dict[str, int]):
        return x + n + extra["k"]


def test_ints_beyond_32_bits_reach_the_cpp_program_and_beyond_64_are_refused_in_one_line(tmp_path):
    path = tmp_path / "adds_ints.pt"
    scripted = torch.jit.script(AddsInts())
    scripted.save(str(path))
    x = torch.zeros(2, dtype=torch.int64)
    for n in (5, 2**31, -2**31 - 1, 2**40, -2**62):  # Python writes these in 5 or 6 bytes; C++ reads 8
        assert torch.equal(H.run_cpp(path, x, n, {"k": 2**35}), scripted(x, n, {"k": 2**35})), n
    with pytest.raises(H.CppInputError, match="beyond what a 64-bit integer holds"):
        H.run_cpp(path, x, 2**70, {"k": 1})


def test_a_read_only_repository_keeps_aoti_executorch_and_figure_caches_in_the_learners_own(monkeypatch, tmp_path):
    # On a hub the learners cannot write build/: what make built there is used, anything new goes to their cache.
    import json
    from helpers.routes import aoti, executorch_route, ship_costs
    shared = tmp_path / "repo" / "build"
    monkeypatch.setattr(aoti, "AOTI_CACHE_DIR", shared / "aoti")
    monkeypatch.setattr(executorch_route, "PTE_CACHE_DIR", shared / "executorch")
    monkeypatch.setattr(cpp_build, "_writable", lambda folder: not str(folder).startswith(str(shared)))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    own = tmp_path / "cache" / "torchscript-workbook"

    target, write = aoti._cached_target("net", "k1", None)
    assert write == own / "aoti" and target == own / "aoti" / "net-k1.pt2"
    (shared / "aoti").mkdir(parents=True)
    (shared / "aoti" / "net-k1.pt2").write_bytes(b"built ahead")
    target, write = aoti._cached_target("net", "k1", None)
    assert target == shared / "aoti" / "net-k1.pt2" and write == own / "aoti"

    model, example = torch.nn.Linear(2, 2).eval(), torch.ones(1, 2)
    folder, key, target = executorch_route._lookup(model, example, None, "portable", "lin", False, None, "test")
    assert folder == own / "executorch" and target.parent == folder
    (shared / "executorch").mkdir(parents=True)
    (shared / "executorch" / target.name).write_bytes(b"lowered ahead")
    folder, _, target = executorch_route._lookup(model, example, None, "portable", "lin", False, None, "test")
    assert folder == shared / "executorch" and target.is_file()

    figures = {"torch": torch.__version__, "snippets": ship_costs._SNIPPETS_KEY, "startup_seconds": {}}
    (own / "figures").mkdir(parents=True)
    (own / "figures" / "startup.json").write_text(json.dumps(figures))
    read = ship_costs.startup_figures(shared / "startup.json", measure_if_missing=False)
    assert read["source"].startswith("read from") and str(own) in read["source"]


def test_a_size_above_the_packages_compiled_bound_is_explained(tmp_path):
    from helpers.routes import cpp_runner
    stderr = ("aoti_run: error: the model failed on the input: dim value is too large at 0, expected to be <= 15, "
              "but got: 16")
    error = cpp_runner._failure("C++", 5, stderr, tmp_path / "net.pt2", "aoti")
    assert "expected to be <= 15, but got: 16" in str(error) and "pass at most 15 there" in str(error)


def test_a_list_where_forward_takes_tensors_gets_the_way_to_pass_them(tmp_path):
    from helpers.routes import cpp_runner
    stderr = ("load_ts: error: the model failed on the input: forward() Expected a value of type 'Tensor' for "
              "argument 'a' but instead found type 'List[Any]'.")
    error = cpp_runner._failure("C++", 5, stderr, tmp_path / "two.pt", "torchscript")
    assert "time_cpp(path, (a, b))" in str(error) and "run_cpp(path, a, b)" in str(error)


@pytest.mark.parametrize("recorded, said, not_said", [
    ([1, 1024], "torch derived a bound of 15 when it compiled", "compile a package with a larger max"),
    ([1, 15], "the Dim's max it was exported with", "torch derived"),
    (None, "a larger max helps only in the first case", "exported for"),
])
def test_the_upper_bound_advice_follows_the_range_the_package_was_exported_for(tmp_path, recorded, said, not_said):
    from helpers.routes import cpp_runner
    package = tmp_path / "net.pt2"
    if recorded:  # what H.aoti_package writes beside a package
        package.with_suffix(".json").write_text(json.dumps({"inputs": [{"ranges": [recorded, None]}]}))
    stderr = ("aoti_run: error: the model failed on the input: input_handles[0]: dim value is too large at 0, expected "
              "to be <= 15, but got: 16")
    error = str(cpp_runner._failure("C++", 5, stderr, package, "aoti"))
    assert said in error and not_said not in error and "pass at most 15 there" in error.lower()


def test_a_median_of_few_calls_is_said_to_maybe_hold_the_first_optimising_ones():
    from helpers.routes.cpp_runner import ProgramRun
    few = ProgramRun("C++", None, load_ms=1.0, run_ms=80.0, runs=5, threads=1, work_ms=500.0, wall_s=1.0)
    enough = ProgramRun("C++", None, load_ms=1.0, run_ms=0.4, runs=20, threads=1, work_ms=500.0, wall_s=1.0)
    assert "⚠ only 5 calls" in str(few) and "repeats=20 or more" in str(few)
    assert "⚠" not in str(enough)
    assert "TorchScript optimises" in str(few)
    # an AOTInductor package was compiled ahead of time: no word of TorchScript's optimising calls
    compiled = ProgramRun("C++ AOTI", None, load_ms=1.0, run_ms=80.0, runs=5, threads=1, work_ms=500.0, wall_s=1.0)
    assert "⚠ only 5 calls" in str(compiled) and "TorchScript" not in str(compiled) and "caches cold" in str(compiled)


def test_a_binary_that_is_not_there_is_named_in_one_line(tmp_path):
    path = tmp_path / "linear.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(path))
    with pytest.raises(FileNotFoundError) as info:
        H.run_cpp(path, torch.ones(1, 2), binary=tmp_path / "nonexistent")
    assert "is not a program that can run here" in str(info.value) and "Errno" not in str(info.value)
    with pytest.raises(TypeError, match="binary= is the path"):
        H.run_cpp(path, torch.ones(1, 2), binary=3)


def test_per_call_ms_says_in_one_line_what_to_pass():
    with pytest.raises(TypeError, match=r"^per_call_ms expects the model or function to time, got the class Linear: "
                                        r"pass an instance"):
        H.per_call_ms(torch.nn.Linear, torch.ones(2, 3))
    with pytest.raises(RuntimeError, match=r"^per_call_ms: the call failed before any timing \(RuntimeError: mat1 and "
                                           r"mat2 shapes cannot be multiplied"):
        H.per_call_ms(torch.nn.Linear(4, 2), torch.ones(2, 3))
    assert H.per_call_ms(torch.nn.Linear(3, 2), torch.ones(2, 3), repeats=3) > 0
    for wrong in (0, -1, 2.5, True, "50"):  # a StatisticsError on an empty list, or a TypeError from range, before
        with pytest.raises(ValueError, match=r"^per_call_ms: repeats is how many calls to time, a whole number of 1"):
            H.per_call_ms(torch.nn.Linear(3, 2), torch.ones(2, 3), repeats=wrong)
    import numpy as np
    assert H.per_call_ms(torch.nn.Linear(3, 2), torch.ones(2, 3), repeats=np.int64(3)) > 0  # NumPy's int is a count


def test_the_service_starter_names_a_wrong_file_or_input_in_one_line(tmp_path):
    path = tmp_path / "lin.pt"
    torch.jit.script(torch.nn.Linear(8, 4).eval()).save(str(path))
    torch.save(torch.nn.Linear(8, 4).state_dict(), tmp_path / "weights.pt")
    with pytest.raises(H.CppInputError, match=r"got shape \(0, 8\): .* so pass one row or more"):
        H.run_main_cpp(path, torch.zeros(0, 8))
    with pytest.raises(H.CppInputError, match=r"got a 0-d tensor: .* so pass x\.reshape\(1\)"):
        H.run_main_cpp(path, torch.tensor(1.0))
    with pytest.raises(H.TorchScriptFileError, match=r"^weights\.pt was written by torch\.save"):
        H.run_main_cpp(tmp_path / "weights.pt", torch.ones(2, 8))
    with pytest.raises(H.AotiPackageError, match=r"lin\.pt is not an AOTInductor package: it is a TorchScript file"):
        H.run_main_cpp(path, torch.ones(2, 8), program="aoti_main")
    with pytest.raises(H.AotiPackageError, match=r"weights\.pt is not an AOTInductor package: it holds no compiled model"):
        H.run_main_cpp(tmp_path / "weights.pt", torch.ones(2, 8), program="aoti_main")
    # ids converted to float32 rounded above 2**24 (no error), and an Embedding refused floats in C++ words
    with pytest.raises(H.CppInputError, match=r"^run_main_cpp's starter reads float32 values \(cpp/main\.cpp\), and "
                                              r"this tensor is int64: .* use H\.run_cpp\(path, x\), which passes any"):
        H.run_main_cpp(path, torch.tensor([[16777217, 3]]))
    with pytest.raises(H.CppInputError, match=r"tensor is bool: .* use H\.run_aoti_cpp\(package, x\)"):
        H.run_main_cpp(path, torch.ones(2, 8, dtype=torch.bool), program="aoti_main")
    with pytest.raises(H.CppInputError, match=r"got a torch\.complex64 tensor: the starter reads float32"):
        H.run_main_cpp(path, torch.ones(2, 8, dtype=torch.complex64))


class _Scaled(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)

    def forward(self, x, n: int):
        return self.lin(x) * n


def test_the_cpp_aoti_runner_takes_the_models_own_call_with_its_number_as_load_aoti_does(tmp_path):
    model, x = _Scaled().eval(), torch.randn(2, 4)
    package = H.aoti_package(model, (x, 3), name="scaled", cache_dir=tmp_path, quiet=True)
    expected = model(x, 3)
    torch.testing.assert_close(H.load_aoti(package)(x, 3), expected)
    torch.testing.assert_close(H.run_aoti_cpp(package.path, x, 3), expected)  # as eager is called
    torch.testing.assert_close(H.run_aoti_cpp(package.path, x), expected)  # the number left out, as C++ takes it
    with pytest.raises(H.CppInputError, match=r"input 1: 5, but the program was exported with 3 there"):
        H.run_aoti_cpp(package.path, x, 5)
