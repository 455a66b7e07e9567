/* Configuration generation against golden files, and UPDATE_CONFIG. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/fileutil.h"
#include "configure/confgen.h"
#include "configure/nodes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Unit tests run in tests/unit (see tests/CMakeLists.txt). */
static char *golden(const char *name)
{
    char path[256], err[512];
    char *text = NULL;
    snprintf(path, sizeof(path), "golden/%s", name);
    assert_int_equal(file_read_all(path, 1 << 20, &text, NULL, err, sizeof(err)), 0);
    return text;
}

static void records_from(struct records *r, const char *json)
{
    char err[256];
    *r = (struct records)RECORDS_INIT;
    assert_int_equal(records_from_json(json, strlen(json), "Hostname", r, err, sizeof(err)), 0);
}

static void test_render_matches_golden_file(void **state)
{
    (void)state;
    struct records r;
    records_from(&r, "{\"RedfishEndpoints\":["
                     "{\"ID\":\"x3000c0s2b0\",\"Type\":\"NodeBMC\",\"Enabled\":true,"
                     "\"Hostname\":\"x3000c0s2b0\",\"IPAddress\":\"127.0.0.1:9002\"},"
                     "{\"ID\":\"x1000c0s0b1\",\"Type\":\"NodeBMC\",\"Enabled\":true,"
                     "\"Hostname\":\"\",\"FQDN\":\"x1000c0s0b1.local\"}]}");
    char *base = golden("base.conf");
    char *want = golden("two_consoles.conf");
    char *out = NULL;
    size_t len = 0;
    /* hex of: pa,ss"w0rd */
    assert_int_equal(confgen_render(base, &r, "root", "70612c73732277307264", &out, &len), 0);
    assert_string_equal(out, want);
    assert_int_equal(len, strlen(want));
    free(out);
    free(base);
    free(want);
    records_release(&r);
}

static void test_equal_inventories_in_any_order_give_identical_files(void **state)
{
    (void)state;
    struct records a, b;
    const char *e1 =
        "{\"ID\":\"n1\",\"Type\":\"NodeBMC\",\"Enabled\":true,\"IPAddress\":\"127.0.0.1\"}";
    const char *e2 =
        "{\"ID\":\"n2\",\"Type\":\"NodeBMC\",\"Enabled\":true,\"IPAddress\":\"127.0.0.2\"}";
    char j1[512], j2[512];
    snprintf(j1, sizeof(j1), "{\"RedfishEndpoints\":[%s,%s]}", e1, e2);
    snprintf(j2, sizeof(j2), "{\"RedfishEndpoints\":[%s,%s]}", e2, e1);
    records_from(&a, j1);
    records_from(&b, j2);
    char *x = NULL, *y = NULL;
    size_t lx, ly;
    assert_int_equal(confgen_render("server port=7890\n", &a, "u", "00", &x, &lx), 0);
    assert_int_equal(confgen_render("server port=7890\n", &b, "u", "00", &y, &ly), 0);
    assert_string_equal(x, y);
    free(x);
    free(y);
    records_release(&a);
    records_release(&b);
}

