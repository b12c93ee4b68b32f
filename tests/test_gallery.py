"""The limitations gallery, checked live: every broken entry fails as recorded, every fix scripts and matches eager."""
import dataclasses
import inspect
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

import helpers as H
from helpers.course.workdir import REPO_ROOT
from helpers.tools.gallery import _same_outputs


@pytest.mark.parametrize("key", [e.key for e in H.GALLERY])
def test_every_entry_still_behaves_as_the_gallery_says(key, tmp_path):
    # Fails with a message naming the entry if a torch release lifts the limitation or changes its error.
    check = H.check_gallery_entry(key, folder=tmp_path)
    assert check.entry.key == key
    assert check.short and check.n_inputs >= 1


def test_gallery_covers_the_constructs_the_notebook_teaches():
    keys = {e.key for e in H.GALLERY}
    assert {"try_except", "lambda", "varargs", "kwargs", "sum_builtin", "numpy_call", "new_attribute",
            "none_default", "mixed_list", "mixed_dict", "helper_ignore", "helper_unused",
            "global_counter", "global_list", "global_read",
            # constructs real models use
            "comprehension_if", "comprehension_two_for", "set_comprehension", "dataclass_output",
            "dataclass_config", "enum_call", "property", "super_forward", "final_assigned", "fstring_spec",
            "format_spec_ignored"} <= keys
    assert len(keys) == len(H.GALLERY)


def test_the_entries_are_data_apart_from_the_code_that_runs_them():
    from helpers.tools import gallery, gallery_entries
    assert gallery.GALLERY is gallery_entries.GALLERY
    assert H.where("GALLERY") == "helpers/tools/gallery_entries.py"
    assert H.where("check_gallery") == "helpers/tools/gallery.py"
    source = inspect.getsource(gallery_entries)
    assert "torch.jit.script(" not in source  # nothing in the data module runs TorchScript
    # names other tools import from the gallery module stay there
    for name in ("GALLERY", "_calls", "_highlight", "_script", "_same_outputs", "script_error_line"):
        assert hasattr(gallery, name), name


# What the comprehension entries teach, in full: which comprehensions compile on this torch.
def _plain_list(x):
    return [x + i for i in range(3)]


def _dict_comprehension(x):
    return {str(i): x + i for i in range(3)}


def _nested(x):
    return [[x + i + j for j in range(2)] for i in range(2)]


def _conditional_value(x):
    return [x + i if i > 0 else x for i in range(3)]


@pytest.mark.parametrize("fn", [_plain_list, _dict_comprehension, _nested, _conditional_value])
def test_these_comprehensions_compile_and_match_eager(fn):
    x = torch.linspace(-1, 1, 4)
    ok, why = _same_outputs(fn(x), torch.jit.script(fn)(x))
    assert ok, why


def test_a_dict_comprehension_with_an_if_is_refused_like_a_list_one():
    def dict_if(x):
        return {str(i): x + i for i in range(3) if i > 0}
    with pytest.raises(torch.jit.frontend.NotSupportedError, match="Comprehension ifs are not supported yet"):
        torch.jit.script(dict_if)


def test_a_differs_entry_that_matches_eager_fails_the_check(tmp_path):
    entry = _variant("format_spec_ignored", broken=H.gallery_entry("format_spec_ignored").fixed)
    with pytest.raises(AssertionError, match="answer differently from eager.*but it matched"):
        H.check_gallery_entry(entry, folder=tmp_path)
    check = H.check_gallery_entry("format_spec_ignored", folder=tmp_path)
    assert check.where == "scripts, runs, answers differently" and "head_{:02d}" in check.short
    assert check.error is None and "eager:" in check.message


def _variant(key, **changes):
    return dataclasses.replace(H.gallery_entry(key), **changes)


def test_an_accepted_construct_fails_the_check_and_names_the_entry(tmp_path):
    entry = _variant("lambda", broken=H.gallery_entry("lambda").fixed)  # as if torch now accepted lambdas
    with pytest.raises(AssertionError, match=r"gallery entry 'lambda'.*accepts the construct"):
        H.check_gallery_entry(entry, folder=tmp_path)


def test_a_changed_message_fails_the_check(tmp_path):
    entry = _variant("try_except", fragment="a message torch never wrote")
    with pytest.raises(AssertionError, match=r"gallery entry 'try_except': expected UnsupportedNodeError"):
        H.check_gallery_entry(entry, folder=tmp_path)
    with pytest.raises(AssertionError, match="expected RuntimeError"):
        H.check_gallery_entry(_variant("try_except", error_type=RuntimeError), folder=tmp_path)


def test_a_run_stage_entry_that_runs_fails_the_check(tmp_path):
    entry = _variant("none_default", broken=H.gallery_entry("none_default").fixed)
    with pytest.raises(AssertionError, match="expected the broken model to script|but it ran"):
        H.check_gallery_entry(entry, folder=tmp_path)


