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
