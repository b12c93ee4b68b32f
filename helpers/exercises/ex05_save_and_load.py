"""Exercise checkers for 05_save_and_load: a self-describing export, and a loader that refuses code.

Each checker prints one line starting with ✔ or ✘ that says what is right or what to change,
and returns True or False.
"""
import contextlib
import json
import os
import re
import pathlib
import tempfile
import types
import zipfile
from pathlib import Path

import torch

from ..course.failures import as_sentence, short_message, typed_message
from ..course.guards import with_article
from ..routes.archive import ArchiveEntryError, TorchScriptFileError, load_torchscript, read_extra_files
from ..digits import DigitsCNN, load_digits, load_digits_cnn
from ._common import describe, shortened

__all__ = ["check_labelled_export", "check_safe_weights_loader", "UntrustedPayload"]


def _a_digit(digit: int) -> str:
    """"a 7", "an 8": a digit with the article its spoken name takes."""
    return f"{'an' if digit == 8 else 'a'} {digit}"


def _fail(message: str) -> bool:
    print(f"✘ {message}")
    return False


def check_labelled_export(path, labels_file: str = "labels.json") -> bool:
    """05, exercise 1: ``path`` holds the trained digits CNN as TorchScript, with its ten class names inside.

    The names travel in an extra file ``labels.json`` holding a JSON list of 10 strings.
    """
    if path is None:
        return _fail("Save your model first, then pass the path: check_labelled_export(WORK / 'labelled_digits.pt').")
    if not isinstance(path, (str, pathlib.PurePath)):
        what = describe(path)
        return _fail(f"Pass the path you saved the model to (a str or pathlib.Path, e.g. labelled_path), not {what}.")
    try:
        model = load_torchscript(path)
    except FileNotFoundError:
        return _fail(f"There is no file at {path}: did the torch.jit.save cell run, with this same path?")
    except (TorchScriptFileError, TypeError, IsADirectoryError) as error:
        here = " Here: torch.jit.save(torch.jit.script(cnn), path, _extra_files=...)." if "torch.save" in str(error) else ""
        return _fail(f"{as_sentence(str(error))}{here}")
    try:
        text = read_extra_files(path, labels_file)[labels_file]
    except ArchiveEntryError:
        present = _extra_names(path)
        found = f" (its extra files: {', '.join(map(repr, present))})" if present else " (it has no extra files at all)"
        return _fail(f"The file has no extra file {labels_file!r}{found}: pass _extra_files={{'{labels_file}': "
                     "json.dumps(labels)} to torch.jit.save, with that exact name.")
    not_utf8 = _not_utf8(path, labels_file)
    if not_utf8:
        return _fail(not_utf8)
    if not text.strip():
        return _fail(f"{labels_file} is in the file but empty: _extra_files maps each name to the text to store, so "
                     "pass json.dumps(labels) as its value (an empty string is what you pass to read one back).")
    try:
        labels = json.loads(text)
    except json.JSONDecodeError:
        looks_like_repr = text.lstrip().startswith(("[", "{", "(")) and "'" in text
        why = " That is Python's str() of a list (single quotes), not JSON." if looks_like_repr else ""
        return _fail(f"{labels_file} is not valid JSON (it starts {text[:30]!r}).{why} Write it with json.dumps(labels).")
    if isinstance(labels, list) and len(labels) == 10 and all(isinstance(x, str) for x in labels) \
            and not all(x.strip() for x in labels):  # name the blank one: a shortened list may not show it
        blank = next(i for i, x in enumerate(labels) if not x.strip())
        return _fail(f"The name of digit {blank} is {labels[blank]!r}, blank: give every digit a name you can read.")
    if not isinstance(labels, list) or len(labels) != 10 or not all(isinstance(x, str) and x.strip() for x in labels):
        return _fail(as_sentence(f"{labels_file} should hold a list of 10 non-empty strings, one name per digit 0-9; "
                     f"it holds {'a list of ' + str(len(labels)) if isinstance(labels, list) else describe(labels)}"
                     f"{'' if labels is None else ' ' + shortened(str(labels))}"))
    if len(set(labels)) != 10:
        return _fail("Two digits share a name: give each of the 10 digits its own label.")
    # names that differ only in spaces around them display alike
    seen = {}
    for digit, name in enumerate(labels):
        if name.strip() in seen:
            return _fail(f"Digits {seen[name.strip()]} and {digit} are named {labels[seen[name.strip()]]!r} and "
                         f"{name!r}, the same name but for spaces around it: give each digit a name of its own.")
        seen[name.strip()] = digit
    x, truth = load_digits("test")
    with torch.inference_mode():
        try:
            ours = model(x)
        except RuntimeError as error:
            cause = short_message(error, 140)
            hint = (" The test digits are float32: export the trained CNN as it is, without .double() or .half()."
                    if re.search(r"double|half|bfloat16|dtype", cause, re.I) else "")
            return _fail(f"The saved model fails on the {len(x)} test digits (each 1x8x8): {as_sentence(cause)}{hint}")
        expected = load_digits_cnn()(x)
    if not isinstance(ours, torch.Tensor) or ours.shape != expected.shape:
        return _fail(f"The saved model should return scores of shape {tuple(expected.shape)} for the test digits, "
                     f"it returns {getattr(ours, 'shape', None) or describe(ours)}: export H.load_digits_cnn() itself.")
    if not torch.equal(ours.argmax(1), expected.argmax(1)):
        return _fail("The saved model does not give the trained CNN's answers: export H.load_digits_cnn() (trained, "
                     "eval mode), not a fresh DigitsCNN().")
    with torch.inference_mode():  # one digit too: a file that only takes the batch it was made with is no model
        try:
            one = model(x[:1])
            one_ok = isinstance(one, torch.Tensor) and one.shape == expected[:1].shape and \
                torch.equal(one.argmax(1), expected[:1].argmax(1))
            why = "" if one_ok else f"it returns {getattr(one, 'shape', None) or describe(one)}"
        except Exception as error:  # noqa: BLE001 - the learner's file: any failure is feedback
            one_ok, why = False, typed_message(error, 100)
    if not one_ok:
        return _fail(f"The saved model reads the {len(x)} test digits, but not a batch of one digit ({why}): it is "
                     "fixed to one batch size. Export the trained CNN as it is, so that it takes any batch.")
    read = ours.argmax(1)
    out_of_order = _out_of_order(labels, read, truth)
    if out_of_order:
        return _fail(out_of_order)
    first = labels[int(read[0])]
    unjudged = [label for label in labels if _digit_named(label) is None]
    if unjudged:  # names that spell no digit (another language, say): their order is the learner's to confirm
        shown = ", ".join(f"{_a_digit(int(truth[k]))} reads as {labels[int(read[k])]!r}" for k in range(3))
        print(f"✔ The file carries the model and {len(labels)} names, with no Python class and no separate file "
              f"needed. {len(unjudged)} of the names spell no digit this check can read (e.g. {unjudged[0]!r}), so "
              f"their order is yours to confirm: the first three test digits: {shown}.")
        return True
    print(f"✔ The file carries the model and its labels: the first test digit, {_a_digit(int(truth[0]))}, reads as "
          f"{first!r}, with no Python class and no separate label file needed.")
    return True


_DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def _digit_named(label: str):
    """The digit a label names ("7", "seven", "digit 7"), or None when it names none or several (any name is fine)."""
    named = {int(n) for n in re.findall(r"\d+", label)}
    named |= {_DIGIT_WORDS.index(w) for w in re.findall(r"[a-z]+", label.lower()) if w in _DIGIT_WORDS}
    return named.pop() if len(named) == 1 and named <= set(range(10)) else None


def _out_of_order(labels, read, truth) -> str:
    """A sentence when some names clearly name another digit than their position's ('' otherwise).

    Only names that spell a digit can be judged; the test digits then show what a user would see.
    """
    wrong = [(i, label) for i, label in enumerate(labels) if _digit_named(label) not in (None, i)]
    if not wrong:
        return ""
    shown = ", ".join(f"digit {i} {label!r}" for i, label in wrong[:3]) + ("…" if len(wrong) > 3 else "")
    named = torch.tensor([-1 if _digit_named(label) is None else _digit_named(label) for label in labels])
    misread = ((named[read] >= 0) & (named[read] != truth)).nonzero().flatten().tolist()
    example = ""
    if misread:
        k = misread[0]
        which = "the first test digit" if k == 0 else f"test digit #{k + 1}"
        example = (f" With it, {len(misread)} of the {len(truth)} test digits show another digit's name "
                   f"({which}, {_a_digit(int(truth[k]))}, reads as {labels[int(read[k])]!r}).")
    return (f"labels.json is not in the digits' order: the name at position i is shown for digit i, from 0, but it "
            f"names {shown}{'' if shown.endswith('…') else '.'}{example} List the names from digit 0 to digit 9.")


