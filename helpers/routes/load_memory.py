"""How much memory loading a TorchScript file takes, per ``map_location`` (05_save_and_load)."""
import gc
import json
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LoadMemory", "measure_load_memory"]


def _kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field} line")


def _library_kib(folder: str) -> int:
    """Resident pages of the files under ``folder`` mapped into this process (torch's shared libraries)."""
    total, inside = 0, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            fields = line.split()
            if "-" in fields[0] and not fields[0].endswith(":"):  # a mapping's header: address range ... path
                inside = len(fields) > 5 and fields[5].startswith(folder)
            elif inside and fields[0] == "Rss:":
                total += int(fields[1])
    return total


def _trim() -> None:
    """Hand the memory this process freed back to the system (glibc's malloc_trim); nothing on another allocator."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _measure_in_child(path: str, where: str, report_fd: int) -> None:
    """Runs in a forked child: load the file once, write what memory did as JSON, and never return."""
    try:
        import torch
        # Objects the parent had not collected yet (a model a notebook cell built and dropped, held in a
        # reference cycle) would be freed whenever the load's allocations trigger Python's collector, and
        # that would subtract from the figures, even below zero. Collect them before the baseline.
        gc.collect()
        # Memory the parent freed but its allocator kept (glibc keeps freed blocks for reuse) would hold the load's
        # tensors without a new page, so the figures would miss them: hand it back to the system first.
        _trim()
        libraries = os.path.join(os.path.dirname(os.path.realpath(torch.__file__)), "lib")
        # Reset this process's peak resident memory (VmHWM) to what it holds now: the peak it reaches
        # from here on is the load's own, not the parent's history.
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        before, libraries_before = _kib("VmRSS:"), _library_kib(libraries)
        model = torch.jit.load(path, map_location=where)
        peak = _kib("VmHWM:") - before
        _trim()  # what the load freed (the CPU copies a "meta" load makes first) is not what the model keeps
        row = {"where": where, "peak_kib": peak, "kept_kib": _kib("VmRSS:") - before,
               "library_kib": _library_kib(libraries) - libraries_before,
               "data_bytes": sum(p.untyped_storage().nbytes() for p in model.parameters() if not p.is_meta),
               "all_meta": all(p.is_meta for p in model.parameters())}
    except BaseException as error:  # whatever happened, the parent gets one line, and the child exits
        row = {"where": where, "error": f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"}
    try:
        os.write(report_fd, json.dumps(row).encode())
    finally:
        os._exit(0)  # never run the parent's code (a notebook kernel's event loop) in the child


@dataclass(frozen=True)
class LoadMemory:
    """One load of a file: how far resident memory rose (``peak_mb``), what it still held after, once what the load
    freed was handed back to the system (``kept_mb``),
    how much of that is pages of torch's own library files the load ran (``kept_library_mb``), the bytes of
    parameter data the loaded model holds, and whether every parameter is a meta tensor."""
    where: str
    peak_mb: float
    kept_mb: float
    kept_library_mb: float
    data_bytes: int
    all_meta: bool

    def __str__(self):
        return (f"map_location={self.where!r}: memory rose by {self.peak_mb:.0f} MB at the peak, "
                f"{self.kept_mb:.0f} MB still held after the load ({self.kept_library_mb:.0f} MB of it torch's own "
                f"library code) · parameter data held: {self.data_bytes / 2**20:.0f} MB")


def measure_load_memory(path, locations=("meta", "cpu")) -> dict:
    """Load the TorchScript file ``path`` once per ``map_location`` in ``locations``, each in its own process.

    Each process is forked from this one, so it starts with torch already imported and measures nothing but
    the load. Returns ``{location: LoadMemory}``. Linux only: it reads the kernel's per-process memory counters.
    """
    if not isinstance(path, (str, Path)) or not Path(path).is_file():
        raise FileNotFoundError(f"measure_load_memory needs the path of a saved TorchScript file, got {path!r}")
    from .archive import check_torchscript_file
    check_torchscript_file(path, "measure_load_memory")  # a checkpoint or a .pt2 says what it is, in one line
    if isinstance(locations, str):
        locations = [locations]
    if not all(isinstance(w, str) for w in locations) or not locations:
        raise TypeError("measure_load_memory(locations=...) takes device names as strings, e.g. ('meta', 'cpu')")
    if not Path("/proc/self/clear_refs").exists():
        raise OSError("measure_load_memory reads Linux's /proc memory counters, which this system does not have")
    found = {}
    for where in locations:
        read_fd, write_fd = os.pipe()
        pid = os.fork()  # a separate process that starts from this one's memory and measures only its own load
        if pid == 0:
            os.close(read_fd)
            _measure_in_child(str(Path(path).resolve()), where, write_fd)
        os.close(write_fd)
        with os.fdopen(read_fd, "rb") as pipe:
            text = pipe.read().decode()
        os.waitpid(pid, 0)
        row = json.loads(text) if text.strip() else {"where": where, "error": "the measuring process said nothing"}
        if "error" in row:
            raise RuntimeError(f"loading with map_location={where!r} failed in the measuring process: {row['error']}")
        found[where] = LoadMemory(where, row["peak_kib"] / 1024, row["kept_kib"] / 1024, row["library_kib"] / 1024,
                                  row["data_bytes"], row["all_meta"])
    return found
