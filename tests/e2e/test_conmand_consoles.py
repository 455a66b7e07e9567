"""conmand console types end to end (telnet, unix socket, serial device),
run against our daemon and Debian's conmand with the stock client."""
import os
import select
import socket
import time

import pytest

from e2e_helpers import LoopbackServer, wait_for
from conmand_util import Daemon, RawClient
from dns_stub import DnsStub, start_with_stub

IAC, DONT, DO, WONT, WILL, SB, SE, BREAK = 255, 254, 253, 252, 251, 250, 240, 243
ECHO, SGA, TTYPE = 1, 3, 24


def strip_telnet(data):
    """Data bytes without telnet commands (IAC verb option, IAC x)."""
    out, i = bytearray(), 0
    while i < len(data):
        if data[i] == IAC and i + 1 < len(data):
            if data[i + 1] == IAC:
                out.append(IAC)
            i += 3 if data[i + 1] in (WILL, WONT, DO, DONT) else 2
            continue
        out.append(data[i])
        i += 1
    return bytes(out)


class PeerServer(LoopbackServer):
    """A console server on loopback (TCP or unix): sends a banner, then
    answers every data line upper-cased; records every byte it received."""

    def __init__(self, family, address, banner, suffix=b""):
        self.banner = banner
        self.telnet = family == socket.AF_INET
        self.suffix = suffix  # raw bytes after every reply's text
        self.received = b""
        super().__init__(family, address)

    def serve(self, conn):
        line = b""
        conn.sendall(self.banner)
        while not self.stop.is_set():
            try:
                data = conn.recv(4096)
            except socket.timeout:
                continue
            if not data:
                return
            self.received += data
            line += strip_telnet(data)
            if b"\r" in line:
                text, line = line.split(b"\r", 1)
                reply = b"GOT " + text.strip().upper()
                if self.telnet:  # a data 0xFF goes out as IAC IAC
                    reply = reply.replace(bytes([IAC]), bytes([IAC, IAC]))
                conn.sendall(reply + self.suffix + b"\r\n")


def test_telnet_console_negotiates_and_relays_both_ways(kind, procs, tmp_path):
    banner = bytes([IAC, DO, TTYPE, IAC, WILL, ECHO, IAC, WILL, SGA]) + b"login: \xff\xff\r\n"
    srv = PeerServer(socket.AF_INET, ("127.0.0.1", 0), banner)
    try:
        port = srv.sock.getsockname()[1]
        d = Daemon(kind, procs, tmp_path, [f'console name="ts" dev="127.0.0.1:{port}"'],
                   global_extra='global log="console.%N"').start()
        wait_for(lambda: b"login: " in d.log("ts"), what="telnet banner in the log")
        # The server's IAC IAC is one data byte 0xFF, in the log exactly once.
        wait_for(lambda: b"login: \xff\r\n" in d.log("ts"), what="one 0xFF after login:")
        assert bytes([IAC, DO, TTYPE]) not in d.log("ts")
        c = d.client("-j", "ts")
        try:
            c.expect("opened")
            c.send("hello telnet\r")
            c.expect("GOT HELLO TELNET")
            c.send("&B")  # serial break: IAC BREAK on a telnet console
            wait_for(lambda: bytes([IAC, BREAK]) in srv.received, what="IAC BREAK")
        finally:
            c.close()
        got = srv.received
        assert bytes([IAC, WONT, TTYPE]) in got
        assert bytes([IAC, DO, ECHO]) in got
        assert bytes([IAC, DO, SGA]) in got
    finally:
        srv.close()


def raw_join(port, console):
    """A RawClient joined to `console`: every byte it sends reaches the
    console as written."""
    raw = RawClient(port)
    raw.send(b"HELLO USER='raw'\n")
    raw.expect(b"OK\n")
    raw.send(f"CONNECT OPTION=JOIN CONSOLE='{console}'\n".encode())
    raw.expect(f"OK CONSOLE='{console}'\n".encode())
    return raw


def start_ff_console(kind, procs, tmp_path, banner, suffix=b""):
    srv = PeerServer(socket.AF_INET, ("127.0.0.1", 0), banner, suffix)
    port = srv.sock.getsockname()[1]
    d = Daemon(kind, procs, tmp_path, [f'console name="ff" dev="127.0.0.1:{port}"'],
               global_extra='global log="console.%N"').start()
    return srv, d