def _not_utf8(path, name) -> str:
    """A sentence when the extra file ``name`` is not UTF-8 text ('' otherwise): JSON text is UTF-8."""
    try:
        with zipfile.ZipFile(path) as archive:
            entry = next(n for n in archive.namelist() if n.endswith(f"/extra/{name}"))
            archive.read(entry).decode("utf-8")
    except UnicodeDecodeError as error:
        byte = error.object[error.start]
        if error.object[:1] == b"\x80":  # pickle's first byte (its PROTO opcode): not text at all
            return (f"{name} holds pickled bytes (pickle.dumps), not text: torch.jit.save stores what you pass as it "
                    "is. Pass the str json.dumps(labels), which it writes as UTF-8.")
        return (f"{name} is not UTF-8 text: its byte 0x{byte:02x} at position {error.start} is not UTF-8, so the "
                "text was encoded another way (for example with .encode('latin-1')). JSON is UTF-8: pass the str "
                "json.dumps(labels), which torch.jit.save writes as UTF-8.")
    except (OSError, zipfile.BadZipFile, StopIteration):  # read_extra_files already read it: nothing to add
        pass
    return ""


def _extra_names(path) -> list:
    """The names of the extra files inside a TorchScript archive (its ``extra/`` entries)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return sorted(name.split("/extra/", 1)[1] for name in archive.namelist() if "/extra/" in name)
    except (OSError, zipfile.BadZipFile):
        return []


class UntrustedPayload:
    """A stand-in for a malicious checkpoint: unpickling it creates the file ``marker`` (and nothing worse)."""

    def __init__(self, marker):
        self.marker = Path(marker)

    def __reduce__(self):
        # pickle stores "call this function with these arguments" and torch.load(weights_only=False) obeys
        return (pathlib.Path.touch, (self.marker,))


class _Tripwire:
    """What the second payload changes: unpickling it sets ``_Tripwire.ran``, an attribute of this class, nothing else."""


class OtherPayload:
    """A second stand-in, with another function of another module than ``UntrustedPayload``: a loader that looks
    for one payload's names in the file, then unpickles it, is caught by this one."""

    def __init__(self, token: str):
        self.token = token

    def __reduce__(self):
        return (setattr, (_Tripwire, "ran", self.token))  # builtins.setattr: harmless, and visible afterwards


