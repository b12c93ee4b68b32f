"""Time a model as eager, TorchScript, torch.compile and C++ variants (introduced in 07_optimize_and_debug).

``H.benchmark_model(model, example)`` prepares every variant and checks it with ``H.parity`` on
varied inputs: a variant that computes something else is shown as wrong, with the first input where
it diverges, and is never timed or called faster. It then times the first calls, calibrates each variant
with ``torch.utils.benchmark.Timer``, and measures all variants in one run: rounds that visit every variant in turn,
so a busy machine slows them all alike, and each round gives a ratio against eager. The result is a
``BenchmarkReport`` (benchmark_report.py: medians and interquartile ranges of the times and ratios,
the table, ``H.plot_benchmark``). The C++ program runs as a separate process in only a few of the
rounds: with fewer than ``FEW_RUNS`` ratios a row shows (and judges by) their whole range.
"""
import hashlib
import logging
import math
import re
import tempfile
import time
import timeit
import warnings
from pathlib import Path

import torch

from ..course.deprecations import drop_no_cuda_notice
from ..course.failures import typed_message
from ..course.guards import refuse_meta, require_module
from .input_variants import SIZE_VARIANT, as_args, batch_dim_for, leaves, own_copy, rebuild, shapes, vary_inputs
from .parity import (_MISSING, FAST_PATH_ZEROS, RELAXED_TRACE_NOTE, TWO_ANSWERS_CAUSES, copy_state, eager_failure, fresh_copy, parity, python_state,
                     random_in_forward, state_changes, trace_copy, training_layers)
from .benchmark_report import BENCHMARK_VARIANTS, BenchmarkReport, VariantResult, _fewest_of, fewest_for_a_verdict

drop_no_cuda_notice()  # torch.utils.benchmark imports torch's C++-extension module, which logs it

from torch.utils.benchmark import Timer  # noqa: E402  (after the filter above, which it would trigger)


class _RecompileLimit(logging.Filter):
    """Keeps dynamo's multi-line "hit config.recompile_limit" warning out of the output and remembers it: the
    benchmark says it in one line on the torch.compile row instead."""

    def __init__(self):
        super().__init__()
        self.hit = ""

    def filter(self, record):
        message = record.getMessage()
        if message.startswith("torch._dynamo hit config."):
            self.hit = message.split("\n")[0].replace("torch._dynamo hit ", "")
            return False
        return True

__all__ = ["QUICK_SETTINGS", "THOROUGH_SETTINGS", "QUICK_COMPILE_MAX_PARAMETERS", "benchmark_model"]

_PYTHON_VARIANTS = BENCHMARK_VARIANTS[:-1]

# Quick: what CI runs (seconds per model). Thorough: more rounds and longer blocks, for the curious.
# ``seconds`` caps the timed rounds of one model (fewer rounds for slow models, never fewer than
# ``min_rounds``, so that quartiles still mean something).
QUICK_SETTINGS = {"rounds": 15, "min_rounds": 7, "seconds": 2.5, "block_seconds": 0.01, "cpp_runs": 3}
THOROUGH_SETTINGS = {"rounds": 41, "min_rounds": 21, "seconds": 30.0, "block_seconds": 0.05, "cpp_runs": 7}

# In quick mode, torch.compile is left out of the default variants for models bigger than this many
# parameters: its first call compiles for half a minute (23-32 s measured) on a mobilenet-sized model on a 2-core machine.
QUICK_COMPILE_MAX_PARAMETERS = 1_000_000


# ------------------------------------------------------------------ preparing the variants

def _fresh_script(model):
    """torch.jit.script(model), compiled anew even if this class was scripted before in this process.

    Every module scripted from one class shares the compiled methods, and with them the profiling
    executor's state: a second ``torch.jit.script`` of the class would start already optimized, and
    its "first call" would hide the cost a fresh process pays. A new type store (what torch's own
    test suite does between tests) makes this compile a type of its own.
    """
    torch.jit._recursive.concrete_type_store = torch.jit._recursive.ConcreteTypeStore()
    return torch.jit.script(model)


