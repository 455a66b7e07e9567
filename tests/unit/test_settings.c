/* Settings: defaults, validation errors naming the variable and value. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <setjmp.h>
#include <cmocka.h>

#include "configure/settings.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A fake environment: NULL-terminated name/value pairs. */
static const char *lookup(const char *name, void *ctx)
{
    const char *const *env = ctx;
    for (size_t i = 0; env[i]; i += 2)
        if (strcmp(env[i], name) == 0)
            return env[i + 1];
    return NULL;
}

static void test_defaults_match_the_design(void **state)
{
    (void)state;
    const char *env[] = {NULL};
    struct settings s;
    char err[256] = "";
    assert_int_equal(settings_parse(&s, lookup, env, err, sizeof(err)), 0);
    assert_string_equal(
        s.endpoint_url,
        "https://api-gw-service-nmn.local/apis/smd/hsm/v2/Inventory/RedfishEndpoints");
    assert_string_equal(s.log_identifier, "Hostname");
    assert_string_equal(s.user_file, "/secrets/user");
    assert_string_equal(s.pwd_file, "/secrets/password");
    assert_string_equal(s.base_conf, "/app/conman_base.conf");
    assert_string_equal(s.conman_conf, "/etc/conman.conf");
    assert_string_equal(s.conmand, "conmand");
    assert_null(s.token_file);
    assert_null(s.ca_file);
    assert_int_equal(s.discovery_retry_sec, 30);
    assert_int_equal(s.hsm_timeout_sec, 10);
    assert_int_equal(s.hardware_update_sec, 0);
    assert_int_equal(s.mode, CONSOLE_MODE_BMC);
    settings_release(&s);
    settings_release(&s);
}

static void test_values_are_taken_from_the_environment(void **state)
{
    (void)state;
    const char *env[] = {"API_GATEWAY",
                         "http://127.0.0.1:8080",
                         "RF_ENDPOINT",
                         "/rf",
                         "LOG_IDENTIFIER",
                         "ID",
                         "HSM_TOKEN_FILE",
                         "/t",
                         "HSM_CA_FILE",
                         "/ca",
                         "DISCOVERY_RETRY_SEC",
                         "1",
                         "HSM_TIMEOUT_SEC",
                         "2",
                         "HARDWARE_UPDATE_SEC",
                         "60",
                         "CONSOLE_MODE",
                         "NODE",
                         "CONMAND",
                         "/usr/sbin/conmand",
                         NULL};
    struct settings s;
    char err[256] = "";
    assert_int_equal(settings_parse(&s, lookup, env, err, sizeof(err)), 0);
    assert_string_equal(s.endpoint_url, "http://127.0.0.1:8080/rf");
    assert_string_equal(s.log_identifier, "ID");
    assert_string_equal(s.token_file, "/t");
    assert_string_equal(s.ca_file, "/ca");
    assert_string_equal(s.conmand, "/usr/sbin/conmand");
    assert_int_equal(s.discovery_retry_sec, 1);
    assert_int_equal(s.hsm_timeout_sec, 2);
    assert_int_equal(s.hardware_update_sec, 60);
    assert_int_equal(s.mode, CONSOLE_MODE_NODE);
    settings_release(&s);
}

static void test_empty_value_means_default(void **state)
{
    (void)state;
    const char *env[] = {"LOG_IDENTIFIER", "", "HSM_TOKEN_FILE", "", NULL};
    struct settings s;
    char err[256] = "";
    assert_int_equal(settings_parse(&s, lookup, env, err, sizeof(err)), 0);
    assert_string_equal(s.log_identifier, "Hostname");
    assert_null(s.token_file);
    settings_release(&s);
}

static void expect_error(const char *name, const char *value, const char *needle)
{
    const char *env[] = {name, value, NULL};
    struct settings s;
    char err[256] = "";
    assert_int_equal(settings_parse(&s, lookup, env, err, sizeof(err)), -EINVAL);
    if (!strstr(err, name))
        fail_msg("%s=%s: \"%s\" does not name the variable", name, value, err);
    assert_non_null(strstr(err, needle));
}

static void test_bad_numbers_name_variable_and_value(void **state)
{
    (void)state;
    expect_error("DISCOVERY_RETRY_SEC", "abc", "abc");
    expect_error("DISCOVERY_RETRY_SEC", "0", "=0");
    expect_error("HSM_TIMEOUT_SEC", "-5", "-5");
    expect_error("HSM_TIMEOUT_SEC", "10s", "10s");
    expect_error("HARDWARE_UPDATE_SEC", "99999999999999999999", "9999");
    expect_error("HARDWARE_UPDATE_SEC", " 5", " 5");
}