class TorchPayload:
    """A third stand-in, calling a function of torch's own: ``torch.save``, which writes the file ``marker``. A loader
    that lets torch's names through a scan of its own, then unpickles the file anyway, is caught by this one."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (torch.save, ({"written": "while loading"}, self.marker))


class _Load:
    """One torch.load call: ``passed`` is the weights_only the caller wrote (None when left out), ``unsafe`` whether
    the load ran with weights_only off, ``pickle_module`` whether one was given, ``error`` what it raised (or None)."""

    def __init__(self, passed, pickle_module):
        self.passed, self.pickle_module = passed, pickle_module
        self.unsafe, self.error = passed is False, None


def _env_on(name) -> bool:
    """An environment switch as torch.load reads it."""
    return os.getenv(name, "0").lower() in ("1", "y", "yes", "true")


def _runs_unsafe(passed, pickle_module) -> bool:
    """Whether torch.load runs with weights_only off, given the caller's weights_only (None when left out) and
    pickle_module: torch 2.14's own rule (tests/test_exercises_save_load.py checks it against real loads)."""
    if _env_on("TORCH_FORCE_WEIGHTS_ONLY_LOAD"):
        return False
    if passed is None:
        if _env_on("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"):
            return True
        default = getattr(torch.serialization, "_default_to_weights_only", lambda module: module is None)
        return not default(pickle_module)
    return passed is False


def _recording(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None,
               _workbook_record=None, **pickle_load_args):
    """torch.load's signature, plus one hidden keyword whose default is the recorder: its code stands in for
    torch.load's while a check runs (see _recorded_loads). It must use no global name: it runs with torch's."""
    return _workbook_record(f, map_location, pickle_module, weights_only, mmap, pickle_load_args)


@contextlib.contextmanager
def _recorded_loads():
    """Record each torch.load call made inside, as a ``_Load``, in the order the calls began.

    The calls are seen by their function, not by the name ``torch.load``: a learner's ``from torch import load``,
    ``import torch as t``, ``torch.serialization.load`` or a ``functools.partial`` of it all hold the one function
    object, so its code is swapped for a recording one and put back after. (A trace function would see them too,
    but a debugger or coverage that installs its own tracer while the check runs would silence it.)
    """
    load = torch.serialization.load
    code, kwdefaults = load.__code__, load.__kwdefaults__
    original = types.FunctionType(code, load.__globals__, load.__name__, load.__defaults__, load.__closure__)
    original.__kwdefaults__ = dict(kwdefaults or {})
    calls = []

    def record(f, map_location, pickle_module, weights_only, mmap, pickle_load_args):
        call = _Load(weights_only, pickle_module is not None)
        call.unsafe = _runs_unsafe(weights_only, pickle_module)
        calls.append(call)
        try:
            return original(f, map_location, pickle_module, weights_only=weights_only, mmap=mmap, **pickle_load_args)
        except BaseException as error:
            call.error = error
            raise

    load.__code__ = _recording.__code__
    load.__kwdefaults__ = {**(kwdefaults or {}), "_workbook_record": record}
    try:
        yield calls
    finally:  # torch.load is itself again, whatever happened inside
        load.__code__, load.__kwdefaults__ = code, kwdefaults


def _unsafe_words(call) -> str:
    """How the learner's words turned weights_only off for ``call``."""
    if call.passed is False:
        return "torch.load(..., weights_only=False)"
    if call.pickle_module:
        return "torch.load(..., pickle_module=...) without weights_only, which turns weights_only off"
    if _env_on("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"):
        return "torch.load without weights_only, which TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD (set here) turns off"
    return "torch.load with weights_only off"


def _how_it_ran(calls) -> str:
    """What the recorded torch.load calls show about the load that ran the payload ('' when they show nothing)."""
    unsafe = [i for i, call in enumerate(calls) if call.unsafe]
    if not unsafe:
        return ""
    words = _unsafe_words(calls[unsafe[0]])
    refusals = [call for call in calls[:unsafe[0]] if not call.unsafe and call.error]
    if refusals:
        safe = "weights_only=True" if refusals[0].passed else "weights_only=True, the default"
        return (f"your function's first torch.load ({safe}) refused the file, then it loaded the file again with "
                f"{words}, and that second load ran the code. Drop the fallback: let the refusal raise, "
                "so the caller knows the file was refused.")
    return (f"your function loaded it with {words}: such a load runs whatever the file asks. Use "
            "weights_only=True, which refuses anything but tensors and plain data.")


