#!/usr/bin/env python3
"""Turns the raw results of bench/session_read.sh into the report. Standard library only.

Usage: report.py RESULTS_DIR  (prints the report; writes RESULTS_DIR/results.json)
Exit status 0 whatever the verdicts: a MISS is a finding, not a failure of the benchmark.
"""

import json
import os
import sys


def wrk_result(path):
    """The BENCH_RESULT line that bench/wrk_bench.lua printed."""
    with open(path) as f:
        for line in f:
            if line.startswith("BENCH_RESULT "):
                r = json.loads(line[len("BENCH_RESULT "):])
                r["rps"] = r["requests"] / (r["duration_us"] / 1e6) if r["duration_us"] else 0.0
                r["error_count"] = sum(r["errors"].values())
                return r
    raise SystemExit(f"{path}: no BENCH_RESULT line (did wrk run?)")


def oha_result(path):
    with open(path) as f:
        d = json.load(f)
    codes = {str(k): v for k, v in (d.get("statusCodeDistribution") or {}).items()}
    errors = {k: v for k, v in (d.get("errorDistribution") or {}).items() if "deadline" not in k}
    pct = d.get("latencyPercentiles") or {}
    return {
        "rps": d["summary"].get("requestsPerSec") or 0.0,
        "p50_ms": (pct.get("p50") or 0) * 1000,
        "p90_ms": (pct.get("p90") or 0) * 1000,
        "p99_ms": (pct.get("p99") or 0) * 1000,
        "p999_ms": (pct.get("p99.9") or 0) * 1000,
        "max_ms": (d["summary"].get("slowest") or 0) * 1000,
        "status_codes": codes,
        "non_200": sum(v for k, v in codes.items() if k != "200"),
        "errors": errors,
        "error_count": sum(errors.values()),
    }


def read(path, default=""):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def verdict(ok):
    return "PASS" if ok else "MISS"


