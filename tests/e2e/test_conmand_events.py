"""Console events in conmand (issue 17): SERVER eventrules with the shipped
rules; scripted consoles print real-looking panics (with a Call Trace),
oopses, OOM kills and hardware errors split over writes at awkward places,
and near-misses that must not match. Checked: exactly which events come
out, their offsets (the bytes there in the log are the matched line), the
server log, /events with its filters, /metrics (parsed by prometheus_client),
/consoles' last event and boot; a bad rules file on SIGHUP keeps the rules
in force; a catastrophic regex hits the match limit, is counted, and no
console stalls. SERVER eventexec runs a program per event with the event's
JSON on stdin, counts how runs end (ok, failed, killed after the timeout,
dropped when the queue is full) and never stalls a console; the log
shipping stream carries each event after its line."""
import json
import os
import signal
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from conmand_util import Daemon
from e2e_helpers import SOURCE_DIR, free_port, wait_for, write_script

RULES = os.path.join(SOURCE_DIR, "etc", "conman-events.rules")
GLOBAL = 'global log="console.%N"\nglobal logopts="nolock,sanitize,timestamp"'

# Writes its argument's pieces with pauses: a line split over reads, and
# a whole Call Trace within the fold's quiet period.
SCRIPT = r"""import os, sys, time
pieces = [p.encode() for p in sys.argv[1:]]
for p in pieces:
    if p == b"@":
        time.sleep(0.3)
        continue
    os.write(1, p.replace(b"\\n", b"\n"))
time.sleep(3600)
"""

PANIC = [
    "[  100.000001] Kernel pa", "@", "nic - not syncing: Fatal exception\\n",
    "[  100.000002] CPU: 3 PID: 1 Comm: swapper Not tainted 6.1.0 #1\\n",
    "[  100.000003] Call Trace:\\n",
    "[  100.000004]  <TASK>\\n",
    "[  100.000005]  dump_stack_lvl+0x44/0x5c\\n", "@",
    "[  100.000006]  panic+0x118/0x2f0\\n",
    "[  100.000007]  do_exit+0x8d1/0xb30\\n",
    "[  100.000008]  </TASK>\\n",
]
OTHERS = [
    "[   50.1] BUG: unable to handle page fault for address: 0000000000000010\\n",
    "[   51.2] Out of memory: Killed process 4242 (java) total-vm:1000kB\\n", "@",
    "[   52.3] mce: [Hardware Error]: Machine check events logged\\n",
    "[   53.4] EXT4-fs error (device sda1): ext4_lookup:1701: inode #2: comm ls\\n",
]
BENIGN = [
    "user@node:~$ echo Call Trace: and Kernel panic - not syncing\\n",
    "panicked_flag=0 Out of memory? no\\n",
    "\x1b[1mnode7 login: \x1b[0mroot\\n",  # ANSI around a prompt, then typed text
]


def start(procs, tmp_path, consoles, rules=RULES, server_extra="", env=None, glob=GLOBAL):
    http = free_port()
    lines = [f'console name="{n}" dev="/usr/bin/python3 {script} {args}"'
             for n, script, args in consoles]
    d = Daemon("ours", procs, tmp_path, lines, global_extra=glob,
               server_extra=f'server httpport={http}\nserver eventrules="{rules}"\n' +
               server_extra)
    d.http = http
    return d.start(env=env)


def console(tmp_path, name, pieces):
    script = write_script(tmp_path, f"{name}.py", SCRIPT)
    return name, script, " ".join("'" + p.replace("'", "'\\''") + "'" for p in pieces)