def _how_it_ran_anyway(calls) -> str:
    """What to change when the payload ran although no recorded torch.load turned weights_only off."""
    if not calls:
        return ("your function unpickled the file without torch.load (pickle, or an unpickler of its own), and "
                "unpickling runs whatever the file asks: use torch.load(path, weights_only=True).")
    if all(call.error is not None for call in calls):  # every torch.load refused: the code ran some other way
        return ("torch.load (weights_only on) refused the file, then your function read it another way (pickle, or "
                "an unpickler of its own), which ran the code. Drop the fallback: let the refusal raise.")
    return ("your function's torch.load kept weights_only on and loaded the file, code and all: an allowlist "
            "(torch.serialization.add_safe_globals or safe_globals) let the file's functions through. Allow only "
            "what your weights need, never a function that acts (Path.touch, setattr); a state_dict needs nothing.")


def _not_a_model(returned) -> str:
    """What to change when ``load_weights`` returned something other than a DigitsCNN: a hint, not the answer."""
    if returned is None:
        return ("Your function returned None: it should return the model, a H.DigitsCNN holding the weights "
                "saved in the file.")
    if isinstance(returned, dict):
        return ("Your function returned the state_dict itself, a dict of named tensors: a dict cannot read digits, "
                "so put those weights into a model and return the model.")
    if type(returned).__name__ == "_IncompatibleKeys":  # what load_state_dict returns: a report, not the model
        return ("Your function returned what load_state_dict returns, a report of missing and unexpected keys, not "
                "the model: call model.load_state_dict(...) on its own line, then return the model.")
    if isinstance(returned, type):
        return (f"Your function returned the class {returned.__name__} itself: return a model built from it, "
                "holding the saved weights.")
    return f"Your function returned {with_article(type(returned).__name__)}: it should return the model, a H.DigitsCNN holding the saved weights."


_EXITED = "exited"  # how _refuses records a refusal by sys.exit()


def _refuses(load_weights, path, trained, payload, effect, ran, n) -> str:
    """What is wrong when ``load_weights`` meets a file carrying ``payload`` ('' when it raised and nothing ran).

    ``effect`` says what the payload does, ``ran()`` whether it did; ``n`` counts the payloads before this one.
    """
    # the payload first: an unpickler of the learner's own that stops at the tensors must still meet it
    torch.save({"note": payload, "weights": trained.state_dict()}, path)
    returned, refused = None, False
    with _recorded_loads() as calls:
        try:
            returned = load_weights(path)
        except Exception:
            refused = True
        except SystemExit:  # refusing by ending the process would end the server (or the kernel) that loads
            refused = _EXITED
    if ran():
        how = _how_it_ran(calls) or _how_it_ran_anyway(calls)
        if n == 0:
            return f"Loading the untrusted file ran its code ({effect}): {how}"
        earlier, which = ("the first untrusted file", "a second") if n == 1 else (f"the first {n} untrusted files", "another")
        return (f"Your function refused {earlier}, but loading {which} one ran its code ({effect}): "
                f"whatever refused {'the first' if n == 1 else 'them'} let this one through; {how}")
    if refused is _EXITED:
        return ("Your function refused the file carrying code by calling sys.exit(), which ends the whole process: a "
                "server would stop, and here the kernel. Raise an exception instead (or let torch.load's own through).")
    caught = next((call.error for call in calls if call.error is not None), None)
    if not refused and caught is not None and not (returned is None or isinstance(returned, DigitsCNN)):
        # torch.load refused the file, and the learner's code swallowed that and returned something else
        what = with_article(type(returned).__name__)
        return (f"For the file carrying code, torch.load refused it ({type(caught).__name__}), but your function "
                f"caught that and returned {what}: let the error through, so the caller knows the file was refused.")
    if not refused and (returned is None or isinstance(returned, DigitsCNN)):
        return (f"For the file carrying code your function returned {'None' if returned is None else 'a model'} "
                "instead of raising: torch.load(path, weights_only=True) raises on this file; if your code "
                "catches that error, let it through, so the caller knows the file was refused.")
    if not refused:
        return ("The untrusted file loaded without an error: make sure nothing but tensors can come back, "
                "with torch.load(path, weights_only=True).")
    return ""


