"""What a saved .pt file holds, and loading one with errors that say what to do (introduced in 05_save_and_load).

A TorchScript file is a zip archive. ``H.show_archive(path)`` lists its entries with what each
one is for; ``H.archive_text(path, "code/__torch__.py")`` prints one of them;
``H.read_extra_files(path, "labels.json")`` reads the extra files saved beside the model.
``H.load_torchscript(path)`` wraps ``torch.jit.load`` and turns its long internal errors (missing
file, not a zip, truncated, written by ``torch.save``, from a newer torch) into one line each;
``H.torch_error_line(error)`` shows torch's own message without its C++ bookkeeping.
"""
import html
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch

from ..course.failures import short_message
from ..course.workdir import atomic_path

__all__ = ["TorchScriptFileError", "ArchiveEntryError", "ArchiveEntry", "ArchiveTable", "archive_contents",
           "show_archive", "archive_text", "class_code_entry", "read_extra_files", "copy_archive_with_changes", "load_torchscript",
           "torch_error_line"]


class TorchScriptFileError(RuntimeError):
    """A file that is not a loadable TorchScript archive; the message says what to do about it.

    A RuntimeError, like the errors torch.jit.load raises, so existing ``except RuntimeError`` still works.
    """


class ArchiveEntryError(KeyError):
    """An entry that is not in the archive; the message lists the entries that are."""

    def __str__(self):  # a plain KeyError would print the message inside quotes
        return str(self.args[0]) if self.args else ""


# (pattern on the name inside the top folder, what the entry is for). First match wins.
_ROLES = [
    (r"version", "format version: a reader refuses numbers outside the range it supports"),
    (r"\.data/version", "format version (the name a writer gives the record from format 6 on): a reader refuses numbers outside its range"),
    (r"byteorder", "byte order of the tensor bytes"),
    (r"data\.pkl", "the saved object as a pickle, tensors by reference: a TorchScript file's module tree (attributes, "
                   "submodules), or whatever torch.save was given (a state_dict's names and tensors)"),
    (r"constants\.pkl", "tensors the code uses as constants, as a pickle of references"),
    (r"constants/\d+", "raw bytes of one tensor constant of the code"),
    (r"bytecode\.pkl", "bytecode for the lite interpreter (.ptl files)"),
    (r"data/\d+", "raw bytes of one storage: a weight or a buffer (tensors that share memory share one entry)"),
    (r"code/.*\.py\.debug_pkl", "debug info: maps the code back to your source lines, for error messages"),
    (r"code/.*\.py", "TorchScript source of the classes and functions the model calls"),
    (r"extra/.+", "an extra file you attached with _extra_files"),
    (r"\.data/serialization_id", "an id computed from the other entries' names and contents: the same save gives "
                                 "the same id"),
]


def _inner(name: str) -> str:
    return name.split("/", 1)[1] if "/" in name else name


def _role(inner: str) -> str:
    for pattern, role in _ROLES:
        if re.fullmatch(pattern, inner):
            return role
    return "other"


@dataclass(frozen=True)
class ArchiveEntry:
    """One file inside the archive: full ``name``, ``size`` in bytes (unpacked), what it is for, and
    ``packed``, the bytes it takes inside the zip (smaller than ``size`` when the entry is compressed)."""
    name: str
    size: int
    role: str
    packed: int = None

    @property
    def compressed(self) -> bool:
        return self.packed is not None and self.packed != self.size

    @property
    def inner(self) -> str:
        """The name without the archive's top folder (named after the file at save time)."""
        return _inner(self.name)


def _check_path(path, who: str) -> Path:
    if not isinstance(path, (str, Path)):
        raise TypeError(f"{who} takes a file path (str or pathlib.Path), got {type(path).__name__}")
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder: pass the .pt file inside it")
    if not path.is_file():
        raise FileNotFoundError(f"no file at {path}: check the name and folder (files you save go under WORK), "
                                "or save it first with torch.jit.save(model, path)")
    return path