static void test_node_consoles_render_by_transport_as_in_the_golden_file(void **state)
{
    (void)state;
    const char *ep = "{\"RedfishEndpoints\":["
                     "{\"ID\":\"x3000c0s1b0\",\"IPAddress\":\"127.0.0.1:9001\"},"
                     "{\"ID\":\"x1000c0s0b0\",\"IPAddress\":\"127.0.0.1:2222\"},"
                     "{\"ID\":\"x1000c0s1b0\",\"IPAddress\":\"::1\"},"
                     "{\"ID\":\"x3000c0s2b0\",\"IPAddress\":\"127.0.0.2\"},"
                     "{\"ID\":\"x3000c0s3b0\",\"IPAddress\":\"127.0.0.3:2022\"}]}";
    const char *co =
        "{\"Components\":["
        "{\"ID\":\"x3000c0s1b0n0\",\"Type\":\"Node\",\"Enabled\":true,\"Class\":\"River\"},"
        "{\"ID\":\"x1000c0s0b0n1\",\"Type\":\"Node\",\"Enabled\":true,\"Class\":\"Mountain\"},"
        "{\"ID\":\"x1000c0s1b0n0\",\"Type\":\"Node\",\"Enabled\":true,\"Class\":\"Hill\"},"
        "{\"ID\":\"x3000c0s2b0n0\",\"Type\":\"Node\",\"Enabled\":true,\"Class\":\"Paradise\"},"
        "{\"ID\":\"x3000c0s3b0n0\",\"Type\":\"Node\",\"Enabled\":true,\"Class\":\"Paradise\"}"
        "]}";
    struct records r = RECORDS_INIT;
    char err[256];
    assert_int_equal(nodes_from_json(ep, strlen(ep), co, strlen(co), &r, err, sizeof(err)), 0);
    assert_int_equal(r.n, 5);
    char *base = golden("base.conf");
    char *want = golden("node_consoles.conf");
    /* hex of: pa,ss"w0rd */
    struct confgen_creds c = {"root",
                              "70612c73732277307264",
                              "/secrets/ssh/id_ed25519",
                              "/secrets/ssh/known_hosts",
                              2200,
                              NULL,
                              NULL};
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(confgen_render_creds(base, &r, &c, &out, &len), 0);
    assert_string_equal(out, want);
    free(out);
    /* Without a key the Mountain and Hill lines are left out, never half written. */
    c.ssh_key = NULL;
    c.known_hosts = NULL;
    assert_int_equal(confgen_render_creds(base, &r, &c, &out, &len), 0);
    assert_null(strstr(out, "I:"));
    assert_null(strstr(out, "x1000c0s"));
    assert_non_null(strstr(out, "sshopts=\"P:0x70612c73732277307264\"\n"));
    free(out);
    free(base);
    free(want);
    records_release(&r);
}

static void test_base_without_final_newline_gets_one(void **state)
{
    (void)state;
    struct records r = RECORDS_INIT;
    char *out = NULL;
    size_t len;
    assert_int_equal(confgen_render("server port=1", &r, "u", "00", &out, &len), 0);
    assert_string_equal(out, "server port=1\n" CONFGEN_MARKER);
    free(out);
}

static void test_update_config_detection(void **state)
{
    (void)state;
    assert_true(confgen_update_disabled("# UPDATE_CONFIG=FALSE\nserver x\n"));
    assert_true(confgen_update_disabled("#update_config = false\r\n"));
    assert_true(confgen_update_disabled("  #\tUPDATE_CONFIG=False  "));
    assert_false(confgen_update_disabled("# UPDATE_CONFIG=TRUE\n"));
    assert_false(confgen_update_disabled("# UPDATE_CONFIG=FALSEY\n"));
    assert_false(confgen_update_disabled("server x\n# UPDATE_CONFIG=FALSE\n"));
    assert_false(confgen_update_disabled(""));
    assert_false(confgen_update_disabled("UPDATE_CONFIG=FALSE\n"));
}

static void test_user_names_that_would_break_ipmiopts_are_refused(void **state)
{
    (void)state;
    assert_true(confgen_user_ok("root"));
    assert_true(confgen_user_ok("admin-1_x"));
    assert_false(confgen_user_ok(""));
    assert_false(confgen_user_ok("a,b"));
    assert_false(confgen_user_ok("a\"b"));
    assert_false(confgen_user_ok("a b"));
}

/* The SERVER line (issue 15) sits after the marker, before every console. */
static void test_server_line_goes_between_marker_and_consoles(void **state)
{
    (void)state;
    struct records r = RECORDS_INIT;
    char name[] = "n0", addr[] = "10.0.0.1";
    struct record rec = {name, addr, RECORD_IPMI, 0, 0};
    assert_int_equal(records_add(&r, &rec), 0);
    struct confgen_creds c = {"root", "00", NULL, NULL, 0, "server httpport=9100\n", NULL};
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(confgen_render_creds("server logdir=\"/l\"\n", &r, &c, &out, &len), 0);
    assert_string_equal(out,
                        "server logdir=\"/l\"\n" CONFGEN_MARKER "server httpport=9100\n"
                        "console name=\"n0\" dev=\"ipmi:10.0.0.1\" ipmiopts=\"U:root,P:0x00\"\n");
    assert_int_equal(len, strlen(out));
    free(out);
    records_release(&r);
}