def _weights_of_our_own():
    """The trained CNN with its weights nudged (seeded): a loader that ignores the file cannot give its answers."""
    model = load_digits_cnn()
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))
    return model


_REFUSED = object()  # what the checker notes when the loader raised


def check_safe_weights_loader(load_weights) -> bool:
    """05, exercise 2: ``load_weights(path)`` returns a DigitsCNN with the saved weights, and refuses code.

    It is given a real state_dict file (the model must give the trained CNN's outputs), then two files whose
    unpickling would run code, each through another function (it must raise, and the code must not have run).
    """
    if load_weights is None:
        return _fail("Define your function first, then pass it: check_safe_weights_loader(load_weights).")
    if isinstance(load_weights, type):
        return _fail(f"Pass your function load_weights, not the class {load_weights.__name__}: the function builds "
                     "the model and fills it.")
    if isinstance(load_weights, torch.nn.Module):  # callable too, but a model: the function was called already
        return _fail(f"Pass the function itself, check_safe_weights_loader(load_weights), not what it returned "
                     f"({with_article(type(load_weights).__name__)}): the checker calls it with files of its own.")
    if not callable(load_weights):
        return _fail(f"Pass the function itself (no parentheses), not {describe(load_weights)}.")
    allowed_before = list(torch.serialization.get_safe_globals())
    try:
        return _check_safe_weights_loader(load_weights, allowed_before)
    finally:  # whatever the loader added to the process-wide allowlist is taken back: the kernel keeps no trace of it
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(allowed_before)


