"""The web console's WebSocket (issue 18 items 2-5), without a browser:
python3-websockets against our conmand's /consoles/NAME/ws. A numbered
console-sim stream arrives whole and in order through the log's replayed
tail and the live output; mode=join types into the console (console-sim
echoes it) and is 403 without httpjoin; mode=force steals from another
viewer; the Origin and the token are checked; 100 viewers that never read
are dropped with bounded memory while the console, its log and a viewer
that reads go on."""
import asyncio
import http.client
import urllib.error
import os
import re
import signal
import socket
import time

import pytest
import websockets

from bmcsim import ConsoleSim, contiguous, seqs_by_console
from conmand_util import Daemon
from e2e_helpers import free_port, wait_for

MAX = 256 * 1024  # WS_OUT_MAX
REPLAY = 64 * 1024


def start(procs, tmp_path, rate=50, server_extra="", names=("n1",), extra_consoles=()):
    cons = ConsoleSim.start(procs, tmp_path, [f"{n}=tcp:0" for n in names], rate=rate)
    http = free_port()
    lines = [f'console name="{n}" dev="127.0.0.1:{cons.port(n)}"' for n in names]
    lines += list(extra_consoles)
    d = Daemon("ours", procs, tmp_path, lines,
               server_extra=f"server httpport={http}\n{server_extra}",
               global_extra='global log="console.%N"')
    d.http, d.cons = http, cons
    return d.start()


def url(d, name="n1", mode=None):
    return f"ws://127.0.0.1:{d.http}/consoles/{name}/ws" + (f"?mode={mode}" if mode else "")


async def collect(uri, seconds, send=None, **kw):
    """Every binary message for `seconds` (bytes joined), sending `send`
    (a list of (delay s, bytes)) meanwhile."""
    out = bytearray()
    async with websockets.connect(uri, max_size=None, open_timeout=10, **kw) as ws:
        t0 = time.monotonic()
        pending = list(send or [])
        while time.monotonic() - t0 < seconds:
            if pending and time.monotonic() - t0 >= pending[0][0]:
                await ws.send(pending.pop(0)[1])
            try:
                msg = await asyncio.wait_for(ws.recv(), timeout=0.1)
            except asyncio.TimeoutError:
                continue
            assert isinstance(msg, bytes), "console bytes come as binary messages"
            out += msg
    return bytes(out)


def refused(uri, **kw):
    """The HTTP status and body the upgrade is answered with."""
    async def go():
        try:
            async with websockets.connect(uri, open_timeout=10, **kw):
                return 101, b""
        except websockets.exceptions.InvalidStatusCode as e:
            return e.status_code, b""
    return asyncio.run(go())


def wait_log(d, size, name="n1"):
    path = os.path.join(d.dir, f"console.{name}")
    wait_for(lambda: os.path.exists(path) and os.path.getsize(path) > size, timeout=30,
             what=f"console.{name} past {size} bytes")


def test_replay_then_live_output_is_every_line_once_in_order(procs, tmp_path):
    d = start(procs, tmp_path, rate=400)
    wait_log(d, REPLAY * 2)  # the log holds more than the replayed tail
    got = asyncio.run(collect(url(d), 4))
    seqs = seqs_by_console(got.decode(errors="replace"))["n1"]
    # Lines of the tail, then a second of live lines at 400 a second.
    assert contiguous(seqs, 900 + 400), (seqs[:5], len(seqs))
    log = open(os.path.join(d.dir, "console.n1"), "rb").read()
    first = got.index(b"#%08d" % seqs[0])
    assert log.find(got[first:first + 4096]) > 0, "the replay is the log's own bytes"
    assert len(log) - log.find(got[:200]) < len(got) + 4096  # the tail: the last 64 KiB
    assert "Web viewer <127.0.0.1:" in d.output()


def test_replay_reaches_into_the_rotated_log(procs, tmp_path):
    d = start(procs, tmp_path, rate=400, server_extra="server logsize=100K logkeep=2")
    rotated = os.path.join(d.dir, "console.n1.1")
    wait_for(lambda: os.path.exists(rotated), timeout=30, what="a rotation")
    live = os.path.join(d.dir, "console.n1")
    # Just after a rotation the live file is short: the tail continues the old one.
    for _ in range(200):
        if os.path.getsize(live) < REPLAY // 2:
            break
        time.sleep(0.05)
    got = asyncio.run(collect(url(d), 1.5))
    seqs = seqs_by_console(got.decode(errors="replace"))["n1"]
    assert contiguous(seqs, 600), (seqs[:5], len(seqs))
    assert len(got) > REPLAY - 200