static void add_consoles(struct records *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char name[32], addr[48];
        snprintf(name, sizeof(name), "n%02zu", i);
        snprintf(addr, sizeof(addr), "127.0.0.%zu", i + 1);
        /* Every fifth one a Paradise (SSH with the password) console. */
        struct record rec = {name, addr, i % 5 ? RECORD_IPMI : RECORD_SSH_PASSWORD, 0, i};
        assert_int_equal(records_add(r, &rec), 0);
    }
}

/* The line of console `name` in `conf` (without the newline). */
static void line_of(const char *conf, const char *name, char *out, size_t outlen)
{
    char key[64];
    snprintf(key, sizeof(key), "console name=\"%s\" ", name);
    const char *p = strstr(conf, key);
    assert_non_null(p);
    assert_null(strstr(p + 1, key)); /* listed once */
    size_t n = strcspn(p, "\n");
    snprintf(out, outlen, "%.*s", (int)n, p);
}

/* Each of three instances lists every console: its own with the real dev,
 * the others as peer: lines naming the owner, with no credentials. */
static void test_sharded_render_lists_every_console_once_with_one_owner(void **state)
{
    (void)state;
    struct records r = RECORDS_INIT;
    add_consoles(&r, 40);
    struct shard_members m = SHARD_MEMBERS_INIT;
    char err[128];
    assert_int_equal(shard_parse_list("a,b=[::1]:7001,c=127.0.0.3", &m, err, sizeof(err)), 0);
    char *out[3];
    for (size_t k = 0; k < 3; k++) {
        struct confgen_shard sh = {&m, m.v[k].name, 7999};
        struct confgen_creds c = {"root", "70612c", NULL, NULL, 2200, NULL, &sh};
        size_t len;
        assert_int_equal(confgen_render_creds("server port=7999\n", &r, &c, &out[k], &len), 0);
        assert_int_equal(len, strlen(out[k]));
    }
    const char *peer_dev[3] = {"peer:a:7999", "peer:[::1]:7001", "peer:127.0.0.3:7999"};
    size_t owned[3] = {0};
    for (size_t i = 0; i < r.n; i++) {
        long owner = shard_owner(&m, r.v[i].name);
        owned[owner]++;
        for (size_t k = 0; k < 3; k++) {
            char line[256], want[256];
            line_of(out[k], r.v[i].name, line, sizeof(line));
            if ((long)k == owner) {
                assert_non_null(strstr(line, "P:0x70612c"));
                assert_null(strstr(line, "peer:"));
                continue;
            }
            snprintf(want, sizeof(want), "console name=\"%s\" dev=\"%s\"", r.v[i].name,
                     peer_dev[owner]);
            assert_string_equal(line, want);
        }
    }
    for (size_t k = 0; k < 3; k++) {
        assert_true(owned[k] > 0);
        free(out[k]);
    }
    shard_members_release(&m);
    records_release(&r);
}

/* A membership of one is the unsharded file. */
static void test_sole_member_renders_as_unsharded(void **state)
{
    (void)state;
    struct records r = RECORDS_INIT;
    add_consoles(&r, 10);
    struct shard_members m = SHARD_MEMBERS_INIT;
    char err[128];
    assert_int_equal(shard_parse_list("solo", &m, err, sizeof(err)), 0);
    struct confgen_shard sh = {&m, "solo", 7890};
    struct confgen_creds c = {"root", "00", NULL, NULL, 2200, NULL, &sh};
    char *a = NULL, *b = NULL;
    size_t alen, blen;
    assert_int_equal(confgen_render_creds("", &r, &c, &a, &alen), 0);
    c.shard = NULL;
    assert_int_equal(confgen_render_creds("", &r, &c, &b, &blen), 0);
    assert_string_equal(a, b);
    free(a);
    free(b);
    shard_members_release(&m);
    records_release(&r);
}

