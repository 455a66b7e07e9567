"""docs/conman-0.3.1-compat.md stays true: every row of its three tables
(configuration lines, command-line options, log-name specifiers) is tried on
our real conmand, and what the row says ("honoured", "accepted", "refused")
must be what happens."""
import os
import re
import signal
import subprocess
import time

import pytest

from e2e_helpers import SOURCE_DIR, binary, conman_names, free_port, wait_for, write_lines

DOC = os.path.join(SOURCE_DIR, "docs", "conman-0.3.1-compat.md")
STATUSES = ("honoured", "accepted", "refused")


def table(heading):
    """(first cell without backticks, status) of each row of the table that
    follows `## heading` in the compatibility document."""
    with open(DOC) as f:
        text = f.read()
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        m = re.match(r"^\| `(.+?)` \| (\w+) \|", line)
        if m:
            assert m.group(2) in STATUSES, f"bad status in {line!r}"
            rows.append((m.group(1), m.group(2)))
    assert rows, f"no rows under '## {heading}' in {DOC}"
    return rows


def relocate(line, tmp):
    """Points the example's system paths (/var/log, /run, /tmp) into the
    test's own folder, so the daemon writes nothing outside it."""
    return re.sub(r'"/(var/log|run|tmp)(/[^"]*)?"',
                  lambda m: f'"{tmp}/{m.group(1)}{m.group(2) or ""}"', line)


def start(procs, tmp, conf, port, *extra):
    out = os.path.join(tmp, "conmand.out")
    argv = [binary("conmand"), "-F", "-v", "-c", conf, "-p", str(port), *extra]
    p = procs.start(argv, log_path=out)
    wait_for(lambda: p.poll() is not None or conman_names(port) is not None, timeout=15,
             what="conmand to answer a query")
    assert p.poll() is None, open(out, errors="replace").read()
    return p, out


def errors_by_line(text, conf):
    """Config line numbers named by an ERROR line of the daemon's output."""
    found = set()
    for line in text.splitlines():
        if " ERROR " in line:
            found.update(int(n) for n in re.findall(re.escape(conf) + r":(\d+):", line))
    return found


def test_every_configuration_row_is_taken_or_refused_as_the_table_says(procs, tmp_path):
    tmp = str(tmp_path)
    for sub in ("var/log/conman", "run", "tmp"):
        os.makedirs(os.path.join(tmp, sub), exist_ok=True)
    rows = table("conman.conf")
    conf = os.path.join(tmp, "conman.conf")
    lines = [f'server logdir="{tmp}"', "server loopback=on"]
    first = len(lines) + 1
    lines += [relocate(example, tmp) for example, _ in rows]
    # A continued line (backslash-newline), as upstream's lexer allows.
    cont = len(lines) + 1
    lines += ['console name="continued" \\', '  dev="/bin/cat"']
    write_lines(conf, lines)
    port = free_port()
    p, out = start(procs, tmp, conf, port)
    time.sleep(0.5)  # let start-up warnings reach the logs
    text = open(out, errors="replace").read()
    logfile = os.path.join(tmp, "var/log/conman/conman.log")
    if os.path.exists(logfile):
        text += open(logfile, errors="replace").read()
    bad = errors_by_line(text, conf)
    wrong = []
    for i, (example, status) in enumerate(rows):
        refused = first + i in bad
        if refused != (status == "refused"):
            wrong.append(f"line {first + i} `{example}` is {status} in the table, but the "
                         f"daemon {'refused' if refused else 'took'} it")
        keyword = example.split()[1].split("=")[0]
        if status == "accepted" and not re.search(rf" WARN .*{keyword}", text, re.I):
            wrong.append(f"line {first + i} `{example}` is accepted but not honoured, and "
                         "no warning says so")
    assert not wrong, "\n".join(wrong) + "\n--- daemon output ---\n" + text[-4000:]
    assert cont not in bad and cont + 1 not in bad, text[-4000:]
    names = conman_names(port)
    assert "continued" in names, names
    for example, status in rows:
        m = re.search(r'console name="([^"]+)"', example)
        if m:
            assert (m.group(1) in names) == (status != "refused"), (example, names)


