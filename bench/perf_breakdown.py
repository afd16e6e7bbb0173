"""Where the server's CPU time goes, from `perf script` output of a bench/session_flow.sh run.

Usage: perf script -i server.perf.data -F comm,tid,ip,sym | python3 bench/perf_breakdown.py -

Each sample is put in the first category whose test matches its thread name or any frame of
its call stack, so the shares add up to 100%. The categories name functions of the server as
they are today: when code moves, a category can come out empty and its samples land further
down the list ("rest of the handlers", "other"); the leaf functions of "other" are listed to
show that. Standard library only.
"""

import collections
import sys


def read_samples(f):
    samples, cur = [], None
    for line in f:
        if not line.strip():
            if cur:
                samples.append(cur)
            cur = None
            continue
        if not line.startswith(("\t", " ")):
            cur = {"comm": (line.split() or ["?"])[0], "frames": []}
        elif cur is not None:
            parts = line.strip().split(" ", 1)
            if len(parts) == 2:
                cur["frames"].append(parts[1])
    if cur:
        samples.append(cur)
    return samples


def any_frame(*needles):
    return lambda s: any(n in f for f in s["frames"] for n in needles)


def on_sqlite_thread(s):
    return s["comm"].startswith("sqlx-sqlite")


CREATE_HANDLER = "Handler<(M,T1,T2,T3,T4),S>>::call"

CATEGORIES = [
    ("SQLite: commit, WAL write and checkpoint (its own threads)",
     lambda s: on_sqlite_thread(s) and any_frame("sqlite3VdbeHalt", "sqlite3WalCheckpoint",
                                                 "sqlite3BtreeCommit", "sqlite3WalFrames")(s)),
    ("SQLite: statements and the connection's thread loop", on_sqlite_thread),
    ("workflow definition read and JSON-parsed per session start (workflow_get), then dropped",
     lambda s: any_frame("as idv_store::Store>::workflow_get::")(s)
     or any_frame("Store>::workflow_get ")(s)
     or (any_frame("drop_in_place<serde_json::value::Value>")(s) and any_frame(CREATE_HANDLER)(s))),
    ("step client rendering (templates)", any_frame("render_client")),
    ("translations lookup", any_frame("locale_strings", "translations_for", "locale_chain")),
    ("session read and decode", any_frame("Store>::session_get", "InlineReaders::session")),
    ("session writes, async side (create, advance, files)",
     any_frame("Store>::session_advance", "Store>::session_create", "files::insert")),
    ("authentication", any_frame("idv_server::auth::")),
    ("session view and response JSON",
     any_frame("ops::sessions::view", "with_urls", "view_summary", "as axum_core::response::into_response",
               "serde_json::ser")),
    ("request body parse", any_frame("idv_server::body::")),
    ("rest of the handlers", any_frame("axum::handler::Handler<")),
    ("HTTP: hyper, sockets, epoll", any_frame("hyper::", "tcp_", "sock_", "epoll", "mio::")),
    ("tokio scheduling and wake-ups", any_frame("tokio::runtime", "futex", "schedule")),
]


def main(path):
    f = sys.stdin if path == "-" else open(path)
    samples = read_samples(f)
    n = len(samples) or 1
    counts = collections.Counter()
    other = collections.Counter()
    for s in samples:
        for name, test in CATEGORIES:
            if test(s):
                counts[name] += 1
                break
        else:
            counts["other"] += 1
            other[(s["frames"][0] if s["frames"] else "?")[:110]] += 1
    threads = collections.Counter(s["comm"] for s in samples)
    print("%d samples; by thread: %s" % (len(samples), ", ".join(
        "%s %.0f%%" % (t, 100.0 * c / n) for t, c in threads.most_common())))
    for name, _ in CATEGORIES + [("other", None)]:
        print("%5.1f%%  %s" % (100.0 * counts[name] / n, name))
    if other:
        print("  'other' by leaf function:")
        for leaf, c in other.most_common(8):
            print("  %5.1f%%  %s" % (100.0 * c / n, leaf))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "-")