/* The ipmi: and ssh: dev lines of records whose addresses are `addrs`. */
static char *render_addresses(const char *const *addrs, size_t n, enum record_transport t)
{
    struct records r = RECORDS_INIT;
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "n%zu", i);
        struct record rec = {name, (char *)addrs[i], t, 3, i};
        assert_int_equal(records_add(&r, &rec), 0);
    }
    struct confgen_creds c = {"root", "00", "/k", NULL, 2200, NULL, NULL};
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(confgen_render_creds("", &r, &c, &out, &len), 0);
    assert_int_equal(len, strlen(out));
    records_release(&r);
    return out;
}

/* conmand reads an ipmi: dev with hostport_parse: a v6 address without a
 * port goes in brackets, everything else as HSM gave it. */
static void test_ipv6_ipmi_addresses_are_written_as_conmand_reads_them(void **state)
{
    (void)state;
    const char *addrs[] = {"fd00::1",      "fe80::1%eth0", "[fd00::2]:6230", "[fd00::3]",
                           "10.0.0.1:623", "bmc1.local",   "fd00::1::x",     "[::1]:99999"};
    char *out = render_addresses(addrs, 8, RECORD_IPMI);
    assert_non_null(strstr(out, "name=\"n0\" dev=\"ipmi:[fd00::1]\" "));
    assert_non_null(strstr(out, "name=\"n1\" dev=\"ipmi:[fe80::1%eth0]\" "));
    assert_non_null(strstr(out, "name=\"n2\" dev=\"ipmi:[fd00::2]:6230\" "));
    assert_non_null(strstr(out, "name=\"n3\" dev=\"ipmi:[fd00::3]\" "));
    assert_non_null(strstr(out, "name=\"n4\" dev=\"ipmi:10.0.0.1:623\" "));
    assert_non_null(strstr(out, "name=\"n5\" dev=\"ipmi:bmc1.local\" "));
    /* Addresses conmand would refuse give no line at all. */
    assert_null(strstr(out, "name=\"n6\""));
    assert_null(strstr(out, "name=\"n7\""));
    free(out);
}

static void test_ipv6_ssh_addresses_get_brackets_and_the_default_port(void **state)
{
    (void)state;
    const char *addrs[] = {"fd00::1", "[fd00::2]:2022", "fe80::1%eth0", "10.0.0.1", "garbage::x::"};
    char *out = render_addresses(addrs, 5, RECORD_SSH_PASSWORD);
    assert_non_null(strstr(out, "name=\"n0\" dev=\"ssh:root@[fd00::1]:2200\" "));
    assert_non_null(strstr(out, "name=\"n1\" dev=\"ssh:root@[fd00::2]:2022\" "));
    assert_non_null(strstr(out, "name=\"n2\" dev=\"ssh:root@[fe80::1%eth0]:2200\" "));
    assert_non_null(strstr(out, "name=\"n3\" dev=\"ssh:root@10.0.0.1:2200\" "));
    assert_null(strstr(out, "name=\"n4\""));
    free(out);
    out = render_addresses(addrs, 5, RECORD_SSH_KEY);
    assert_non_null(strstr(out, "name=\"n0\" dev=\"ssh:n3@[fd00::1]\" "));
    assert_non_null(strstr(out, "name=\"n1\" dev=\"ssh:n3@[fd00::2]:2022\" "));
    assert_non_null(strstr(out, "name=\"n2\" dev=\"ssh:n3@[fe80::1%eth0]\" "));
    assert_non_null(strstr(out, "name=\"n3\" dev=\"ssh:n3@10.0.0.1\" "));
    assert_null(strstr(out, "name=\"n4\""));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_matches_golden_file),
        cmocka_unit_test(test_sharded_render_lists_every_console_once_with_one_owner),
        cmocka_unit_test(test_sole_member_renders_as_unsharded),
        cmocka_unit_test(test_equal_inventories_in_any_order_give_identical_files),
        cmocka_unit_test(test_base_without_final_newline_gets_one),
        cmocka_unit_test(test_node_consoles_render_by_transport_as_in_the_golden_file),
        cmocka_unit_test(test_update_config_detection),
        cmocka_unit_test(test_server_line_goes_between_marker_and_consoles),
        cmocka_unit_test(test_user_names_that_would_break_ipmiopts_are_refused),
        cmocka_unit_test(test_ipv6_ipmi_addresses_are_written_as_conmand_reads_them),
        cmocka_unit_test(test_ipv6_ssh_addresses_get_brackets_and_the_default_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