def _prepare(name, model, example, compile_backend, scripted=None):
    """Build the callable for one variant (eager is the model itself), with a note on how it was made or None:
    ``(callable, note)``.

    ``scripted``: the "script" variant's module, if this run built one. Freezing and ``optimize_for_inference``
    work on a copy of it (each makes a module of its own, with its own first calls), so they start from it
    instead of scripting the model again; their rows add the scripting time to their own.
    """
    if name == "eager":
        return model, None
    if name == "trace":
        # no check_trace: the parity check that follows runs the trace on more inputs than it would
        traced, relaxed = trace_copy(model, example)
        return traced, (RELAXED_TRACE_NOTE if relaxed else None)
    if name == "script":
        return _fresh_script(model), None
    if name == "script+freeze":
        return torch.jit.freeze(scripted if scripted is not None else _fresh_script(model)), None
    if name == "optimize_for_inference":
        return torch.jit.optimize_for_inference(scripted if scripted is not None else _fresh_script(model)), None
    if name == "torch.compile":
        # A fresh start: earlier compilations in this kernel (a rerun of the cell) would otherwise be
        # reused, or pile up until dynamo gives up recompiling and silently runs eager.
        torch._dynamo.reset()
        return torch.compile(model, backend=compile_backend), None
    raise ValueError(name)


def _max_diff(a, b):
    la, lb = leaves(a), leaves(b)
    if len(la) != len(lb) or any(x.shape != y.shape for x, y in zip(la, lb)):
        return math.inf
    diffs = []
    for x, y in zip(la, lb):
        if x.numel():
            x, y = x.double(), y.double()
            both_nan = torch.isnan(x) & torch.isnan(y)  # NaN where eager has NaN too is agreement
            diff = torch.where(both_nan, torch.zeros_like(x), x - y).abs().max().item()
            diffs.append(math.inf if math.isnan(diff) else diff)
    return max(diffs, default=0.0)


def _timed_call(fn, example):
    start = time.perf_counter()
    out = fn(*example)
    return out, time.perf_counter() - start


def _cpp_binary():
    """The C++ program from 05 if it is already built from today's source (building it here would cost ~20 s)."""
    from ..routes.cpp_runner import cached_cpp_binary
    return cached_cpp_binary()


def _time_cpp_once(binary, model_path, example, repeats, threads):
    """One run of the C++ program: (its own median time of one call in seconds, the whole process in seconds, output)."""
    from ..routes.cpp_runner import time_cpp
    run = time_cpp(model_path, tuple(example), repeats=repeats, threads=threads, binary=binary)  # forward's arguments
    return run.run_ms / 1e3, run.wall_s, run.output


# ------------------------------------------------------------------ measuring

def _check_example(example):
    """The example as the tuple of positional arguments (a list or dict is one structured argument)."""
    return as_args(example, "benchmark_model", "example")