def get(d, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{d.http}{path}", timeout=5) as r:
        return r.read().decode()


def events(d, query=""):
    return json.loads(get(d, "/events" + query))


def samples(d):
    out = {}
    for fam in text_string_to_metric_families(get(d, "/metrics")):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_panics_oopses_and_hardware_errors_become_events_with_offsets(procs, tmp_path):
    d = start(procs, tmp_path, [console(tmp_path, "crash", PANIC),
                                console(tmp_path, "misc", OTHERS),
                                console(tmp_path, "calm", BENIGN)])
    want = {("crash", "kernel_panic"), ("crash", "call_trace"), ("misc", "kernel_oops"),
            ("misc", "oom_kill"), ("misc", "machine_check"), ("misc", "ext4_error")}
    wait_for(lambda: {(e["console"], e["rule"]) for e in events(d)} >= want, timeout=15,
             what="the events of crash and misc")
    time.sleep(1)
    got = events(d)
    assert sorted((e["console"], e["rule"]) for e in got) == sorted(want), got
    by = {(e["console"], e["rule"]): e for e in got}
    assert by[("crash", "call_trace")]["lines"] == 6  # Call Trace:, <TASK>, 3 frames, </TASK>
    assert by[("crash", "kernel_panic")]["severity"] == "critical"
    for e in got:  # the bytes at the offset are the line that matched
        assert e["log"] == os.path.join(str(tmp_path), f"console.{e['console']}")
        with open(e["log"], "rb") as f:
            f.seek(e["offset"])
            assert f.read(len(e["line"])) == e["line"].encode(), e
        assert e["time"].endswith("Z")
    assert "Kernel panic - not syncing: Fatal exception" in by[("crash", "kernel_panic")]["line"]
    out = d.output()
    assert "Console [crash] event kernel_panic (critical) in " in out
    assert "Console [calm] event" not in out

    # Filters.
    assert {e["rule"] for e in events(d, "?console=crash")} == {"kernel_panic", "call_trace"}
    assert [e["console"] for e in events(d, "?rule=oom_kill")] == ["misc"]
    assert events(d, f"?since={int(time.time()) + 3600}") == []
    try:
        get(d, "/events?since=yesterday")
        raise AssertionError("a bad since= was accepted")
    except urllib.error.HTTPError as e:
        assert e.code == 400

    m = samples(d)
    assert m[("conman_console_events_total",
              (("console", "crash"), ("rule", "kernel_panic"), ("severity", "critical")))] == 1
    assert m[("conman_console_events_total",
              (("console", "misc"), ("rule", "oom_kill"), ("severity", "error")))] == 1
    assert not any(k[0] == "conman_console_events_total" and ("console", "calm") in k[1]
                   for k in m)
    assert m[("conman_event_rules", ())] >= 15
    assert m[("conman_console_last_event_timestamp_seconds",
              (("console", "crash"), ("rule", "kernel_panic")))] > 1.7e9
    consoles = {c["name"]: c for c in json.loads(get(d, "/consoles"))}
    assert consoles["crash"]["last_event"]["rule"] in ("kernel_panic", "call_trace")
    assert consoles["calm"]["last_event"] is None and consoles["calm"]["last_boot"] is None


def test_a_bad_rules_file_on_sighup_keeps_the_rules_in_force(procs, tmp_path):
    rules = tmp_path / "events.rules"
    rules.write_text(open(RULES).read())
    trigger = tmp_path / "go"
    script = write_script(tmp_path, "later.py", f"""import os, time
while not os.path.exists({str(trigger)!r}):
    time.sleep(0.05)
os.write(1, b"[  9.9] Kernel panic - not syncing: later\\n")
time.sleep(3600)
""")
    d = start(procs, tmp_path, [("later", script, "")], rules=str(rules))
    rules.write_text("ok_rule info /fine/\nbroken error /(unclosed/\n")
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: f"SERVER eventrules: {rules}:2:" in d.output(), timeout=10,
             what="the bad rules file named with its line")
    assert "keeping the rules in force" in d.output()
    trigger.write_text("")
    wait_for(lambda: [e["rule"] for e in events(d)] == ["kernel_panic"], timeout=10,
             what="the old rules still matching")


def test_a_catastrophic_regex_hits_the_limit_is_counted_and_stalls_nothing(procs, tmp_path):
    rules = tmp_path / "slow.rules"
    rules.write_text("slow error /(a+)+$/\n")  # unanchored: the timestamp comes first
    evil_script = write_script(tmp_path, "evil.py", """import os, time
for i in range(20):
    os.write(1, b"a" * 900 + b"b\\n")
    time.sleep(0.05)
time.sleep(3600)
""")
    evil = ("evil", evil_script, "")
    steady = write_script(tmp_path, "ticks.py", """import os, time
for i in range(200):
    os.write(1, b"tick %03d\\n" % i)
    time.sleep(0.02)
time.sleep(3600)
""")
    d = start(procs, tmp_path, [evil, ("steady", steady, "")], rules=str(rules))
    wait_for(lambda: b"tick 199" in d.log_so_far("steady"), timeout=20,
             what="the other console to log all its lines")
    wait_for(lambda: samples(d).get(("conman_event_limit_hits_total", (("rule", "slow"),)), 0)
             >= 20, timeout=10, what="20 limit hits counted")
    assert events(d) == []
    assert d.proc.poll() is None


# An eventexec program: keeps what it got (stdin, argv, environment) in
# OUT/<seq>.json, then ends as the rule asks: oom_kill fails, ext4_error
# hangs until killed, the rest succeed.
HOOK = r"""#!/usr/bin/python3
import json, os, sys, time
data = sys.stdin.read()
ev = json.loads(data)
env = {k: v for k, v in os.environ.items() if k.startswith("CONMAN_EVENT_")}
with open(os.path.join(OUT, "%d.json" % ev["seq"]), "w") as f:
    json.dump({"stdin": data, "argv": sys.argv, "env": env}, f)
if ev["rule"] == "oom_kill":
    sys.exit(3)
if ev["rule"] == "ext4_error":
    time.sleep(60)
"""


