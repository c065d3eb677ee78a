#!/usr/bin/env python3
"""The one table of `make bench`: every Knify figure of this run next to its baseline from the same run, the goal,
and whether it was met. Reads bench/results/latest.json (knify-bench) and http.json (http_bench.py); writes
summary.json and chart.png (each row's ratio to its baseline against its goal) beside them.

Usage: bench/report.py [--results bench/results]
"""
import argparse
import json
import os
import platform
import subprocess
from datetime import datetime, timezone


def machine():
    cpus = os.cpu_count()
    model = ""
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory = next((int(line.split()[1]) // 1024 for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0)
    engine = subprocess.run(["dockerd", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{cpus} cores ({model}), {memory // 1024} GiB, {platform.system()} {platform.release()}, {engine}"


def rows(latest, http):
    """(measure, knify, baseline, baseline name, ratio, goal, kind): kind 'max' = ratio must stay at or under the
    goal (times), 'min' = at or over (throughput), 'abs' = an absolute bound on the Knify figure."""
    out = []
    for row in latest.get("comparisons", []):
        higher = row.get("higher_is_better", False)
        unit = "/s" if higher else " ms"
        out.append((row["operation"], f"{row['knify_ms']:.1f}{unit}", f"{row['raw_ms']:.1f}{unit}", "", row["ratio"],
                    row.get("goal"), "min" if higher else "max"))
    if http:
        job, inspect = http["get_job"], http["engine_inspect"]
        out.append(("GET /jobs/{id} req/s (wrk, 64 connections)", f"{job['req_per_s']:.0f}",
                    f"{inspect['req_per_s']:.0f} (engine inspect)", "", job["req_per_s"] / inspect["req_per_s"], 15000, "abs-min"))
        out.append(("GET /jobs/{id} p99", f"{job['p99_ms']:.1f} ms", f"{inspect['p99_ms']:.1f} ms", "",
                    job["p99_ms"] / inspect["p99_ms"], 5, "abs-max"))
        sse = http["sse_fan_out"]
        out.append((f"SSE fan-out p99, {sse['clients']} clients", f"{sse['p99_ms']:.1f} ms", "", "", None, 50, "abs-max"))
        if "rss" in http:
            rss = http["rss"]
            out.append((f"orchestrator RSS at {rss['sandboxes']} live sandboxes", f"{rss['rss_mib']:.0f} MiB", "", "",
                        None, 150, "abs-max"))
    return out


def verdict(row, http):
    name, knify, _, _, ratio, goal, kind = row
    if goal is None:
        return ""
    value = float(knify.split()[0].rstrip("/s").replace(",", "")) if kind.startswith("abs") else ratio
    met = value <= goal if kind.endswith("max") else value >= goal
    bound = {"max": f"≤ {goal}×", "min": f"≥ {goal}×", "abs-max": f"≤ {goal}", "abs-min": f"≥ {goal:,}"}[kind]
    return f"{bound} {'met' if met else 'missed'}"


def chart(table, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ratios = [(row[0], row[4], row[5] if row[6] in ("max", "min") else None) for row in table if row[4] is not None]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(ratios) + 1.2))
    names = [name for name, _, _ in ratios][::-1]
    values = [value for _, value, _ in ratios][::-1]
    goals = [goal for _, _, goal in ratios][::-1]
    ax.barh(names, values, color="#4a7bd0")
    for index, goal in enumerate(goals):
        if goal is not None:
            ax.plot([goal, goal], [index - 0.4, index + 0.4], color="#d04a4a", linewidth=2)
    ax.axvline(1.0, color="#888", linewidth=0.8, linestyle="--")
    ax.set_xlabel("Knify ÷ baseline from the same run (red: goal)")
    ax.set_title("make bench: Knify against the raw engine, docker-py and its goals")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", default="bench/results")
    args = parser.parse_args()
    load = lambda name: json.load(open(os.path.join(args.results, name))) if os.path.exists(os.path.join(args.results, name)) else None
    latest, http = load("latest.json") or {}, load("http.json")
    table = rows(latest, http)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    repeats = len(http["get_job"].get("runs", [None])) if http else 0
    print(f"make bench, {when}, {machine()}; medians of {latest.get('iterations', '?')} runs"
          + (f" (HTTP rows: of {repeats} wrk runs and {repeats} fan-outs)" if http else ""))
    print("| measure | Knify | baseline (same run) | ratio | goal |")
    print("|---|---|---|---|---|")
    for row in table:
        ratio = f"{row[4]:.2f}" if row[4] is not None else ""
        print(f"| {row[0]} | {row[1]} | {row[2]} | {ratio} | {verdict(row, http)} |")
    summary = {"date": when, "machine": machine(), "rows": [
        {"measure": r[0], "knify": r[1], "baseline": r[2], "ratio": r[4], "goal": r[5], "kind": r[6], "verdict": verdict(r, http)}
        for r in table]}
    with open(os.path.join(args.results, "summary.json"), "w") as handle:
        json.dump(summary, handle, indent=2)
    chart(table, os.path.join(args.results, "chart.png"))
    print(f"wrote {args.results}/summary.json and {args.results}/chart.png")


if __name__ == "__main__":
    main()
