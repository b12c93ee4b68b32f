"""nbclient's NotebookClient, reading the kernel's replies in one-second slices (the course benchmark, robustness tests).

nbclient waits for a cell's reply with one long poll of an asyncio ZMQ socket. Now and then that poll is not woken
when the reply arrives (a widget cell made it likelier here; jupyter/nbclient#312 reports the same), and the run
sits idle until the cell's timeout, with the kernel long done. Polling in short slices looks again every second,
so a missed wake-up costs a second instead of minutes. Each message read more than two seconds after the kernel
sent it is logged, so that a recovered wake-up shows.
"""
import datetime
import sys
import time
from queue import Empty

from jupyter_core.utils import run_sync
from nbclient import NotebookClient

SLICE_SECONDS = 1.0
LATE_SECONDS = 2.0


def read_in_slices(channel, name, log=sys.stderr):
    """Make ``channel.get_msg(timeout)`` poll at most ``SLICE_SECONDS`` at a time until its timeout."""
    one_read = channel.get_msg

    async def get_msg(timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = SLICE_SECONDS if deadline is None else min(SLICE_SECONDS, max(0.0, deadline - time.monotonic()))
            try:
                msg = await one_read(timeout=left)
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise
                continue
            sent = msg.get("header", {}).get("date")
            if isinstance(sent, datetime.datetime) and sent.tzinfo is not None:
                late = (datetime.datetime.now(datetime.timezone.utc) - sent).total_seconds()
                if late > LATE_SECONDS:
                    print(f"steady_client: {name} {msg.get('msg_type')} read {late:.1f} s after the kernel sent it",
                          file=log, flush=True)
            return msg

    channel.get_msg = get_msg


class SteadyNotebookClient(NotebookClient):
    """A NotebookClient whose shell and iopub channels are read in slices (see the module's docstring)."""

    async def async_start_new_kernel_client(self):
        client = await super().async_start_new_kernel_client()
        read_in_slices(client.shell_channel, "shell")
        read_in_slices(client.iopub_channel, "iopub")
        return client

    start_new_kernel_client = run_sync(async_start_new_kernel_client)
