"""SERVER httptokenfile (issue 18 item 4, the token): every page but
/healthz and /readyz needs the token, as "Authorization: Bearer" or the
login form's HttpOnly, SameSite=Strict cookie; the file is read again when
it changes; a file that cannot be read lets nobody in; the token reaches no
log line. In a real browser: the login form, then the list."""
import os
import time
import urllib.error
import urllib.parse
import urllib.request

from conmand_util import Daemon
from e2e_helpers import free_port, wait_for

TOKEN = "s3cret;token with blanks"


def start(procs, tmp_path, token=TOKEN):
    http = free_port()
    tfile = tmp_path / "http.token"
    if token is not None:
        tfile.write_text(token + "\n")
        tfile.chmod(0o600)
    d = Daemon("ours", procs, tmp_path, ['console name="n1" dev="/bin/cat"'],
               server_extra=f'server httpport={http}\nserver httptokenfile="{tfile}"',
               global_extra='global log="console.%N"')
    d.http, d.tfile = http, tfile
    return d.start()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def call(d, path, headers=None, data=None):
    """(status, headers, body) without following redirects."""
    req = urllib.request.Request(f"http://127.0.0.1:{d.http}{path}", headers=headers or {},
                                 data=data)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=5) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_pages_need_the_token_as_bearer_or_the_login_cookie(procs, tmp_path):
    d = start(procs, tmp_path)
    assert call(d, "/healthz")[0] == 200 and call(d, "/readyz")[0] == 200
    status, headers, body = call(d, "/consoles")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert b"Authorization: Bearer" in body
    assert call(d, "/metrics", bearer("wrong"))[0] == 401
    assert call(d, "/metrics", bearer(TOKEN[:-1]))[0] == 401  # a prefix is not it
    assert call(d, "/consoles", bearer(TOKEN))[0] == 200
    # The page: without the token, the login form.
    status, _, body = call(d, "/")
    assert status == 401 and b'action="/login"' in body and b"<script" not in body
    form = urllib.parse.urlencode({"token": "nope"}).encode()
    assert call(d, "/login", data=form)[0] == 401
    form = urllib.parse.urlencode({"token": TOKEN}).encode()
    status, headers, _ = call(d, "/login", data=form)
    assert status == 303 and headers["Location"] == "/"
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
    value = cookie.split(";")[0]
    assert call(d, "/consoles", {"Cookie": value})[0] == 200
    assert call(d, "/", {"Cookie": value})[0] == 200
    assert call(d, "/consoles", {"Cookie": value[:-2] + "00"})[0] == 401
    out = d.output()
    assert TOKEN not in out and "s3cret" not in out


def test_a_changed_token_file_is_read_again_and_a_missing_one_lets_nobody_in(procs, tmp_path):
    d = start(procs, tmp_path)
    assert call(d, "/consoles", bearer(TOKEN))[0] == 200
    tmp = tmp_path / "new.token"
    tmp.write_text("the-next-token\n")
    os.replace(tmp, d.tfile)  # as a secret mount updates its file
    wait_for(lambda: call(d, "/consoles", bearer("the-next-token"))[0] == 200, timeout=5,
             what="the new token accepted")
    assert call(d, "/consoles", bearer(TOKEN))[0] == 401
    os.unlink(d.tfile)
    wait_for(lambda: call(d, "/consoles", bearer("the-next-token"))[0] == 401, timeout=5,
             what="nobody let in without the file")
    assert call(d, "/healthz")[0] == 200
    wait_for(lambda: f"SERVER httptokenfile {d.tfile}:" in d.output(), timeout=5,
             what="the missing file named")
    assert "the-next-token" not in d.output()


def test_a_browser_logs_in_with_the_form_and_sees_the_list(procs, tmp_path, browser):
    from selenium.webdriver.common.by import By
    d = start(procs, tmp_path)
    browser.get(f"http://127.0.0.1:{d.http}/")
    box = browser.find_element(By.ID, "token")
    box.send_keys("wrong")
    box.submit()
    wait_for(lambda: browser.find_elements(By.ID, "token"), timeout=10, what="the form again")
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    browser.find_element(By.ID, "token").submit()
    wait_for(lambda: browser.find_elements(By.ID, "status") and
             browser.find_element(By.ID, "status").text.startswith("1 consoles, 1 shown"),
             timeout=15, what="the list after logging in")
    browser.save_screenshot(str(tmp_path / "after-login.png"))
    cookies = {c["name"]: c for c in browser.get_cookies()}
    assert cookies["conman_token"]["httpOnly"] and cookies["conman_token"]["sameSite"] == "Strict"
    time.sleep(0.1)
