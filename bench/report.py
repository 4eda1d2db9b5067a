"""Markdown tables from one run's results (the JSON written to bench/results/)."""

from __future__ import annotations

from typing import Any

NONE = "n/a"
QUERIES = {
    "near_me": "near me (1 SKU, 30 km)",
    "basket_near": "basket ATP (5 lines, per location within 30 km)",
    "basket_all": "basket ATP (5 lines, at all 200 locations)",
}
CASES = {
    "spread": "spread (random SKU/store)",
    "hot": "hot (1 SKU at 1 store)",
    "hot_restock": "hot + 1 restocking client",
}


def _met(ok: bool | None) -> str:
    if ok is None:
        return NONE
    return "yes" if ok else "**no**"


def _ms(numbers: dict[str, Any] | None, key: str) -> str:
    if not numbers or key not in numbers:
        return NONE
    return f"{numbers[key]:.2f}"


def _pct(ratio: float | None) -> str:
    return NONE if ratio is None else f"{ratio * 100:.0f} %"


def availability(by_backend: dict[str, Any]) -> list[str]:
    lines = [
        "| backend | query | service p50 (ms) | service p99 (ms) | HTTP p50 (ms) | "
        "HTTP p99 (ms) | target: service p99 ≤ 5 ms |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for backend, result in by_backend.items():
        for key, label in QUERIES.items():
            service, http = result["service"].get(key), result["http"].get(key)
            met = service["p99_ms"] <= result["target_service_p99_ms"] if service else None
            lines.append(
                f"| {backend} | {label} | {_ms(service, 'p50_ms')} | {_ms(service, 'p99_ms')} "
                f"| {_ms(http, 'p50_ms')} | {_ms(http, 'p99_ms')} | {_met(met)} |"
            )
    return lines


def reservations(by_backend: dict[str, Any]) -> list[str]:
    lines = [
        "| backend | case | omnicanal service (res/s) | raw-SQL ceiling (res/s) | ratio "
        "| service p50 / p99 (ms) | ceiling p50 / p99 (ms) | HTTP (res/s) | HTTP / ceiling "
        "| target: ratio ≥ 50 % |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for backend, result in by_backend.items():
        for key, label in CASES.items():
            case = result["cases"].get(key)
            if case is None:
                continue
            service, ceiling, http = case["service"], case["ceiling"], case.get("http")
            s_lat, c_lat = service.get("latency"), ceiling.get("latency")
            restock = ""
            if "restock" in service:
                restock = (
                    f" (+ {service['restock']['per_second']:.0f} / "
                    f"{ceiling['restock']['per_second']:.0f} restocks/s)"
                )
            ratio = case["ratio"]
            http_rate = f"{http['per_second']:.0f}" if http else NONE
            lines.append(
                f"| {backend} | {label}{restock} | {service['per_second']:.0f} "
                f"| {ceiling['per_second']:.0f} | {_pct(ratio)} "
                f"| {_ms(s_lat, 'p50_ms')} / {_ms(s_lat, 'p99_ms')} "
                f"| {_ms(c_lat, 'p50_ms')} / {_ms(c_lat, 'p99_ms')} "
                f"| {http_rate} "
                f"| {_pct(case.get('http_ratio'))} "
                f"| {_met(None if ratio is None else ratio >= result['target_ratio'])} |"
            )
        errors = [
            f"{key}/{part}: {numbers['errors']} errors ({numbers.get('first_error')})"
            for key, case in result["cases"].items()
            for part, numbers in case.items()
            if isinstance(numbers, dict) and numbers.get("errors")
        ]
        lines += [f"\n{backend} errors: {e}" for e in errors]
    return lines


def memory(by_backend: dict[str, Any]) -> list[str]:
    lines = [
        "| backend | RSS after start-up (MB) | peak RSS under load (MB) | requests/s served "
        "| request p50 / p99 (ms) | target: peak ≤ 500 MB |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for backend, result in by_backend.items():
        req = result["requests"]
        lat = req.get("latency")
        lines.append(
            f"| {backend} | {result['idle_rss_mb']:.0f} | {result['peak_rss_mb']:.0f} "
            f"| {req['per_second']:.0f} | {_ms(lat, 'p50_ms')} / {_ms(lat, 'p99_ms')} "
            f"| {_met(result['peak_rss_mb'] <= result['target_mb'])} |"
        )
    return lines


def identify(by_backend: dict[str, Any]) -> list[str]:
    lines = [
        "| backend | load | identifiers/s | calls/s | time to unification, recorded p50 / p99 "
        "(ms) | client-side call p50 / p99 (ms) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    outcomes = []
    for backend, result in by_backend.items():
        for key, label in (("saturated", "flat out"), ("half_load", "paced at half that")):
            phase = result[key]
            rec = phase["time_to_unification_recorded"]
            cli = phase["time_to_unification_client"]
            lines.append(
                f"| {backend} | {label} | {phase['identifiers_per_second']:.0f} "
                f"| {phase['calls_per_second']:.0f} "
                f"| {_ms(rec, 'p50_ms')} / {_ms(rec, 'p99_ms')} "
                f"| {_ms(cli, 'p50_ms')} / {_ms(cli, 'p99_ms')} |"
            )
        out = ", ".join(f"{n} {kind}" for kind, n in result["outcomes_whole_run"].items())
        outcomes.append(f"- {backend} outcomes over the run: {out}")
    return [*lines, "", *outcomes]


RENDER = {
    "availability": availability,
    "reservations": reservations,
    "memory": memory,
    "identify": identify,
}


def markdown(run: dict[str, Any]) -> str:
    m = run["machine"]
    out = [
        f"Run of {run['started_at']}: `{run['command']}`",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, {m['os']}; Python "
        f"{m['python']}, SQLite {m['sqlite']}, PostgreSQL {run.get('postgres') or NONE}. "
        f"Load average at start {m['load_average']}, at end {run.get('load_average_end')}.",
    ]
    code = run.get("code")
    if code:
        out += [
            "",
            f"Code: omnicanal from `{code['omnicanal_source']}`, repository HEAD "
            f"`{(code['repository_head'] or 'unknown')[:12]}`.",
        ]
    for scenario, by_backend in run["results"].items():
        out += ["", f"### {scenario}", "", *RENDER[scenario](by_backend), ""]
        for backend, result in by_backend.items():
            c = result.get("conditions")
            if c:
                out.append(
                    f"- {backend}: CPUs {c['cpu_busy_before']:.0%} busy just before; load "
                    f"average {c['load_average_before'][0]} before, "
                    f"{c['load_average_after'][0]} after"
                )
    return "\n".join(out) + "\n"