static void test_node_mode_settings_have_defaults_and_overrides(void **state)
{
    (void)state;
    const char *none[] = {NULL};
    struct settings s;
    char err[256] = "";
    assert_int_equal(settings_parse(&s, lookup, none, err, sizeof(err)), 0);
    assert_string_equal(
        s.components_url,
        "https://api-gw-service-nmn.local/apis/smd/hsm/v2/State/Components?type=Node");
    assert_null(s.ssh_key_file);
    assert_null(s.ssh_known_hosts);
    assert_int_equal(s.paradise_port, 2200);
    settings_release(&s);
    const char *env[] = {"API_GATEWAY",
                         "http://127.0.0.1:8080",
                         "COMPONENTS_ENDPOINT",
                         "/v2/State/Components?type=Node&class=River",
                         "SSH_KEY_FILE",
                         "/secrets/ssh/id_ed25519",
                         "SSH_KNOWN_HOSTS",
                         "/secrets/ssh/known_hosts",
                         "PARADISE_PORT",
                         "22",
                         NULL};
    assert_int_equal(settings_parse(&s, lookup, env, err, sizeof(err)), 0);
    assert_string_equal(s.components_url,
                        "http://127.0.0.1:8080/v2/State/Components?type=Node&class=River");
    assert_string_equal(s.ssh_key_file, "/secrets/ssh/id_ed25519");
    assert_string_equal(s.ssh_known_hosts, "/secrets/ssh/known_hosts");
    assert_int_equal(s.paradise_port, 22);
    settings_release(&s);
}

static void test_bad_node_mode_settings_name_the_variable(void **state)
{
    (void)state;
    expect_error("PARADISE_PORT", "0", "=0");
    expect_error("PARADISE_PORT", "65536", "65536");
    expect_error("PARADISE_PORT", "ssh", "ssh");
    expect_error("SSH_KEY_FILE", "/keys/my key", "/keys/my key");
    expect_error("SSH_KNOWN_HOSTS", "/a,K:/b", "/a,K:/b");
    expect_error("SSH_KEY_FILE", "/k\"x", "sshopts");
    expect_error("COMPONENTS_ENDPOINT", "ftp://h/x", "ftp://h/x");
}

static void test_bad_mode_and_identifier_are_rejected(void **state)
{
    (void)state;
    expect_error("CONSOLE_MODE", "serial", "serial");
    expect_error("LOG_IDENTIFIER", "Host name", "Host name");
    expect_error("API_GATEWAY", "gopher://x", "gopher://x");
}

static void test_server_keywords_render_one_line(void **state)
{
    (void)state;
    const char *env[] = {"CONMAND_HTTP_PORT",
                         "9100",
                         "LOG_MAX_BYTES",
                         "5M",
                         "LOG_KEEP",
                         "2",
                         "LOG_BUDGET_BYTES",
                         "1G",
                         "LOG_SHIP",
                         "tcp:vector:9000, file:/l/ship.json",
                         "EVENT_RULES",
                         "/app/conman-events.rules",
                         "EVENT_EXEC",
                         "/site/page-oncall",
                         NULL};
    struct settings s;
    char err[256] = "", line[SETTINGS_SERVER_LINE_MAX], names[256];
    assert_int_equal(settings_parse(&s, lookup, env, err, sizeof(err)), 0);
    assert_int_equal(s.conmand_http_port, 9100);
    assert_true(s.log_max == 5ULL << 20);
    assert_true(s.log_budget == 1ULL << 30);
    settings_server_line(&s, line, sizeof(line), names, sizeof(names));
    assert_string_equal(line, "server httpport=9100 logsize=5242880 logkeep=2 "
                              "logbudget=1073741824 logship=\"tcp:vector:9000\" "
                              "logship=\"file:/l/ship.json\" "
                              "eventrules=\"/app/conman-events.rules\" "
                              "eventexec=\"/site/page-oncall\"\n");
    assert_string_equal(names, "CONMAND_HTTP_PORT LOG_MAX_BYTES LOG_KEEP LOG_BUDGET_BYTES "
                               "LOG_SHIP EVENT_RULES EVENT_EXEC");
    settings_release(&s);
}

