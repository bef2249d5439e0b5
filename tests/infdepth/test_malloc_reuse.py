"""infdepth.malloc_reuse: freed blocks reused inside the block, free pages handed back after."""

import json
import subprocess
import sys
import textwrap

import pytest

from infdepth import malloc_reuse

glibc_only = pytest.mark.skipif(not malloc_reuse.available(), reason="allocator is not glibc's")

# A fresh process (the thresholds are process-wide and stay set): page faults of 12 rounds of
# malloc + touch + free of a 96 MiB block (above glibc's adaptive 32 MiB cap) outside and then
# inside the block; the resident size around a block that frees 384 MiB and ends in an
# exception (more than TRIM_ABOVE_BYTES free: handed back), then around one that frees 96 MiB
# (kept for the next point).
PROBE = textwrap.dedent("""
    import ctypes, json, resource
    from infdepth.malloc_reuse import TRIM_ABOVE_BYTES, reuse_freed_memory
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    SIZE, BIG, ROUNDS = 96 << 20, 384 << 20, 12
    assert SIZE < TRIM_ABOVE_BYTES < BIG

    def touch(size):
        p = libc.malloc(size)
        ctypes.memset(p, 1, size)
        return p

    def rounds():
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(ROUNDS):
            libc.free(touch(SIZE))
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()

    outside = rounds()
    with reuse_freed_memory():
        inside = rounds()
    before = rss()
    try:
        with reuse_freed_memory():
            p = touch(BIG)
            held = rss()
            libc.free(p)
            raise RuntimeError
    except RuntimeError:
        pass
    after = rss()
    with reuse_freed_memory():
        libc.free(touch(SIZE))
    kept = rss()
    print(json.dumps({"outside": outside, "inside": inside, "before": before, "held": held,
                      "after": after, "kept": kept, "pages": SIZE // resource.getpagesize()}))
""")


@glibc_only
def test_freed_blocks_are_reused_and_handed_back_after():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         timeout=120, check=True)
    r = json.loads(out.stdout)
    pages = r["pages"]
    # outside: every round faults the whole block in again; inside: only the first one
    assert r["outside"] >= 0.8 * 12 * pages
    assert r["inside"] <= 2.5 * pages
    # a large free heap is handed back on leaving (after an exception too), a small one kept
    assert r["held"] - r["before"] >= 0.8 * ((384 - 96) << 20)
    assert r["after"] - r["before"] <= 16 << 20
    assert r["kept"] - r["after"] >= 0.8 * (96 << 20)


def test_off_glibc_does_nothing(monkeypatch):
    monkeypatch.setattr(malloc_reuse, "_libc", None)
    monkeypatch.setattr(malloc_reuse.platform, "libc_ver", lambda: ("", ""))
    assert not malloc_reuse.available()
    with malloc_reuse.reuse_freed_memory():
        pass
    assert malloc_reuse._libc is None
