#!/usr/bin/python3
"""Regenerates the seed corpora of tests/fuzz/corpus/<harness>/ from the
real inputs of the tests: the string literals of the unit tests, the conf
files of tests/unit/golden and etc/, and HSM answers built with
tests/e2e/hsmsim.py. Each seed is laid out as its harness reads input
(some begin with a knob byte). corpus/client_requests, corpus/websocket
(masked frames a browser sends) and corpus/srvlookup
(DNS answers, most from dnsmasq) are hand-made and left
alone. Run from anywhere: python3 tests/fuzz/make_seeds.py"""
import hashlib
import json
import pathlib
import re
import sys

FUZZ = pathlib.Path(__file__).resolve().parent
ROOT = FUZZ.parents[1]
UNIT = ROOT / "tests" / "unit"
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
import hsmsim  # noqa: E402

LITERAL_GROUP = re.compile(r'(?:"(?:[^"\\\n]|\\.)*"\s*)+')
ONE_LITERAL = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
MAX_SEEDS, MAX_BYTES = 80, 8192


def c_unescape(body):
    out, i = bytearray(), 0
    simple = {"n": 10, "t": 9, "r": 13, "0": 0, "\\": 92, '"': 34, "'": 39, "a": 7, "e": 27}
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out += ch.encode()
            i += 1
            continue
        nxt = body[i + 1]
        if nxt == "x":
            m = re.match(r"[0-9a-fA-F]{1,2}", body[i + 2:])
            out.append(int(m.group(0), 16))
            i += 2 + len(m.group(0))
        elif nxt in "01234567" and re.match(r"[0-7]{1,3}", body[i + 1:]).group(0) != "0":
            m = re.match(r"[0-7]{1,3}", body[i + 1:])
            out.append(int(m.group(0), 8) & 0xFF)
            i += 1 + len(m.group(0))
        else:
            out.append(simple.get(nxt, ord(nxt)))
            i += 2
    return bytes(out)


def literals(*files):
    for f in files:
        text = (UNIT / f).read_text()
        for group in LITERAL_GROUP.finditer(text):
            yield b"".join(c_unescape(m.group(1)) for m in ONE_LITERAL.finditer(group.group(0)))


def write(harness, seeds, max_bytes=MAX_BYTES, max_seeds=MAX_SEEDS):
    d = FUZZ / "corpus" / harness
    d.mkdir(parents=True, exist_ok=True)
    for old in d.glob("seed-*"):
        old.unlink()
    kept = {}
    for s in seeds:
        if 0 < len(s) <= max_bytes:
            kept.setdefault(hashlib.sha1(s).hexdigest()[:12], s)
    for name, s in list(kept.items())[:max_seeds]:
        (d / f"seed-{name}").write_bytes(s)
    print(f"{harness}: {min(len(kept), max_seeds)} seeds")


def conf_seeds():
    texts = [p.read_bytes() for p in (UNIT / "golden").glob("*.conf")]
    texts.append((ROOT / "etc" / "conman_base.conf").read_bytes())
    texts += [s for s in literals("test_conmand_conf.c", "test_conmand_sshopts.c",
                                  "test_conmand_reload.c")
              if re.search(rb"(?i)\b(console|server|global)\b", s)]
    return [b"\x00" + t for t in texts] + [b"\x90" + t for t in texts[:4]]


def hsm_bodies():
    eps = [hsmsim.endpoint(f"x3000c0s{i}b0", f"127.0.0.{i + 1}") for i in range(3)]
    eps.append(hsmsim.endpoint("x3000c0s9b0", "127.0.0.9", enabled=False))
    eps.append(hsmsim.endpoint("x3000c0r1b0", "127.0.0.10", type_="RouterBMC"))
    eps.append(hsmsim.endpoint("x1000c0s0b0", "", FQDN="x1000c0s0b0.local"))
    comps = [{"ID": "x3000c0s0b0n0", "Type": "Node", "Enabled": True, "Class": "River"},
             {"ID": "x1000c0s0b0n1", "Type": "Node", "Enabled": True, "Class": "Mountain"},
             {"ID": "x3000c0s1b0n0", "Type": "Node", "Enabled": False, "Class": "Paradise"}]
    return (json.dumps({"RedfishEndpoints": eps}).encode(),
            json.dumps({"Components": comps}).encode())


def json_literals(files, key):
    return [s for s in literals(*files) if key.encode() in s]