def test_a_warning_that_disappears_fails_the_check(tmp_path):
    entry = _variant("mixed_list", broken=H.gallery_entry("mixed_list").fixed)
    with pytest.raises(AssertionError, match=r"gallery entry 'mixed_list': expected a warning"):
        H.check_gallery_entry(entry, folder=tmp_path)


def test_a_fix_that_changes_the_result_fails_the_check(tmp_path):
    wrong_fix = H.gallery_entry("try_except").fixed.replace("x.reshape(-1)", "x.reshape(-1) * 2")
    with pytest.raises(AssertionError, match="changes the result of the original code"):
        H.check_gallery_entry(_variant("try_except", fixed=wrong_fix), folder=tmp_path)


def test_a_fix_that_does_not_script_fails_the_check(tmp_path):
    with pytest.raises(AssertionError, match="the fix does not script"):
        H.check_gallery_entry(_variant("lambda", fixed=H.gallery_entry("lambda").broken), folder=tmp_path)


def test_entries_validate_their_fields():
    with pytest.raises(ValueError, match="stage must be one of"):
        _variant("lambda", stage="compile")
    with pytest.raises(ValueError, match="exception class"):
        _variant("lambda", error_type=None)
    with pytest.raises(ValueError, match="exception class"):
        _variant("none_default", error_type=None)  # a run-time failure names its exception too
    with pytest.raises(KeyError, match="choose one of"):
        H.gallery_entry("lambdas")


def test_report_lists_every_entry_with_its_four_parts(tmp_path):
    report = H.check_gallery(["try_except", "mixed_list"], folder=tmp_path)
    text, page = repr(report), report._repr_html_()
    assert "try_except" in text and "try blocks aren't supported" in text
    for part in ("1 · Broken", "2 · What happens", "3 · Why", "4 · Fix", "List[Union[Tensor, int]]"):
        assert part in page
    assert report["mixed_list"].short.startswith("List consists of heterogeneous types")
    with pytest.raises(KeyError):
        report["nope"]


def test_exec_defined_classes_cannot_be_scripted_but_snippets_can(tmp_path):
    source = "class Model(nn.Module):\n    def forward(self, x):\n        return x * 2\n"
    namespace = dict(H.SNIPPET_GLOBALS)
    exec(source, namespace)
    with pytest.raises(OSError, match="Can't get source"):
        torch.jit.script(namespace["Model"]())
    model = H.snippet_model(source, folder=tmp_path)
    assert inspect.getsource(type(model)) == source
    assert torch.equal(torch.jit.script(model)(torch.ones(2)), torch.full((2,), 2.0))


def test_snippets_work_from_any_directory_and_default_to_the_work_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TS_WORKBOOK_WORK", str(tmp_path / "work"))
    monkeypatch.chdir(tmp_path)
    module = H.load_snippet("def twice(x: torch.Tensor) -> torch.Tensor:\n    return x * 2\n")
    # work_dir keeps one folder per process, so compare with what it returns rather than with tmp_path
    assert os.path.isabs(module.__file__)
    assert module.__file__.startswith(str(H.work_dir("06_limitations") / "snippets"))
    assert torch.jit.script(module.twice)(torch.ones(1)).item() == 2.0


def test_each_load_is_a_fresh_module(tmp_path):
    source = "COUNT = [0]\n"
    a, b = H.load_snippet(source, tmp_path), H.load_snippet(source, tmp_path)
    a.COUNT.append(1)
    assert a.__file__ == b.__file__ and b.COUNT == [0]


def test_snippet_errors_are_raised_as_they_are(tmp_path):
    with pytest.raises(SyntaxError):
        H.load_snippet("def broken(:\n", tmp_path)
    with pytest.raises(NameError):
        H.load_snippet("undefined_name + 1\n", tmp_path)
    with pytest.raises(ValueError, match="class named Model"):
        H.snippet_model("x = 1\n", tmp_path)
    with pytest.raises(TypeError, match="source code as a str"):
        H.load_snippet(b"x = 1")


