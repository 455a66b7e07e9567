#!/usr/bin/python3
"""Scale-out benchmark (issue 16): --consoles unix-socket consoles (default
30,000 at 1 line/s, bench/consrc.py) over --instances of our conmand on
this machine, each configured as configure_conman would configure it: the
consoles rendezvous hashing gives it with their real dev=, every other one
as dev="peer:127.0.0.1:<its owner>". Measured:
  start:    seconds until every console is connected (to its owner alone);
  steady:   CPU and RSS of each instance over --window seconds;
  takeover: one instance is killed (SIGKILL); the survivors get the
            membership without it (conf rewritten, SIGHUP, as configure_conman
            does once SHARD_SETTLE_SEC has passed) and the seconds until every
            one of its consoles is connected again elsewhere are measured
            (add SHARD_SETTLE_SEC and the membership poll for the whole time).
Every process it starts runs in its own session and is stopped by PID.
"""
import argparse
import json
import os
import signal
import sys
import time

import harness
from rendezvous import owner

HERE = os.path.dirname(os.path.abspath(__file__))


def write_instance_conf(d, names, members, ports, sources):
    me = d.kind
    consoles = [(n, sources.dev(n) if owner(members, n) == me
                 else f"peer:127.0.0.1:{ports[owner(members, n)]}") for n in names]
    harness.write_conf(d.conf, d.port, os.path.join(d.run_dir, "logs"), "timestamp", consoles)


def wait_all_connected(daemons, sources, n, timeout):
    t0 = time.monotonic()
    while sources.connected() < n:
        for d in daemons:
            d.check_alive("while consoles connect")
        if time.monotonic() - t0 > timeout:
            raise harness.BenchError(f"only {sources.connected()} of {n} consoles connected "
                                     f"after {timeout} s")
        time.sleep(0.1)
    return time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--consoles", type=int, default=30000)
    ap.add_argument("--instances", type=int, default=3)
    ap.add_argument("--window", type=float, default=10)
    ap.add_argument("--rate", type=float, default=1.0)
    ap.add_argument("--line-len", type=int, default=64)
    ap.add_argument("--shard", type=int, default=2500, help="consoles per source process")
    ap.add_argument("--ours", default=os.path.join(os.path.dirname(HERE), "build", "bin",
                                                   "conmand"))
    ap.add_argument("--out", default=os.path.join(HERE, "out",
                                                  "scaleout-" + time.strftime("%Y%m%d-%H%M%S")))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    harness.raise_nofile()
    procs = harness.Procs()
    names = harness.names_for(args.consoles)
    members = [f"i{k}" for k in range(args.instances)]
    res = {"consoles": args.consoles, "instances": args.instances}
    try:
        sources = harness.Sources(procs, args.out, names, args)
        ports = {m: harness.free_port() for m in members}
        daemons = []
        for m in members:
            run_dir = os.path.join(args.out, m)
            os.makedirs(os.path.join(run_dir, "logs"), exist_ok=True)
            d = harness.Daemon(procs, m, args.ours, run_dir, ports[m],
                               os.path.join(run_dir, "conman.conf"))
            write_instance_conf(d, names, members, ports, sources)
            daemons.append(d)
        res["owned"] = {m: sum(owner(members, n) == m for n in names) for m in members}
        harness.log(f"scaleout: {args.consoles} consoles over {members}: {res['owned']}")
        for d in daemons:
            d.start()
        res["start_s"] = wait_all_connected(daemons, sources, args.consoles,
                                            120 + args.consoles / 100)
        time.sleep(2)
        c0 = {d.kind: harness.cpu_seconds(d.p.pid) for d in daemons}
        w0 = time.monotonic()
        time.sleep(args.window)
        w = time.monotonic() - w0
        res["cpu_pct"] = {d.kind: 100 * (harness.cpu_seconds(d.p.pid) - c0[d.kind]) / w
                          for d in daemons}
        res["rss_mb"] = {d.kind: harness.rss_kb(d.p.pid) / 1024 for d in daemons}
        res["connects_before_takeover"] = sources.connects()

        dead = daemons[-1]
        survivors = members[:-1]
        harness.log(f"scaleout: killing {dead.kind}")
        t0 = time.monotonic()
        os.killpg(dead.p.pid, signal.SIGKILL)
        dead.p.wait(timeout=10)
        deadline = time.monotonic() + 10  # the sources see the dead connections go
        while sources.connected() >= args.consoles and time.monotonic() < deadline:
            time.sleep(0.05)
        for d in daemons[:-1]:
            write_instance_conf(d, names, survivors, ports, sources)
            d.p.send_signal(signal.SIGHUP)
        wait_all_connected(daemons[:-1], sources, args.consoles, 120)
        res["takeover_s"] = time.monotonic() - t0
        # Every console that stayed kept its one connection.
        res["reconnects_of_others"] = (sources.connects() - res["connects_before_takeover"]
                                       - res["owned"][dead.kind])
        for d in daemons[:-1]:
            d.check_alive("after the takeover")
    finally:
        procs.stop_all()
    lines = [f"bench/scaleout.py --consoles {args.consoles} --instances {args.instances} "
             f"--window {args.window}", harness.machine(),
             f"owned: {res['owned']}", f"all connected {res['start_s']:.1f} s after start",
             "CPU % of a core: " + ", ".join(f"{k} {v:.1f}" for k, v in res["cpu_pct"].items()),
             "RSS MB: " + ", ".join(f"{k} {v:.0f}" for k, v in res["rss_mb"].items()),
             f"{members[-1]} killed: its {res['owned'][members[-1]]} consoles connected "
             f"elsewhere {res['takeover_s']:.1f} s later (conf rewrite + SIGHUP included); "
             f"other consoles reconnected: {res['reconnects_of_others']}"]
    print("\n".join(lines))
    with open(os.path.join(args.out, "scaleout.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
