"""infdepth.device: the thread map shared by the side-by-side draws and solves."""

import threading

from infdepth.device import thread_map


def test_thread_map_keeps_the_order_and_uses_the_threads_it_is_given():
    seen = set()

    def square(x):
        seen.add(threading.get_ident())
        return x * x

    assert thread_map(square, range(6), 1) == [0, 1, 4, 9, 16, 25]
    assert seen == {threading.get_ident()}                 # one lane: this thread
    seen.clear()
    assert thread_map(square, iter(range(6)), 3) == [0, 1, 4, 9, 16, 25]
    assert threading.get_ident() not in seen               # a pool did the work
    assert thread_map(square, [], 4) == [] and thread_map(square, [7], 4) == [49]
