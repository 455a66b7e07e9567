/* Settings: defaults, validation errors naming the variable and value. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "configure/settings.h"

#include <errno.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_match_the_design),
        cmocka_unit_test(test_values_are_taken_from_the_environment),
        cmocka_unit_test(test_empty_value_means_default),
        cmocka_unit_test(test_bad_numbers_name_variable_and_value),
        cmocka_unit_test(test_bad_mode_and_identifier_are_rejected),
        cmocka_unit_test(test_node_mode_settings_have_defaults_and_overrides),
        cmocka_unit_test(test_bad_node_mode_settings_name_the_variable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
