"""debut.core.memory: the pipeline's peak-RSS figure."""
import time

from debut.core.memory import RssSampler, gib


def test_rss_sampler_sees_an_allocation_and_windows_restart():
    with RssSampler(interval_s=0.05) as rss:
        base = rss.sample()
        base_pss = rss.window_peak_pss
        block = bytearray(200 * 2 ** 20)  # 200 MiB, touched so it is resident
        for i in range(0, len(block), 4096):
            block[i] = 1
        # one sample now: the background thread's samples of a large process tree (the suite's
        # Spark JVM and its workers) can take longer than any fixed sleep
        rss.sample()
        during, during_pss = rss.peak, rss.peak_pss
        del block
        time.sleep(0.2)
        rss.mark()
    assert during - base >= 190 * 2 ** 20
    assert rss.peak >= during
    assert rss.window_peak < during  # the window started after the block was freed
    assert during_pss - base_pss >= 190 * 2 ** 20   # a private block counts fully in PSS too
    assert rss.peak_pss <= rss.peak


def test_gib_formats_one_decimal():
    assert gib(3 * 2 ** 30) == "3.0 GB"
    assert gib(1.25 * 2 ** 30) == "1.2 GB"


def test_pss_is_read_only_when_rss_grows_by_a_step_or_time_passes(monkeypatch):
    import psutil
    reads = []
    real = psutil.Process.memory_full_info

    def counting(self):
        reads.append(self.pid)
        return real(self)

    monkeypatch.setattr(psutil.Process, "memory_full_info", counting)
    rss = RssSampler(pss_step=64 * 2 ** 20, pss_every_s=3600)  # not started: samples by hand
    rss.sample()
    first = len(reads)
    assert first >= 1  # the first sample always reads PSS
    for _ in range(5):
        rss.sample()
    assert len(reads) == first  # no growth, no time passed: smaps not walked again
    block = bytearray(100 * 2 ** 20)
    for i in range(0, len(block), 4096):
        block[i] = 1
    rss.sample()
    assert len(reads) > first  # grew by more than the step
    assert rss.peak_pss >= 100 * 2 ** 20
    del block


def test_a_fork_that_has_not_exec_d_is_not_counted_twice():
    import os
    block = bytearray(200 * 2 ** 20)
    for i in range(0, len(block), 4096):
        block[i] = 1
    rss = RssSampler()
    before = rss.sample()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:   # the child: the parent's pages, no exec
        os.close(r)
        os.write(w, b"x")
        time.sleep(1.0)
        os._exit(0)
    try:
        os.close(w)
        os.read(r, 1)
        during = rss.sample()
    finally:
        os.waitpid(pid, 0)
    assert during < before + 100 * 2 ** 20   # the child's 200 MiB are the parent's
    del block
