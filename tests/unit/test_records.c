/* Records: filtering, naming, validation, de-duplication and sorting of
 * HSM RedfishEndpoints answers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "configure/records.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse(const char *json, const char *ident, struct records *r, char *err)
{
    *r = (struct records)RECORDS_INIT;
    return records_from_json(json, strlen(json), ident, r, err, 256);
}

static bool warned(const struct records *r, const char *needle)
{
    for (size_t i = 0; i < r->nwarn; i++)
        if (strstr(r->warnings[i], needle))
            return true;
    return false;
}

static void test_only_enabled_nodebmcs_are_kept(void **state)
{
    (void)state;
    const char *json = "{\"RedfishEndpoints\":["
                       "{\"ID\":\"x3000c0s1b0\",\"Type\":\"NodeBMC\",\"Enabled\":true,"
                       "\"Hostname\":\"n1\",\"IPAddress\":\"127.0.0.1\"},"
                       "{\"ID\":\"x3000c0s2b0\",\"Type\":\"NodeBMC\",\"Enabled\":false,"
                       "\"Hostname\":\"n2\",\"IPAddress\":\"127.0.0.2\"},"
                       "{\"ID\":\"x1000c0b0\",\"Type\":\"ChassisBMC\",\"Enabled\":true,"
                       "\"Hostname\":\"c0\",\"IPAddress\":\"127.0.0.3\"},"
                       "{\"ID\":\"x3000c0s3b0\",\"Type\":\"NodeBMC\",\"Hostname\":\"n3\","
                       "\"IPAddress\":\"127.0.0.4\"}]}";
    struct records r;
    char err[256] = "";
    assert_int_equal(parse(json, "Hostname", &r, err), 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.v[0].name, "n1");
    assert_string_equal(r.v[0].address, "127.0.0.1");
    records_release(&r);
}

static void test_name_falls_back_to_id_and_address_to_fqdn_then_hostname(void **state)
{
    (void)state;
    const char *json = "{\"RedfishEndpoints\":["
                       "{\"ID\":\"x3000c0s1b0\",\"Type\":\"NodeBMC\",\"Enabled\":true,"
                       "\"Hostname\":\"\",\"FQDN\":\"bmc1.local\",\"IPAddress\":\"\"},"
                       "{\"ID\":\"x3000c0s2b0\",\"Type\":\"NodeBMC\",\"Enabled\":true,"
                       "\"Hostname\":\"bmc2\"},"
                       "{\"ID\":\"x3000c0s3b0\",\"Type\":\"NodeBMC\",\"Enabled\":true}]}";
    struct records r;
    char err[256] = "";
    assert_int_equal(parse(json, "Hostname", &r, err), 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.v[0].name, "bmc2");
    assert_string_equal(r.v[0].address, "bmc2");
    assert_string_equal(r.v[1].name, "x3000c0s1b0");
    assert_string_equal(r.v[1].address, "bmc1.local");
    assert_true(warned(&r, "endpoint x3000c0s3b0: no IPAddress, FQDN or Hostname"));
    records_release(&r);
}

static void test_log_identifier_selects_the_field(void **state)
{
    (void)state;
    const char *json = "{\"RedfishEndpoints\":[{\"ID\":\"x3000c0s1b0\",\"Type\":\"NodeBMC\","
                       "\"Enabled\":true,\"Hostname\":\"h\",\"Name\":\"nm\","
                       "\"IPAddress\":\"127.0.0.1:9001\"}]}";
    struct records r;
    char err[256] = "";
    assert_int_equal(parse(json, "Name", &r, err), 0);
    assert_string_equal(r.v[0].name, "nm");
    assert_string_equal(r.v[0].address, "127.0.0.1:9001");
    records_release(&r);
    assert_int_equal(parse(json, "ID", &r, err), 0);
    assert_string_equal(r.v[0].name, "x3000c0s1b0");
    records_release(&r);
}

static void test_hostile_hostnames_are_skipped_with_a_warning_naming_the_id(void **state)
{
    (void)state;
    const char *json =
        "{\"RedfishEndpoints\":["
        "{\"ID\":\"e1\",\"Type\":\"NodeBMC\",\"Enabled\":true,"
        "\"Hostname\":\"a\\\" dev=\\\"x\",\"IPAddress\":\"127.0.0.1\"},"
        "{\"ID\":\"e2\",\"Type\":\"NodeBMC\",\"Enabled\":true,"
        "\"Hostname\":\"two words\",\"IPAddress\":\"127.0.0.1\"},"
        "{\"ID\":\"e3\",\"Type\":\"NodeBMC\",\"Enabled\":true,"
        "\"Hostname\":\"line\\nbreak\",\"IPAddress\":\"127.0.0.1\"},"
        "{\"ID\":\"e4\",\"Type\":\"NodeBMC\",\"Enabled\":true,"
        "\"Hostname\":\"../../etc/passwd\",\"IPAddress\":\"127.0.0.1\"},"
        "{\"ID\":\"e5\",\"Type\":\"NodeBMC\",\"Enabled\":true,"
        "\"Hostname\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAA\",\"IPAddress\":\"127.0.0.1\"},"
        "{\"ID\":\"e6\",\"Type\":\"NodeBMC\",\"Enabled\":true,"
        "\"Hostname\":\"ok\",\"IPAddress\":\"127.0.0.1\\\" x\"},"
        "{\"ID\":\"e7\",\"Type\":\"NodeBMC\",\"Enabled\":true,"
        "\"Hostname\":\"good\",\"IPAddress\":\"[::1]:623\"}]}";
    struct records r;
    char err[256] = "";
    assert_int_equal(parse(json, "Hostname", &r, err), 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.v[0].name, "good");
    assert_int_equal(r.nwarn, 6);
    for (int i = 1; i <= 6; i++) {
        char id[32];
        snprintf(id, sizeof(id), "endpoint e%d:", i);
        assert_true(warned(&r, id));
    }
    for (size_t i = 0; i < r.nwarn; i++)
        assert_null(strchr(r.warnings[i], '\n'));
    assert_true(warned(&r, "line\\x0abreak"));
    records_release(&r);
}

static void test_duplicate_names_keep_the_first_and_warn(void **state)
{
    (void)state;
    const char *json = "{\"RedfishEndpoints\":["
                       "{\"ID\":\"b\",\"Type\":\"NodeBMC\",\"Enabled\":true,"
                       "\"Hostname\":\"same\",\"IPAddress\":\"127.0.0.2\"},"
                       "{\"ID\":\"a\",\"Type\":\"NodeBMC\",\"Enabled\":true,"
                       "\"Hostname\":\"same\",\"IPAddress\":\"127.0.0.1\"}]}";
    struct records r;
    char err[256] = "";
    assert_int_equal(parse(json, "Hostname", &r, err), 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.v[0].address, "127.0.0.2");
    assert_true(warned(&r, "\"same\" is used by more than one endpoint"));
    records_release(&r);
}

static void test_records_are_sorted_by_name(void **state)
{
    (void)state;
    const char *json = "{\"RedfishEndpoints\":["
                       "{\"ID\":\"x3000c0s9b0\",\"Type\":\"NodeBMC\",\"Enabled\":true,"
                       "\"IPAddress\":\"127.0.0.9\"},"
                       "{\"ID\":\"x1000c0s0b0\",\"Type\":\"NodeBMC\",\"Enabled\":true,"
                       "\"IPAddress\":\"127.0.0.1\"},"
                       "{\"ID\":\"x3000c0s10b0\",\"Type\":\"NodeBMC\",\"Enabled\":true,"
                       "\"IPAddress\":\"127.0.0.10\"}]}";
    struct records r;
    char err[256] = "";
    assert_int_equal(parse(json, "Hostname", &r, err), 0);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.v[0].name, "x1000c0s0b0");
    assert_string_equal(r.v[1].name, "x3000c0s10b0");
    assert_string_equal(r.v[2].name, "x3000c0s9b0");
    records_release(&r);
}

static void test_bad_bodies_are_errors_with_a_reason(void **state)
{
    (void)state;
    struct records r;
    char err[256] = "";
    assert_int_equal(parse("", "ID", &r, err), -EINVAL);
    assert_non_null(strstr(err, "empty"));
    assert_int_equal(parse("{\"RedfishEndpoints\":[{\"ID\":", "ID", &r, err), -EINVAL);
    assert_non_null(strstr(err, "malformed JSON"));
    assert_int_equal(parse("[{\"ID\":\"x\"}]", "ID", &r, err), -EINVAL);
    assert_non_null(strstr(err, "RedfishEndpoints"));
    assert_int_equal(parse("{\"RedfishEndpoints\":{}}", "ID", &r, err), -EINVAL);
    assert_int_equal(parse("{\"RedfishEndpoints\":[]}", "ID", &r, err), 0);
    assert_int_equal(r.n, 0);
    records_release(&r);
}

static void test_non_object_entries_and_missing_ids_are_skipped(void **state)
{
    (void)state;
    const char *json = "{\"RedfishEndpoints\":[42,\"x\",{\"Type\":\"NodeBMC\",\"Enabled\":true,"
                       "\"IPAddress\":\"127.0.0.1\"}]}";
    struct records r;
    char err[256] = "";
    assert_int_equal(parse(json, "Hostname", &r, err), 0);
    assert_int_equal(r.n, 0);
    assert_true(warned(&r, "RedfishEndpoints[0]: not an object"));
    assert_true(warned(&r, "RedfishEndpoints[2]: no ID"));
    records_release(&r);
}

static void test_odd_types_and_huge_strings_are_skipped_with_a_warning(void **state)
{
    (void)state;
    size_t big = 200000;
    char *huge = malloc(big + 1);
    memset(huge, 'h', big);
    huge[big] = '\0';
    char *json = malloc(3 * big + 1024);
    sprintf(json,
            "{\"RedfishEndpoints\":["
            "{\"ID\":42,\"Type\":\"NodeBMC\",\"Enabled\":true,\"IPAddress\":\"127.0.0.1\"},"
            "{\"ID\":\"e1\",\"Type\":\"NodeBMC\",\"Enabled\":1,\"IPAddress\":\"127.0.0.1\"},"
            "{\"ID\":\"e2\",\"Type\":\"NodeBMC\",\"Enabled\":true,\"Hostname\":[\"x\"],"
            "\"IPAddress\":{\"v4\":\"127.0.0.1\"}},"
            "{\"ID\":\"e3\",\"Type\":\"NodeBMC\",\"Enabled\":true,\"Hostname\":\"%s\","
            "\"IPAddress\":\"127.0.0.1\"},"
            "{\"ID\":\"e4\",\"Type\":\"NodeBMC\",\"Enabled\":true,\"IPAddress\":\"%s\"},"
            "{\"ID\":\"%s\",\"Type\":\"NodeBMC\",\"Enabled\":true,\"IPAddress\":\"127.0.0.1\"},"
            "{\"ID\":\"ok\",\"Type\":\"NodeBMC\",\"Enabled\":true,\"IPAddress\":\"127.0.0.1\"}]}",
            huge, huge, huge);
    struct records r;
    char err[256] = "";
    assert_int_equal(parse(json, "Hostname", &r, err), 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.v[0].name, "ok");
    assert_true(warned(&r, "RedfishEndpoints[0]: no ID"));   /* a number is not an ID */
    assert_true(warned(&r, "endpoint e2: no IPAddress"));    /* nor an object an address */
    assert_true(warned(&r, "endpoint e3: Hostname \"hhhh")); /* too long a name */
    assert_true(warned(&r, "endpoint e4: address \"hhhh"));  /* too long an address */
    assert_true(warned(&r, "endpoint hhhh"));                /* too long an ID, cut in the log */
    for (size_t i = 0; i < r.nwarn; i++)
        assert_true(strlen(r.warnings[i]) < 400);
    assert_int_equal(r.nwarn, 5); /* "Enabled":1 is not true: skipped without a word */
    records_release(&r);
    free(json);
    free(huge);
}

