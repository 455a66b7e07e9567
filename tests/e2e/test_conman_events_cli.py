"""conman-events (issue 17 part 4): the event matcher over existing console
logs with the shipped rules: one JSON object per event, with the console
named from the file (rotated files too), the log's own time stamp or null,
the offset of the matched line in that file and the lines folded into it;
a bad rules file is exit 2 naming the file and line; a missing log file is
an error naming it while the others are still scanned."""
import json
import os
import subprocess

from e2e_helpers import SOURCE_DIR, binary

RULES = os.path.join(SOURCE_DIR, "etc", "conman-events.rules")

LIVE = (
    b"2026-12-03 07:00:00 [    0.000000] Linux version 5.14.0-362.el9.x86_64 "
    b"(mockbuild@build) (gcc 11.4.1) #1 SMP\r\n"
    b"2026-12-03 07:00:30 \x1b[1mn01 login: \x1b[0m\r\n"
    b"2026-12-03 07:05:00 [root@n01 ~]# echo Call Trace: Kernel panic - not syncing\r\n"
    b"2026-12-03 07:05:00 Call Trace: Kernel panic - not syncing\r\n"
    b"2026-12-03 07:10:00 [  600.100000] Oops: 0000 [#1] PREEMPT SMP NOPTI\r\n"
    b"2026-12-03 07:10:00 [  600.100100] Call Trace:\r\n"
    + b"".join(b"2026-12-03 07:10:01 [  600.1002%02d]  frame_%d+0x1c/0x30\r\n" % (i, i)
               for i in range(30))
    + b"2026-12-03 07:20:00 [ 1200.000000] Kernel panic - not syncing: Fatal exception\r\n"
)

ROTATED = (
    b"[ 3000.000000] Out of memory: Killed process 4242 (a.out) total-vm:1kB\r\n"
    b"[ 3000.000100] oom-kill:constraint=CONSTRAINT_NONE,task=a.out,pid=4242\r\n"
    b"n01 login: "
)


def run(*args):
    return subprocess.run([binary("conman-events"), *args], capture_output=True, timeout=60)


def events(out):
    return [json.loads(line) for line in out.decode().splitlines()]


def test_events_of_a_live_and_a_rotated_log(tmp_path):
    live = tmp_path / "console.n01"
    rotated = tmp_path / "console.n01.1"
    live.write_bytes(LIVE)
    rotated.write_bytes(ROTATED)
    p = run(RULES, str(rotated), str(live))
    assert p.returncode == 0, p.stderr
    assert p.stderr == b""
    got = events(p.stdout)
    assert [(e["file"], e["rule"], e["lines"]) for e in got] == [
        (str(rotated), "oom_kill", 2),
        (str(rotated), "login_prompt", 1),
        (str(live), "boot", 1),
        (str(live), "login_prompt", 1),
        (str(live), "kernel_oops", 1),
        (str(live), "call_trace", 31),
        (str(live), "kernel_panic", 1),
    ]
    assert all(e["console"] == "n01" for e in got)
    assert [e["severity"] for e in got] == ["error", "info", "info", "info", "critical", "error",
                                            "critical"]
    assert got[0]["time"] is None and got[1]["time"] is None
    assert got[2]["time"] == "2026-12-03 07:00:00"
    assert got[6]["time"] == "2026-12-03 07:20:00"
    assert got[3]["line"] == "2026-12-03 07:00:30 n01 login: "
    # The bytes at each offset are the matched line (escapes aside).
    for e in got:
        data = LIVE if e["file"] == str(live) else ROTATED
        raw = data[e["offset"]:].split(b"\r\n", 1)[0]
        assert raw.replace(b"\x1b[1m", b"").replace(b"\x1b[0m", b"").decode() == e["line"]


def test_console_names_from_file_names(tmp_path):
    panic = b"Kernel panic - not syncing: x\n"
    names = {"console.x3000c0s1b0n0": "x3000c0s1b0n0", "console.node-7.12": "node-7",
             "n9.log": "n9", "n9.log.3": "n9", "plain": "plain"}
    for f in names:
        (tmp_path / f).write_bytes(panic)
    p = run(RULES, *(str(tmp_path / f) for f in names))
    assert p.returncode == 0, p.stderr
    assert [e["console"] for e in events(p.stdout)] == list(names.values())


def test_a_missing_log_is_named_and_the_others_are_scanned(tmp_path):
    good = tmp_path / "console.n02"
    good.write_bytes(b"Kernel panic - not syncing: x\n")
    missing = tmp_path / "console.gone"
    p = run(RULES, str(missing), str(good))
    assert p.returncode == 1
    assert f"conman-events: {missing}: No such file or directory" in p.stderr.decode()
    assert [e["console"] for e in events(p.stdout)] == ["n02"]


def test_a_bad_rules_file_is_exit_2_naming_file_and_line(tmp_path):
    rules = tmp_path / "bad.rules"
    rules.write_text("# fine\nok info /ok/\nbroken error /(unclosed/\n")
    log = tmp_path / "console.n03"
    log.write_bytes(b"ok\n")
    p = run(str(rules), str(log))
    assert p.returncode == 2
    assert p.stdout == b""
    err = p.stderr.decode()
    assert f"{rules}:3: rule broken: bad regex" in err
    assert "missing closing parenthesis" in err


def test_a_missing_rules_file_and_usage_are_exit_2(tmp_path):
    p = run(str(tmp_path / "none.rules"), str(tmp_path / "x"))
    assert p.returncode == 2
    assert str(tmp_path / "none.rules") in p.stderr.decode()
    p = run(RULES)
    assert p.returncode == 2 and b"usage:" in p.stderr


def test_the_quiet_period_decides_what_folds(tmp_path):
    log = tmp_path / "console.n04"
    log.write_bytes(b"2026-12-03 07:00:00 Kernel panic - not syncing: a\n"
                    b"2026-12-03 07:00:04 Kernel panic - not syncing: b\n"
                    b"2026-12-03 07:00:10 Kernel panic - not syncing: c\n")
    assert [e["lines"] for e in events(run(RULES, str(log)).stdout)] == [2, 1]
    assert [e["lines"] for e in events(run("-q", "0", RULES, str(log)).stdout)] == [1, 1, 1]
    assert [e["lines"] for e in events(run("-q", "60", RULES, str(log)).stdout)] == [3]
    p = run("-q", "soon", RULES, str(log))
    assert p.returncode == 2 and b"-q soon" in p.stderr
