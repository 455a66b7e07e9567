"""The demo (scripts/demo.sh) so it cannot rot: its check mode runs the whole
chain (hsm-sim -> configure_conman -> conmand -> ipmi_sim BMCs -> console-sim)
and passes only when every console's log holds SOL output (and, with our
conmand, when the simulated nodes' crashes are console events); Ctrl-C in
the interactive mode stops every process it started."""
import os
import re
import signal
import subprocess

from e2e_helpers import (BIN_DIR, DEBIAN_CONMAND, SOURCE_DIR, binary, processes, read_text,
                         wait_for)

DEMO = os.path.join(SOURCE_DIR, "scripts", "demo.sh")


def demo_env(tmp_path, bmcs, conmand=DEBIAN_CONMAND):
    return dict(os.environ, BIN_DIR=BIN_DIR, DEMO_DIR=str(tmp_path / "demo"),
                DEMO_BMCS=str(bmcs), CONMAND=conmand)


def processes_mentioning(text):
    """PIDs of live processes whose command line mentions text."""
    return [p.pid for p in processes() if text.encode() in p.cmdline]


def test_demo_check_mode_passes_with_sol_output_in_every_console_log(procs, tmp_path):
    out = tmp_path / "demo.out"
    env = dict(demo_env(tmp_path, 3), DEMO_SECONDS="60")
    p = procs.start(["bash", DEMO], log_path=str(out), env=env)
    rc = p.wait(timeout=180)
    text = read_text(out)
    assert rc == 0, text
    assert "PASS: all 3 consoles logged SOL output" in text
    assert text.count("numbered SOL lines in logs/console.") == 3
    # Debian's conmand has no HTTP endpoints; configure_conman's answer.
    assert re.search(r"demo: configure_conman on 127\.0\.0\.1:\d+: /healthz 200, /readyz 200",
                     text), text
    assert "demo:   conman_configure_consoles_discovered 3" in text, text
    assert "demo: conmand on" not in text
    assert "console events" not in text and "eventrules" not in read_text(
        tmp_path / "demo" / "conman.conf")
    conf = tmp_path / "demo" / "conman.conf"
    assert oct(os.stat(conf).st_mode & 0o777) == "0o600"
    password = read_text(tmp_path / "demo" / "bmc" / "secrets" / "password").strip()
    assert password not in text
    assert password not in read_text(tmp_path / "demo" / "configure_conman.log")
    assert processes_mentioning(str(tmp_path / "demo")) == []


# What each event's line starts with, after conmand's stamp and the printk one.
EVENT_TEXT = {"kernel_panic": "Kernel panic - not syncing: ", "boot": "Linux version 6."}


def check_console_events(text, demo):
    """The demo's River nodes crash and reboot (console-sim --panic-every):
    their kernel panics and boots are in the /events table it prints, each
    at a log offset holding that line, and counted in /metrics."""
    assert re.search(r"demo: curl -s http://127\.0\.0\.1:\d+/events \(\d+ console events",
                     text), text
    rows = re.findall(r"demo:   (\S+) +(\w+) +(critical|error|warning|info) +(\S+Z) (\S+):(\d+)$",
                      text, re.M)
    rules = {rule for _, rule, _, _, _, _ in rows}
    assert {"kernel_panic", "boot"} <= rules, text
    for console, rule, severity, _, log, offset in rows:
        assert console.startswith("x3000c0s"), console  # the SSH blade's nodes never crash
        assert log == str(demo / "logs" / f"console.{console}")
        with open(log, "rb") as f:
            f.seek(int(offset))
            line = f.readline().decode()
        assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[ *\d+\.\d{6}\] ", line), line
        if rule in EVENT_TEXT:
            assert EVENT_TEXT[rule] in line, (rule, line)
        if rule == "kernel_panic":
            assert severity == "critical"
    counted = re.findall(r'demo:   conman_console_events_total\{[^}]*rule="kernel_panic"[^}]*\} '
                         r'(\d+)', text)
    assert counted and all(int(n) >= 1 for n in counted), text


