"""Variants of one example input, for every argument and dtype, for H.parity (introduced in 02_what_is_torchscript).

An *input* is the tuple of positional arguments a model is called with. A tensor is one argument;
a ``tuple`` is one entry per argument; a ``list`` or a ``dict`` is ONE structured argument (a
detection model's list of images, a dict of features). ``H.vary_inputs(example)`` changes every
tensor inside, whatever its dtype, in ways that keep it valid:
- floating-point tensors: ``negated``, ``x0.1``, ``x10``, ``zeros``, and with two or more floating-point
  arguments ``zeros in input i`` for each (zeroing all at once can take a path where every output is 0);
- integer tensors (token ids, indices, counts): ``ints permuted`` (the same values, moved around),
  ``ints shifted`` (each value moved to the next one within the example's own range) and ``ints, max lowered``
  (the largest value replaced by the smallest, so that a size computed from the largest changes; tensors that
  never decrease, like offsets, are left alone);
- boolean tensors (masks): ``bools flipped``;
- number arguments (an ``int`` or ``float`` passed as an argument of its own): ``numbers changed``;
- flag arguments (a ``bool`` passed as an argument of its own): ``flags flipped``;
- ``batch N``: every tensor sharing the first one's leading dimension gets N rows, reusing its own
  rows (for a list of tensors: a list of N items). ``batch_dim=1`` puts the batch in dimension 1
  instead, for sequence-first models (``nn.LSTM`` and ``nn.Transformer`` without ``batch_first=True``).
A variant that cannot be built is listed in ``.skipped`` with the reason, never dropped silently.
"""
import math
import operator
import re
import time

import torch

from ..course.guards import call_within, variant_seconds

__all__ = ["vary_inputs", "InputVariants"]


# ---------------------------------------------------------------- the shape of an input

def is_positional(value) -> bool:
    """A plain tuple is one entry per argument (a NamedTuple is one structured argument)."""
    return type(value) is tuple


def leaves(value):
    """Every tensor inside a (nested) tuple, list or dict, in order."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in leaves(v)]
    if isinstance(value, (tuple, list)):
        return [leaf for v in value for leaf in leaves(v)]
    return []


def rebuild(value, fn):
    """``value`` with every tensor ``t`` inside replaced by ``fn(t)``, the structure kept."""
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, dict):
        return type(value)((k, rebuild(v, fn)) for k, v in value.items())
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a NamedTuple
        return type(value)(*(rebuild(v, fn) for v in value))
    if isinstance(value, (tuple, list)):
        return type(value)(rebuild(v, fn) for v in value)
    return value


def own_copy(args):
    """``args`` with every tensor cloned: a model that changes its input in place (``x.mul_(2)``) changes this copy
    only, so the next model, or the next call, still gets the input as it was."""
    return rebuild(args, lambda t: t.clone())


def changed_in_place(before, after) -> bool:
    """True when a tensor of ``after`` (a copy the model was called with) no longer equals the one in ``before``."""
    return any(a.shape != b.shape or a.dtype != b.dtype or not _same_values(a, b)
               for a, b in zip(leaves(before), leaves(after)) if a.layout == torch.strided and not a.is_meta)


def in_place_difference(before, eager_after, copy_after) -> str:
    """How a copy's in-place changes of its input differ from eager's, tensor by tensor: "" when it left each
    input tensor as eager did; "keeps" when eager changed one the copy left as it was, "changes" when the copy
    changed one eager left, "otherwise" when both changed one, to other values."""
    def same(a, b, close=False):
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if close and (a.is_floating_point() or a.is_complex()):  # two programs may round an update differently
            return bool(torch.allclose(a, b, rtol=1e-5, atol=1e-6, equal_nan=True))
        return _same_values(a, b)
    for b, e, c in zip(leaves(before), leaves(eager_after), leaves(copy_after)):
        if b.layout != torch.strided or b.is_meta:
            continue
        eager_changed, copy_changed = not same(b, e), not same(b, c)
        if eager_changed and not copy_changed:
            return "keeps"
        if copy_changed and not eager_changed:
            return "changes"
        if eager_changed and not same(e, c, close=True):
            return "otherwise"
    return ""


def _same_values(a, b) -> bool:
    """Equal values, a NaN equal to a NaN in the same place (torch.equal says NaN != NaN: a false "changed")."""
    if torch.equal(a, b):
        return True
    if not (a.is_floating_point() or a.is_complex()):
        return False
    return bool(torch.equal(a.isnan(), b.isnan()) and torch.equal(a.nan_to_num(), b.nan_to_num()))


def describe(value) -> str:
    """A few words naming what ``value`` is, never its whole repr (a model's repr is hundreds of lines)."""
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, (tuple, list)):
        inner = ", ".join(type(v).__name__ for v in value[:4]) + (", …" if len(value) > 4 else "")
        return f"a {type(value).__name__} of ({inner})" if value else f"an empty {type(value).__name__}"
    if isinstance(value, dict):
        keys = ", ".join(repr(k) for k in list(value)[:4]) + (", …" if len(value) > 4 else "")
        return f"a dict with keys ({keys})" if value else "an empty dict"
    if isinstance(value, torch.nn.Module):
        return f"a model ({type(value).__name__})"
    return f"a {type(value).__name__}"


