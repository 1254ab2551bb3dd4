"""Run a command as a fresh process and watch it: wall time and peak anonymous memory.

Owns: ``run_watched(cmd) -> Run``. Wall time runs from just before the fork until
``wait4`` returns (the process has exited). A thread samples ``RssAnon`` in
``/proc/<pid>/status`` every ``SAMPLE_S`` while the process runs; its maximum is the
peak anonymous memory (pages of a memory-mapped file are the page cache's, not
counted). ``VmHWM`` (peak resident set, which does count mapped file pages) is
sampled the same way for context. (``wait4``'s ``ru_maxrss`` cannot be used: Linux
carries the parent's high-water mark over the vfork + exec into the child's.)
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SAMPLE_S = 0.005
TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Run:
    returncode: int
    wall_s: float
    peak_anon_bytes: int
    n_samples: int
    hwm_bytes: int  # VmHWM: peak resident set, including file-backed pages of memory maps
    stderr: str


def read_memory(pid: int) -> tuple[int, int] | None:
    """(RssAnon, VmHWM) of ``pid`` in bytes, or None once it is gone or a zombie."""
    fields = {}
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith((b"RssAnon:", b"VmHWM:")):
                    fields[line[:5]] = int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return None
    if len(fields) < 2:
        return None
    return fields[b"RssAn"], fields[b"VmHWM"]


class _Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.hwm = 0
        self.n = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            values = read_memory(self.pid)
            if values is not None:
                self.peak = max(self.peak, values[0])
                self.hwm = max(self.hwm, values[1])
                self.n += 1
            self.stop.wait(SAMPLE_S)


def run_watched(cmd: list[str], *, cwd: Path, env: dict[str, str], timeout: float = TIMEOUT_S):
    """Run ``cmd`` to completion; see the module doc for what is measured."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    sampler = _Sampler(proc.pid)
    sampler.start()
    # stderr goes to a pipe: drain it in a thread so that a chatty child never blocks
    chunks: list[bytes] = []
    drain = threading.Thread(target=lambda: chunks.append(proc.stderr.read()), daemon=True)
    drain.start()
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        _, status, _ = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    wall = time.perf_counter() - start
    sampler.stop.set()
    sampler.join()
    drain.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stderr.close()
    return Run(
        returncode=proc.returncode,
        wall_s=wall,
        peak_anon_bytes=sampler.peak,
        n_samples=sampler.n,
        hwm_bytes=sampler.hwm,
        stderr=b"".join(chunks).decode(errors="replace"),
    )