static void test_name_and_address_alphabets(void **state)
{
    (void)state;
    assert_true(records_name_ok("x3000c0s1b0"));
    assert_true(records_name_ok("a.b_c:d-e"));
    assert_false(records_name_ok(""));
    assert_false(records_name_ok("a/b"));
    assert_false(records_name_ok("a b"));
    assert_false(records_name_ok("a\"b"));
    assert_true(records_address_ok("127.0.0.1:9001"));
    assert_true(records_address_ok("[::1]:623"));
    assert_false(records_address_ok("127.0.0.1,x"));
    assert_false(records_address_ok("host name"));
    assert_true(records_address_ok("fd00::1"));
    assert_true(records_address_ok("fe80::1%eth0"));
    assert_true(records_address_ok("[fd00::1]"));
    assert_false(records_address_ok("fd00::1::x"));
    assert_false(records_address_ok("[::1]:0"));
    assert_false(records_address_ok("h:1:"));
}

/* Whatever the configuration file gets, conmand's hostport parser reads:
 * an address it would refuse is skipped here, naming endpoint and text. */
static void test_ipv6_addresses_are_kept_and_garbage_is_skipped_with_a_warning(void **state)
{
    (void)state;
    const char *json = "{\"RedfishEndpoints\":["
                       "{\"ID\":\"b1\",\"Type\":\"NodeBMC\",\"Enabled\":true,"
                       "\"IPAddress\":\"fd00::1\"},"
                       "{\"ID\":\"b2\",\"Type\":\"NodeBMC\",\"Enabled\":true,"
                       "\"IPAddress\":\"fe80::1%eth0\"},"
                       "{\"ID\":\"b3\",\"Type\":\"NodeBMC\",\"Enabled\":true,"
                       "\"IPAddress\":\"[::1]:6230\"},"
                       "{\"ID\":\"b4\",\"Type\":\"NodeBMC\",\"Enabled\":true,"
                       "\"IPAddress\":\"fd00::1::x\"},"
                       "{\"ID\":\"b5\",\"Type\":\"NodeBMC\",\"Enabled\":true,"
                       "\"IPAddress\":\"[::1]:\"}]}";
    struct records r;
    char err[256] = "";
    assert_int_equal(parse(json, "Hostname", &r, err), 0);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.v[0].address, "fd00::1");
    assert_string_equal(r.v[1].address, "fe80::1%eth0");
    assert_string_equal(r.v[2].address, "[::1]:6230");
    assert_int_equal(r.nwarn, 2);
    assert_true(warned(&r, "endpoint b4: address \"fd00::1::x\" is not a valid host or IP"));
    assert_true(warned(&r, "endpoint b5: address \"[::1]:\" is not a valid host or IP"));
    records_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_only_enabled_nodebmcs_are_kept),
        cmocka_unit_test(test_name_falls_back_to_id_and_address_to_fqdn_then_hostname),
        cmocka_unit_test(test_log_identifier_selects_the_field),
        cmocka_unit_test(test_hostile_hostnames_are_skipped_with_a_warning_naming_the_id),
        cmocka_unit_test(test_duplicate_names_keep_the_first_and_warn),
        cmocka_unit_test(test_records_are_sorted_by_name),
        cmocka_unit_test(test_bad_bodies_are_errors_with_a_reason),
        cmocka_unit_test(test_non_object_entries_and_missing_ids_are_skipped),
        cmocka_unit_test(test_odd_types_and_huge_strings_are_skipped_with_a_warning),
        cmocka_unit_test(test_name_and_address_alphabets),
        cmocka_unit_test(test_ipv6_addresses_are_kept_and_garbage_is_skipped_with_a_warning),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