def as_args(value, who: str, label: str) -> tuple:
    """One input as the tuple of positional arguments the model is called with."""
    args = value if is_positional(value) else (value,)
    if args and leaves(args):
        return args
    raise TypeError(f"{who}: input {label!r} must be a tensor or a tuple of tensors (one per model argument), "
                    f"or a list/dict holding tensors (one structured argument); got {describe(value)}")


def shapes(args) -> str:
    """'(3, 4) & (3, 4)' for two tensors; a list argument reads '[(3, 64, 64), (3, 48, 48)]'."""
    def one(value):
        if isinstance(value, torch.Tensor):
            return str(tuple(value.shape))
        if isinstance(value, dict):
            return "{" + ", ".join(f"{k!r}: {one(v)}" for k, v in value.items()) + "}"
        if isinstance(value, (tuple, list)):
            inner = ", ".join(one(v) for v in value[:4]) + (", …" if len(value) > 4 else "")
            return f"[{inner}]" if isinstance(value, list) else f"({inner})"
        return repr(value) if isinstance(value, (int, float, bool, type(None))) else type(value).__name__
    return " & ".join(one(a) for a in args)


# ---------------------------------------------------------------- variants

class InputVariants(dict):
    """Label -> tuple of model arguments; ``.skipped`` maps each variant not built to the reason."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.skipped = {}

    def __repr__(self):
        described = ", ".join(f"{k}: {shapes(v)}" for k, v in self.items())
        skipped = f"; skipped {', '.join(self.skipped)}" if self.skipped else ""
        return f"<InputVariants {described}{skipped}>"


def _resized(t: torch.Tensor, size: int, dim: int = 0) -> torch.Tensor:
    """``t`` with ``size`` rows on ``dim``, repeating its own rows so the values stay like the example's."""
    reps = math.ceil(size / t.shape[dim])
    return torch.cat([t] * reps, dim=dim).narrow(dim, 0, size)


def _one_dim(d, who, allow_none):
    if d is None and allow_none:
        return None
    if d is None:
        raise ValueError(f"{who}: batch_dim=None: leave batch_dim out for dimension 0, or give one entry per input "
                         "with None for an input that has no batch, e.g. batch_dim=(1, None)")
    try:
        number = operator.index(d) if not isinstance(d, bool) else None  # numpy and 0-d torch ints count too
    except TypeError:
        number = None
    if number is None or number < 0:
        shown = d if isinstance(d, (int, float, str)) else describe(d)
        raise ValueError(f"{who}: batch_dim is the dimension that holds the batch, a whole number 0 or more (1 for a "
                         f"sequence-first model), or one per input; got {shown!r}"[:300])
    return number


