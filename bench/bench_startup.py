"""Benchmark: start-up time and peak memory of the table commands (target: answer in under 0.3 s).

Each command runs as a fresh process, interleaved with the others and with a bare ``python -c pass`` (the floor
any command pays), ``--reps`` times; reported per command: median wall seconds, the ratio to the bare
interpreter measured in the same rounds, and the peak RSS of the child (``ru_maxrss``), plus whether torch,
pandas or Ray were imported. Needs the NB201 table imported for ``arch`` (``wsbench data import ../shared/data``).
Writes bench/results/cli_startup.json with machine info. Usage: ``python bench/bench_startup.py [--reps 7]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from wsbench.atomic import write_json
from wsbench.machine import machine_info

OUT = Path(__file__).resolve().parent / "results" / "cli_startup.json"
ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
COMMANDS: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "wsbench --version": [sys.executable, "-m", "wsbench", "--version"],
    "wsbench arch nb201 ARCH": [sys.executable, "-m", "wsbench", "arch", "nb201", ARCH],
    "wsbench data info": [sys.executable, "-m", "wsbench", "data", "info"],
    "wsbench presets": [sys.executable, "-m", "wsbench", "presets"],
}
PROBE = ("import sys, runpy; sys.argv = ['wsbench', *sys.argv[1:]]\n"
         "try:\n    runpy.run_module('wsbench', run_name='__main__')\nexcept SystemExit:\n    pass\n"
         "print('MODULES', *[m for m in ('torch', 'pandas', 'ray', 'scipy', 'matplotlib') if m in sys.modules])")


def _one(cmd: list[str]) -> tuple[float, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    seconds = time.perf_counter() - start
    return seconds, max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)


def _rss(cmd: list[str]) -> int:
    """Peak RSS (kB) of one run, measured in a fresh wrapper so earlier children do not mask it."""
    code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
            "stderr=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, *cmd], capture_output=True, text=True, check=False)
    return int(out.stdout.strip() or 0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.reps):  # interleaved rounds: every command sees the same machine load
        for name, cmd in COMMANDS.items():
            times[name].append(_one(cmd)[0])
    floor = statistics.median(times["python -c pass"])
    rows = {}
    for name, cmd in COMMANDS.items():
        med = statistics.median(times[name])
        modules: list[str] = []
        if cmd[1:3] == ["-m", "wsbench"]:
            probe = subprocess.run([sys.executable, "-c", PROBE, *cmd[3:]], capture_output=True, text=True,
                                   check=False, env=os.environ)
            line = next((x for x in probe.stdout.splitlines() if x.startswith("MODULES")), "MODULES")
            modules = line.split()[1:]
        rows[name] = {"median_s": med, "min_s": min(times[name]), "over_bare_python": med / floor,
                      "peak_rss_mb": _rss(cmd) / 1024.0, "heavy_modules_imported": modules}
        print(f"{name:<26} {med:6.3f} s (x{med / floor:4.1f} bare python)  {rows[name]['peak_rss_mb']:6.1f} MB  "
              f"imports: {' '.join(modules) or '-'}", flush=True)
    write_json(OUT, {"reps": args.reps, "target_s": 0.3, "commands": rows, "machine": machine_info()})
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
