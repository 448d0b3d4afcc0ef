"""Peak resident memory of this process and its children (in local mode the driver JVM,
which also holds the executors, and the Python workers), sampled in a background thread."""
from __future__ import annotations

import threading


class RssSampler:
    """``with RssSampler() as rss: ...`` then ``rss.peak`` (bytes); ``mark()`` starts a new
    window whose peak is ``rss.window_peak`` (per stage), the overall peak keeps counting."""

    def __init__(self, interval_s: float = 0.5) -> None:
        import psutil
        self.proc, self.interval = psutil.Process(), interval_s
        self.peak = self.window_peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True, name="debut-rss")

    def sample(self) -> int:
        import psutil
        total = 0
        try:
            procs = [self.proc, *self.proc.children(recursive=True)]
        except psutil.Error:
            procs = [self.proc]
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:  # a worker that exited between the listing and the read
                pass
        self.peak = max(self.peak, total)
        self.window_peak = max(self.window_peak, total)
        return total

    def mark(self) -> None:
        self.window_peak = self.sample()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> "RssSampler":
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()
        self.sample()


def gib(n_bytes: float) -> str:
    return f"{n_bytes / 2 ** 30:.1f} GB"