def test_telnet_console_collapses_iac_iac_to_one_0xff(kind, procs, tmp_path):
    srv, d = start_ff_console(kind, procs, tmp_path, b"in:A\xff\xffB|\r\n",
                              suffix=b" =\xff\xff=")
    try:
        wait_for(lambda: b"|" in d.log("ff"), what="the banner in the log")
        assert b"in:A\xffB|\r\n" in d.log("ff")
        raw = raw_join(d.port, "ff")
        try:
            raw.send(b"x\r")
            raw.expect(b"GOT X")
            raw.expect(b"=\r\n", timeout=5)
            assert b"GOT X =\xff=\r\n" in raw.buf
        finally:
            raw.close()
        wait_for(lambda: b"GOT X" in d.log("ff"), what="the reply in the log")
        assert b"GOT X =\xff=\r\n" in d.log("ff")
    finally:
        srv.close()


def test_telnet_console_sends_a_client_0xff_as_iac_iac(kind, procs, tmp_path, request):
    if kind == "debian":
        request.applymarker(pytest.mark.xfail(strict=True, reason=(
            "conman 0.2.7 (and 0.3.1) write a data 0xFF to a telnet console unescaped")))
    srv, d = start_ff_console(kind, procs, tmp_path, b"ready\r\n")
    try:
        raw = raw_join(d.port, "ff")
        try:
            # 0xFF 0xFF is one data byte 0xFF in the conman protocol.
            raw.send(b"out:C\xff\xffD\r")
            wait_for(lambda: b"D\r" in srv.received, what="the line at the telnet server")
        finally:
            raw.close()
        assert b"out:C\xff\xffD\r" in srv.received
    finally:
        srv.close()


def test_unix_socket_console_relays_both_ways(kind, procs, tmp_path):
    path = str(tmp_path / "console.sock")
    srv = PeerServer(socket.AF_UNIX, path, b"unix banner\r\n")
    try:
        d = Daemon(kind, procs, tmp_path, [f'console name="us" dev="unix:{path}"'],
                   global_extra='global log="console.%N"').start()
        wait_for(lambda: b"unix banner" in d.log("us"), what="banner in the log")
        c = d.client("-j", "us")
        try:
            c.expect("opened")
            c.send("over unix\r")
            c.expect("GOT OVER UNIX")
        finally:
            c.close()
    finally:
        srv.close()


def test_serial_device_console_relays_both_ways(kind, procs, tmp_path):
    master, slave = os.openpty()
    path = os.ttyname(slave)
    try:
        d = Daemon(kind, procs, tmp_path,
                   [f'console name="ser" dev="{path}" seropts="115200,8n1"'],
                   global_extra='global log="console.%N"').start()
        c = d.client("-j", "ser")
        try:
            c.expect("opened")
            time.sleep(0.5)  # the daemon has the device open and raw by now
            os.write(master, b"from the serial side\r\n")
            c.expect("from the serial side")
            c.send("to-serial\r")
            got = b""
            deadline = time.monotonic() + 10
            while b"to-serial" not in got and time.monotonic() < deadline:

                r, _, _ = select.select([master], [], [], 0.2)
                if r:
                    got += os.read(master, 4096)
            assert b"to-serial" in got
        finally:
            c.close()
    finally:
        os.close(master)
        os.close(slave)


def test_telnet_console_by_host_name_connects(kind, procs, tmp_path):
    srv = PeerServer(socket.AF_INET, ("127.0.0.1", 0), b"named host banner\r\n")
    try:
        port = srv.sock.getsockname()[1]
        d = Daemon(kind, procs, tmp_path, [f'console name="named" dev="localhost:{port}"'],
                   global_extra='global log="console.%N"').start()
        wait_for(lambda: b"named host banner" in d.log("named"), what="banner via a host name")
    finally:
        srv.close()


def test_unresolvable_telnet_host_is_reported_and_others_still_work(procs, tmp_path):
    # The lookup goes to a name server on loopback (dns_stub), never off the
    # machine; it answers NXDOMAIN.
    srv = PeerServer(socket.AF_INET, ("127.0.0.1", 0), b"still here\r\n")
    stub = DnsStub()
    try:
        port = srv.sock.getsockname()[1]
        d = start_with_stub(Daemon("ours", procs, tmp_path,
                                   ['console name="nohost" dev="no-such-host.invalid:23"',
                                    f'console name="ok" dev="127.0.0.1:{port}"'],
                                   global_extra='global log="console.%N"'), stub)
        wait_for(lambda: b"still here" in d.log("ok"), what="the good console")
        wait_for(lambda: "Console [nohost] cannot connect" in d.output(),
                 what="the lookup failure")
        assert "no-such-host.invalid" in stub.asked
    finally:
        stub.close()
        srv.close()