def main():
    d = sys.argv[1]
    meta = json.loads(read(os.path.join(d, "meta.json"), "{}"))
    seed = json.loads(read(os.path.join(d, "seed", "seed.json"), "{}"))
    health = wrk_result(os.path.join(d, "health.wrk.txt"))
    apikey = wrk_result(os.path.join(d, "apikey.wrk.txt"))
    basic = wrk_result(os.path.join(d, "basic.wrk.txt"))
    lat = oha_result(os.path.join(d, "latency.oha.json"))
    cpu = json.loads(read(os.path.join(d, "cpu.json"), "{}"))
    hwm_kb = int(read(os.path.join(d, "vmhwm_kb"), "0") or 0)
    rss_mb = hwm_kb / 1024

    ratio_api = apikey["rps"] / health["rps"] if health["rps"] else 0.0
    ratio_basic = basic["rps"] / apikey["rps"] if apikey["rps"] else 0.0
    checks = [
        ("session read, ApiKey vs health", f"{ratio_api * 100:.1f}% of health", ">= 50%", ratio_api >= 0.5),
        ("session read, Basic vs ApiKey", f"{ratio_basic * 100:.1f}% of ApiKey", ">= 80%", ratio_basic >= 0.8),
        (f"p99 at half peak ({lat['rps']:.0f} req/s)", f"{lat['p99_ms']:.2f} ms", "< 5 ms", lat["p99_ms"] < 5.0),
        ("server peak RSS (VmHWM)", f"{rss_mb:.1f} MB", "< 100 MB", rss_mb < 100.0),
    ]

    def cpu_note(name):
        c = cpu.get(name)
        if not c:
            return ""
        return (f"\n      server CPU {c['server_cores']:.2f} of {meta.get('cores', '?')} cores; whole machine busy "
                f"{c['machine_busy_cores']:.2f} cores, {c['steal_pct']:.1f}% stolen by the hypervisor")

    def err_note(r):
        return "" if r["error_count"] == 0 else f"  ERRORS {r['errors']}"

    lines = []
    w = lines.append
    w("idv session-read benchmark")
    w("=" * 72)
    w(f"date           {meta.get('date', '?')}")
    w(f"commit         {meta.get('commit', '?')}")
    w(f"binary         {meta.get('binary', '?')} (release)")
    w(f"machine        {meta.get('cores', '?')} CPU cores, {meta.get('mem', '?')}; {meta.get('cpu', '')}")
    w(f"tools          {meta.get('wrk', '?')}; {meta.get('oha', '?')}")
    w(f"background     {meta.get('background', '?')} before the server started (anything else busy on "
      "the machine lowers the figures)")
    w(f"server         idv serve, SQLite + local folder, 127.0.0.1:{meta.get('port', '?')}")
    w(f"load           {meta.get('threads')} client threads, {meta.get('connections')} connections, "
      f"{meta.get('duration')} per run; the load tool and the server share the same "
      f"{meta.get('cores', '?')} cores, so every req/s figure is a lower bound of what the server alone could do")
    if seed:
        w(f"seeded         {seed['sessions']} sessions x (start + 2 raw uploads + data) = {seed['requests']} requests "
          f"in {seed['seconds']:.1f} s ({seed['requests_per_second']:.0f} req/s, {seed['workers']} workers)")
        w(f"               each session: {seed['sample_properties']} properties, {seed['sample_files']} files, "
          f"step {seed['sample_current_step']}; GET answer {seed['sample_json_bytes']} bytes of JSON")
    w("")
    w("Measurements")
    w("-" * 72)
    w(f"(a) GET /api/health              peak {health['rps']:>9.0f} req/s  p50 {health['latency_us']['p50'] / 1000:6.2f} ms"
      f"  p99 {health['latency_us']['p99'] / 1000:6.2f} ms{cpu_note('health')}{err_note(health)}")
    w(f"(b) GET /api/sessions/{{id}} ApiKey peak {apikey['rps']:>9.0f} req/s  p50 {apikey['latency_us']['p50'] / 1000:6.2f} ms"
      f"  p99 {apikey['latency_us']['p99'] / 1000:6.2f} ms{cpu_note('apikey')}{err_note(apikey)}")
    w(f"(c) GET /api/sessions/{{id}} Basic  peak {basic['rps']:>9.0f} req/s  p50 {basic['latency_us']['p50'] / 1000:6.2f} ms"
      f"  p99 {basic['latency_us']['p99'] / 1000:6.2f} ms{cpu_note('basic')}{err_note(basic)}")
    w(f"(d) ApiKey reads at {meta.get('latency_rate', '?')} req/s target (half of b), oha --latency-correction:")
    w(f"    achieved {lat['rps']:.0f} req/s  p50 {lat['p50_ms']:.2f} ms  p90 {lat['p90_ms']:.2f} ms  "
      f"p99 {lat['p99_ms']:.2f} ms  p99.9 {lat['p999_ms']:.2f} ms  max {lat['max_ms']:.2f} ms{cpu_note('latency')}")
    if lat["non_200"] or lat["error_count"]:
        w(f"    NON-200 {lat['status_codes']}  ERRORS {lat['errors']}")
    w(f"(e) server peak RSS (VmHWM at the end)   {rss_mb:.1f} MB")
    snaps = [l.split() for l in read(os.path.join(d, "rss.txt")).splitlines() if len(l.split()) == 3]
    if snaps:
        w("    RSS / peak after each phase: " + ", ".join(
            f"{p} {int(r) / 1024:.0f}/{int(h) / 1024:.0f} MB" for p, r, h in snaps))
    w(f"    (b) and (c) cycle over {meta.get('ids', '?')} different session ids; (d) picks from the same ids")
    w("")
    w("Targets")
    w("-" * 72)
    for name, got, target, ok in checks:
        w(f"{verdict(ok):4}  {name:<38} {got:>20}   target {target}")
    problems = [n for n, r in (("health", health), ("apikey", apikey), ("basic", basic)) if r["error_count"]]
    if lat["non_200"] or lat["error_count"]:
        problems.append("latency")
    w("")
    if problems:
        w(f"WARNING: requests failed during: {', '.join(problems)} (see the raw files in {d})")
    passed = sum(1 for c in checks if c[3])
    w(f"{passed}/{len(checks)} targets met")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)

    results = {
        "meta": meta,
        "seed": seed,
        "health": health,
        "apikey": apikey,
        "basic": basic,
        "latency": lat,
        "cpu": cpu,
        "vmhwm_kb": hwm_kb,
        "checks": [{"name": n, "value": g, "target": t, "pass": ok} for n, g, t, ok in checks],
    }
    with open(os.path.join(d, "results.json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
