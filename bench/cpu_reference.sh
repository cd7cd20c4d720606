#!/usr/bin/env bash
# Time a fixed single-core loop (10 million additions in CPython, best of three) and print
# the seconds. bench/run.sh records it above its figures, so that runs on different days or
# machines can be compared (ADR 0023): the same binary's figures have differed by up to two
# times between machines of one kind.
python3 - <<'PY'
import time
best = None
for _ in range(3):
    t = time.perf_counter()
    s = 0
    for i in range(10_000_000):
        s += i
    d = time.perf_counter() - t
    best = d if best is None else min(best, d)
print(f"10M-step Python loop {best:.2f} s (best of 3; lower is faster)")
PY
