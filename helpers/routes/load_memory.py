"""How much memory loading a TorchScript file takes, per ``map_location`` (05_save_and_load)."""
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LoadMemory", "measure_load_memory"]

# Runs in a fresh Python process that imports torch only (no helpers, no notebook state). It forks one
# child per location, so torch is imported once, and each child starts from the same resident memory.
# Writing "5" to /proc/self/clear_refs resets the child's peak resident memory (VmHWM) to what it holds
# now, so the peak it reaches afterwards is the load's own.
_MEASURE = r'''
import json, os, sys, warnings
warnings.simplefilter("ignore")
import torch

def kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1])

path = sys.argv[1]
for where in sys.argv[2:]:
    pid = os.fork()
    if pid == 0:
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            before = kib("VmRSS:")
            model = torch.jit.load(path, map_location=where)
            kept = kib("VmRSS:") - before
            peak = kib("VmHWM:") - before
            data = sum(p.untyped_storage().nbytes() for p in model.parameters() if not p.is_meta)
            meta = all(p.is_meta for p in model.parameters())
            print(json.dumps({"where": where, "peak_kib": peak, "kept_kib": kept, "data_bytes": data,
                              "all_meta": meta}), flush=True)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
'''


@dataclass(frozen=True)
class LoadMemory:
    """One load of a file: how far resident memory rose (``peak_mb``), what it still held after (``kept_mb``),
    the bytes of parameter data the loaded model holds, and whether every parameter is a meta tensor."""
    where: str
    peak_mb: float
    kept_mb: float
    data_bytes: int
    all_meta: bool

    def __str__(self):
        return (f"map_location={self.where!r}: memory rose by {self.peak_mb:.0f} MB at the peak, "
                f"{self.kept_mb:.0f} MB still held after the load · parameter data held: {self.data_bytes / 2**20:.0f} MB")


def measure_load_memory(path, locations=("meta", "cpu"), timeout: float = 120) -> dict:
    """Load the TorchScript file ``path`` once per ``map_location`` in ``locations``, each in its own process.

    Returns ``{location: LoadMemory}``. Linux only: it reads the kernel's per-process memory counters.
    """
    if not isinstance(path, (str, Path)) or not Path(path).is_file():
        raise FileNotFoundError(f"measure_load_memory needs the path of a saved TorchScript file, got {path!r}")
    if isinstance(locations, str):
        locations = [locations]
    if not all(isinstance(w, str) for w in locations) or not locations:
        raise TypeError("measure_load_memory(locations=...) takes device names as strings, e.g. ('meta', 'cpu')")
    if not Path("/proc/self/clear_refs").exists():
        raise OSError("measure_load_memory reads Linux's /proc memory counters, which this system does not have")
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(Path(path).resolve()), *locations],
                          capture_output=True, text=True, timeout=timeout)
    found = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            found[row["where"]] = LoadMemory(row["where"], row["peak_kib"] / 1024, row["kept_kib"] / 1024,
                                             row["data_bytes"], row["all_meta"])
    missing = [w for w in locations if w not in found]
    if missing:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise RuntimeError(f"loading with map_location={missing[0]!r} failed in the measuring process: {last}")
    return found