def test_demo_check_mode_runs_a_mixed_river_and_mountain_cluster_with_our_conmand(procs,
                                                                                 tmp_path):
    binary("conmand")  # the default choice must exist in this build
    out = tmp_path / "demo.out"
    env = dict(demo_env(tmp_path, 2), DEMO_SECONDS="60")
    del env["CONMAND"]
    p = procs.start(["bash", DEMO, "--check"], log_path=str(out), env=env)
    rc = p.wait(timeout=180)
    text = read_text(out)
    assert rc == 0, text
    assert ("PASS: all 4 consoles logged output (2 River nodes over IPMI SOL, 2 Mountain nodes "
            f"over SSH) through {BIN_DIR}/conmand") in text, text
    assert text.count("numbered SOL lines in logs/console.") == 2
    assert "numbered SSH lines in logs/console.x1000c0s0b0n0" in text
    assert "numbered SSH lines in logs/console.x1000c0s0b0n1" in text
    # The operations endpoints of both, as the demo shows them.
    assert re.search(r"demo: conmand on 127\.0\.0\.1:\d+: /healthz 200, /readyz 200", text), text
    up = re.findall(r'demo:   conman_console_up\{console="([^"]+)"\} 1', text)
    assert len(up) == 4, text
    rows = re.findall(r"demo:   (\S+) +(ipmi|ssh) +up +connects=\d+ log=\S+", text)
    assert sorted(name for name, _ in rows) == sorted(up), text
    assert sorted(kind for _, kind in rows) == ["ipmi", "ipmi", "ssh", "ssh"], text
    demo = tmp_path / "demo"
    check_console_events(text, demo)
    # The web console: the page's address, and a WebSocket that streamed a
    # console's log tail and live lines.
    assert re.search(r"demo: web console: http://127\.0\.0\.1:\d+/ lists every console", text)
    m = re.search(r"demo:   its WebSocket /consoles/\S+/ws sent \d+ bytes \((\d+) numbered", text)
    assert m and int(m.group(1)) >= 3, text
    conf = read_text(demo / "conman.conf")
    assert f'eventrules="{SOURCE_DIR}/etc/conman-events.rules"' in conf, conf
    assert f'dev="ssh:n1@127.0.0.1:' in conf and f'sshopts="I:{demo}/ssh/id_ed25519"' in conf
    key_body = [l for l in read_text(demo / "ssh" / "id_ed25519").splitlines()
                if not l.startswith("-----")]
    password = read_text(demo / "bmc" / "secrets" / "password").strip()
    for name in ("conman.conf", "configure_conman.log", "logs/conmand.log"):
        assert not any(l in read_text(demo / name) for l in key_body), name
    for name in ("configure_conman.log", "logs/conmand.log"):
        assert password not in read_text(demo / name), name
        assert password.encode().hex() not in read_text(demo / name), name
    assert processes_mentioning(str(demo)) == []


def test_ctrl_c_stops_every_process_the_demo_started(procs, tmp_path):
    out = tmp_path / "demo.out"
    p = procs.start(["bash", DEMO], log_path=str(out), env=demo_env(tmp_path, 2))
    wait_for(lambda: p.poll() is not None or "Ctrl-C stops everything" in read_text(out),
             timeout=90, what="the demo to print what to try")
    assert p.poll() is None, read_text(out)
    text = read_text(out)
    assert "conman -d 127.0.0.1:" in text and " -q" in text
    demo_dir = str(tmp_path / "demo")
    assert len(processes_mentioning(demo_dir)) >= 4  # bmc-sim, console-sim, 2 ipmi_sim
    os.killpg(p.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
    p.wait(timeout=60)
    assert "stopped; files are in" in read_text(out)
    wait_for(lambda: processes_mentioning(demo_dir) == [], timeout=10,
             what="every demo process to be gone")


def test_interactive_summary_with_our_conmand_points_at_events(procs, tmp_path):
    out = tmp_path / "demo.out"
    env = dict(demo_env(tmp_path, 1), DEMO_BLADE_NODES="0")
    del env["CONMAND"]
    p = procs.start(["bash", DEMO], log_path=str(out), env=env)
    wait_for(lambda: p.poll() is not None or "Ctrl-C stops everything" in read_text(out),
             timeout=90, what="the demo to print what to try")
    assert p.poll() is None, read_text(out)
    assert re.search(r"curl -s http://127\.0\.0\.1:\d+/events\n +console events: ",
                     read_text(out)), read_text(out)
    os.killpg(p.pid, signal.SIGINT)
    p.wait(timeout=60)
    wait_for(lambda: processes_mentioning(str(tmp_path / "demo")) == [], timeout=10,
             what="every demo process to be gone")


def test_demo_refuses_to_empty_a_directory_it_did_not_make(tmp_path):
    precious = tmp_path / "demo"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine")
    r = subprocess.run(["bash", DEMO, "--check"], env=demo_env(tmp_path, 1),
                       capture_output=True, timeout=60)
    assert r.returncode == 1
    assert b"is not a demo scratch directory" in r.stderr
    assert (precious / "keep.txt").read_text() == "mine"