static void test_event_rules_default_to_the_shipped_file_and_empty_turns_them_off(void **state)
{
    (void)state;
    const char *none[] = {NULL};
    struct settings s;
    char err[256] = "", line[SETTINGS_SERVER_LINE_MAX], names[256];
    assert_int_equal(settings_parse(&s, lookup, none, err, sizeof(err)), 0);
    assert_true(s.event_rules_default);
    assert_string_equal(s.event_rules, SETTINGS_EVENT_RULES_DEFAULT);
    settings_server_line(&s, line, sizeof(line), names, sizeof(names));
    assert_string_equal(line, "server eventrules=\"" SETTINGS_EVENT_RULES_DEFAULT "\"\n");
    assert_string_equal(names, ""); /* a default is nothing to warn about */
    settings_release(&s);
    const char *empty[] = {"EVENT_RULES", "", NULL};
    assert_int_equal(settings_parse(&s, lookup, empty, err, sizeof(err)), 0);
    assert_false(s.event_rules_default);
    assert_null(s.event_rules);
    settings_release(&s);
}

static void test_event_paths_must_be_absolute_quote_free_and_fit_the_server_line(void **state)
{
    (void)state;
    char long_path[EVENT_PATH_MAX + 2];
    memset(long_path, 'r', sizeof(long_path) - 1);
    long_path[0] = '/';
    long_path[sizeof(long_path) - 1] = '\0'; /* one past the limit */
    const char *bad[] = {"rules.txt", "/a\"b", "/a\\b", long_path};
    const char *names[] = {"EVENT_RULES", "EVENT_EXEC", "HTTP_TOKEN_FILE", "HTTP_CERT_FILE",
                           "HTTP_KEY_FILE"};
    for (size_t k = 0; k < 5; k++)
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            const char *env[] = {names[k], bad[i], NULL};
            struct settings s;
            char err[256] = "", want[32];
            assert_int_equal(settings_parse(&s, lookup, env, err, sizeof(err)), -EINVAL);
            snprintf(want, sizeof(want), "%s=", names[k]);
            assert_non_null(strstr(err, want));
        }
    /* Every keyword at its longest still fits the one SERVER line. */
    long_path[EVENT_PATH_MAX] = '\0'; /* at the limit */
    char ship[1024];
    memset(ship, 's', sizeof(ship) - 1);
    memcpy(ship, "file:/", 6);
    ship[sizeof(ship) - 1] = '\0';
    const char *env[] = {"EVENT_RULES",
                         long_path,
                         "EVENT_EXEC",
                         long_path,
                         "HTTP_TOKEN_FILE",
                         long_path,
                         "HTTP_CERT_FILE",
                         long_path,
                         "HTTP_KEY_FILE",
                         long_path,
                         "HTTP_JOIN",
                         "on",
                         "LOG_SHIP",
                         ship,
                         "CONMAND_HTTP_PORT",
                         "65535",
                         "LOG_MAX_BYTES",
                         "1000000000000",
                         "LOG_BUDGET_BYTES",
                         "1000000000000",
                         "LOG_KEEP",
                         "1000",
                         NULL};
    struct settings s;
    char err[256] = "", line[SETTINGS_SERVER_LINE_MAX], nm[256];
    assert_int_equal(settings_parse(&s, lookup, env, err, sizeof(err)), 0);
    settings_server_line(&s, line, sizeof(line), nm, sizeof(nm));
    char *tail = strstr(line, "httpkey=\"");
    assert_non_null(tail);
    assert_non_null(strstr(tail, long_path));
    assert_string_equal(line + strlen(line) - 14, "\" httpjoin=ON\n");
    settings_release(&s);
}