def benchmark_model(model, example, *, label=None, variants=None, thorough=False, rounds=None,
                    seconds=None, block_seconds=None, threads=1, compile_backend="inductor", cpp_runs=None,
                    work_dir=None, progress=True, batch_dim=0) -> BenchmarkReport:
    """Measure ``model`` on ``example`` as each of ``variants``, all in one run; return a BenchmarkReport.

    Every variant is prepared and called twice (both calls timed: the one-off costs), calibrated
    with ``Timer.blocked_autorange``, then timed in rounds that visit every variant once each, in
    blocks of about ``block_seconds``: up to ``rounds`` rounds, fewer if they would take longer
    than ``seconds``. A variant that fails is reported with its reason; the others are still
    measured. ``threads=1`` keeps the numbers steady on a shared machine. ``"C++"`` in ``variants``
    adds the C++ program from 05 if it is already built (a row saying it was skipped if not);
    ``work_dir`` is where the model file it loads is written. ``thorough=True`` measures longer.
    By default every Python variant is measured, except that quick mode leaves torch.compile out for
    a model of more than ``QUICK_COMPILE_MAX_PARAMETERS`` parameters (its row says so): name it in
    ``variants`` or pass ``thorough=True`` to include it. ``batch_dim``: where the example's batch sits (1 for a
    sequence-first model, or one entry per input), for the other batch sizes each variant's answers are checked on.
    Every variant's answers are checked against ``model`` itself, whether or not ``"eager"`` is in ``variants``
    (without it, nothing is timed to compare speeds with: the rows give their times only). ``variants`` is a list of
    names; a single name as a string is taken as a list of that one name.
    The runs use a copy of ``model``: one that keeps state (a call counter) is left as it was.
    """
    require_module(model, "benchmark_model")
    if isinstance(model, torch.jit.ScriptModule):  # its "eager" row would time TorchScript, and "script" it again
        raise TypeError("benchmark_model times the eager model against its copies, and this one is already a "
                        "TorchScript copy (scripted, traced or loaded): pass the nn.Module it was made from")
    refuse_meta(example, "benchmark_model")
    example = own_copy(_check_example(example))  # a model that changes its input in place (x.mul_) changes this
    # copy over the thousands of calls, not the learner's tensor
    batch_dim = batch_dim_for(example, batch_dim, "benchmark_model")  # a one-line error now, not a skipped check
    compile_left_out = None
    if variants is None:
        variants = list(_PYTHON_VARIANTS)
        size = sum(p.numel() for p in model.parameters())
        if not thorough and size > QUICK_COMPILE_MAX_PARAMETERS:
            compile_left_out = (f"left out of quick mode for a model of {size / 1e6:.1f} M parameters (its first "
                                "call compiles for tens of seconds or more): pass thorough=True or name it in variants=")
    # one name as a string is a list of that name, never a string whose parts ("script" in "script+freeze") match
    variants = [variants] if isinstance(variants, str) else list(variants)
    # the model's own flag, or a layer left in train() inside an eval() model: torch's random layers by name, and
    # any other submodule whose flag is on (its forward may read self.training)
    random = training_layers(model, own_forwards=False)  # modules of your own in train() are named just below
    active = random or [f"{type(m).__name__} {name!r}" for name, m in model.named_modules()
                        if name and getattr(m, "training", False)]
    if model.training or active:
        # name the layers only where they tell something: the random ones, or those left in train() in an eval() model
        which = (f" ({', '.join(active[:3])} in training mode)" if random or not model.training
                 else " (the model is in training mode)")
        effect = (", and dropout or batch-norm updates would change what is measured" if random else
                  ", and a forward that reads self.training may compute something else" if not model.training else "")
        # freezing refuses a model in train(): a reason only when a freezing variant is asked for
        need = ": freezing needs it" if {"script+freeze", "optimize_for_inference"} & set(variants) else ""
        raise ValueError(f"benchmark_model times inference: call model.eval() first{which}{need}{effect}")
    unknown = [v for v in variants if v not in BENCHMARK_VARIANTS]
    if not variants:
        raise ValueError(f"variants is empty: name at least one of {', '.join(BENCHMARK_VARIANTS)}")
    if unknown:
        raise ValueError(f"unknown variant(s) {unknown}: choose from {', '.join(BENCHMARK_VARIANTS)}")
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"threads must be a whole number of at least 1, got {threads!r}")
    # The example must suit the model before any copy is built: a scripted or frozen copy fed a wrong input can take
    # the whole process down in torch's own code (a crash, not an exception), which no row could report.
    model = fresh_copy(model)  # the thousands of timed calls change a model that keeps state (a call counter): on a
    # copy, the learner's model stays as it was, as H.parity leaves it
    failure = eager_failure(fresh_copy(model), example)
    if failure:
        raise ValueError(f"benchmark_model: the eager model itself fails on the example with shape {shapes(example)} "
                         f"({failure}): fix the model, or pass an input it accepts")
    settings = dict(THOROUGH_SETTINGS if thorough else QUICK_SETTINGS)
    for key, value in (("rounds", rounds), ("seconds", seconds), ("block_seconds", block_seconds),
                       ("cpp_runs", cpp_runs)):
        if value is not None:
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{key} must be a positive number, got {value!r}")
            settings[key] = value
    if rounds is not None:
        settings["min_rounds"] = min(settings["min_rounds"], rounds)
    settings["rounds"], settings["cpp_runs"] = int(settings["rounds"]), int(settings["cpp_runs"])
    want_cpp = "C++" in variants
    variants = [v for v in BENCHMARK_VARIANTS if v in variants and v != "C++"]  # the fixed display order
    label = label or type(model).__name__

    rows = {name: VariantResult(name) for name in variants}
    if compile_left_out:
        rows["torch.compile"].error, rows["torch.compile"].stage = compile_left_out, "skipped"
    fns, extra, scratch = {}, {}, None
    bar = _progress_bar(2 * len(variants) + len(variants) * settings["rounds"], label, progress)
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    recompiles = _RecompileLimit()
    dynamo_log = logging.getLogger("torch._dynamo.convert_frame")
    dynamo_log.addFilter(recompiles)
    state_before = python_state(model)  # what the model keeps, before any call: a counter shows in every row
    try:
        reference = _prepare_all(model, example, variants, rows, fns, compile_backend, bar, label, batch_dim,
                                 state_before)
        if want_cpp:
            # The C++ program loads a file: the frozen module (already built above, if it was asked for).
            scratch = tempfile.TemporaryDirectory(prefix="bench-") if work_dir is None else None
            extra = _prepare_cpp(model, fns.get("script+freeze"), example, rows, reference,
                                 threads, work_dir if scratch is None else scratch.name, label, state_before)
        started = time.perf_counter()
        done = _measure_rounds(fns, rows, example, settings, bar, label, extra)
        took = time.perf_counter() - started
        over = ""
        if 3 < done == settings["min_rounds"] and took > 2 * settings["seconds"]:  # the floor on rounds set the time
            over = (f"{done} rounds took {took:.1f} s, beyond seconds={settings['seconds']:g}: {done} is the least this run "
                    f"measures (its minimum number of rounds); a difference is called only when "
                    "a fair coin would rarely split the rounds as unevenly: "
                    + (f"with {done} rounds, {fewest} of {done} on one side of 1" if (fewest := _fewest_of(done)) else
                       f"no split of {done} rounds is that rare; it takes {fewest_for_a_verdict()} of "
                       f"{fewest_for_a_verdict()} at the least"))
    finally:
        dynamo_log.removeFilter(recompiles)
        torch.set_num_threads(old_threads)
        bar.close()
        if scratch is not None:
            scratch.cleanup()
    compiled = rows.get("torch.compile")
    if recompiles.hit and compiled is not None and compiled.error is None:
        gave_up = (f"torch.compile hit its recompile limit ({recompiles.hit}): it recompiled on every call (the model "
                   "changes something dynamo guards on, such as a Python attribute), then ran the model uncompiled: this "
                   "row times eager Python plus dynamo's own work on every call before it falls back (checking its "
                   "compiled versions' guards), not compiled code")
        compiled.note = f"{compiled.note}; {gave_up}" if compiled.note else gave_up
    return BenchmarkReport(label, rows, input_shapes=[tuple(t.shape) for t in leaves(example)], threads=threads,
                           rounds=done, block_seconds=settings["block_seconds"], budget_note=over)


