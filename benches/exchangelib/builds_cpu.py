"""CPU of `calrep run` for one or more calrep builds, side by side: each
round runs every build once, in turn, each against a fresh `calrep sim`
process, so the builds share the machine's state of the moment. This is
how one change at a time is measured (BENCHMARKS.md, issue 18).

The run is the full sync of `full_sync.py` (a "Default" definition over
the demo group) into a fresh SQLite replica, read through the simulator's
EWS face or its Microsoft Graph face. CPU is user + system time of the
`calrep run` child. Usage:

    python benches/exchangelib/builds_cpu.py BUILD[,BUILD...] \\
        [--mailboxes 50] [--rounds 7] [--concurrency 1,8] [--face ews|graph]

Prints, per build and concurrency, the minimum and the median over the
rounds, and every run sorted. Run it with the exchangelib venv's Python:
it reuses `full_sync.py`'s simulator and EWS run, which imports exchangelib.
"""

from __future__ import annotations

import argparse
import re
from typing import Dict, List, Tuple

from full_sync import Sim, calrep_run, calrep_sync


def graph_sync(calrep: str, sim: Sim, concurrency: int) -> Tuple[int, float]:
    """`calrep run` over the simulator's Graph face; (items, CPU seconds)."""
    app = re.search(r'OAuth app (\S+) / secret "([^"]+)"', sim.banner)
    authority = re.search(r"authority (http://\S+),", sim.banner)
    graph = re.search(r"Microsoft Graph at (http://\S+)", sim.banner)
    assert app and authority and graph, sim.banner
    site = (
        'directory = "graph"\n'
        f'graph = {{ tenant = "sim.onmicrosoft.com", authority = "{authority.group(1)}", '
        f'url = "{graph.group(1)}", client_id = "{app.group(1)}", secret_file = "secret", '
        f"concurrency = {concurrency} }}"
    )
    return calrep_run(calrep, sim, concurrency, site, app.group(2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("builds", help="calrep binaries, comma-separated")
    parser.add_argument("--mailboxes", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--concurrency", default="1,8")
    parser.add_argument("--face", choices=("ews", "graph"), default="ews")
    args = parser.parse_args()
    builds = args.builds.split(",")
    levels = [int(c) for c in args.concurrency.split(",")]
    sync = calrep_sync if args.face == "ews" else graph_sync
    runs: Dict[Tuple[str, int], List[float]] = {(b, c): [] for b in builds for c in levels}
    items: Dict[Tuple[str, int], int] = {}
    for _ in range(args.rounds):
        for build in builds:
            for level in levels:
                # The first build serves: the simulator is the same for all.
                sim = Sim(builds[0], args.mailboxes)
                try:
                    items[(build, level)], cpu = sync(build, sim, level)
                finally:
                    sim.stop()
                runs[(build, level)].append(cpu * 1000)
    if len(set(items.values())) != 1:
        raise SystemExit(f"the builds replicated different item counts: {items}")
    print(f"calrep run, {args.face}, {args.mailboxes} mailboxes, {args.rounds} rounds; CPU in ms")
    print("| build | concurrency | items | min | median | runs |")
    print("|---|---|---|---|---|---|")
    for (build, level), cpus in runs.items():
        cpus.sort()
        print(
            f"| {build} | {level} | {items[(build, level)]} | {cpus[0]:.1f} | "
            f"{cpus[len(cpus) // 2]:.1f} | {' '.join(f'{x:.1f}' for x in cpus)} |"
        )


if __name__ == "__main__":
    main()