def shard_seeds():
    """Knob byte odd: a SHARD_MEMBERS list; even: a SHARD_MEMBERS_FILE."""
    sh = [s for s in literals("test_shard.c", "test_settings.c")
          if re.search(rb"[a-z]", s) and b"%" not in s and len(s) < 300]
    return ([k + s for s in sh for k in (b"\x01", b"\x00")]
            + [b"\x00# members\n\nconman-0=127.0.0.1:7001  # a\r\nconman-1=[::1]:7002\nc-2\n"])


def main():
    write("conf", conf_seeds())

    eps, comps = hsm_bodies()
    rec = json_literals(["test_records.c", "test_jsonlist.c"], "RedfishEndpoints") + [eps]
    write("records", [k + s for s in rec for k in (b"\x40", b"\x03")])
    node_comps = json_literals(["test_nodes.c"], "Components") + [comps]
    node_eps = json_literals(["test_nodes.c"], "RedfishEndpoints") + [eps]
    write("nodes", [b"\x40" + e + b"\x00" + c for e in node_eps for c in node_comps]
          + [b"x3000c0s1b0n0", b"\x40x1000c0s0b0n1"])

    write("ipmiopts", [s for s in literals("test_conmand_ipmiopts.c") if b"ipmiopts" not in s]
          + [b"U:admin,P:secret1,K:kg,C:3,L:op,W:authcap\nW:solpayloadsize"])
    ssh = [s for s in literals("test_conmand_sshopts.c") if b"\n" not in s]
    devs = [s for s in ssh if s.startswith(b"ssh:")]
    opts = [s for s in ssh if re.match(rb"^[IPKT]:", s)]
    write("sshopts", [d + b"\n" + o for d in devs[:10] for o in opts[:8]])

    write("telnet", [b"\x03login: \xff\xfb\x01\xff\xfb\x03\xff\xfd\x18\xff\xfd\x1f",
                     b"\x00\xff\xfa\x18\x01\xff\xf0data\xff\xff\xff\xf1\r\n",
                     b"\x07\xff\xfd\x00\xff\xfb\x00\xff\xfe\x00\xff\xfc\x00\xff\xf3",
                     b"\x1fboot: \xff\xff\xfe\r\x00\n\xff\xfa\xff\xff\xff\xf0"])

    uj = [s for s in literals("test_urljoin.c")]
    write("urljoin", [g + b"\n" + p for g, p in zip(uj, uj[1:])] +
          [b"api-gw-service-nmn.local\napis/smd/hsm/v2/Inventory/RedfishEndpoints",
           b"http://127.0.0.1:8080/\n/apis/x", b"gw\nhttps://other/x"])

    st = list(literals("test_settings.c"))
    names = [s for s in st if re.fullmatch(rb"[A-Z_]{4,}", s)]
    pairs = [a + b"=" + b for a, b in zip(st, st[1:]) if a in names and b not in names]
    write("settings", [b"\n".join(pairs[i:i + 4]) for i in range(0, len(pairs), 2)]
          + [b"CONSOLE_MODE=node\nPARADISE_PORT=2200\nHARDWARE_UPDATE_SEC=30", b""])

    fmts = [s for s in literals("test_conmand_logfile.c", "test_conmand_conf.c")
            if b"%" in s and len(s) < 200]
    write("lognames", [bytes([k]) + f + b"\x00node-1/a\x00ssh:root@bmc1:22\x00line\r\n\x1b[0m\xff"
                       for f in fmts for k in (6, 0x83)]
          + [b"\x02console/%N.log\x00x3000c0s0b0n0\x00127.0.0.1:7001\x00a\nb\rc\r\n"])
    write("shard", shard_seeds())

    rules = (ROOT / "etc" / "conman-events.rules").read_bytes()
    # The shipped rules with the matcher tests' console output (a rules file
    # and a node's log are larger than the other harnesses' inputs), and
    # the parser tests' small files, good and bad, with a little output.
    logs = sorted((s for s in literals("test_events_matcher.c") if b"\n" in s), key=len,
                  reverse=True)[:8]
    small = [s for s in literals("test_events_rules.c") if b"/" in s and b"\n" in s]
    write("eventrules", [k + rules + b"\x00" + log for log in logs for k in (b"\x00", b"\x10")]
          + [b"\x05" + s + b"\x00" + logs[0][:2000] for s in small], max_bytes=32768,
          max_seeds=40)


if __name__ == "__main__":
    main()