def _parity_inputs(model, example, batch_dim=0):
    """The inputs every variant is checked on: the example and its variants the model accepts, both
    other batch sizes included (a branch on the size can sit on either side of the example's), but
    not x0.1 (it adds little beside x10 and zeros; every input costs a call per variant)."""
    try:
        variants = vary_inputs(example, model=model, batch_dim=batch_dim)
    except ValueError:  # the model rejects the example itself: eager's own row says why
        return {"example": example}
    return {label: args for label, args in variants.items() if label != "x0.1"}


class _EagerOnce:
    """The eager model with its answer to each checking input kept: every variant is compared with
    the same eager outputs, computed once. Parity hands each call its own copy of the input, so an input is
    known by its contents (shapes, dtypes and bytes), not by which tensor objects hold them."""

    # Parity must not read which lines ran from it: an input's second check is answered from the cache, running none.
    unwatched = True

    def __init__(self, model):
        from .path_recorder import LineCoverage
        self.model, self.answers = model, {}
        self.coverage = LineCoverage(model)  # which lines eager ran, read here once per input

    def __call__(self, *args):
        key = _fingerprint(args)
        if key is None:  # contents that cannot be read as bytes: no reuse, eager runs again
            return self.model(*args)
        if key not in self.answers:
            with self.coverage.watch(key):
                self.answers[key] = self.model(*args)
        return self.answers[key]


def _fingerprint(args):
    """A key for the contents of ``args`` (tensors by shape, dtype and a hash of their bytes), or None."""
    def tensor_key(t):
        t = t.detach().cpu().contiguous()
        data = t.view(torch.uint8).numpy().tobytes() if t.numel() else b""
        return ("tensor", tuple(t.shape), str(t.dtype), hashlib.blake2b(data, digest_size=16).hexdigest())
    try:
        return repr(rebuild(args, tensor_key))
    except Exception:  # a sparse or meta tensor, an exotic dtype
        return None


def _settled(model, example) -> bool:
    """True when one more call leaves the model's Python attributes as they are: what changed was a one-time set-up
    (a cache filled on the first call), not a counter that keeps changing."""
    before = python_state(model)
    try:
        with torch.no_grad():
            model(*own_copy(example))
    except Exception:  # it ran this example already; a failure now says nothing about settling
        return False
    return python_state(model) == before