def test_every_option_row_is_taken_or_refused_as_the_table_says(procs, tmp_path):
    rows = table("Command line")
    conmand = binary("conmand")
    usage = subprocess.run([conmand, "-h"], capture_output=True, timeout=10)
    assert usage.returncode == 0
    for option, status in rows:
        flag = option.split()[0]
        listed = re.search(rf"^\s*{re.escape(flag)}\b", usage.stdout.decode(), re.M)
        if status == "refused":
            r = subprocess.run([conmand, flag], capture_output=True, timeout=10)
            assert r.returncode == 2 and not listed, (flag, r)
        else:
            assert listed, f"{flag} is {status} in the table but not in conmand -h"
    for flag in ("-V", "-L"):
        r = subprocess.run([conmand, flag], capture_output=True, timeout=10)
        assert r.returncode == 0 and r.stdout, (flag, r)
    # The daemon's own options, live: -c -F -v -p -P -z to start it, then
    # -q, -r and -k find it through its configuration.
    tmp = str(tmp_path)
    conf = os.path.join(tmp, "conman.conf")
    with open(conf, "w") as f:
        f.write(f'server logdir="{tmp}"\nglobal log="console.%N"\n'
                'console name="a" dev="/bin/cat"\n')
    with open(os.path.join(tmp, "console.a"), "w") as f:
        f.write("old output\n")
    pidfile = os.path.join(tmp, "from-P.pid")
    port = free_port()
    p, _ = start(procs, tmp, conf, port, "-P", pidfile, "-z")
    wait_for(lambda: os.path.exists(pidfile), what="the -P pidfile")
    assert open(pidfile).read().strip() == str(p.pid)
    assert b"old output" not in open(os.path.join(tmp, "console.a"), "rb").read()
    q = subprocess.run([conmand, "-q", "-c", conf], capture_output=True, timeout=10)
    assert q.returncode == 0 and q.stdout.decode().strip() == str(p.pid), q
    r = subprocess.run([conmand, "-r", "-c", conf], capture_output=True, timeout=10)
    assert r.returncode == 0, r
    k = subprocess.run([conmand, "-k", "-c", conf], capture_output=True, timeout=15)
    assert k.returncode == 0, k
    assert p.wait(timeout=10) == 0


def expected_time_values(spec, t0, t1):
    """Every value `spec` can take between t0 and t1 (the daemon opened the
    file at some second in between), in the daemon's local time."""
    values = set()
    for t in range(int(t0) - 1, int(t1) + 2):
        values.add(str(t) if spec == "%s" else time.strftime(spec, time.localtime(t)))
    return values


def test_every_specifier_row_expands_as_the_table_says(procs, tmp_path):
    tmp = str(tmp_path)
    rows = table("Log-name specifiers")
    sock_dir = os.path.join(tmp, "socks")
    os.makedirs(sock_dir)
    consoles = []
    for i, (spec, _) in enumerate(rows):
        dev = f"unix:{sock_dir}/dev{i}.sock" if spec == "%D" else "/bin/cat"
        consoles.append(f'console name="s{i}" dev="{dev}" log="spec/s{i}-{spec}"')
    conf = os.path.join(tmp, "conman.conf")
    with open(conf, "w") as f:
        f.write(f'server logdir="{tmp}"\n' + "\n".join(consoles) + "\n")
    t0 = time.time()
    p, _ = start(procs, tmp, conf, free_port())
    spec_dir = os.path.join(tmp, "spec")
    wait_for(lambda: len(os.listdir(spec_dir)) >= len(rows) if os.path.isdir(spec_dir) else 0,
             what="every console's log file")
    t1 = time.time()
    files = os.listdir(spec_dir)
    wrong = []
    for i, (spec, status) in enumerate(rows):
        got = [f[len(f"s{i}-"):] for f in files if f.startswith(f"s{i}-")]
        if spec == "%N":
            want = {f"s{i}"}
        elif spec == "%D":
            want = {f"dev{i}.sock"}
        elif spec == "%P":
            want = {str(p.pid)}
        elif spec == "%%":
            want = {"%"}
        elif status == "honoured" and spec[1] in "YymdHMSsgGjuUVwW":
            want = expected_time_values(spec, t0, t1)
        else:
            want = {spec}  # not a specifier: kept as it is, like upstream
        if len(got) != 1 or got[0] not in want:
            wrong.append(f"{spec} ({status}): log named {got}, expected one of {sorted(want)[:3]}")
    assert not wrong, "\n".join(wrong)
    os.kill(p.pid, signal.SIGTERM)
    assert p.wait(timeout=10) == 0
