"""Report of bench/session_flow.sh from the files it wrote in one output folder.

Usage: python3 bench/session_flow_report.py bench/out/session_flow-<stamp>
Standard library only.
"""

import json
import os
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def ms(us):
    return "%.2f ms" % (us / 1000.0)


def main(out):
    meta = load(os.path.join(out, "meta.json"))
    rss = {}
    if os.path.exists(os.path.join(out, "rss.txt")):
        for line in open(os.path.join(out, "rss.txt")):
            b, phase, cur, peak = line.split()
            rss[(b, phase)] = (int(cur), int(peak))

    print("idv session flow: POST /api/sessions (general_kyc, {\"locale\": \"en\"}) then")
    print("POST /api/sessions/{id}/step/ONBOARDING?type=data ({\"continue\": true}), Basic auth (admin)")
    print()
    print("date %s, commit %s" % (meta["date"], meta["commit"]))
    print("machine: %d cores, %s" % (meta["cores"], meta["cpu"]))
    print("before the runs: %s" % meta["background"])
    print("each run: %d s measured after an unmeasured warm-up (%d s, twice that before the first flow run);"
          % (meta["duration_s"], meta["warmup_s"]))
    print("load generator: bench/loadgen, %d thread(s), one keep-alive connection per concurrent session loop"
          % meta["loadgen_threads"])

    best_sqlite = None
    for b in meta["backends"]:
        print()
        print("== %s" % b)
        health = None
        for c in meta["concurrency"]:
            p = os.path.join(out, "%s.health-c%d.json" % (b, c))
            if os.path.exists(p):
                health = load(p)
        if health:
            h = health["latency"]["get"]
            print("GET /api/health (ceiling), concurrency %d: %.0f req/s, p50 %s, p99 %s, errors %d"
                  % (health["concurrency"], health["per_s"], ms(h["p50_us"]), ms(h["p99_us"]),
                     health["error_total"]))
            print("  cores: server %.2f, load generator %.2f, machine %.2f busy, %.1f%% stolen"
                  % (health["cpu"]["server_cpu_s"] / health["duration_s"],
                     health["cpu"]["loadgen_cpu_s"] / health["duration_s"],
                     health["cpu"]["machine_busy_cores"], health["cpu"]["steal_pct"]))
        print()
        print("%5s %10s %9s %9s %9s %9s %6s | %6s %6s %7s %7s %6s | %6s" % (
            "conc", "sessions/s", "create50", "create99", "submit50", "submit99", "errors",
            "server", "db", "loadgen", "machine", "steal", "RSS MB"))
        best = None
        for c in meta["concurrency"]:
            p = os.path.join(out, "%s.flow-c%d.json" % (b, c))
            if not os.path.exists(p):
                continue
            r = load(p)
            cr, sb, cpu = r["latency"]["create"], r["latency"]["submit"], r["cpu"]
            d = r["duration_s"]
            cur = rss.get((b, "flow-c%d" % c), (0, 0))[0]
            db = "%6.2f" % (cpu["db"]["cpu_s"] / d) if cpu.get("db") else "%6s" % "-"
            print("%5d %10.0f %9s %9s %9s %9s %6d | %6.2f %s %7.2f %7.2f %5.1f%% | %6.1f" % (
                c, r["per_s"], ms(cr["p50_us"]), ms(cr["p99_us"]), ms(sb["p50_us"]), ms(sb["p99_us"]),
                r["error_total"], cpu["server_cpu_s"] / d, db, cpu["loadgen_cpu_s"] / d,
                cpu["machine_busy_cores"], cpu["steal_pct"], cur / 1024.0))
            for s in r["error_samples"]:
                print("      error: %s" % s)
            if best is None or r["per_s"] > best["per_s"]:
                best = r
        print("(server, db, loadgen, machine: cores busy over the measured window; db: this database's")
        print(" PostgreSQL backends; RSS: the server's after the run)")
        if best is None:
            continue
        per_s = best["per_s"]
        ps = best["per_second"]
        spread = "" if not ps else " (per-second min %d, max %d)" % (min(ps), max(ps))
        print()
        print("best: %.0f sessions/s at concurrency %d%s = %.0f requests/s"
              % (per_s, best["concurrency"], spread, 2 * per_s))
        if health:
            print("      %.0f%% of the /api/health ceiling in requests/s (%.0f of %.0f)"
                  % (100.0 * 2 * per_s / health["per_s"], 2 * per_s, health["per_s"]))
        srv = best["cpu"]["server_cpu_s"]
        if srv:
            db = best["cpu"].get("db")
            print("      CPU per session: server %.0f µs%s" % (
                1e6 * srv / max(1, best["completed"]),
                ", database backends %.0f µs" % (1e6 * db["cpu_s"] / max(1, best["completed"])) if db else ""))
        # VmHWM can lag behind VmRSS (the kernel syncs per-thread counters lazily): take the
        # larger of it and every snapshot.
        peak = max([v[1] for k, v in rss.items() if k[0] == b] + [v[0] for k, v in rss.items() if k[0] == b] + [0])
        p = os.path.join(out, "%s.vmhwm_kb" % b)
        if os.path.exists(p):
            peak = max(peak, int(open(p).read().strip() or 0))
        print("server RSS: %.1f MB after loading the workflow, %.1f MB peak over the whole run"
              % (rss.get((b, "loaded"), (0, 0))[0] / 1024.0, peak / 1024.0))
        p = os.path.join(out, "%s.disk_kb" % b)
        if os.path.exists(p):
            kb = open(p).read().strip()
            if kb:
                print("data written: %.1f MB (%s)" % (int(kb) / 1024.0,
                      "database + files folder" if b == "sqlite" else "database size"))
        if b == "sqlite":
            best_sqlite = per_s
        p = os.path.join(out, "%s.perf-breakdown.txt" % b)
        if os.path.exists(p):
            print("where the server's CPU goes (perf, during one more run at concurrency %d):"
                  % meta["concurrency"][-1])
            for line in open(p):
                print("  " + line.rstrip())

    print()
    if best_sqlite is not None:
        verdict = "PASS" if best_sqlite >= meta["target"] else "MISS"
        print("target: >= %d sessions/s on SQLite: %.0f -> %s" % (meta["target"], best_sqlite, verdict))


if __name__ == "__main__":
    main(sys.argv[1])