def _open_zip(path: Path) -> zipfile.ZipFile:
    """The archive, or a one-line TorchScriptFileError saying why the file is not a readable zip."""
    with open(path, "rb") as f:
        head = f.read(4)
    size = path.stat().st_size
    if size == 0:
        raise TorchScriptFileError(f"{path.name} is empty (0 bytes): the save was interrupted; save the model again")
    if head != b"PK\x03\x04":
        if head[:1] == b"\x80":  # pickle protocol marker: torch.save(..., _use_new_zipfile_serialization=False)
            raise TorchScriptFileError(f"{path.name} is a plain pickle (old torch.save format), not TorchScript: "
                                       "load it with torch.load(path, weights_only=True)")
        if head == b"PK\x05\x06":  # a zip's end record first: a zip with no entries at all
            raise TorchScriptFileError(f"{path.name} is an empty zip archive (no entries), not a TorchScript file: "
                                       "check that you picked the right file")
        raise TorchScriptFileError(f"{path.name} is not a zip archive (it starts with {head!r}), so it is not a "
                                   "TorchScript file: check that you picked the right file")
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        # A zip keeps its table of contents at the very end, so a cut-short file has the start but not the table.
        raise TorchScriptFileError(f"{path.name} is truncated or damaged ({size:,} bytes, its zip directory at the "
                                   "end is missing): copy or download it again and compare sizes") from None


def archive_contents(path) -> list:
    """Every entry of the .pt / .ptl zip archive at ``path`` as ``ArchiveEntry(name, size, role, packed)``."""
    path = _check_path(path, "archive_contents")
    with _open_zip(path) as archive:
        return [ArchiveEntry(info.filename, info.file_size, _role(_inner(info.filename)), info.compress_size)
                for info in archive.infolist()]


class ArchiveTable:
    """The entries of one archive, shown as a table (HTML in JupyterLab, text elsewhere)."""

    def __init__(self, path, entries, collapse=True):
        self.path, self.entries, self.collapse = Path(path), list(entries), collapse
        self.file_size = self.path.stat().st_size if self.path.is_file() else None

    @property
    def names(self) -> list:
        return [e.name for e in self.entries]

    @property
    def inner_names(self) -> list:
        """Entry names without the top folder, e.g. ``code/__torch__.py``, ``version``."""
        return [e.inner for e in self.entries]

    @property
    def total_size(self) -> int:
        """The entries' bytes once unpacked; not the file's size (see ``file_size``)."""
        return sum(e.size for e in self.entries)

    def rows(self) -> list:
        """(name, size, role) rows; with ``collapse``, tensors and debug info become one summary row each."""
        rows, groups = [], {}
        one_folder = self._one_folder()
        for e in self.entries:
            key = role = None
            if self.collapse and re.fullmatch(r"data/\d+", e.inner):
                key, role = "data/0, data/1, ...", "raw bytes of the tensors (weights, buffers), one entry per storage"
            elif self.collapse and e.inner.endswith(".debug_pkl"):
                key, role = "code/....py.debug_pkl", e.role
            if key is None:  # in a zip that is not one folder, the whole name: dropping its first part would hide it
                rows.append([e.inner if one_folder else e.name, e.size, e.role])
            elif key in groups:
                groups[key][1] += e.size
                groups[key][3] += 1
            else:
                groups[key] = [key, e.size, role, 1]
                rows.append(groups[key])  # the group row sits where its first member was
        return [(f"{r[0]} ({r[3]} entries)", r[1], r[2]) if len(r) == 4 else tuple(r) for r in rows]

    def _one_folder(self) -> bool:
        """Every entry sits in one top folder, as in every archive torch writes."""
        return len({e.name.split("/")[0] for e in self.entries}) == 1 and all("/" in e.name for e in self.entries)

    def _title(self) -> str:
        # Two totals that differ, each named: the zip adds headers and compresses some entries, so the
        # file on disk is not the sum of the unpacked entries.
        disk = f"{self.file_size:,} bytes on disk · " if self.file_size is not None else ""
        where = (f"all inside the folder {self.entries[0].name.split('/')[0]}/" if self._one_folder() else
                 "not in one folder, as every PyTorch archive's entries are: not a file torch wrote")
        return (f"{self.path.name}: {disk}{len(self.entries)} entries holding {self.total_size:,} bytes unpacked, "
                f"{where}")

    def __str__(self):
        rows = self.rows()
        width = max((len(r[0]) for r in rows), default=10)
        return "\n".join([self._title()] + [f"  {name:{width}s} {size:>8,}  {role}" for name, size, role in rows])

    __repr__ = __str__

    def _repr_html_(self):
        body = "".join(f"<tr><td style='text-align:left'><code>{html.escape(n)}</code></td>"
                       f"<td style='text-align:right'>{s:,}</td><td style='text-align:left'>{html.escape(r)}</td></tr>"
                       for n, s, r in self.rows())
        return (f"<div><b>{html.escape(self._title())}</b><table><tr><th style='text-align:left'>entry</th>"
                f"<th>bytes</th><th style='text-align:left'>what it is for</th></tr>{body}</table></div>")