def batch_dim_for(args, batch_dim, who: str):
    """``batch_dim`` checked against the example and made plain: one ``int`` for every argument, or a tuple with one
    entry per argument (an ``int``, or None for an argument without a batch). What the tools pass on, so that numpy
    or 0-d tensor numbers reach nothing else. A one-line ValueError naming ``who`` for a value that is no dimension,
    or that the example's tensors do not have."""
    if isinstance(batch_dim, (tuple, list)):
        if len(batch_dim) != len(args):
            shown = ", ".join(["1"] + ["None"] * (len(args) - 1)) + ("," if len(args) == 1 else "")
            raise ValueError(f"{who}: batch_dim=(...) has one entry per input, {len(args)} here, got "
                             f"{len(batch_dim)}: e.g. batch_dim=({shown})")
        dims = tuple(_one_dim(d, who, allow_none=True) for d in batch_dim)
        for i, (arg, d) in enumerate(zip(args, dims)):  # each entry must fit its own input: never a silent skip
            if d is not None and not any(t.dim() > d for t in leaves(arg)):
                raise ValueError(f"{who}: batch_dim's entry {i} is {d}, but input {i} has no tensor with a dimension "
                                 f"{d}: give its batch dimension, or None if it has no batch"[:300])
        return dims
    d = _one_dim(batch_dim, who, allow_none=False)
    if d != 0 and not any(t.dim() > d for t in leaves(args)):
        largest = max((t.dim() for t in leaves(args)), default=0)
        raise ValueError(f"{who}: batch_dim={d}, but no tensor of the example has that dimension (the largest has "
                         f"{largest} dimension{'s' * (largest != 1)}): pass the dimension that holds the batch"[:300])
    return d


def per_input_dims(args, batch_dim) -> tuple:
    """``batch_dim`` as one entry per argument (a number repeated, or the tuple itself)."""
    return tuple(batch_dim) if isinstance(batch_dim, (tuple, list)) else (batch_dim,) * len(args)


def _is_int(t):
    """An integer tensor (ids, counts), dense: a quantized or sparse one is none of the values the variants change."""
    return not t.is_floating_point() and not t.is_complex() and t.dtype != torch.bool and not _unusual(t)


def _permuted(t):
    generator = torch.Generator().manual_seed(0)  # the same variant every run
    flat = t.reshape(-1)
    order = torch.randperm(flat.numel(), generator=generator)
    if flat.numel() > 1 and torch.equal(order, torch.arange(flat.numel())):
        order = order.roll(1)
    return flat[order].reshape(t.shape)


def _shifted(t):
    """Each value moved to the next within [min, max] of the tensor (max wraps round to min)."""
    wide = t.long()  # in int64: for a uint8 image spanning 0..255, max - min + 1 would wrap to 0 in its own dtype
    low, high = wide.min(), wide.max()
    return ((wide - low + 1) % (high - low + 1) + low).to(t.dtype)


def _sorted_rows(t) -> bool:
    """True if ``t`` never decreases along its last dimension (offsets, row pointers, cumulative lengths)."""
    return t.dim() > 0 and t.shape[-1] > 1 and bool((t[..., 1:] >= t[..., :-1]).all())


def _max_lowered(t):
    """``t`` with its largest value replaced by its smallest: still within the example's range. A tensor that never
    decreases (offsets such as EmbeddingBag's) is left as it is: lowering its last value would make it invalid."""
    if _sorted_rows(t):
        return t
    return torch.where(t == t.max(), t.min(), t)