def _counting(model, example, state_before) -> list:
    """What the model changed in its own state since ``state_before`` (``["self.calls: 0 → 5"]``), if it keeps
    changing it (a counter); [] if nothing changed or the change was a one-time set-up (a cache filled once)."""
    changed = state_changes(state_before, python_state(model))
    return changed if changed and not _settled(model, example) else []


def _not_compared(row, changed):
    """Say on the row that its answers were not compared, because the model changes ``changed`` as it runs."""
    # "output differs from eager by ...", said by the first-call check: true, and explained by the count instead
    row.note = "; ".join(part for part in row.note.split("; ") if not part.startswith("output differs from eager"))
    _add_note(row, f"answers not compared: the model changes its own state (attributes or buffers) as it runs "
                   f"({'; '.join(changed[:2])}), so each copy's answers depend on how often it ran")


def _check_parity(eager, name, fn, inputs, reference, row, model, state_before):
    """Check ``fn`` against eager before timing it; mark the row wrong when it diverges.

    A model that changes its own Python attributes as it runs (a call counter, a cache) gives answers that depend
    on how often it ran, and eager and each copy ran different numbers of times here: a difference then proves
    nothing, so the row says its answers were not compared and is timed like the others. A cache filled on the first
    call and left alone after (torchvision's detection models have one) is no such change."""
    same_shape = {k: v for k, v in inputs.items()
                  if [tuple(t.shape) for t in leaves(v)] == [tuple(t.shape) for t in leaves(inputs["example"])]}
    if name == "torch.compile":
        inputs = same_shape  # another shape would recompile, which is the compile's cost, not its answer
    report = parity(eager, fn, inputs=inputs, rtol=1e-4, atol=1e-4, label=name, scale_atol=True)
    row.parity, row.checked_on = report, [r.label for r in report.rows]
    if report.all_close and report.rows and all(r.empty for r in report.rows):  # nothing to compare: no detections
        _add_note(row, "answers not compared: every output eager gave was empty (no detections?)")
        return True
    if report.all_close and report.tiny:  # every eager output lay within the tolerance of zero: zeros would pass too
        _add_note(row, f"answers hardly compared: eager's outputs are at most "
                       f"{max(r.tiny for r in report.rows):.2g} in size, within the check's tolerance of zero")
        return True
    if report.all_close and report.one_integer:  # every integer input one value: one row of an embedding
        _add_note(row, "answers compared on one integer value only: every integer input held the same value")
        return True
    if report.all_close and report.tiny_parts:  # a part of the output within the tolerance of zero: zeros pass there
        _add_note(row, f"answers hardly compared in {', '.join(report.tiny_parts)}: eager gave numbers within the "
                       "check's tolerance of zero there")
        return True
    fast_path = next((r.note for r in report.rows if "fast path runs" in r.note), "") if report.all_close else ""
    if fast_path:  # the first-call check's difference is eager's own no-grad path: said once, as parity found it
        row.note = "; ".join(part for part in row.note.split("; ") if not part.startswith("output differs from eager"))
        _add_note(row, "answers compared with eager run with gradients on: under no_grad, eager's timed runs take "
                       f"{FAST_PATH_ZEROS}, and this copy computes numbers there")
    uncovered = eager.coverage.uncovered() if isinstance(eager, _EagerOnce) else report.uncovered
    if report.all_close and uncovered:  # a wrong trace times as fast as a right one: say what went unrun
        where, place, text = uncovered[0]
        more = f" (+{len(uncovered) - 1} more)" if len(uncovered) > 1 else ""
        _add_note(row, f"answers compared on the paths the inputs took only: no input ran `{text}` ({place}){more}, "
                       "so this copy may be timed on a path it computes wrongly (H.parity with inputs that take it)")
    counts = _counting(model, inputs["example"], state_before)  # a counter, not a cache filled once
    names = [c.split(":")[0].removeprefix("self.") for c in counts]
    missing = [n for n, value in copy_state(fn, names).items() if value == _MISSING]
    if report.all_close:
        if missing:  # same answers, but the copy has no such attribute at all
            _add_note(row, f"same answers, but it does not keep the state eager changes as it runs "
                           f"(self.{missing[0]} is not in this copy)")
        return True
    if missing:
        # eager's answers follow a count this copy does not have (a trace wrote the value it saw into its code): the
        # difference is not a matter of how often each ran, so the copy computes something else
        row.wrong = (f"answers otherwise, and cannot follow eager: eager's answers change with self.{missing[0]}, "
                     f"which it changes as it runs, and this copy has no self.{missing[0]}")
        return False
    if counts:
        _not_compared(row, counts)
        return True
    # eager gave two answers to one input (parity asks eager twice; eager's answers here are kept from one call
    # each, so two fresh copies are asked too): no copy can match it, and none is to blame
    if report.self_divergent or (not report.all_close and random_in_forward(model, inputs["example"], 1e-4, 1e-4)):
        _add_note(row, "answers not compared: eager itself gives two different answers to the same input "
                       f"({TWO_ANSWERS_CAUSES})")
        return True
    diverging = [r for r in report.rows if r.diverges]
    if all(r.error and SIZE_VARIANT.match(r.label) for r in diverging):  # refuses other sizes, right on the example's
        _add_note(row, f"refuses {', '.join(repr(r.label) for r in diverging[:3])} ({diverging[0].error}): it took "
                       "the example's sizes only, and is timed on those")
        return True
    first = report[report.first_divergence]
    how = first.diff_text if first.error else f"largest |diff| {first.diff_text}"
    row.wrong = f"diverges from eager at {report.first_divergence!r} ({how})"
    return False