def show_archive(path, collapse=True) -> ArchiveTable:
    """A table of what the archive at ``path`` holds; ``collapse=False`` lists every tensor and debug file."""
    return ArchiveTable(path, archive_contents(path), collapse=collapse)


def _find(archive: zipfile.ZipFile, member: str, path: Path) -> str:
    names = archive.namelist()
    matches = [n for n in names if n == member or n.endswith("/" + member.lstrip("/"))]
    if not matches:
        shown = sorted({_inner(n) for n in names if not n.endswith(".debug_pkl")})
        raise ArchiveEntryError(f"{path.name} has no entry {member!r}; it has: {', '.join(shown[:12])}"
                                + (", ..." if len(shown) > 12 else ""))
    return min(matches, key=len)  # "code/__torch__.py" must not pick a longer name that ends the same way


def archive_text(path, member: str) -> str:
    """The text of one entry, found by the end of its name: ``archive_text(p, "code/__torch__.py")``."""
    path = _check_path(path, "archive_text")
    if not isinstance(member, str) or not member:
        raise TypeError("archive_text needs the entry's name as a str, e.g. 'code/__torch__.py' or 'version'")
    with _open_zip(path) as archive:
        data = archive.read(_find(archive, member, path))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{member!r} in {path.name} is binary (a pickle or tensor bytes), not text: "
                         "use archive_contents to see its size, or torch.jit.load to use it") from None


def class_code_entry(path, class_name: str) -> str:
    """The entry under ``code/`` whose TorchScript source defines ``class_name``, e.g. ``code/__torch__.py``.

    A class defined in a notebook lands in ``code/__torch__.py``; scripted again after being redefined
    (a notebook run twice in one kernel), TorchScript gives it a mangled module name
    such as ``code/__torch__/___torch_mangle_3.py``, so look it up rather than hard-code it.
    """
    path = _check_path(path, "class_code_entry")
    if not isinstance(class_name, str) or not class_name.isidentifier():
        raise TypeError(f"class_code_entry needs a class name like 'DigitReader', got {class_name!r}")
    pattern = re.compile(rf"^class {re.escape(class_name)}\(", re.MULTILINE)
    with _open_zip(path) as archive:
        for name in archive.namelist():
            inner = _inner(name)
            if inner.startswith("code/") and inner.endswith(".py") and pattern.search(
                    archive.read(name).decode("utf-8", errors="replace")):
                return inner
        classes = sorted({m for n in archive.namelist() if _inner(n).startswith("code/") and n.endswith(".py")
                          for m in re.findall(r"^class (\w+)\(", archive.read(n).decode("utf-8", "replace"), re.M)})
    raise ArchiveEntryError(f"{path.name} defines no class {class_name!r} in its code; it defines: "
                            f"{', '.join(classes) or 'none'}")