def _value_variants(args, floats, ints, bools):
    """Sign, scale and value variants; (candidates, skipped)."""
    candidates, skipped = {}, {}
    if floats:
        def on_floats(fn):
            return rebuild(args, lambda t: fn(t) if t.is_floating_point() or t.is_complex() else t)
        candidates["negated"] = on_floats(torch.neg)
        candidates["x0.1"] = on_floats(lambda t: t * 0.1)
        candidates["x10"] = on_floats(lambda t: t * 10)
        candidates["zeros"] = on_floats(torch.zeros_like)
        # With two or more floating-point arguments, each one zeroed on its own too: zeroing all at once can send
        # the model down a path where every output is 0 (x * mask), on which any copy agrees
        holding = [i for i, a in enumerate(args) if any(t.is_floating_point() for t in leaves(a))]
        if len(holding) > 1:
            for i in holding:
                candidates[f"zeros in input {i}"] = tuple(
                    rebuild(a, lambda t: torch.zeros_like(t) if t.is_floating_point() else t) if j == i else a
                    for j, a in enumerate(args))
    elif ints or bools:
        kinds = " and ".join(k for k, present in (("integer", ints), ("boolean", bools)) if present)
        skipped["sign and scale"] = (f"no floating-point tensor to negate or scale; {kinds} tensors are "
                                     "varied only in ways that keep them valid (their variants, if any, are "
                                     "listed with the others)")
    if ints:
        varied = [t for t in ints if t.numel() > 1 and t.unique().numel() > 1]
        if varied:
            candidates["ints permuted"] = rebuild(args, lambda t: _permuted(t) if _is_int(t) else t)
        else:
            skipped["ints permuted"] = "every integer tensor holds a single value: moving values around changes nothing"
        if any(t.numel() and t.min() < t.max() for t in ints):
            candidates["ints shifted"] = rebuild(args, lambda t: _shifted(t) if _is_int(t) and t.numel() else t)
            # shifting keeps the largest value whenever the one below it is there too: this one never does
            if any(t.numel() and t.min() < t.max() and not _sorted_rows(t) for t in ints):
                candidates["ints, max lowered"] = rebuild(args, lambda t: _max_lowered(t) if _is_int(t) and t.numel() else t)
            else:
                skipped["ints, max lowered"] = ("every integer tensor that varies never decreases along its last "
                                                "dimension, like offsets, which lowering its largest value would break")
        else:
            skipped["ints shifted, max lowered"] = ("every integer tensor holds one value, so no other value is "
                                                    "known to be valid (a token id, an index): pass inputs=[...] "
                                                    "with other values")
    if bools:
        candidates["bools flipped"] = rebuild(args, lambda t: ~t if t.dtype == torch.bool else t)
    numbers = [i for i, a in enumerate(args) if isinstance(a, (int, float)) and not isinstance(a, bool)]
    if numbers:  # a number argument: a trace, torch.export or ONNX may have written the example's value in
        candidates["numbers changed"] = tuple(_other_number(a) if i in numbers else a for i, a in enumerate(args))
    flags = [i for i, a in enumerate(args) if isinstance(a, bool)]
    if flags:  # a bool argument: the same, and the other value is the only other one there is
        candidates["flags flipped"] = tuple(not a if i in flags else a for i, a in enumerate(args))
    return candidates, skipped


def _other_number(value):
    """Another valid-looking value for a number argument: the next int, or a float moved by half its size plus 1."""
    if isinstance(value, int):
        return value + 1
    return value * 1.5 + 1.0 if math.isfinite(value) else value


def _is_image_list(value) -> bool:
    """A non-empty list of tensors as an argument (a detection model's images): its length is the batch."""
    return isinstance(value, list) and bool(value) and all(isinstance(t, torch.Tensor) for t in value)


def batch_of(args, batch_dim=0):
    """The example's batch: the first argument's length if it is a list of tensors (a list of images), else
    dimension ``batch_dim`` (one number, or one per argument) of the first tensor that has it (0-d tensors, a
    scale say, are passed over); None when there is none to change (no such tensor, or that dimension is empty)."""
    first = args[0] if args else None
    if _is_image_list(first):
        return len(first)
    found = next(((t, d) for arg, d in zip(args, per_input_dims(args, batch_dim)) if d is not None
                  for t in leaves(arg) if t.dim() > d), None)
    if found is None or found[0].shape[found[1]] == 0:
        return None
    return found[0].shape[found[1]]


def _holds_batch(t, lead, d):
    return d is not None and t.dim() > d and t.shape[d] == lead


def batch_ambiguity(args, batch_dim=0) -> str:
    """Why a batch cannot be changed safely with one ``batch_dim`` for every argument, or "": a tensor that has the
    batch size in dimension 0 but no dimension ``batch_dim`` (the lengths of a sequence-first model's batch) would
    be left as it is, and the variant would not be the batch it says."""
    if isinstance(batch_dim, (tuple, list)) or batch_dim == 0:
        return ""  # one entry per argument: the caller said where each batch is
    lead = batch_of(args, batch_dim)
    if lead is None:
        return ""
    for i, arg in enumerate(args):
        odd = next((t for t in leaves(arg) if 0 < t.dim() <= batch_dim and t.shape[0] == lead), None)
        if odd is not None:
            suggest = tuple(batch_dim if any(t.dim() > batch_dim for t in leaves(a)) else
                            0 if any(t.dim() > 0 and t.shape[0] == lead for t in leaves(a)) else None for a in args)
            without = tuple(None if d == 0 and j == i else d for j, d in enumerate(suggest))
            return (f"input {i} ({tuple(odd.shape)}) has the batch's size, {lead}, in dimension 0 and no dimension "
                    f"{batch_dim}: say where each input's batch is, one entry per input: batch_dim={suggest} if it "
                    f"holds the batch, batch_dim={without} if it has none")
    return ""


