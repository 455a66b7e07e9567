"""Reload by diff on SIGHUP / `conmand -r` (issue 5). Debian's conmand only
reopens its logs on SIGHUP, so its runs are strict xfails where a test needs
the new configuration applied."""
import os
import signal
import subprocess

import pytest

from e2e_helpers import binary, differs_from_debian, wait_for, write_lines
from conmand_util import Daemon, echo_dev


def write_conf(d, consoles, extra=()):
    lines = [f'server logdir="{d.dir}"', f'server pidfile="{d.pidfile}"', "server loopback=on",
             'global log="console.%N"', *extra, *consoles]
    write_lines(d.conf, lines)


@pytest.mark.parametrize("kind", ["ours", "debian"])
def test_hup_applies_the_diff_and_unchanged_consoles_keep_their_session(kind, procs, tmp_path,
                                                                        request):
    differs_from_debian(request, kind, "conman 0.2.7 does not reload its configuration")
    dev = echo_dev(tmp_path)
    d = Daemon(kind, procs, tmp_path, [f'console name="keep" dev="{dev}"',
                                      f'console name="gone" dev="{dev}"',
                                      f'console name="change" dev="{dev}"'],
               global_extra='global log="console.%N"').start()
    keep, gone, change = d.client("-j", "keep"), d.client("-m", "gone"), d.client("-j", "change")
    try:
        for c in (keep, gone, change):
            c.expect("opened")
        keep.send("before-reload\r")
        keep.expect("before-reload")
        ticker = "/bin/sh -c 'while :; do echo changed-tick; sleep 0.2; done'"
        write_conf(d, [f'console name="keep" dev="{dev}"', f'console name="change" dev="{ticker}"',
                       f'console name="added" dev="{dev}"'])
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: d.run("-q").stdout.decode().split() == ["added", "change", "keep"],
                 what="the new console set")
        gone.expect("Console [gone] removed from the configuration")
        assert gone.wait() is not None
        change.expect("changed-tick")
        keep.send("after-reload\r")
        keep.expect("after-reload")
        assert b"disconnected" not in keep.buf and b"removed" not in keep.buf
        wait_for(lambda: b"before-reload" in d.log("keep"), what="keep's log before the reload")
        assert d.log("keep").count(b"log opened") == 1
        wait_for(lambda: b"after-reload" in d.log("keep"), what="keep's log to continue")
        wait_for(lambda: os.path.exists(os.path.join(d.dir, "console.added")),
                 what="the added console's log")
    finally:
        for c in (keep, gone, change):
            c.close()


def test_invalid_config_on_hup_is_reported_and_changes_nothing(procs, tmp_path):
    dev = echo_dev(tmp_path)
    d = Daemon("ours", procs, tmp_path, [f'console name="a" dev="{dev}"'],
               global_extra='global log="console.%N"').start()
    write_conf(d, [f'console name="a" dev="{dev}"', f'console name="b" dev="{dev}"',
                   'console name="broken" dve="/bin/cat"'])
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload refused" in d.output(), what="the refusal")
    assert f"{d.conf}:7: unrecognized CONSOLE keyword 'dve'" in d.output()
    assert d.run("-q").stdout.decode().split() == ["a"]


def test_reconfigure_option_applies_the_file_and_reports_what_needs_a_restart(procs, tmp_path):
    dev = echo_dev(tmp_path)
    d = Daemon("ours", procs, tmp_path, [f'console name="a" dev="{dev}"'])
    d.start()
    write_conf(d, [f'console name="a" dev="{dev}"', f'console name="b" dev="{dev}"'],
               extra=[f"server port={d.port + 1}", "server loopback=off"])
    r = subprocess.run([binary("conmand"), "-r", "-c", d.conf], capture_output=True, timeout=10)
    assert r.returncode == 0, r.stderr
    wait_for(lambda: d.run("-q").stdout.decode().split() == ["a", "b"], what="console b")
    # -p on the command line wins over the file's port; loopback cannot change
    # without rebinding the listener.
    wait_for(lambda: "SERVER loopback changed" in d.output(), what="the restart notice")
    assert "port" not in d.output().split("SERVER loopback")[1].split("\n")[0]
    assert d.run("-q").returncode == 0