def _check_safe_weights_loader(load_weights, allowed_before) -> bool:
    with tempfile.TemporaryDirectory(prefix="check05-") as folder:
        folder = Path(folder)
        good, marker = folder / "weights.pt", folder / "code_ran.txt"
        trained = _weights_of_our_own()
        torch.save(trained.state_dict(), good)
        try:
            model = load_weights(good)
        except SystemExit:
            return _fail("Loading a real state_dict called sys.exit(), which ends the whole process (here the "
                         "kernel): return the model, and raise an exception only to refuse a file.")
        except Exception as error:  # any failure is the learner's to see, as one line
            text = str(error)
            hint = (" torch.jit.load reads TorchScript files; a state_dict is written by torch.save and read by "
                    "torch.load." if "constants.pkl" in text else
                    " map_location='meta' gives tensors with no data, which cannot fill a model: load to the CPU "
                    "(map_location='cpu', or leave it out for a file saved on the CPU)." if "meta tensor" in text else
                    " load_state_dict was called on the class: build the model first, model = DigitsCNN(), then "
                    "model.load_state_dict(state)." if "load_state_dict() missing 1 required positional argument" in text
                    else
                    " torch.save writes a zip with the tensors kept apart, which plain pickle cannot read: load it with "
                    "torch.load, whose weights_only=True also refuses code." if "persistent" in text.lower()
                    else "")
            return _fail(f"Loading a real state_dict failed: {type(error).__name__}: "
                         f"{as_sentence(short_message(error, 120))}{hint}")
        if not isinstance(model, DigitsCNN):
            return _fail(_not_a_model(model))
        x, _ = load_digits("test")
        with torch.inference_mode():
            try:
                answers = model.eval()(x)
            except Exception as error:  # e.g. a model made .double(): the digits are float32
                hint = (" The test digits are float32: return the model in float32, as built."
                        if re.search(r"double|Double|float64|half|Half|float16|bfloat16|BFloat16", str(error)) else "")
                return _fail(f"The returned model fails on the {len(x)} test digits: {type(error).__name__}: "
                             f"{as_sentence(short_message(error, 120))}{hint}")
            if not torch.equal(answers, trained(x)):
                if torch.equal(answers, load_digits_cnn()(x)):
                    return _fail("The returned model gives the course's trained CNN's answers, not those of the "
                                 "weights in the file (the checker saved weights of its own): build a DigitsCNN and "
                                 "load the file's state_dict into it.")
                return _fail("The returned model does not give the answers of the weights in the file: did you load "
                             "the state_dict into it with model.load_state_dict(state)?")
        # Three payloads, each with its own function and module (the third one torch's own), so that no check of
        # one payload's names, and no allowlist of torch's, will do
        baits = [(UntrustedPayload(marker), "it called pathlib's Path.touch, which created a file", marker.exists),
                 (OtherPayload(folder.name), "it called builtins.setattr instead of pathlib's Path.touch, and set an "
                  "attribute of a class of the checker's", lambda: _Tripwire.__dict__.get("ran") == folder.name),
                 (TorchPayload(folder / "written_by_torch_save.pt"), "it called torch.save, a function of torch's own, "
                  "which wrote a file: a name from torch is no proof that a file is safe",
                  (folder / "written_by_torch_save.pt").exists)]
        try:
            for n, (payload, effect, ran) in enumerate(baits):
                mistake = _refuses(load_weights, folder / f"untrusted{n + 1}.pt", trained, payload, effect, ran, n)
                if mistake:
                    return _fail(mistake)
        finally:
            if "ran" in _Tripwire.__dict__:
                del _Tripwire.ran
        # A state_dict with a weight missing (a file from another version of the model): no DigitsCNN holds its
        # weights, so the loader must say so; load_state_dict(..., strict=False) would leave that layer random
        partial = {k: v for k, v in trained.state_dict().items() if not k.endswith("classifier.bias")}
        torch.save(partial, folder / "partial.pt")
        try:
            incomplete = load_weights(folder / "partial.pt")
        except SystemExit:
            return _fail("Given a state_dict with a weight missing, your function called sys.exit(), which ends the "
                         "whole process: raise an exception (or let load_state_dict's own through).")
        except Exception:  # refused: right, whatever the words
            incomplete = _REFUSED
        if incomplete is None:
            return _fail("Every file carrying code was refused, but given a state_dict with one weight missing "
                         "(classifier.bias), your function returned None instead of raising: let load_state_dict's "
                         "error through, so the caller knows the file does not fit the model.")
        if incomplete is not _REFUSED:
            return _fail("Every file carrying code was refused, but given a state_dict with one weight missing "
                         "(classifier.bias), your function returned a model without a word, and that layer keeps the "
                         "random values it was built with. load_state_dict(state, strict=False) skips missing keys, "
                         "and so does catching its error: keep the default strict=True and let its error through, "
                         "so that a file that does not fit the model is refused.")
    added = [g for g in torch.serialization.get_safe_globals() if g not in allowed_before]
    if added:
        names = ", ".join(getattr(g, "__qualname__", None) or repr(g) for g in added[:3])
        return _fail(f"Every file was handled right, but the loader added {names} to torch's allowlist for the whole "
                     "process (torch.serialization.add_safe_globals): every later torch.load in this kernel trusts "
                     "them too. A state_dict needs no allowlist; if a file of yours does, scope it with the "
                     "torch.serialization.safe_globals([...]) context manager.")
    print("✔ Real weights load into a DigitsCNN, and all three files carrying code (each through another function, "
          "one of them torch's own) were "
          "refused before their code could run.")
    return True