# The labels of variants that change a shape or a list's length ("batch 3", "3 items", and diagnose's "size 6 in dim 1"
# outside the batch): a copy fixed to the example's structure refuses them with an error, which is not silently wrong
# (diagnose and the benchmark say "refuses").
SIZE_VARIANT = re.compile(r"^(batch \d+|\d+ items?|size \d+ in dims? .+)$")


def time_first_layers(model) -> list:
    """Names of the layers in ``model`` that take time first, batch second (nn.LSTM, nn.GRU, nn.RNN,
    nn.MultiheadAttention and nn.Transformer* built without ``batch_first=True``), at most three."""
    return [f"{name or 'the model'} ({type(m).__name__})" for name, m in _time_first_modules(model)][:3]


def _time_first_modules(model) -> list:
    seq_first = (torch.nn.RNNBase, torch.nn.MultiheadAttention, torch.nn.Transformer,
                 torch.nn.TransformerEncoderLayer, torch.nn.TransformerDecoderLayer)
    modules = model.named_modules() if isinstance(model, torch.nn.Module) else ()
    return [(name, m) for name, m in modules if isinstance(m, seq_first) and not getattr(m, "batch_first", True)]


def _fed_as_given(model, args) -> bool:
    """Whether the time-first layers receive the first input's two leading sizes in the order it has them (False
    when forward transposes first, so that the input itself is batch-first); True when this cannot be told."""
    import copy
    first = next((t for t in leaves(args) if t.dim() >= 2), None) if args else None
    if first is None or first.shape[0] == first.shape[1]:
        return True  # no way to tell the two dimensions apart by their sizes
    try:
        probe = copy.deepcopy(model)
    except Exception:
        return True
    seen = []
    hooks = [m.register_forward_pre_hook(lambda mod, inputs: seen.append(
        tuple(inputs[0].shape[:2]) if inputs and isinstance(inputs[0], torch.Tensor) else None))
        for _, m in _time_first_modules(probe)]
    try:
        with torch.no_grad():
            probe(*own_copy(args))
    except Exception:
        return True
    finally:
        for hook in hooks:
            hook.remove()
    return not seen or any(shape == tuple(first.shape[:2]) for shape in seen)


def time_first_note(model, batch_dim=0, args=None) -> str:
    """A note when the batch variants change dimension 0 of a model whose time-first layers receive its input as
    it is (not transposed first), or ""."""
    if not (isinstance(batch_dim, int) and batch_dim == 0):
        return ""
    layers = time_first_layers(model)
    if not layers or (args is not None and not _fed_as_given(model, args)):
        return ""
    return (f"{', '.join(layers)} take{'s' * (len(layers) == 1)} time first and the batch in dimension 1, and the "
            "\"batch\" variants changed dimension 0: if your inputs keep the batch in dimension 1, pass batch_dim=1 "
            "(or one entry per input)")


def batched_inputs(args, batch_dim=0) -> list:
    """Which positional arguments ``with_batch`` resizes (their indexes): those holding a tensor whose dimension
    ``batch_dim`` is the batch (for a list of images, the list itself)."""
    lead = batch_of(args, batch_dim)
    if lead is None:
        return []
    first = args[0]
    if _is_image_list(first):
        return [0]
    return [i for i, (arg, d) in enumerate(zip(args, per_input_dims(args, batch_dim)))
            if any(_holds_batch(t, lead, d) for t in leaves(arg))]


def with_batch(args, size: int, batch_dim=0):
    """``args`` with a batch of ``size`` (see ``batch_of``): tensors sharing the first one's dimension ``batch_dim``
    get ``size`` rows there, reusing their own; a list of images gets ``size`` items. ``args`` itself when it has no
    batch."""
    lead = batch_of(args, batch_dim)
    if lead is None or size == lead:
        return args
    first = args[0]
    if _is_image_list(first):
        return ([first[i % lead] for i in range(size)], *args[1:])
    return tuple(rebuild(arg, lambda t, d=d: _resized(t, size, d) if _holds_batch(t, lead, d) else t)
                 for arg, d in zip(args, per_input_dims(args, batch_dim)))


