"""The console list in a real browser (issue 18 item 1): conmand's GET /
in Debian's chromium, headless, driven by selenium through chromedriver.
It lists every console with its state (a down one "down since ..."), types,
filters (substring and glob) and sorts, updating itself from /consoles.
Without a browser: the page's headers (CSP without inline script, nosniff,
types). A screenshot is kept as the test's artifact (web-page.png in the
test's folder)."""
import os
import signal
import urllib.error
import urllib.request

from conmand_util import Daemon
from e2e_helpers import free_port, wait_for

def start(procs, tmp_path, n_up):
    http = free_port()
    dead = free_port()  # nothing listens: a telnet console that stays down
    lines = [f'console name="node{i:03d}" dev="/bin/cat"' for i in range(n_up)]
    lines.append(f'console name="x9000c0s0b0n0" dev="127.0.0.1:{dead}"')
    d = Daemon("ours", procs, tmp_path, lines, server_extra=f"server httpport={http}",
               global_extra='global log="console.%N"')
    d.http = http
    return d.start()


def get(d, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{d.http}{path}", timeout=5) as r:
        return r.status, dict(r.headers), r.read()


def test_the_page_and_its_files_carry_a_strict_policy_and_their_types(procs, tmp_path):
    d = start(procs, tmp_path, 2)
    status, headers, body = get(d, "/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert b"<script>" not in body and b'src="/app.js"' in body  # no inline script
    assert get(d, "/app.js")[1]["Content-Type"].startswith("text/javascript")
    assert get(d, "/app.css")[1]["Content-Type"].startswith("text/css")
    try:
        get(d, "/nope.js")
        raise AssertionError("an unknown file was served")
    except urllib.error.HTTPError as e:
        assert e.code == 404


def rows(drv):
    """The rows in the page, name -> cell texts, read in one script call (the
    page re-renders them at every poll)."""
    got = drv.execute_script(
        "return [...document.querySelectorAll('#rows .row')].map("
        "r => [r.dataset.name, [...r.children].map(s => s.textContent)])")
    return dict((name, cells) for name, cells in got)


def first_row(drv):
    return drv.execute_script(
        "const r = document.querySelector('#rows .row'); return r && r.dataset.name")


def test_a_browser_lists_filters_and_sorts_every_console(procs, tmp_path, browser):
    from selenium.webdriver.common.by import By
    n = 300
    d = start(procs, tmp_path, n)
    wait_for(lambda: get(d, "/consoles")[2].count(b'"state":"up"') == n, timeout=20,
             what=f"{n} consoles up")
    browser.get(f"http://127.0.0.1:{d.http}/")
    status = browser.find_element(By.ID, "status")
    wait_for(lambda: status.text.startswith(f"{n + 1} consoles, {n + 1} shown: {n} up, 1 down"),
             timeout=15, what="the page's count of every console")
    shown = rows(browser)
    assert 20 <= len(shown) < 100, len(shown)  # only the rows in view are in the page
    assert shown["node000"][1] == "up" and shown["node000"][2] == "process"

    box = browser.find_element(By.ID, "filter")
    box.send_keys("x9000")  # a substring
    wait_for(lambda: list(rows(browser)) == ["x9000c0s0b0n0"], timeout=5, what="one row left")
    state = rows(browser)["x9000c0s0b0n0"][1]
    assert state.startswith("down since "), state
    browser.save_screenshot(str(tmp_path / "web-page.png"))
    box.clear()
    box.send_keys("node1?9")  # a glob: whole names
    wait_for(lambda: sorted(rows(browser)) == [f"node1{k}9" for k in range(10)], timeout=5,
             what="the glob's ten rows")
    box.clear()
    box.send_keys(" ")  # blank: everything again
    browser.find_element(By.CSS_SELECTOR, '#head span[data-key="name"]').click()  # descending
    wait_for(lambda: first_row(browser) == "x9000c0s0b0n0", timeout=5,
             what="sorted descending")

    # It updates itself: a console added by a reload is there at the next
    # poll, with no reload of the page.
    with open(d.conf, "a") as f:
        f.write('console name="added" dev="/bin/cat"\n')
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: status.text.startswith(f"{n + 2} consoles"), timeout=15,
             what="the added console counted without reloading the page")
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors  # no CSP violation, no script error
    assert os.path.getsize(tmp_path / "web-page.png") > 1000