def read_extra_files(path, *names) -> dict:
    """The extra files saved with ``_extra_files``, as ``{name: text}``; a missing name is an error.

    ``torch.jit.load(p, _extra_files={"x": ""})`` silently leaves ``""`` for a name the file lacks;
    this says so instead. With no names, every extra file is returned. An extra file that is not UTF-8 text (an
    image, say) comes back as its bytes, unchanged, as ``torch.jit.load`` gives it.
    """
    path = check_torchscript_file(path, "read_extra_files")  # a checkpoint or a .pt2 says what it is, not "attach it"
    with _open_zip(path) as archive:
        extras = {n.split("/extra/", 1)[1]: n for n in archive.namelist() if "/extra/" in n}
        wanted = names or tuple(extras)
        missing = [n for n in wanted if n not in extras]
        if missing:
            have = ", ".join(sorted(extras)) or "none"
            raise ArchiveEntryError(f"{path.name} has no extra file {missing[0]!r} (it has: {have}): attach it "
                                    "when saving, with torch.jit.save(m, path, _extra_files={name: text})")
        return {n: _text_or_bytes(archive.read(extras[n])) for n in wanted}


def _text_or_bytes(data: bytes):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:  # binary: replacing its bytes would corrupt it silently
        return data


def copy_archive_with_changes(source, destination, changes: dict):
    """Copy the archive at ``source`` to ``destination``, replacing the text of some entries.

    ``changes`` maps an entry (found by the end of its name, as in :func:`archive_text`) to its new
    text, or to a function from the old text to the new one. The notebook uses it to play the part
    of someone who edits a file between saving and loading: a newer version number, altered code.
    """
    source, destination = _check_path(source, "copy_archive_with_changes"), Path(destination)
    if not isinstance(changes, dict) or not changes:
        raise TypeError("copy_archive_with_changes needs a dict like {'version': '99\\n'} or "
                        "{'code/__torch__.py': lambda text: text.replace(...)}")
    if destination.resolve() == source.resolve():
        raise ValueError("copy_archive_with_changes writes a copy: give a destination other than the source")
    # Written to a temporary file renamed into place at the end: a change function that raises
    # leaves ``destination`` as it was (an earlier good copy stays whole).
    with _open_zip(source) as archive, atomic_path(destination) as temporary:
        targets = {_find(archive, member, source): change for member, change in changes.items()}
        # Stored, not compressed: torch reads tensor bytes straight out of the file, so it expects them stored.
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_STORED) as out:
            for info in archive.infolist():
                data = archive.read(info.filename)
                if info.filename in targets:
                    change = targets[info.filename]
                    text = change(data.decode("utf-8")) if callable(change) else change
                    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
                out.writestr(info.filename, data)
    return destination


def torch_error_line(error, limit: int = 160) -> str:
    """One line of a torch error, without its C++ bookkeeping.

    Drops the ``[enforce fail at inline_container.cc:230] .`` prefix (where in torch's C++ the
    check sits) and the ``This is an internal miniz error...`` note, which say nothing about your file.
    """
    if not isinstance(error, (BaseException, str)):
        raise TypeError(f"torch_error_line takes an exception or its message, got {type(error).__name__}")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 10:
        raise ValueError(f"limit must be a whole number of characters, at least 10, got {limit!r}")
    return short_message(error, limit=limit)


_TOO_NEW = re.compile(r"version (\d+), but the maximum supported version for reading is (\d+)")


def _pickles_a_module(archive, names) -> bool:
    """The archive's ``data.pkl`` holds a module: a class from ``torch.nn.modules``, or any object pickled with a
    module's own state (its ``_parameters`` and ``_modules``: a class of yours with only ``nn.Parameter``s), not
    tensors or a dict."""
    import pickletools
    entry = next(n for n in names if _inner(n) == "data.pkl")
    try:
        strings = [arg for _, arg, _ in pickletools.genops(archive.read(entry)) if isinstance(arg, str)]
    except Exception:  # an unreadable pickle is not evidence of a model
        return False
    return any(s.startswith("torch.nn.modules") for s in strings) or {"_parameters", "_modules"} <= set(strings)


