"""An ssh: console in our conmand against the real OpenSSH sshd on a loopback
port: its own host key and authorized_keys in a temp dir, and a ForceCommand
that behaves like a node console (prints lines, answers what it is sent)."""
import os
import re
import subprocess

from e2e_helpers import free_port, keygen, wait_for
from conmand_util import Daemon

SSHD = "/usr/sbin/sshd"

CONSOLE_SCRIPT = """import os, select, sys, time
n = 0
sys.stdout.write("openssh-console: boot\\r\\n")
while True:
    n += 1
    sys.stdout.write(f"openssh-console line {n}\\r\\n")
    sys.stdout.flush()
    r, _, _ = select.select([0], [], [], 0.3)
    if r:
        data = os.read(0, 1024)
        if not data:
            break
        sys.stdout.write("got: " + data.decode(errors="replace").strip() + "\\r\\n")
"""


def start_sshd(procs, tmp_path, client_key):
    """sshd -D on a free loopback port; fails (never skips) when it cannot run."""
    assert os.geteuid() == 0, "sshd needs root to switch to the logged-in user"
    # sshd insists on its privilege separation directory.
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    d = tmp_path / "sshd"
    d.mkdir()
    host_key = keygen(d / "host_ed25519")
    (d / "authorized_keys").write_text(open(client_key + ".pub").read())
    script = d / "console.py"
    script.write_text(CONSOLE_SCRIPT)
    port = free_port()
    conf = d / "sshd_config"
    conf.write_text(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {d}/sshd.pid
AuthorizedKeysFile {d}/authorized_keys
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers root
ForceCommand /usr/bin/python3 {script}
""")
    check = subprocess.run([SSHD, "-t", "-f", str(conf)], capture_output=True, timeout=10)
    assert check.returncode == 0, f"sshd rejects its test config: {check.stderr!r}"
    log = d / "sshd.log"
    proc = procs.start([SSHD, "-D", "-e", "-f", str(conf)], log_path=str(log))

    def listening():
        assert proc.poll() is None, f"sshd exited: {log.read_text()}"
        return "Server listening on 127.0.0.1" in log.read_text()

    wait_for(listening, timeout=10, what="sshd to listen")
    return port, host_key


def test_openssh_forcecommand_console_logs_and_takes_input(procs, tmp_path):
    key = keygen(tmp_path / "id")
    port, host_key = start_sshd(procs, tmp_path, key)
    ktype, kb64 = open(host_key + ".pub").read().split()[:2]
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {ktype} {kb64}\n")
    d = Daemon("ours", procs, tmp_path, [
        f'console name="real" dev="ssh:root@127.0.0.1:{port}" sshopts="I:{key},K:{known}"'
    ], global_extra='global log="console.%N"')
    os.chmod(d.conf, 0o600)
    d.start()

    def lines():
        try:
            return [int(n) for n in re.findall(rb"openssh-console line (\d+)", d.log("real"))]
        except FileNotFoundError:
            return []

    wait_for(lambda: len(lines()) >= 3, timeout=15, what="sshd console lines in the log")
    assert lines()[:3] == [1, 2, 3]
    assert b"openssh-console: boot" in d.log("real")
    assert f"Console [real] connected to <root@127.0.0.1:{port}>" in d.output()

    c = d.client("-j", "real")
    try:
        c.expect("Connection to console [real] opened")
        c.send("through-openssh\r")
        c.expect("got: through-openssh")
        c.send("&.")
        assert c.wait() == 0
    finally:
        c.close()