def _prepare_all(model, example, variants, rows, fns, compile_backend, bar, label, batch_dim=0, state_before=None):
    """Build every variant, check it against eager, time its first two calls; return eager's output
    (None if eager failed). A variant that diverges is kept out of the timed rounds. ``state_before``: the model's
    state before any call (``python_state``), taken here if not given."""
    reference = None
    inputs = None
    scripted, script_s = None, 0.0  # the "script" variant's module and how long scripting took, once built
    state_before = python_state(model) if state_before is None else state_before
    if "eager" not in variants:
        # The model as given is what every copy must answer like, timed or not: without its answer here no copy
        # would be checked, and a wrong one would be timed as if it computed the model.
        try:
            with torch.inference_mode():
                reference = model(*own_copy(example))
        except Exception:  # it ran on a copy of the example before (eager_failure): nothing to check against
            pass
    for name in variants:
        bar.set_description(f"{label}: preparing {name}")
        bar.update(2)
        row = rows[name]
        if row.stage == "skipped":
            continue
        # What torch and the model's libraries warn while a variant is built and first called goes into its row's
        # note, in one line, instead of lines of stderr above the table.
        with warnings.catch_warnings(record=True) as caught:
            try:
                start = time.perf_counter()
                # own copies of the example for tracing and the first calls: a forward that changes its input in
                # place would otherwise hand each variant another input, and the outputs compared below would differ
                derived = name in ("script+freeze", "optimize_for_inference") and scripted is not None
                fn, how = _prepare(name, model, own_copy(example), compile_backend, scripted if derived else None)
                # eager prepares nothing; a variant built from the scripted module counts the scripting too
                row.prepare_s = None if name == "eager" else time.perf_counter() - start + (script_s if derived else 0.0)
                if name == "script":
                    scripted, script_s = fn, row.prepare_s
                if how:  # how the variant was made (a trace with strict=False)
                    _add_note(row, how)
            except Exception as error:  # any failure is a result to report, not a reason to stop
                _fail(row, error, "prepare")
                continue
            try:
                with torch.inference_mode():
                    out, row.first_call_s = _timed_call(fn, own_copy(example))  # copied before the clock starts
                    _, row.second_call_s = _timed_call(fn, own_copy(example))
            except Exception as error:
                _fail(row, error, "first call")
                continue
            finally:
                _note_warnings(row, caught)
        if name == "eager":
            reference = out
        elif reference is not None:
            _check_output(row, out, reference)
            if inputs is None:
                inputs, eager = _parity_inputs(model, example, batch_dim), _EagerOnce(model)
            bar.set_description(f"{label}: checking {name} against eager")
            try:
                if not _check_parity(eager, name, fn, inputs, reference, row, model, state_before):
                    continue  # not the model: timing it would compare speeds of different computations
            except Exception as error:
                _fail(row, error, "parity check")
                continue
        fns[name] = fn
    return reference


def _add_note(row, text):
    """Put ``text`` first in the row's note (what it warned while being built may be there already)."""
    row.note = f"{text}; {row.note}" if row.note else text


