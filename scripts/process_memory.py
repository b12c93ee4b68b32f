"""How much memory a kernel and the processes it starts hold, each page counted once (course benchmark, hub load test).

A process forked from the waiting torch process (helpers/course/warm_torch.py) shares torch's pages
with it: its resident size counts them again. So, in a kernel's tree:
- the waiting process itself is left out: the hub sizing counts it once per learner, on its own;
- a process forked from it counts its own pages only (USS: what it does not share);
- every other process counts its resident size (RSS), as before.
"""
import psutil


def is_waiting_torch(proc) -> bool:
    """The waiting torch process, or one forked from it (a fork keeps its command line)."""
    try:
        cmdline = proc.cmdline()
    except psutil.Error:
        return False
    return "--serve" in cmdline and any(part.endswith("warm_torch.py") for part in cmdline)


def _parent_is_waiting(proc) -> bool:
    try:
        parent = proc.parent()
    except psutil.Error:
        return False
    return parent is not None and is_waiting_torch(parent)


def own_bytes(proc, *, count_waiting: bool) -> int:
    """Memory ``proc`` adds: RSS, or USS for a fork of the waiting process; the waiting process itself
    counts its RSS if ``count_waiting``, else nothing. 0 for a process that has gone."""
    try:
        if is_waiting_torch(proc):
            if _parent_is_waiting(proc):
                return proc.memory_full_info().uss
            return proc.memory_info().rss if count_waiting else 0
        return proc.memory_info().rss
    except psutil.Error:
        return 0


def tree_bytes(process) -> int:
    """``process`` and its live descendants, without the waiting torch process (counted on its own)."""
    total = own_bytes(process, count_waiting=False)
    try:
        children = process.children(recursive=True)
    except psutil.Error:
        return total
    return total + sum(own_bytes(child, count_waiting=False) for child in children)
