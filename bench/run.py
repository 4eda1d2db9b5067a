"""``python -m bench.run [--backend sqlite|postgres|both] [--only NAME] [--quick]``

Runs the scenarios, prints Markdown tables, writes the raw JSON (and the tables) to
``bench/results/``. Every number of one invocation comes from that invocation.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench import availability, identify, memory, reservations
from bench.common import (
    RESULTS,
    code_under_test,
    cpu_busy,
    log,
    machine,
    pg_reachable,
    postgres_version,
    save,
    wait_for_quiet,
)
from bench.report import markdown

Scenario = Callable[..., dict[str, Any]]
SCENARIOS: dict[str, Scenario] = {
    "availability": availability.run,
    "reservations": reservations.run,
    "memory": memory.run,
    "identify": identify.run,
}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(SCENARIOS),
        metavar="NAME",
        help=f"run only this scenario (repeatable): {', '.join(SCENARIOS)}",
    )
    parser.add_argument("--quick", action="store_true", help="fewer samples, shorter loads")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each scenario, wait up to this long for the CPUs to be under 25%% busy",
    )
    parser.add_argument(
        "--no-http-reservations",
        action="store_true",
        help="skip the HTTP part of the reservations scenario",
    )
    return parser.parse_args(argv)


def backends(choice: str) -> list[str]:
    wanted = ["sqlite", "postgres"] if choice == "both" else [choice]
    if "postgres" in wanted and not pg_reachable():
        if choice == "postgres":
            sys.exit("PostgreSQL is not reachable (set OMNICANAL_BENCH_PG_URL).")
        log("PostgreSQL is not reachable: SQLite only.")
        wanted.remove("postgres")
    return wanted


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    command = "python -m bench.run " + " ".join(sys.argv[1:] if argv is None else argv)
    chosen = args.only or list(SCENARIOS)
    started = datetime.now(UTC)
    run: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "command": command.strip(),
        "quick": args.quick,
        "machine": machine(),
        "code": code_under_test(),
        "results": {},
    }
    targets = backends(args.backend)
    if "postgres" in targets:
        run["postgres"] = postgres_version()
    for name in chosen:
        for backend in targets:
            log(f"{name} on {backend}{' (quick)' if args.quick else ''}")
            busy = wait_for_quiet(args.wait_quiet) if args.wait_quiet else cpu_busy(2.0)
            options: dict[str, Any] = {"quick": args.quick, "log": log}
            if name == "reservations":
                options["http"] = not args.no_http_reservations
            load_before = [round(x, 2) for x in os.getloadavg()]
            result = SCENARIOS[name](backend, **options)
            result["conditions"] = {
                "cpu_busy_before": busy,
                "load_average_before": load_before,
                "load_average_after": [round(x, 2) for x in os.getloadavg()],
            }
            run["results"].setdefault(name, {})[backend] = result
    run["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    run["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    path = save(stamp, run)
    save("latest", run)
    tables = markdown(run)
    (RESULTS / f"{stamp}.md").write_text(tables)
    print(tables)
    log(f"raw results: {path.relative_to(RESULTS.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