def _batch_variants(args, batch_sizes, batch_dim=0):
    candidates, skipped = {}, {}
    if isinstance(batch_dim, tuple) and all(d is None for d in batch_dim):
        skipped["batch"] = "batch_dim says that no input has a batch"
        return candidates, skipped
    first = args[0]
    if _is_image_list(first):
        count = len(first)  # a list of images: its length is the batch
        sizes = batch_sizes if batch_sizes is not None else ([1, count + 1] if count != 1 else [2, 3])
        for size in _checked_sizes(sizes):
            if size != count:
                candidates[f"{size} item{'s' if size > 1 else ''}"] = with_batch(args, size)
        return candidates, skipped
    lead = batch_of(args, batch_dim)
    if lead is None:
        where = f"dimension {batch_dim}" if not isinstance(batch_dim, (tuple, list)) else "batch dimension"
        skipped["batch"] = f"no tensor has a non-empty {where} to change"
        return candidates, skipped
    ambiguous = batch_ambiguity(args, batch_dim)
    if ambiguous:
        skipped["batch"] = ambiguous
        return candidates, skipped
    sizes = batch_sizes if batch_sizes is not None else ([1, lead + 2] if lead != 1 else [2, 3])
    for size in _checked_sizes(sizes):
        if size != lead:
            candidates[f"batch {size}"] = with_batch(args, size, batch_dim)
    return candidates, skipped


def _unusual(t) -> str:
    """"sparse" (any layout but strided) or "quantized" for a tensor the variants leave alone, else ""."""
    if t.layout != torch.strided:
        return "sparse"
    return "quantized" if t.is_quantized else ""


def _checked_sizes(sizes):
    for size in sizes:
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ValueError(f"vary_inputs: batch_sizes must be positive ints, got {size!r}")
    return sizes


def vary_inputs(example, model=None, batch_sizes=None, batch_dim=0) -> InputVariants:
    """The example and variants of it, each a tuple of model arguments (see the module's docstring).

    ``batch_sizes`` defaults to 1 and the example's size + 2; ``batch_dim`` is the dimension they change
    (1 for a sequence-first model). With ``model`` given, variants the model itself rejects are dropped,
    and ``.skipped`` says which and why.
    """
    from .parity import eager_failure, require_callable  # parity imports this module

    args = as_args(example, "vary_inputs", "example")
    # checked against the example (a one-line error if it does not fit); one number stays one number, so that
    # batch_ambiguity can look for inputs whose batch sits elsewhere
    batch_dim = batch_dim_for(args, batch_dim, "vary_inputs")
    tensors = leaves(args)
    variants = InputVariants(example=args)
    unusual = sorted({_unusual(t) for t in tensors if _unusual(t)})
    if unusual:  # negating, scaling, resizing or counting values does not apply to them as it does to dense tensors
        candidates = {}
        variants.skipped["variants"] = (f"the example holds a {' and a '.join(unusual)} tensor, which these variants "
                                        "cannot resize or change: only the example itself is checked; pass more "
                                        "inputs yourself (inputs=[...])")
    else:
        floats = [t for t in tensors if t.is_floating_point() or t.is_complex()]
        ints = [t for t in tensors if _is_int(t)]
        bools = [t for t in tensors if t.dtype == torch.bool]
        candidates, skipped = _value_variants(args, floats, ints, bools)
        more, more_skipped = _batch_variants(args, batch_sizes, batch_dim)
        candidates.update(more)
        variants.skipped.update(skipped)
        variants.skipped.update(more_skipped)

    limit = None
    if model is not None:
        model = require_callable(model, "vary_inputs", "model")
        started = time.perf_counter()
        failure = eager_failure(model, args)
        limit = variant_seconds(time.perf_counter() - started)
        if failure:
            raise ValueError(f"vary_inputs: the model itself fails on the example ({failure}): "
                             "pass an example the model accepts")
    for label, variant in candidates.items():
        failure, answered = call_within(limit, eager_failure, model, variant) if model is not None else (None, True)
        if not answered:
            failure = f"it did not finish within {limit:.0f} s (a loop that never ends on this input?)"
        if failure:
            variants.skipped[label] = f"the model itself rejects it: {failure}"
        else:
            variants[label] = variant
    return variants