static void test_the_web_console_settings(void **state)
{
    (void)state;
    struct settings s;
    char err[256] = "", line[SETTINGS_SERVER_LINE_MAX], nm[256];
    const char *env[] = {"HTTP_JOIN",
                         "ON",
                         "HTTP_CERT_FILE",
                         "/etc/c.pem",
                         "HTTP_KEY_FILE",
                         "/etc/k.pem",
                         "EVENT_RULES",
                         "",
                         NULL};
    assert_int_equal(settings_parse(&s, lookup, env, err, sizeof(err)), 0);
    settings_server_line(&s, line, sizeof(line), nm, sizeof(nm));
    assert_string_equal(line, "server httpcert=\"/etc/c.pem\" httpkey=\"/etc/k.pem\" "
                              "httpjoin=ON\n");
    assert_string_equal(nm, "HTTP_CERT_FILE HTTP_KEY_FILE HTTP_JOIN");
    settings_release(&s);
    const char *off[] = {"HTTP_JOIN", "off", "EVENT_RULES", "", NULL};
    assert_int_equal(settings_parse(&s, lookup, off, err, sizeof(err)), 0);
    assert_false(s.http_join);
    settings_release(&s);
    const char *bad[] = {"HTTP_JOIN", "sometimes", NULL};
    assert_int_equal(settings_parse(&s, lookup, bad, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "HTTP_JOIN=sometimes: expected ON or OFF");
    const char *half[] = {"HTTP_CERT_FILE", "/etc/c.pem", NULL};
    assert_int_equal(settings_parse(&s, lookup, half, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "HTTP_CERT_FILE is set without HTTP_KEY_FILE: HTTPS needs the "
                             "certificate and its key");
}

static void test_no_server_keywords_give_no_line(void **state)
{
    (void)state;
    const char *env[] = {"LOG_KEEP", "", "EVENT_RULES", "", NULL};
    struct settings s;
    char err[256] = "", line[1200], names[128];
    assert_int_equal(settings_parse(&s, lookup, env, err, sizeof(err)), 0);
    settings_server_line(&s, line, sizeof(line), names, sizeof(names));
    assert_string_equal(line, "");
    assert_string_equal(names, "");
    settings_release(&s);
    /* LOG_KEEP=0 is a real value: keep no old file. */
    const char *zero[] = {"LOG_KEEP", "0", "EVENT_RULES", "", NULL};
    assert_int_equal(settings_parse(&s, lookup, zero, err, sizeof(err)), 0);
    settings_server_line(&s, line, sizeof(line), names, sizeof(names));
    assert_string_equal(line, "server logkeep=0\n");
    settings_release(&s);
}

static void test_http_is_off_by_default_and_binds_every_address(void **state)
{
    (void)state;
    const char *off[] = {"HTTP_PORT", "", NULL};
    struct settings s;
    char err[256] = "";
    assert_int_equal(settings_parse(&s, lookup, off, err, sizeof(err)), 0);
    assert_int_equal(s.http_port, 0);
    assert_string_equal(s.http_addr, "0.0.0.0");
    assert_null(s.conmand_http_addr);
    settings_release(&s);
    const char *on[] = {"HTTP_PORT", "8080", "HTTP_ADDR", "127.0.0.1", NULL};
    assert_int_equal(settings_parse(&s, lookup, on, err, sizeof(err)), 0);
    assert_int_equal(s.http_port, 8080);
    assert_string_equal(s.http_addr, "127.0.0.1");
    settings_release(&s);
}

static void test_conmand_http_addr_goes_next_to_httpport(void **state)
{
    (void)state;
    const char *env[] = {
        "CONMAND_HTTP_PORT", "8081", "CONMAND_HTTP_ADDR", "0.0.0.0", "EVENT_RULES", "", NULL};
    struct settings s;
    char err[256] = "", line[1200], names[128];
    assert_int_equal(settings_parse(&s, lookup, env, err, sizeof(err)), 0);
    settings_server_line(&s, line, sizeof(line), names, sizeof(names));
    assert_string_equal(line, "server httpport=8081 httpaddr=0.0.0.0\n");
    assert_string_equal(names, "CONMAND_HTTP_PORT CONMAND_HTTP_ADDR");
    settings_release(&s);
}

static void test_ipv6_http_addresses_are_taken(void **state)
{
    (void)state;
    const char *env[] = {"HTTP_PORT",
                         "8080",
                         "HTTP_ADDR",
                         "::1",
                         "CONMAND_HTTP_PORT",
                         "8081",
                         "CONMAND_HTTP_ADDR",
                         "::",
                         "EVENT_RULES",
                         "",
                         NULL};
    struct settings s;
    char err[256] = "", line[1200], names[128];
    assert_int_equal(settings_parse(&s, lookup, env, err, sizeof(err)), 0);
    assert_string_equal(s.http_addr, "::1");
    settings_server_line(&s, line, sizeof(line), names, sizeof(names));
    assert_string_equal(line, "server httpport=8081 httpaddr=::\n");
    settings_release(&s);
}

static void test_bad_server_keywords_name_variable_and_value(void **state)
{
    (void)state;
    const char *cases[][3] = {
        {"CONMAND_HTTP_PORT", "0", "CONMAND_HTTP_PORT=0"},
        {"CONMAND_HTTP_PORT", "80x", "CONMAND_HTTP_PORT=80x"},
        {"LOG_MAX_BYTES", "5Q", "LOG_MAX_BYTES=5Q"},
        {"LOG_MAX_BYTES", "0", "LOG_MAX_BYTES=0"},
        {"LOG_BUDGET_BYTES", "-1G", "LOG_BUDGET_BYTES=-1G"},
        {"LOG_KEEP", "two", "LOG_KEEP=two"},
        {"LOG_SHIP", "udp:h:1", "LOG_SHIP=udp:h:1"},
        {"LOG_SHIP", "tcp:host", "LOG_SHIP=tcp:host"},
        {"LOG_SHIP", "file:rel/path", "LOG_SHIP=file:rel/path"},
        {"LOG_SHIP", "file:/a,file:/b,file:/c", "LOG_SHIP=file:/a,file:/b,file:/c"},
        {"LOG_SHIP", "file:/a\"b", "LOG_SHIP=file:/a\"b"},
        {"CONMAND_HTTP_ADDR", "localhost", "CONMAND_HTTP_ADDR=localhost"},
        {"CONMAND_HTTP_ADDR", "10.0.0.256", "CONMAND_HTTP_ADDR=10.0.0.256"},
        {"HTTP_PORT", "65536", "HTTP_PORT=65536"},
        {"HTTP_PORT", "http", "HTTP_PORT=http"},
        {"HTTP_ADDR", "::1::x",
         "HTTP_ADDR=::1::x: expected an IP address like 127.0.0.1, "
         "0.0.0.0, ::1 or ::"},
        {"CONMAND_HTTP_ADDR", "::1::x", "CONMAND_HTTP_ADDR=::1::x"},
        {"HTTP_ADDR", "[::1]", "HTTP_ADDR=[::1]"},
        {"CONMAND_HTTP_ADDR", "fe80::1%eth0", "CONMAND_HTTP_ADDR=fe80::1%eth0"},
        {"HTTP_ADDR", "0.0.0.0 ", "HTTP_ADDR=0.0.0.0 "},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *env[] = {cases[i][0], cases[i][1], NULL};
        struct settings s;
        char err[256] = "";
        assert_int_equal(settings_parse(&s, lookup, env, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, cases[i][2]));
    }
}

static void test_no_shard_setting_means_no_sharding(void **state)
{
    (void)state;
    const char *env[] = {NULL};
    struct settings s;
    char err[256] = "";
    assert_int_equal(settings_parse(&s, lookup, env, err, sizeof(err)), 0);
    assert_false(settings_sharded(&s));
    assert_int_equal(s.shard_settle_sec, 10);
    assert_null(s.shard_self);
    settings_release(&s);
}

static void test_shard_settings_parse_and_check_self(void **state)
{
    (void)state;
    const char *env[] = {"SHARD_MEMBERS",
                         "c-1,c-0=127.0.0.1:7001",
                         "SHARD_SELF",
                         "c-1",
                         "SHARD_SETTLE_SEC",
                         "0",
                         NULL};
    struct settings s;
    char err[256] = "";
    assert_int_equal(settings_parse(&s, lookup, env, err, sizeof(err)), 0);
    assert_true(settings_sharded(&s));
    assert_int_equal(s.shard_members.n, 2);
    assert_string_equal(s.shard_members.v[0].name, "c-0");
    assert_int_equal(s.shard_settle_sec, 0);
    assert_int_equal(settings_check_self(&s, err, sizeof(err)), 0);
    free(s.shard_self);
    s.shard_self = strdup("c-2");
    assert_int_equal(settings_check_self(&s, err, sizeof(err)), -EINVAL);
    assert_non_null(
        strstr(err, "SHARD_SELF=c-2: not one of SHARD_MEMBERS (c-0=127.0.0.1:7001,c-1)"));
    settings_release(&s);

    const char *file[] = {"SHARD_MEMBERS_FILE", "/run/members", NULL};
    assert_int_equal(settings_parse(&s, lookup, file, err, sizeof(err)), 0);
    assert_true(settings_sharded(&s));
    assert_string_equal(s.shard_members_file, "/run/members");
    settings_release(&s);
}

static void test_bad_shard_settings_name_variable_and_value(void **state)
{
    (void)state;
    expect_error("SHARD_MEMBERS", "a,b,a",
                 "SHARD_MEMBERS=a,b,a: entry \"a\": member a is listed twice");
    expect_error("SHARD_MEMBERS", "a,b=h:65536",
                 "entry \"b=h:65536\": 'h:65536': expected HOST:PORT");
    expect_error("SHARD_SELF", "a=b", "SHARD_SELF=a=b: expected a member name");
    expect_error("SHARD_SETTLE_SEC", "3601", "SHARD_SETTLE_SEC=3601");
    expect_error("SHARD_SETTLE_SEC", "-1", "SHARD_SETTLE_SEC=-1");
    const char *both[] = {"SHARD_MEMBERS", "a", "SHARD_MEMBERS_FILE", "/f", NULL};
    struct settings s;
    char err[256] = "";
    assert_int_equal(settings_parse(&s, lookup, both, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "SHARD_MEMBERS_FILE=/f: SHARD_MEMBERS is set too"));
}

static void test_srv_settings_parse_with_a_poll_default(void **state)
{
    (void)state;
    const char *env[] = {"SHARD_SRV", "_conman._tcp.conman.svc.cluster.local", NULL};
    struct settings s;
    char err[256] = "";
    assert_int_equal(settings_parse(&s, lookup, env, err, sizeof(err)), 0);
    assert_true(settings_sharded(&s));
    assert_string_equal(s.shard_srv, "_conman._tcp.conman.svc.cluster.local");
    assert_int_equal(s.shard_srv_poll_sec, 5);
    settings_release(&s);
    const char *limits[] = {"SHARD_SRV", "_c._tcp.x", "SHARD_SRV_POLL_SEC", "3600", NULL};
    assert_int_equal(settings_parse(&s, lookup, limits, err, sizeof(err)), 0);
    assert_int_equal(s.shard_srv_poll_sec, 3600);
    settings_release(&s);
}

static void expect_srv_error(const char *other, const char *value, const char *needle)
{
    const char *env[] = {"SHARD_SRV", "_c._tcp.x", other, value, NULL};
    struct settings s;
    char err[256] = "";
    assert_int_equal(settings_parse(&s, lookup, env, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, needle));
}

static void test_srv_is_the_only_source_and_its_poll_is_bounded(void **state)
{
    (void)state;
    expect_srv_error("SHARD_MEMBERS", "a,b", "SHARD_SRV=_c._tcp.x: SHARD_MEMBERS is set too");
    expect_srv_error("SHARD_MEMBERS_FILE", "/f",
                     "SHARD_SRV=_c._tcp.x: SHARD_MEMBERS_FILE is set too");
    expect_srv_error("SHARD_SRV_POLL_SEC", "0", "SHARD_SRV_POLL_SEC=0: expected");
    expect_srv_error("SHARD_SRV_POLL_SEC", "3601", "SHARD_SRV_POLL_SEC=3601: expected");
    expect_error("SHARD_SRV", "a b", "SHARD_SRV=a b: expected a DNS name");
    char name[256];
    memset(name, 'a', 254);
    name[254] = '\0';
    expect_error("SHARD_SRV", name, "expected a DNS name");
    name[253] = '\0';
    const char *env[] = {"SHARD_SRV", name, NULL};
    struct settings s;
    char err[256] = "";
    assert_int_equal(settings_parse(&s, lookup, env, err, sizeof(err)), 0);
    settings_release(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_match_the_design),
        cmocka_unit_test(test_server_keywords_render_one_line),
        cmocka_unit_test(test_event_paths_must_be_absolute_quote_free_and_fit_the_server_line),
        cmocka_unit_test(test_event_rules_default_to_the_shipped_file_and_empty_turns_them_off),
        cmocka_unit_test(test_the_web_console_settings),
        cmocka_unit_test(test_no_server_keywords_give_no_line),
        cmocka_unit_test(test_ipv6_http_addresses_are_taken),
        cmocka_unit_test(test_bad_server_keywords_name_variable_and_value),
        cmocka_unit_test(test_http_is_off_by_default_and_binds_every_address),
        cmocka_unit_test(test_conmand_http_addr_goes_next_to_httpport),
        cmocka_unit_test(test_values_are_taken_from_the_environment),
        cmocka_unit_test(test_empty_value_means_default),
        cmocka_unit_test(test_bad_numbers_name_variable_and_value),
        cmocka_unit_test(test_bad_mode_and_identifier_are_rejected),
        cmocka_unit_test(test_node_mode_settings_have_defaults_and_overrides),
        cmocka_unit_test(test_bad_node_mode_settings_name_the_variable),
        cmocka_unit_test(test_no_shard_setting_means_no_sharding),
        cmocka_unit_test(test_shard_settings_parse_and_check_self),
        cmocka_unit_test(test_bad_shard_settings_name_variable_and_value),
        cmocka_unit_test(test_srv_settings_parse_with_a_poll_default),
        cmocka_unit_test(test_srv_is_the_only_source_and_its_poll_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