def load_torchscript(path, map_location="cpu"):
    """``torch.jit.load(path, map_location)``, with a one-line error that says what to do when the file is wrong.

    Checks, in order: the file exists; it is a zip; its zip directory is intact (not truncated);
    every entry passes its checksum; it holds TorchScript code (not a ``torch.save`` checkpoint);
    then lets torch load it and rewrites the "file from a newer torch" error.
    """
    path = check_torchscript_file(path, "load_torchscript")
    device = str(map_location) if isinstance(map_location, (str, torch.device)) else ""
    if device.startswith("cuda") and not torch.cuda.is_available():  # the argument, not the file, is the problem
        raise ValueError(f"map_location={device!r} names a device this machine does not have (no CUDA GPU): "
                         "pass map_location='cpu'")
    try:
        return torch.jit.load(str(path), map_location=map_location)
    except RuntimeError as error:
        raise TorchScriptFileError(torch_load_failure(path, error)) from error


def torch_load_failure(path, error) -> str:
    """What to do about torch's refusal to load a TorchScript file that passed the checks: a newer torch's, or torch's line."""
    too_new = _TOO_NEW.search(str(error))
    if too_new:
        return (f"{Path(path).name} was written by a newer PyTorch (file format {too_new.group(1)}; this torch "
                f"{torch.__version__} reads up to {too_new.group(2)}): upgrade torch, or re-export the model "
                "with this version")
    return f"torch could not load {Path(path).name}: {torch_error_line(error)}"


def check_torchscript_file(path, who: str):
    """``path`` as a Path if it looks like a TorchScript file, else a one-line TorchScriptFileError saying what it is.

    Checks, in order: the file exists; it is a zip; its zip directory is intact (not truncated); every entry passes
    its checksum; it holds TorchScript code (not a ``torch.save`` checkpoint).
    """
    path = _check_path(path, who)
    with _open_zip(path) as archive:
        names = archive.namelist()
        bad, how = None, "fails its checksum"
        for info in archive.infolist():  # every entry read: cheap next to loading, and catches flipped bytes
            try:
                with archive.open(info) as entry:
                    while entry.read(1 << 20):
                        pass
            except zipfile.BadZipFile:  # the checksum of what was read does not match the one stored
                bad = info.filename
            except (zlib.error, OSError, EOFError):  # a compressed entry that no longer decompresses
                bad, how = info.filename, "no longer decompresses"
            if bad is not None:
                break
        if bad is not None:
            raise TorchScriptFileError(f"{path.name} is damaged (entry {bad} {how}): copy or download it again")
        inner = {_inner(n) for n in names}
        pickled_module = "data.pkl" in inner and _pickles_a_module(archive, names)
    if not any(n.startswith("code/") for n in inner) or "constants.pkl" not in inner:
        if pickled_module:
            raise TorchScriptFileError(f"{path.name} holds a whole pickled model, written by torch.save(model), not "
                                       "torch.jit.save: torch.load(path, weights_only=True) refuses it too. Save "
                                       "torch.jit.script(model) with torch.jit.save, or save model.state_dict()")
        if "data.pkl" in inner:
            raise TorchScriptFileError(f"{path.name} was written by torch.save (tensors or a state_dict), not "
                                       "torch.jit.save: load it with torch.load(path, weights_only=True) and "
                                       "model.load_state_dict(...), which needs the model's class")
        if "archive_format" in inner:  # torch's .pt2 layout: an AOTInductor package holds compiled code under data/aotinductor
            if any("/aotinductor/" in n for n in names):
                raise TorchScriptFileError(f"{path.name} is an AOTInductor package (.pt2), not TorchScript: load it with "
                                           "H.load_aoti(path) or torch._inductor.aoti_load_package(path), or run it in "
                                           "C++ with H.run_aoti_cpp (10)")
            raise TorchScriptFileError(f"{path.name} is a torch.export program (.pt2), not TorchScript: load it with "
                                       "torch.export.load(path).module(); for C++, compile it with AOTInductor and run "
                                       "the package with H.run_aoti_cpp (10)")
        if "version" in inner:  # torch's zip writer began it, and the save stopped before any data went in
            raise TorchScriptFileError(f"{path.name} holds only the start of a PyTorch file: the save that wrote it "
                                       "did not finish (torch.save cannot pickle a scripted model, for one). Save "
                                       "a TorchScript model with torch.jit.save(scripted, path)")
        raise TorchScriptFileError(f"{path.name} is a zip archive but not a PyTorch file: check that you picked "
                                   "the right file")
    return path
