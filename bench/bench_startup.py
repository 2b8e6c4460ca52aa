"""Benchmark: start-up time and peak memory of the table commands (target: answer in under 0.3 s).

Each command runs as a fresh process, interleaved with the others and with a bare ``python -c pass`` (the floor
any command pays), ``--reps`` times; reported per command: median wall seconds, the ratio to the bare
interpreter measured in the same rounds, and the peak RSS of the child (``ru_maxrss``), plus whether torch,
pandas or Ray were imported, and where the start-up goes: the import time of each package
(``python -X importtime``, one extra run: self times summed per top-level package). Needs the NB201
table imported for ``arch`` (``wsbench data import ../shared/data``).
Writes bench/results/cli_startup.json with machine info.
Usage: ``python bench/bench_startup.py [--reps 7] [--alt LABEL=DIR]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from importlib.metadata import version
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


def _one(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=env)
    seconds = time.perf_counter() - start
    return seconds, max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)


def _import_costs(cmd: list[str], top: int = 8) -> dict[str, float]:
    """Import seconds of the ``top`` costliest distributions of one run (``-X importtime``): the self time of
    every module summed by its top-level package, so numpy imported by pyarrow counts as numpy."""
    out = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], capture_output=True, text=True, check=False)
    costs: dict[str, float] = {}
    for line in out.stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not line.startswith("import time:") or parts[1].strip() == "cumulative":
            continue
        root = parts[2].strip().split(".")[0]
        costs[root] = costs.get(root, 0.0) + int(parts[0].split(":")[1]) / 1e6
    return dict(sorted(costs.items(), key=lambda kv: -kv[1])[:top])


def _rss(cmd: list[str]) -> int:
    """Peak RSS (kB) of one run, measured in a fresh wrapper so earlier children do not mask it."""
    code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
            "stderr=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, *cmd], capture_output=True, text=True, check=False)
    return int(out.stdout.strip() or 0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--alt", metavar="LABEL=DIR", default=None,
                    help="also time every wsbench command with DIR first on PYTHONPATH (e.g. another typer "
                         "installed with pip --target DIR), interleaved, as 'LABEL: command'")
    args = ap.parse_args()
    alt_env = None
    if args.alt:
        label, _, folder = args.alt.partition("=")
        alt_env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [folder, os.environ.get("PYTHONPATH")]))}
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    alt: dict[str, list[float]] = {name: [] for name in COMMANDS if alt_env and "wsbench" in name}
    for _ in range(args.reps):  # interleaved rounds: every command sees the same machine load
        for name, cmd in COMMANDS.items():
            times[name].append(_one(cmd)[0])
            if name in alt:
                alt[name].append(_one(cmd, alt_env)[0])
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
                      "peak_rss_mb": _rss(cmd) / 1024.0, "heavy_modules_imported": modules,
                      "import_s": {k: round(v, 4) for k, v in _import_costs(cmd).items()}}
        print(f"{name:<26} {med:6.3f} s (x{med / floor:4.1f} bare python)  {rows[name]['peak_rss_mb']:6.1f} MB  "
              f"imports: {' '.join(modules) or '-'}", flush=True)
        print("    import s:", ", ".join(f"{k} {v:.3f}" for k, v in rows[name]["import_s"].items()), flush=True)
    alt_rows = {f"{label}: {name}": {"median_s": statistics.median(v), "over_this": statistics.median(
        a / b for a, b in zip(v, times[name], strict=True))} for name, v in alt.items()} if alt else {}
    for name, row in alt_rows.items():
        print(f"{name:<26} {row['median_s']:6.3f} s (x{row['over_this']:4.2f} of this environment, per round)")
    libs = {lib: version(lib) for lib in ("typer", "click", "rich", "pydantic", "numpy", "pyarrow")}
    write_json(OUT, {"reps": args.reps, "target_s": 0.3, "commands": rows, "alternative": alt_rows, "libraries": libs,
                     "machine": machine_info()})
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