def _note_warnings(row, caught):
    """Add to ``row.note`` what was warned, in one line: the first warning's first line, and how many more."""
    told = [w for w in caught if str(w.message).strip()]
    told.sort(key=lambda w: not issubclass(w.category, torch.jit.TracerWarning))  # the tracer's first: it teaches
    seen = list(dict.fromkeys(str(w.message).strip().splitlines()[0] for w in told))
    if not seen:
        return
    tracer = issubclass(told[0].category, torch.jit.TracerWarning)
    first = seen[0] if len(seen[0]) <= 90 else seen[0][:89] + "…"
    _add_note(row, f"{'the tracer' if tracer else 'it'} warned: {first}"
                   + (f" (and {len(seen) - 1} other warning{'s' * (len(seen) > 2)})" if len(seen) > 1 else ""))


def _check_output(row, out, reference):
    # A variant that computes something else is not a faster version of the model: say so in the table.
    row.max_abs_diff = _max_diff(out, reference)
    scale = max((t.abs().max().item() for t in leaves(reference)
                 if t.numel() and t.dtype != torch.bool), default=1.0)  # abs() has no bool kernel
    # a few rounding steps of the coarsest floating dtype in the output: bfloat16's step is 0.008 at 1, not 1e-4
    steps = [4 * torch.finfo(t.dtype).eps for t in leaves(reference) if t.is_floating_point()]
    if not row.max_abs_diff <= max([1e-4, *steps]) * max(1.0, scale):
        _add_note(row, f"output differs from eager by {row.max_abs_diff:.3g}")
        return False
    return True


def _measure_rounds(fns, rows, example, settings, bar, label, extra):
    """Calibrate every variant, then time them round by round; return how many rounds ran."""
    timers, numbers, per_round = {}, {}, 0.0
    block = settings["block_seconds"]
    with torch.inference_mode():
        for name, fn in fns.items():
            bar.set_description(f"{label}: warming up {name}")
            timer = Timer("fn(*example)", globals={"fn": fn, "example": example},
                          num_threads=torch.get_num_threads(), label=label, sub_label=name)
            try:
                # blocked_autorange warms the variant up and tells how long one call takes.
                one_call = timer.blocked_autorange(min_run_time=block).median
            except Exception as error:
                _fail(rows[name], error, "measure")
                continue
            # The rounds time with the standard library's timeit (which torch's Timer wraps, collector off as
            # there), after one warm-up call each: torch's Timer.timeit would make two, and a round of a slow model
            # is mostly one call.
            timers[name] = timeit.Timer("fn(*example)", globals={"fn": fn, "example": example}, timer=time.perf_counter)
            numbers[name] = max(1, round(block / max(one_call, 1e-9)))
            per_round += (numbers[name] + 1) * one_call
        cpp_total = sum(settings["cpp_runs"] * run.seconds_per_run for run in extra.values())
        affordable = int(max(0.0, settings["seconds"] - cpp_total) / max(per_round, 1e-9))
        rounds = max(settings["min_rounds"], min(settings["rounds"], affordable))
        for run in extra.values():
            # Spread the runs over the rounds, so each is compared with the eager time measured beside it.
            runs = min(settings["cpp_runs"], rounds)
            run.rounds = sorted({min(rounds - 1, int((i + 0.5) * rounds / runs)) for i in range(runs)})
        bar.total = bar.n + rounds * (len(timers) + len(extra))
        names = list(timers)
        for r in range(rounds):
            bar.set_description(f"{label}: round {r + 1} of {rounds}")
            # Rotate the order each round so that no variant always runs right after another one.
            order = names[r % len(names):] + names[:r % len(names)] if names else []
            this_round = {}
            for name in order:
                bar.update(1)
                if rows[name].error is not None:
                    continue
                try:
                    fns[name](*example)  # warm up again: the variant timed just before may have evicted its caches
                    this_round[name] = timers[name].timeit(numbers[name]) / numbers[name]
                except Exception as error:
                    _fail(rows[name], error, "measure")
            for name, run in extra.items():
                bar.update(1)
                if r in run.rounds and rows[name].error is None:
                    try:
                        this_round[name] = run(example)
                    except Exception as error:
                        _fail(rows[name], error, "measure")
            eager = this_round.get("eager") if rows.get("eager") and rows["eager"].error is None else None
            for name, seconds in this_round.items():
                if rows[name].error is None:
                    rows[name].times.append(seconds)
                    if eager is not None:
                        rows[name].ratios.append(seconds / eager)
    return rounds


