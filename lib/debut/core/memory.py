"""Peak resident memory of this process and its children (in local mode the driver JVM,
which also holds the executors, and the Python workers), sampled in a background thread.

Two sums: RSS, each process's resident set (pages that forked Python workers share are
counted once per process, so it overstates), and PSS, each shared page split between the
processes that map it (what the process tree holds; Linux only, else equal to RSS)."""
from __future__ import annotations

import threading


class RssSampler:
    """``with RssSampler() as rss: ...`` then ``rss.peak`` (bytes, RSS summed) and ``rss.peak_pss``;
    ``mark()`` starts a new window whose peaks are ``rss.window_peak`` / ``rss.window_peak_pss``
    (per stage), the overall peaks keep counting."""

    def __init__(self, interval_s: float = 0.5) -> None:
        import psutil
        self.proc, self.interval = psutil.Process(), interval_s
        self.peak = self.window_peak = self.peak_pss = self.window_peak_pss = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True, name="debut-rss")

    def sample(self) -> int:
        import psutil
        total = pss = 0
        try:
            procs = [self.proc, *self.proc.children(recursive=True)]
        except psutil.Error:
            procs = [self.proc]
        for p in procs:
            try:
                info = p.memory_full_info()
            except psutil.AccessDenied:
                info = None
            except psutil.Error:  # a worker that exited between the listing and the read
                continue
            try:
                info = info or p.memory_info()
            except psutil.Error:
                continue
            total += info.rss
            pss += getattr(info, "pss", info.rss)
        self.peak = max(self.peak, total)
        self.window_peak = max(self.window_peak, total)
        self.peak_pss = max(self.peak_pss, pss)
        self.window_peak_pss = max(self.window_peak_pss, pss)
        return total

    def mark(self) -> None:
        self.window_peak = self.window_peak_pss = 0
        self.sample()

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
