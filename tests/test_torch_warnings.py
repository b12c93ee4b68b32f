"""H.torch_warnings hears every torch logger, those that do not pass records up included."""
import logging
import warnings

import helpers as H


def test_a_warning_on_a_logger_that_does_not_propagate_is_heard():
    quiet = logging.getLogger("torch.export")
    propagate, level = quiet.propagate, quiet.level
    quiet.propagate = False  # as torch's own logging setup leaves it
    quiet.setLevel(logging.ERROR)
    try:
        with H.torch_warnings() as said:
            quiet.warning("Ran into the following error when deserializing")
        assert [r.getMessage() for r in said.logs] == ["Ran into the following error when deserializing"]
        assert quiet.level == logging.ERROR and said  # the level is put back
    finally:
        quiet.propagate, quiet.level = propagate, level


def test_python_warnings_are_kept_and_resource_warnings_left_out():
    with H.torch_warnings() as said:
        warnings.warn("a deprecation", FutureWarning)
        warnings.warn("an unclosed file", ResourceWarning)
    assert [str(w.message) for w in said.warnings] == ["a deprecation"]
    with H.torch_warnings() as nothing:
        pass
    assert not nothing and "0 warnings, 0 log records" in repr(nothing)


def test_a_logger_made_inside_the_block_is_heard():
    with H.torch_warnings() as said:
        fresh = logging.getLogger("torch._made_inside_the_block")
        fresh.propagate = False
        fresh.warning("Loading outdated pt2 file.")
    assert [r.getMessage() for r in said.logs] == ["Loading outdated pt2 file."]
    assert logging.Logger.handle.__module__ == "logging"  # put back