def _why(error) -> str:
    """One line saying why: for an error inside TorchScript, the underlying error is the last line."""
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    # an error raised inside TorchScript's interpreter ends with the underlying one ("RuntimeError: ..."); other
    # TorchScript errors end with the quoted source line, and say what went wrong on their first line
    if lines and "TorchScript" in lines[0] and len(lines) > 1 and re.match(r"^[\w.]*(Error|Exception)\b", lines[-1]):
        last = lines[-1]
        return last if len(last) <= 200 else last[:199] + "…"
    # a one-line message (the course's own runners write theirs so, with the fix at the end) is kept whole
    return typed_message(error, 600 if "\n" not in str(error).strip() else 200).rstrip(':')


def _fail(row, error, stage):
    row.error, row.stage = _why(error), stage
    row.times.clear()
    row.ratios.clear()


class _CppRun:
    """Times the C++ program in the rounds listed in ``rounds`` (one process per run)."""

    def __init__(self, binary, path, repeats, threads, row, reference, seconds_per_run):
        self.binary, self.path, self.repeats, self.threads = binary, path, repeats, threads
        self.row, self.reference, self.seconds_per_run = row, reference, seconds_per_run
        self.rounds = []

    def __call__(self, example):
        seconds, _, out = _time_cpp_once(self.binary, self.path, example, self.repeats, self.threads)
        if self.reference is not None and self.row.max_abs_diff is None:
            _check_output(self.row, out, self.reference)
        return seconds


def _prepare_cpp(model, frozen, example, rows, reference, threads, folder, label, state_before=None):
    """Save the frozen model, time one run of the C++ program; return the hook that times it, or {}.

    ``state_before``: the model's state before the benchmark called it; a model that keeps changing it (a call
    counter) makes the program's answer differ by how often each ran, so its row says the answers were not compared,
    as the other rows do, instead of calling it wrong."""
    row = rows["C++"] = VariantResult("C++")
    binary = _cpp_binary()
    if binary is None:
        row.error, row.stage = ("the C++ program is not built (or older than its source): run notebook 05 or "
                                "`make cpp`, then rerun"), "skipped"
        return {}
    # what scripting, freezing and saving warn goes into the row's note, as for the other rows, not to stderr
    with warnings.catch_warnings(record=True) as caught:
        try:
            start = time.perf_counter()
            path = Path(folder) / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', label)}_frozen_for_cpp.pt"
            frozen = frozen if frozen is not None else torch.jit.freeze(torch.jit.script(model))
            from ..course.workdir import atomic_path
            with atomic_path(path) as temporary:  # a failed save leaves no partial file for the C++ run
                torch.jit.save(frozen, str(temporary))
            row.prepare_s = time.perf_counter() - start
            # One run of a single call: the whole process (start, load, first call), like a first call.
            first, row.first_call_s, out = _time_cpp_once(binary, path, example, 1, threads)
        except Exception as error:
            _fail(row, error, "prepare" if row.prepare_s is None else "first call")
            return {}
        finally:
            _note_warnings(row, caught)
    if reference is not None and not _check_output(row, out, reference):
        counts = _counting(model, example, state_before) if state_before is not None else []
        if not counts:
            row.wrong = f"gives another output than eager (largest |diff| {row.max_abs_diff:.3g})"
            return {}  # not the model: its speed is not compared
        _not_compared(row, counts)  # the program started from the state eager had reached, and ran a count of its own
    eager = rows.get("eager")
    one_call = eager.second_call_s if eager is not None and eager.second_call_s else first
    repeats = int(min(2000, max(10, 0.05 / max(one_call, 1e-9))))  # about 0.05 s of calls per run
    timing = f"1st call = a whole process (start, load, 1 call); then median of {repeats} calls per run"
    row.note = f"{row.note}; {timing}" if row.note else timing  # what it answered first, as on the other rows
    return {"C++": _CppRun(binary, path, repeats, threads, row, reference, row.first_call_s + repeats * one_call)}


class _NoBar:
    total = n = 0

    def update(self, n=1):
        pass

    def set_description(self, text):
        pass

    def close(self):
        pass


def _progress_bar(total, label, progress):
    if not progress:
        return _NoBar()
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=f"{label}: preparing", unit="step", leave=True)