def test_join_types_into_the_console_and_needs_httpjoin(procs, tmp_path):
    d = start(procs, tmp_path, rate=2)
    status, _ = refused(url(d, mode="join"))
    assert status == 403
    status, _ = refused(url(d, mode="force"))
    assert status == 403
    assert refused(url(d, mode="nonsense"))[0] == 400
    got = asyncio.run(collect(url(d), 1.5, send=[(0.5, b"typed-by-a-monitor\r")]))
    assert b"typed-by-a-monitor" not in got  # read-only by default

    (tmp_path / "join").mkdir()
    d2 = start(procs, tmp_path / "join", rate=2, server_extra="server httpjoin=ON")
    got = asyncio.run(collect(url(d2, mode="join"), 3,
                              send=[(0.5, b"hello-from-the-browser\r"), (0.7, "text frame\r")]))
    assert b"hello-from-the-browser" in got and b"text frame" in got  # echoed by the console
    assert "joined by <web@127.0.0.1> on browser" not in got.decode(errors="replace")


def test_force_steals_from_a_joined_viewer_with_the_stock_notices(procs, tmp_path):
    d = start(procs, tmp_path, rate=2, server_extra="server httpjoin=ON")

    async def both():
        async with websockets.connect(url(d, mode="join"), max_size=None) as first:
            await asyncio.sleep(0.5)
            second = await asyncio.wait_for(collect(url(d, mode="force"), 1.5), 10)
            seen = bytearray()
            try:
                for _ in range(1000):  # until it is closed: stolen
                    seen += await asyncio.wait_for(first.recv(), timeout=0.5)
            except (asyncio.TimeoutError, websockets.exceptions.ConnectionClosed):
                pass
            return bytes(seen), second

    seen, second = asyncio.run(both())
    assert re.search(rb"Console \[n1\] stolen by <web@127\.0\.0\.1> on browser", seen), seen[-500:]
    assert re.search(rb"Console \[n1\] stolen from <web@127\.0\.0\.1> on browser", second)


def test_a_missing_console_is_closed_with_its_name(procs, tmp_path):
    d = start(procs, tmp_path, rate=2)

    async def go():
        async with websockets.connect(url(d, name="nope"), max_size=None) as ws:
            try:
                await asyncio.wait_for(ws.recv(), timeout=5)
            except websockets.exceptions.ConnectionClosed as e:
                return e.code, e.reason
        return None

    assert asyncio.run(go()) == (4404, "no console named nope")


def test_origin_must_be_the_pages_own(procs, tmp_path):
    d = start(procs, tmp_path, rate=2)
    assert refused(url(d), origin="http://evil.example")[0] == 403
    assert refused(url(d), origin=f"http://127.0.0.1:{d.http + 1}")[0] == 403
    assert refused(url(d), origin=f"http://127.0.0.1:{d.http}")[0] == 101


def test_the_websocket_needs_the_token(procs, tmp_path):
    tfile = tmp_path / "token"
    tfile.write_text("web-token\n")
    d = start(procs, tmp_path, rate=2, server_extra=f'server httptokenfile="{tfile}"')
    assert refused(url(d))[0] == 401
    assert refused(url(d), extra_headers={"Authorization": "Bearer wrong"})[0] == 401
    assert refused(url(d), extra_headers={"Authorization": "Bearer web-token"})[0] == 101
    cookie = "conman_token=" + b"web-token".hex()
    assert refused(url(d), extra_headers={"Cookie": cookie})[0] == 101


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def handshake(port, path):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)  # one byte at a time: nothing past the head is read
    assert head.startswith(b"HTTP/1.1 101"), head
    return s


def metric(d, name):
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{d.http}/metrics", timeout=5) as r:
        m = re.search(rf"^{name} (\S+)$", r.read().decode(), re.M)
    return float(m.group(1)) if m else None


