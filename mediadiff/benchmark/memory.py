"""Peak memory: process RSS high-water mark on the CPU (/proc, no psutil), allocator peak on CUDA."""

from __future__ import annotations

from pathlib import Path

import torch

MIB = 2**20


def _status_kib(field: str) -> int | None:
    """A `VmXXX:` line of /proc/self/status in KiB, or None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_mib() -> float | None:
    """Resident memory of this process now."""
    kib = _status_kib("VmRSS")
    return None if kib is None else kib / 1024


def trim_heap() -> None:
    """Give freed heap pages back to the OS (glibc malloc_trim) so RSS counts live memory only."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def reset_peak(device: torch.device) -> None:
    """Start a new peak: the CUDA allocator's counter, or the kernel's RSS high-water mark (clear_refs 5)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        return
    trim_heap()
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # not Linux, or not allowed: the peak then covers the whole process life


def peak_mib(device: torch.device) -> float | None:
    """The peak since reset_peak: torch.cuda.max_memory_allocated on CUDA, VmHWM on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) / MIB
    kib = _status_kib("VmHWM")
    return None if kib is None else kib / 1024


def in_use_mib(device: torch.device) -> float | None:
    """Memory in use now: allocated tensors on CUDA, RSS on the CPU."""
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device) / MIB
    return rss_mib()


class TensorPeak:
    """Peak bytes of tensors created inside the block (any device): a CPU stand-in for max_memory_allocated.

    Counts each storage once while any tensor on it is alive; inputs made before the block are not counted.
    """

    def __init__(self):
        from torch.utils._python_dispatch import TorchDispatchMode

        tracker = self

        class _Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                for t in torch.utils._pytree.tree_leaves(out):
                    if isinstance(t, torch.Tensor):
                        tracker._track(t)
                return out

        self.mode = _Mode()
        self.live: dict[int, list[int]] = {}  # data_ptr -> [bytes, tensors alive]
        self.current = self.peak = 0

    def _track(self, t: torch.Tensor) -> None:
        import weakref

        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr == 0:
            return
        if ptr not in self.live:
            self.live[ptr] = [storage.nbytes(), 0]
            self.current += storage.nbytes()
            self.peak = max(self.peak, self.current)
        self.live[ptr][1] += 1
        weakref.finalize(t, self._release, ptr)

    def _release(self, ptr: int) -> None:
        entry = self.live.get(ptr)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            self.current -= entry[0]
            del self.live[ptr]

    def __enter__(self) -> "TensorPeak":
        self.mode.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.mode.__exit__(*exc)

    @property
    def peak_mib(self) -> float:
        return self.peak / MIB
