"""CONMAND_HTTP_PORT, LOG_* (issue 15) and EVENT_* (issue 17) become one SERVER line of the
generated file for our conmand, which then runs with them; another conmand
gets none of them and one warning naming what was ignored."""
import os

from e2e_helpers import SOURCE_DIR, binary, free_port
from configure_env import Configure, conmand_for
from hsmsim import HsmSim, endpoint

SERVER_ENV = {"CONMAND_HTTP_PORT": "9100", "LOG_MAX_BYTES": "5M", "LOG_KEEP": "2",
              "LOG_BUDGET_BYTES": "1G", "LOG_SHIP": "file:/tmp/never-written.json",
              "EVENT_RULES": os.path.join(SOURCE_DIR, "etc", "conman-events.rules"),
              "EVENT_EXEC": "/bin/true", "HTTP_TOKEN_FILE": "/run/secrets/http-token"}
LINE = ('server httpport=9100 logsize=5242880 logkeep=2 logbudget=1073741824 '
        'logship="file:/tmp/never-written.json" '
        f'eventrules="{SERVER_ENV["EVENT_RULES"]}" eventexec="/bin/true" '
        'httptokenfile="/run/secrets/http-token"')


def test_our_conmand_gets_the_server_keywords_before_the_consoles(procs, tmp_path):
    sim = HsmSim.start(procs, tmp_path, endpoints=[endpoint("x3000c0s1b0", "127.0.0.1:9601")])
    port = str(free_port())
    env = dict(SERVER_ENV, CONMAND=binary("conmand"), CONMAND_HTTP_PORT=port)
    env["LOG_SHIP"] = f"file:{tmp_path}/ship.json"
    cc = Configure(procs, tmp_path, sim, env=env)
    cc.start()
    cc.wait_names(["x3000c0s1b0"])
    text = cc.conf_text()
    line = LINE.replace("/tmp/never-written.json", f"{tmp_path}/ship.json").replace(
        "9100", port)
    assert line + "\n" in text
    assert text.index(line) < text.index('console name="x3000c0s1b0"')
    assert "ignored" not in cc.output()
    assert len(cc.conmand_pids()) == 1


def test_another_conmand_gets_none_of_them_and_one_warning(procs, tmp_path):
    sim = HsmSim.start(procs, tmp_path, endpoints=[endpoint("x3000c0s1b0", "127.0.0.1:9601")])
    cc = Configure(procs, tmp_path, sim, env=dict(SERVER_ENV, CONMAND=conmand_for("debian")))
    cc.start()
    cc.wait_names(["x3000c0s1b0"])
    text = cc.conf_text()
    assert "httpport" not in text and "logship" not in text and "logsize" not in text
    assert "eventrules" not in text and "eventexec" not in text and "httptoken" not in text
    warning = ("CONMAND is not ours: CONMAND_HTTP_PORT LOG_MAX_BYTES LOG_KEEP "
               "LOG_BUDGET_BYTES LOG_SHIP EVENT_RULES EVENT_EXEC HTTP_TOKEN_FILE ignored")
    assert cc.output().count(warning) == 1