def exec_totals(d):
    m = samples(d)
    return {r: m.get(("conman_event_exec_total", (("result", r),)), 0)
            for r in ("ok", "failed", "timeout", "dropped")}


def test_eventexec_gets_each_event_as_json_on_stdin_and_its_failures_are_counted(procs,
                                                                                 tmp_path):
    out = tmp_path / "hook-out"
    out.mkdir()
    hook = write_script(tmp_path, "hook.py", HOOK.replace("OUT", repr(str(out))))
    ship = tmp_path / "ship.jsonl"
    env = dict(os.environ, CONMAND_EVENTEXEC_TIMEOUT_SEC="1")
    d = start(procs, tmp_path, [console(tmp_path, "crash", PANIC),
                                console(tmp_path, "misc", OTHERS)],
              server_extra=f'server eventexec="{hook}"\nserver logship="file:{ship}"', env=env)
    assert f"SERVER eventexec: running {hook} for each console event" in d.output()
    wait_for(lambda: exec_totals(d) == {"ok": 4, "failed": 1, "timeout": 1, "dropped": 0},
             timeout=20, what="6 runs: 4 ok, oom_kill failed, ext4_error killed")
    got = {e["seq"]: e for e in events(d)}
    assert len(got) == 6
    for path in out.iterdir():
        run = json.loads(path.read_text())
        ev = json.loads(run["stdin"])
        assert run["stdin"].endswith("}\n") and run["stdin"].count("\n") == 1
        assert ev["kind"] == "event"
        want = dict(got[ev["seq"]], lines=ev["lines"])  # folding goes on after the run
        assert ev == want
        assert run["argv"] == [hook]  # the event never on argv
        assert run["env"] == {"CONMAN_EVENT_CONSOLE": ev["console"],
                              "CONMAN_EVENT_RULE": ev["rule"],
                              "CONMAN_EVENT_SEVERITY": ev["severity"]}
        with open(ev["log"], "rb") as f:
            f.seek(ev["offset"])
            assert f.read(len(ev["line"])) == ev["line"].encode()
    assert len(list(out.iterdir())) == 6
    text = d.output()
    assert f"eventexec {hook}: event oom_kill on console [misc]: exited with status 3" in text
    assert f"eventexec {hook}: event ext4_error on console [misc]: killed after 1s" in text

    # The shipping stream: each event after the line it matched (lines of
    # one read are shipped before the events in them).
    objs = [json.loads(x) for x in ship.read_text().splitlines()]
    evs = [i for i, o in enumerate(objs) if o.get("kind") == "event"]
    assert sorted(objs[i]["seq"] for i in evs) == sorted(got)
    for i in evs:
        e = objs[i]
        before = [o for o in objs[:i] if "kind" not in o and o["console"] == e["console"]]
        assert any(e["line"].endswith(o["line"]) for o in before), e


def test_eventexec_queue_full_drops_and_counts_and_no_console_stalls(procs, tmp_path):
    n_rules = 80  # 4 run, 64 wait, 12 dropped: all arrive in one write
    rules = tmp_path / "many.rules"
    rules.write_text("".join(f"r{i} info /^hit {i}$/\n" for i in range(n_rules)))
    burst = write_script(tmp_path, "burst.py", f"""import os, time
os.write(1, b"".join(b"hit %d\\n" % i for i in range({n_rules})))
for i in range(100):
    os.write(1, b"tick %03d\\n" % i)
    time.sleep(0.02)
time.sleep(3600)
""")
    hook = write_script(tmp_path, "slow.sh", "#!/bin/sh\ncat >/dev/null\nsleep 0.3\n")
    d = start(procs, tmp_path, [("burst", burst, "")], rules=str(rules),
              server_extra=f'server eventexec="{hook}"', glob='global log="console.%N"')
    wait_for(lambda: b"tick 099" in d.log_so_far("burst"), timeout=20,
             what="the console to go on logging while the programs run")
    wait_for(lambda: exec_totals(d) == {"ok": 68, "failed": 0, "timeout": 0, "dropped": 12},
             timeout=30, what="68 runs and 12 dropped")
    m = samples(d)
    assert m[("conman_event_exec_running", ())] == 0
    assert m[("conman_event_exec_waiting", ())] == 0
    text = d.output()
    assert "dropping events until the queue empties" in text
    assert "12 events were dropped while it was full" in text


def test_an_eventexec_that_cannot_run_is_named_at_start_and_counted(procs, tmp_path):
    missing = tmp_path / "no-such-hook"
    d = start(procs, tmp_path, [console(tmp_path, "crash", PANIC)],
              server_extra=f'server eventexec="{missing}"')
    assert f"SERVER eventexec: {missing}: No such file or directory" in d.output()
    wait_for(lambda: exec_totals(d)["failed"] == 2, timeout=15,
             what="both events counted as failed runs")
    assert d.output().count("not run: No such file or directory") == 1  # said once
    assert d.proc.poll() is None
