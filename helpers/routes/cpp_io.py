"""The files the workbook's C++ programs read and write (introduced in 05_save_and_load, extended in 10_shipping).

Inputs: one file that ``torch.save`` writes for the tuple of forward's arguments; the C++ programs
read it with ``torch::pickle_load``, so tensors of any dtype, lists, tuples, dicts and numbers
arrive as saved. Outputs: one file the programs write with ``torch::pickle_save``; ``read_value_file``
reads it back (it needs the small ``torch.jit._pickle`` functions that rebuild typed lists allowed,
since ``torch.load`` only takes weights by default). The first, plainer format, one float32 tensor
after a text header ``f32 <ndim> <sizes...>``, is still written and read by ``write_tensor_file``
and ``read_tensor_file``.
"""
import os
import pickle
import tempfile
import types
from pathlib import Path

import torch
import torch.jit._pickle as _jit_pickle

from ..course.guards import require_tensor

__all__ = ["write_tensor_file", "read_tensor_file", "write_value_file", "read_value_file", "CppInputError"]


from ..course.workdir import atomic_write_bytes  # noqa: E402


class CppInputError(TypeError):
    """An input the C++ programs cannot receive; the message names it and says what to pass."""


def _atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` through a temporary file and a rename: no reader sees half a file."""
    return atomic_write_bytes(path, data)


# ------------------------------------------------------------------ the structured format

def _plain(value, where: str):
    """``value`` as the C++ side should receive it: tensors detached, on the CPU and compact, in their memory layout;
    containers rebuilt."""
    if isinstance(value, torch.Tensor):
        if value.is_complex() or value.layout != torch.strided:
            raise CppInputError(f"{where} is a {value.dtype} {value.layout} tensor: pass a dense real or bool tensor")
        # clone(): torch.save writes a view's whole storage; a compact copy writes only the values seen.
        # preserve_format: a channels_last tensor stays channels_last (a model may read its strides), yet compact
        return value.detach().to("cpu").clone(memory_format=torch.preserve_format)
    if isinstance(value, int) and not isinstance(value, bool) and value not in _INT64:
        raise CppInputError(f"{where} is {value}, beyond what a 64-bit integer holds: C++ reads ints as int64")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        return tuple(_plain(v, f"{where}[{i}]") for i, v in enumerate(value))
    if isinstance(value, list):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        bad = [k for k in value if not isinstance(k, (str, int))]
        if bad:
            raise CppInputError(f"{where} has a key {bad[0]!r} of type {type(bad[0]).__name__}: use str or int keys")
        return {k: _plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    hint = (": convert it with torch.from_numpy(array)" if type(value).__module__ == "numpy"
            else ": pass tensors, numbers, strings, or lists/tuples/dicts of them")
    raise CppInputError(f"{where} is a {type(value).__name__}, which a C++ program cannot receive{hint}")


_INT32 = range(-2**31, 2**31)
_INT64 = range(-2**63, 2**63)


class _Int64Pickler(pickle._Pickler):
    """Python's pickler, but an int beyond 32 bits is written in 8 bytes: LibTorch's reader takes a long of exactly 8
    bytes (Python writes as few as the number needs, and the C++ program then refused the file)."""
    dispatch = dict(pickle._Pickler.dispatch)

    def save_long(self, obj):
        if self.bin and obj not in _INT32:
            self.write(pickle.LONG1 + b"\x08" + obj.to_bytes(8, "little", signed=True))
        else:
            pickle._Pickler.save_long(self, obj)

    dispatch[int] = save_long


_INT64_PICKLE = types.SimpleNamespace(Pickler=_Int64Pickler, __name__="pickle")  # what torch.save reads of a module


def _has_wide_int(value) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return value not in _INT32
    if isinstance(value, (tuple, list)):
        return any(_has_wide_int(v) for v in value)
    if isinstance(value, dict):
        return any(_has_wide_int(k) or _has_wide_int(v) for k, v in value.items())
    return False


def write_value_file(path, inputs) -> Path:
    """Write ``inputs`` (the tuple of forward's arguments; anything else is one argument) for the C++ programs."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,)
    values = tuple(_plain(v, f"input {i}") for i, v in enumerate(inputs))
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        torch.save(values, temporary, **({"pickle_module": _INT64_PICKLE} if _has_wide_int(values) else {}))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


# The helpers torch::pickle_save names to rebuild typed lists (List[int], List[Tensor], ...) and typed
# containers; build_tensor_from_id is left out (it points into a table that only a TorchScript archive has).
_SAFE = [_jit_pickle.restore_type_tag, _jit_pickle.build_intlist, _jit_pickle.build_doublelist,
         _jit_pickle.build_boollist, _jit_pickle.build_tensorlist]


def read_value_file(path):
    """Read a file written by a C++ program's ``torch::pickle_save`` (or by ``torch.save``): tensors, tuples, lists, dicts."""
    with torch.serialization.safe_globals(_SAFE):
        return torch.load(Path(path), map_location="cpu", weights_only=True)


# ------------------------------------------------------------------ the plain float32 format

def write_tensor_file(path, tensor) -> Path:
    """Write ``tensor`` as a line ``f32 <ndim> <sizes...>``, then its values as little-endian float32."""
    require_tensor(tensor, "write_tensor_file")
    if not (tensor.is_floating_point() or tensor.dtype in (torch.int32, torch.int64, torch.uint8, torch.bool)):
        raise TypeError(f"write_tensor_file writes float32; a {tensor.dtype} tensor cannot be converted: "
                        "pass a real-valued tensor")
    values = tensor.detach().to("cpu", torch.float32).contiguous()
    header = f"f32 {values.dim()}" + "".join(f" {s}" for s in values.shape) + "\n"
    return _atomic_write_bytes(path, header.encode("ascii") + values.numpy().astype("<f4", copy=False).tobytes())


def read_tensor_file(path) -> torch.Tensor:
    """Read a tensor written by :func:`write_tensor_file` or by a C++ program given an output name ending in .f32."""
    path = Path(path)
    data = path.read_bytes()
    header, sep, body = data.partition(b"\n")
    fields = header.decode("ascii", errors="replace").split()
    if not sep or len(fields) < 2 or fields[0] != "f32" or not all(f.isdigit() for f in fields[1:]):
        raise ValueError(f"{path.name} is not a tensor file: it should start with a line like 'f32 2 3 4'")
    ndim, shape = int(fields[1]), [int(f) for f in fields[2:]]
    if len(shape) != ndim:
        raise ValueError(f"{path.name}: its header says {ndim} dimensions but lists {len(shape)} sizes")
    count = 1
    for s in shape:
        count *= s
    if len(body) != 4 * count:
        raise ValueError(f"{path.name} holds {len(body)} bytes of values, but shape {shape} needs {4 * count}")
    return torch.frombuffer(bytearray(body), dtype=torch.float32).reshape(shape).clone()