def test_100_viewers_that_never_read_cost_bounded_memory_and_are_dropped(procs, tmp_path):
    d = start(procs, tmp_path, rate=5000)
    wait_log(d, REPLAY)
    before = rss_kib(d.proc.pid)
    socks = [handshake(d.http, "/consoles/n1/ws") for _ in range(100)]
    reader = asyncio.run(collect(url(d), 1))  # another viewer still gets its output
    assert len(reader) > REPLAY
    peak = before
    size0 = os.path.getsize(os.path.join(d.dir, "console.n1"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (metric(d, "conman_web_viewers_dropped_total") or 0) < 100:
        peak = max(peak, rss_kib(d.proc.pid))
        time.sleep(0.2)
    assert metric(d, "conman_web_viewers_dropped_total") == 100
    # Each costs at most its 256 KiB queue, its session's 64 KiB and
    # bookkeeping: well under 1 MiB. (Under ASan, freed memory waits in its
    # 256 MB quarantine, so RSS says nothing there; the drops still count.)
    print(f"conmand RSS {before} KiB, at most {peak} KiB with 100 viewers that never read")
    if not os.environ.get("SANITIZER_REPORT_DIR"):
        assert peak - before < 100 * 1024, (before, peak)
    assert os.path.getsize(os.path.join(d.dir, "console.n1")) > size0 + 100000  # still logging
    assert "too slow: 256 KiB of output unsent; dropped" in d.output()
    for s in socks:
        s.close()
    wait_for(lambda: metric(d, "conman_web_viewers") == 0, timeout=20, what="viewers gone")
    assert len(asyncio.run(collect(url(d), 1))) > REPLAY


# --- in a real browser ----------------------------------------------------

def term_text(drv):
    """The terminal's buffer as text, wrapped rows joined (xterm.js 3.8's core
    buffer: the canvas renderer draws no text into the document)."""
    return drv.execute_script(
        "const t = window.conmanTerm; if (!t) return ''; const b = t._core.buffer; const out = [];"
        "for (let i = 0; i < b.lines.length; i++) {"
        "  const s = b.translateBufferLineToString(i, true);"
        "  if (i && b.lines.get(i).isWrapped) out[out.length - 1] += s; else out.push(s); }"
        "return out.join('\\n');")


BOOT_LINE = re.compile(r"\[\s*\d+\.\d{6}\] \S+ #\d{8} .*$")


def without_boot_lines(text):
    """What is left of each line once a console-sim boot line (which runs
    to the end of its line) is cut out, all joined: echoed keystrokes, in
    order, whatever lines came between them."""
    return "".join(BOOT_LINE.sub("", ln) for ln in text.replace("\r", "").split("\n"))


def test_a_browser_opens_a_console_and_joins_it_with_the_token(procs, tmp_path, browser):
    from selenium.webdriver.common.by import By
    tfile = tmp_path / "token"
    tfile.write_text("browser-token\n")
    d = start(procs, tmp_path, rate=5, names=("x1000c0s0b0n0", "x1000c0s1b0n0"),
              server_extra=f'server httptokenfile="{tfile}"\nserver httpjoin=ON')
    base = f"http://127.0.0.1:{d.http}"
    # Without the token the console page is the login form, and nothing streams.
    browser.get(f"{base}/console.html?name=x1000c0s0b0n0&mode=join")
    assert browser.find_elements(By.ID, "token") and term_text(browser) == ""
    browser.find_element(By.ID, "token").send_keys("browser-token\n")
    status = browser.find_element(By.ID, "status")
    wait_for(lambda: status.text.startswith("2 consoles"), timeout=15, what="the list")
    browser.find_element(By.ID, "filter").send_keys("s1b0")
    wait_for(lambda: [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#rows a")]
             == ["x1000c0s1b0n0"], timeout=5, what="one console left")
    browser.find_element(By.CSS_SELECTOR, "#rows a").click()
    wait_for(lambda: "#0000000" in term_text(browser), timeout=15, what="boot output in the terminal")
    assert "x1000c0s1b0n0" in term_text(browser)
    assert browser.find_element(By.ID, "status").text == "monitoring (read-only)"
    browser.find_element(By.ID, "join").click()
    wait_for(lambda: browser.find_element(By.ID, "status").text.startswith("joined"), timeout=15,
             what="joined")
    wait_for(lambda: "#0000000" in term_text(browser), timeout=15, what="the joined page's output")
    # Each key is a message of its own, so on a loaded machine console-sim
    # may print a boot line between two echoed keys: the echo is read with
    # the boot lines taken out (that split once looked like lost keys).
    browser.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys("echo-me-42")
    wait_for(lambda: "echo-me-42" in without_boot_lines(term_text(browser)), timeout=10,
             what="typed characters echoed by the console")
    log = os.path.join(d.dir, "console.x1000c0s1b0n0")
    wait_for(lambda: "echo-me-42" in without_boot_lines(
        open(log, "rb").read().decode(errors="replace")), timeout=5, what="the echo logged")
    assert re.search(r"Web viewer <127\.0\.0\.1:\d+> is typing into console \[x1000c0s1b0n0\]",
                     d.output())
    browser.save_screenshot(str(tmp_path / "web-console.png"))
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"
              and "/login" not in e["message"] and "401" not in e["message"]]
    assert errors == [], errors  # no CSP violation, no script error


def test_a_browser_is_told_why_joining_is_refused(procs, tmp_path, browser):
    d = start(procs, tmp_path, rate=5)
    browser.get(f"http://127.0.0.1:{d.http}/console.html?name=n1&mode=join")
    from selenium.webdriver.common.by import By
    status = browser.find_element(By.ID, "status")
    wait_for(lambda: status.text.startswith("refused"), timeout=15, what="the refusal")
    assert "SERVER httpjoin=ON" in status.text
    assert "echo" not in term_text(browser)


def test_browser_and_stock_client_see_each_others_join_and_steal(procs, tmp_path):
    d = start(procs, tmp_path, rate=2, server_extra="server httpjoin=ON")
    stock = d.client("-j", "n1")
    try:
        stock.expect("Connection to console [n1] opened")

        async def browser_side():
            async with websockets.connect(url(d, mode="join"), max_size=None) as ws:
                await asyncio.sleep(1)
                joined = await asyncio.wait_for(collect(url(d, mode="force"), 1.5), 10)
                return joined

        forced = asyncio.run(browser_side())
        stock.expect("Console [n1] joined by <web@127.0.0.1> on browser")
        stock.expect("Console [n1] stolen by <web@127.0.0.1> on browser")
        assert re.search(rb"Console \[n1\] joined with <\w+@[\w.-]+> on ", forced) or \
            re.search(rb"Console \[n1\] stolen from <\w+@[\w.-]+> on ", forced), forced[-400:]
    finally:
        stock.close()


def test_a_peer_console_is_viewed_and_joined_through_its_owner(procs, tmp_path):
    from test_conmand_peer import pair
    a, b = pair(procs, tmp_path, ("a1",), ("b1",), server_extra="server httpjoin=ON")
    # b1 is B's; A's web console carries the session to B.
    got = asyncio.run(collect(url(a, name="b1", mode="join"), 3,
                              send=[(1, b"typed-at-A-for-b1\r")]))
    assert b"typed-at-A-for-b1" in got  # echoed by B's console, through B
    wait_for(lambda: b"typed-at-A-for-b1" in b.log_so_far("b1"), timeout=10,
             what="the owner logged the browser's keystrokes")
    assert not os.path.exists(os.path.join(a.dir, "console.b1"))
    assert "relays a client on 127.0.0.1" in b.output()


def test_httpcert_and_httpkey_serve_https_and_wss(procs, tmp_path):
    import ssl
    import subprocess
    import urllib.request
    from test_configure_https import self_signed
    cert, key = self_signed(tmp_path)
    d = start(procs, tmp_path, rate=20,
              server_extra=f'server httpcert="{cert}"\nserver httpkey="{key}"')
    ctx = ssl.create_default_context(cafile=str(cert))
    with urllib.request.urlopen(f"https://127.0.0.1:{d.http}/consoles", context=ctx,
                                timeout=5) as r:
        assert r.status == 200 and b'"n1"' in r.read()
    wss = f"wss://127.0.0.1:{d.http}/consoles/n1/ws"
    got = asyncio.run(collect(wss, 1.5, ssl=ctx, origin=f"https://127.0.0.1:{d.http}"))
    assert contiguous(seqs_by_console(got.decode(errors="replace"))["n1"], 5)
    assert refused(wss, ssl=ctx, origin=f"http://127.0.0.1:{d.http}")[0] == 403  # not the page's
    try:  # no plain HTTP on it
        urllib.request.urlopen(f"http://127.0.0.1:{d.http}/healthz", timeout=5)
        raise AssertionError("plain HTTP answered on the HTTPS port")
    except (urllib.error.URLError, ConnectionError, http.client.HTTPException):
        pass
    assert "Serving HTTPS on 127.0.0.1:" in d.output()
    assert key.read_bytes()[40:80].decode() not in d.output()  # the key is no log line


def test_an_unreadable_key_serves_nothing_and_is_named(procs, tmp_path):
    from test_configure_https import self_signed
    cert, _ = self_signed(tmp_path)
    missing = tmp_path / "missing-key.pem"
    d = start(procs, tmp_path, rate=2,
              server_extra=f'server httpcert="{cert}"\nserver httpkey="{missing}"')
    wait_for(lambda: "cannot serve HTTPS" in d.output(), timeout=10, what="the error")
    assert str(missing) in d.output() and "httpkey" in d.output()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", d.http)) != 0  # never plain HTTP instead
    assert d.run("-q").stdout.split() == [b"n1"]  # the consoles go on


def test_a_quiet_viewer_outlives_the_http_idle_timeout(procs, tmp_path):
    """The HTTP port closes idle requests after 10 s; a WebSocket on a quiet
    console is not a request, and stays."""
    d = start(procs, tmp_path, rate=0.1)
    got = asyncio.run(collect(url(d), 13))  # a close before the end raises
    assert b"connected to" in got


def test_a_message_one_past_64_kib_closes_the_viewer(procs, tmp_path):
    d = start(procs, tmp_path, rate=2, server_extra="server httpjoin=ON")

    async def go(size):
        """The close code within 2 s of sending `size` bytes, or None."""
        async with websockets.connect(url(d, mode="join"), max_size=None) as ws:
            await ws.send(b"k" * size)
            end = time.monotonic() + 2
            try:
                while time.monotonic() < end:
                    await asyncio.wait_for(ws.recv(), timeout=max(0.01, end - time.monotonic()))
            except asyncio.TimeoutError:
                pass
            except websockets.exceptions.ConnectionClosed as e:
                return e.code
            return None

    assert asyncio.run(go(64 * 1024)) is None  # the longest message taken
    assert asyncio.run(go(64 * 1024 + 1)) == 1009  # one past: "message too big"
    # The rest of the message was read and dropped after the close frame,
    # not left unread (a reset that can destroy the frame: 1006).
    wait_for(lambda: "left: closed by conmand (code 1009)" in d.output(), timeout=10,
             what="the viewer's drained close in the log")
    assert d.run("-q").stdout.split() == [b"n1"]


def test_a_removed_console_ends_its_viewers_and_a_stop_ends_the_rest(procs, tmp_path):
    d = start(procs, tmp_path, rate=5, names=("n1", "n2"))

    async def go():
        gone = await websockets.connect(url(d, "n1"), max_size=None)
        stays = await websockets.connect(url(d, "n2"), max_size=None)
        await asyncio.sleep(0.5)
        with open(d.conf) as f:
            kept = [ln for ln in f if 'name="n1"' not in ln]
        with open(d.conf, "w") as f:
            f.writelines(kept)
        d.proc.send_signal(signal.SIGHUP)
        seen = bytearray()
        try:
            for _ in range(1000):  # until the session ends
                seen += await asyncio.wait_for(gone.recv(), timeout=10)
        except websockets.exceptions.ConnectionClosed as e:
            code = e.code
        assert code == 1001, code
        assert b"Console [n1] removed from the configuration" in seen
        assert isinstance(await asyncio.wait_for(stays.recv(), timeout=5), bytes)
        d.proc.send_signal(signal.SIGTERM)  # a viewer open: the daemon still stops
        try:
            for _ in range(1000):
                await asyncio.wait_for(stays.recv(), timeout=10)
        except websockets.exceptions.ConnectionClosed:
            pass

    asyncio.run(go())
    assert d.proc.wait(timeout=15) == 0