def test_two_processes_at_once_share_a_snippet_folder(tmp_path):
    script = textwrap.dedent(f"""
        import sys, types, torch, warnings
        warnings.simplefilter("ignore")
        package = types.ModuleType("helpers")  # import only the gallery, not every helper module
        package.__path__ = [{str(REPO_ROOT / "helpers")!r}]
        sys.modules["helpers"] = package
        from helpers.tools.gallery import GALLERY, snippet_model
        for entry in GALLERY[:6]:
            for _ in range(2):
                torch.jit.script(snippet_model(entry.fixed, {str(tmp_path)!r}))
        print("ok")
    """)
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    procs = [subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0 and out.strip() == "ok", err[-2000:]
    assert not list(tmp_path.glob("*.tmp")), "temporary files must be renamed into place"


def test_native_warnings_are_captured():
    def mixed(x):
        return [x, 1]
    with H.captured_native_warnings() as box:
        torch.jit.script(mixed)
    assert "List consists of heterogeneous types" in box[0]
    assert "is deprecated" not in box[0]


def test_script_error_line_picks_the_informative_line():
    class SumOverTensors(nn.Module):
        def forward(self, x):
            return sum([x, x])
    with pytest.raises(RuntimeError) as caught:
        torch.jit.script(SumOverTensors())
    line = H.script_error_line(caught.value)
    assert line.startswith("RuntimeError: Expected a value of type 'Tensor'")
    assert H.script_error_line(ValueError("first\nsecond"), fragment="SECOND") == "ValueError: second"
    with pytest.raises(TypeError, match="expects an exception"):
        H.script_error_line("not an error")


def test_script_error_line_drops_addresses_and_repeated_types():
    error = RuntimeError("Python builtin <built-in method random of Random object at 0x55bfad8cfc20> is "
                         "currently not supported in Torchscript:\n  File ...")
    assert H.script_error_line(error) == ("RuntimeError: Python builtin <built-in method random of Random object> "
                                          "is currently not supported in Torchscript")
    repeated = RuntimeError("The following operation failed in the TorchScript interpreter.\n"
                            "Traceback of TorchScript (most recent call last):\n  File x, line 1\n"
                            "RuntimeError:  expected value of type Tensor for return value\nValue: 1.0")
    assert H.script_error_line(repeated) == "RuntimeError: expected value of type Tensor for return value"
    assert H.script_error_line(repeated, "return value") == "RuntimeError: expected value of type Tensor for return value"
    reached = torch.jit.Error(repeated.args[0].replace("expected value of type Tensor for return value",
                                                       "This Python function is annotated to be ignored"))
    assert H.script_error_line(reached) == "Error: This Python function is annotated to be ignored"


def test_summaries_show_the_cause_not_the_call_chain(tmp_path):
    # A helper that fails deep in library code: the check matches the stable call-chain line, the summary
    # shows the first line of the message, which says what went wrong.
    check = H.check_gallery_entry("helper_ignore", folder=tmp_path)
    assert "is being compiled since it was called from" in check.message
    assert "is being compiled" not in check.short and check.short.startswith("RuntimeError: ")
    first = next(ln for ln in check.message.splitlines() if ln.strip())
    assert check.short == "RuntimeError: " + first.strip().rstrip(":")
    assert "0x" not in H.check_gallery_entry("python_random", folder=tmp_path).short


def test_script_signature_hides_the_generated_class_name(tmp_path):
    entry = H.gallery_entry("none_default")
    broken = torch.jit.script(H.snippet_model(entry.broken, tmp_path))
    fixed = torch.jit.script(H.snippet_model(entry.fixed, tmp_path))
    assert "__torch__" in str(broken.forward.schema)
    assert H.script_signature(broken) == "forward(self, Tensor x, Tensor bias=[ Tensor (undefined) ]) -> Tensor"
    assert H.script_signature(fixed) == "forward(self, Tensor x, Tensor? bias=None) -> Tensor"

    def twice(x: torch.Tensor, n: int = 2) -> torch.Tensor:
        return x * n
    assert H.script_signature(torch.jit.script(twice)) == "twice(Tensor x, int n=2) -> Tensor"
    with pytest.raises(TypeError, match="torch.jit.script"):
        H.script_signature(H.snippet_model(entry.fixed, tmp_path))
    with pytest.raises(AttributeError, match="no compiled method 'backward'"):
        H.script_signature(fixed, "backward")
    with pytest.raises(AttributeError, match="no compiled method"):
        H.script_signature(fixed, "training")


def test_one_entry_name_alone_is_checked_as_that_entry_not_letter_by_letter(tmp_path):
    report = H.check_gallery("try_except", folder=tmp_path)
    assert "try_except" in repr(report) and "try blocks aren't supported" in repr(report)
    with pytest.raises(KeyError, match="no gallery entry 'try_excep'"):
        H.check_gallery("try_excep", folder=tmp_path)  # a typo names the whole name


def test_the_text_listing_keeps_its_columns_for_long_keys(tmp_path):
    report = H.check_gallery(["mixed_list", "format_spec_ignored", "none_default"], folder=tmp_path)
    lines = repr(report).splitlines()
    where_starts = {line.index(check.where) for line, check in zip(lines, report)}
    short_starts = {line.index(check.short, line.index(check.where) + len(check.where)) for line, check in zip(lines, report)}
    assert len(where_starts) == 1 and len(short_starts) == 1, lines
