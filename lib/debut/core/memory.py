"""Peak resident memory of this process and its children (in local mode the driver JVM,
which also holds the executors, and the Python workers), sampled in a background thread.

Two sums: RSS, each process's resident set (pages that forked Python workers share are
counted once per process, so it overstates), and PSS, each shared page split between the
processes that map it (what the process tree holds; Linux only, else equal to RSS).

A child that has forked but not yet exec'd is left out (`_unexeced_fork`).

RSS is cheap to read (/proc/PID/statm); PSS is not: the kernel walks every mapping of the
process (/proc/PID/smaps), about 8 ms for a small driver JVM and more as its heap grows, and
sampling it twice a second cost the demo about a tenth of a core in system time. So PSS is
read only when the RSS sum has grown by ``pss_step`` bytes since the last PSS reading (or
fallen: the next growth is measured from there), or ``pss_every_s`` has passed; the PSS peak
can miss at most a step's growth or a few seconds' swing."""
from __future__ import annotations

import threading
import time


class RssSampler:
    """``with RssSampler() as rss: ...`` then ``rss.peak`` (bytes, RSS summed) and ``rss.peak_pss``;
    ``mark()`` starts a new window whose peaks are ``rss.window_peak`` / ``rss.window_peak_pss``
    (per stage), the overall peaks keep counting."""

    def __init__(self, interval_s: float = 0.5, pss_step: int = 32 * 2 ** 20, pss_every_s: float = 5.0) -> None:
        import psutil
        self.proc, self.interval = psutil.Process(), interval_s
        self.pss_step, self.pss_every_s = pss_step, pss_every_s
        self.peak = self.window_peak = self.peak_pss = self.window_peak_pss = 0
        self._pss_rss, self._pss_at = None, 0.0  # RSS sum and time of the last PSS reading
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True, name="debut-rss")

    def sample(self, force_pss: bool = False) -> int:
        import psutil
        try:
            procs = [self.proc, *self.proc.children(recursive=True)]
        except psutil.Error:
            procs = [self.proc]
        mem = {}
        for p in procs:
            try:
                mem[p.pid] = (p, p.memory_info())
            except psutil.Error:  # a worker that exited between the listing and the read
                continue
        rss = [(p, m.rss) for p, m in mem.values() if not _unexeced_fork(p, m, mem)]
        total = sum(r for _, r in rss)
        self.peak = max(self.peak, total)
        self.window_peak = max(self.window_peak, total)
        now = time.monotonic()
        if self._pss_rss is not None:
            self._pss_rss = min(self._pss_rss, total)
        if (force_pss or self._pss_rss is None or total >= self._pss_rss + self.pss_step
                or now - self._pss_at >= self.pss_every_s):
            pss = sum(self._pss(p, r) for p, r in rss)
            self._pss_rss, self._pss_at = total, now
            self.peak_pss = max(self.peak_pss, pss)
            self.window_peak_pss = max(self.window_peak_pss, pss)
        return total

    @staticmethod
    def _pss(p, rss: int) -> int:
        """The process's PSS; its RSS where smaps cannot be read (not Linux, no permission)."""
        import psutil
        try:
            return getattr(p.memory_full_info(), "pss", rss)
        except psutil.Error:
            return rss

    def mark(self) -> None:
        self.window_peak = self.window_peak_pss = 0
        self.sample(force_pss=True)

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
        self.sample(force_pss=True)


FORK_AGE_S = 2.0


def _unexeced_fork(p, m, mem) -> bool:
    """A child seconds old that still runs its parent's program in its parent's address space
    (the same executable, the same virtual size): a (v)fork about to exec, as the JVM makes for
    every process it starts. Its resident pages are its parent's, so it is not counted: counting it
    doubled the driver JVM's RSS for a few milliseconds and set the demo's peak."""
    import psutil
    try:
        parent = mem.get(p.ppid())
        if parent is None or m.vms != parent[1].vms:
            return False
        return time.time() - p.create_time() < FORK_AGE_S and p.exe() == parent[0].exe()
    except psutil.Error:
        return False


def gib(n_bytes: float) -> str:
    return f"{n_bytes / 2 ** 30:.1f} GB"
