"""H.attempt: runs a block, shows its warnings (in order, whole words) and its error, asserts nothing."""
import warnings

import helpers as H


def test_error_is_kept_and_shown_in_one_line(capsys):
    with H.attempt() as run:
        raise RuntimeError("first line\nsecond line")
    assert run.failed and isinstance(run.error, RuntimeError) and "second line" in run.message
    assert capsys.readouterr().out.strip() == "raised  RuntimeError: first line"


def test_notes_of_the_error_are_shown_after_it(capsys):
    error = RuntimeError("lowering failed")
    error.add_note("recorded when the file was lowered")
    with H.attempt("X"):
        raise error
    assert capsys.readouterr().out.strip().splitlines() == ["X: raised  RuntimeError: lowering failed",
                                                           "X: note    recorded when the file was lowered"]


def test_warnings_in_print_order_counted_and_cut_at_a_word():
    long = "word " * 60
    with H.attempt(show=False) as run:
        warnings.warn("first", UserWarning)
        warnings.warn("first", UserWarning)
        warnings.warn(long, FutureWarning)
    lines = run.lines()
    assert lines[0].startswith("warned  UserWarning") and lines[0].endswith("first  (×2)")
    assert lines[1].endswith("word …") and "wor …" not in lines[1]
    assert run.warned(UserWarning, "FIRST") == ["first", "first"] and not run.failed


def test_deprecation_notice_left_out_unless_asked():
    notice = "`torch.jit.trace` is deprecated. Please switch to `torch.compile` or `torch.export`."
    with H.attempt(show=False) as quiet:
        warnings.warn(notice, FutureWarning)
    with H.attempt(show=False, keep_deprecations=True) as kept:
        warnings.warn(notice, FutureWarning)
    assert quiet.warnings == [] and quiet.lines() == ["no error, no warning"]
    assert kept.warned(FutureWarning, "deprecated")


def test_keyboard_interrupt_is_not_swallowed():
    try:
        with H.attempt(show=False):
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        return
    raise AssertionError("KeyboardInterrupt was swallowed")


def test_a_type_torch_repeats_twice_is_said_once():
    with H.attempt("call") as run:
        raise RuntimeError("The following operation failed in the TorchScript interpreter.\n"
                           "RuntimeError: RuntimeError: Tensor on device cpu is not on the expected device meta!")
    assert run.lines() == ["call: raised  RuntimeError: Tensor on device cpu is not on the expected device meta!"]


def test_a_warning_line_ending_in_a_colon_keeps_the_line_it_announces():
    from helpers.course.outcome import one_line
    assert one_line("Output nr 1. of the traced function does not match. Detailed error:\nTensor-likes are not close!\n"
                    "Mismatched elements: 3 / 3") == ("Output nr 1. of the traced function does not match. Detailed "
                                                      "error: Tensor-likes are not close!")
    assert one_line("first line\nsecond") == "first line"
