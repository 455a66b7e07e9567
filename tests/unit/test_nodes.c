/* CONSOLE_MODE=node: class to transport, xname to BMC and node number, and
 * Components + RedfishEndpoints to console records with warnings. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "configure/nodes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const endpoints =
    "{\"RedfishEndpoints\":["
    "{\"ID\":\"x3000c0s1b0\",\"Type\":\"NodeBMC\",\"Enabled\":true,\"IPAddress\":\"127.0.0.1:"
    "9001\"},"
    "{\"ID\":\"x1000c0s0b0\",\"Type\":\"NodeBMC\",\"Enabled\":true,\"IPAddress\":\"\","
    "\"FQDN\":\"127.0.0.1:2222\",\"DiscoveryInfo\":{\"ID\":\"x9\"}},"
    "{\"ID\":\"x3000c0s5b0\",\"Type\":\"NodeBMC\",\"Enabled\":true,\"IPAddress\":\"127.0.0.5\"},"
    "{\"ID\":\"x3000c0s6b0\",\"Type\":\"NodeBMC\",\"Enabled\":true,\"IPAddress\":\"a b\"},"
    "{\"ID\":\"x3000c0s7b0\",\"Type\":\"NodeBMC\",\"Enabled\":true},"
    "{\"ID\":\"x3000c0s1b0\",\"Type\":\"NodeBMC\",\"Enabled\":true,\"IPAddress\":\"127.0.0.99\"}"
    "]}";

static int parse(const char *components, struct records *r, char *err)
{
    *r = (struct records)RECORDS_INIT;
    return nodes_from_json(endpoints, strlen(endpoints), components, strlen(components), r, err,
                           256);
}

static bool warned(const struct records *r, const char *needle)
{
    for (size_t i = 0; i < r->nwarn; i++)
        if (strstr(r->warnings[i], needle))
            return true;
    return false;
}

static void test_class_selects_the_transport(void **state)
{
    (void)state;
    enum record_transport t;
    assert_int_equal(nodes_transport_for_class("River", &t), 0);
    assert_int_equal(t, RECORD_IPMI);
    assert_int_equal(nodes_transport_for_class("Mountain", &t), 0);
    assert_int_equal(t, RECORD_SSH_KEY);
    assert_int_equal(nodes_transport_for_class("Hill", &t), 0);
    assert_int_equal(t, RECORD_SSH_KEY);
    assert_int_equal(nodes_transport_for_class("Paradise", &t), 0);
    assert_int_equal(t, RECORD_SSH_PASSWORD);
    assert_int_equal(nodes_transport_for_class("Lake", &t), -ENOENT);
    assert_int_equal(nodes_transport_for_class("river", &t), -ENOENT);
    assert_int_equal(nodes_transport_for_class(NULL, &t), -ENOENT);
}

static void test_xname_gives_the_bmc_and_node_number(void **state)
{
    (void)state;
    char bmc[64];
    unsigned node = 99;
    assert_int_equal(nodes_split_xname("x1000c0s0b0n0", bmc, sizeof(bmc), &node), 0);
    assert_string_equal(bmc, "x1000c0s0b0");
    assert_int_equal(node, 0);
    assert_int_equal(nodes_split_xname("x3000c0s19b1n12", bmc, sizeof(bmc), &node), 0);
    assert_string_equal(bmc, "x3000c0s19b1");
    assert_int_equal(node, 12);
    assert_int_equal(nodes_split_xname("x1000c0s0b0", bmc, sizeof(bmc), &node), -EINVAL);
    assert_int_equal(nodes_split_xname("x1000c0s0n1", bmc, sizeof(bmc), &node), -EINVAL);
    assert_int_equal(nodes_split_xname("n1", bmc, sizeof(bmc), &node), -EINVAL);
    assert_int_equal(nodes_split_xname("x1000c0s0b0n", bmc, sizeof(bmc), &node), -EINVAL);
    assert_int_equal(nodes_split_xname("x1000c0s0b0n1", bmc, 5, &node), -EINVAL);
}

static void test_enabled_nodes_become_consoles_by_class(void **state)
{
    (void)state;
    const char *json =
        "{\"Components\":["
        "{\"ID\":\"x3000c0s1b0n0\",\"Type\":\"Node\",\"Enabled\":true,\"Class\":\"River\"},"
        "{\"ID\":\"x1000c0s0b0n1\",\"Type\":\"Node\",\"Enabled\":true,\"Class\":\"Mountain\","
        "\"NID\":1001},"
        "{\"ID\":\"x1000c0s0b0n0\",\"Type\":\"Node\",\"Enabled\":true,\"Class\":\"Hill\"},"
        "{\"ID\":\"x3000c0s5b0n0\",\"Type\":\"Node\",\"Enabled\":true,\"Class\":\"Paradise\"},"
        "{\"ID\":\"x3000c0s5b0n1\",\"Type\":\"Node\",\"Enabled\":false,\"Class\":\"River\"},"
        "{\"ID\":\"x3000c0s5b0\",\"Type\":\"NodeBMC\",\"Enabled\":true,\"Class\":\"River\"}]}";
    struct records r;
    char err[256] = "";
    assert_int_equal(parse(json, &r, err), 0);
    assert_int_equal(r.n, 4);
    assert_int_equal(r.nwarn, 0);
    assert_string_equal(r.v[0].name, "x1000c0s0b0n0");
    assert_string_equal(r.v[0].address, "127.0.0.1:2222"); /* FQDN when no IPAddress */
    assert_int_equal(r.v[0].transport, RECORD_SSH_KEY);
    assert_int_equal(r.v[0].node, 0);
    assert_string_equal(r.v[1].name, "x1000c0s0b0n1");
    assert_int_equal(r.v[1].node, 1);
    assert_string_equal(r.v[2].name, "x3000c0s1b0n0");
    assert_string_equal(r.v[2].address, "127.0.0.1:9001"); /* the first of equal BMC IDs */
    assert_int_equal(r.v[2].transport, RECORD_IPMI);
    assert_string_equal(r.v[3].name, "x3000c0s5b0n0");
    assert_int_equal(r.v[3].transport, RECORD_SSH_PASSWORD);
    records_release(&r);
}

static void test_unusable_nodes_are_skipped_with_a_warning_naming_the_node(void **state)
{
    (void)state;
    const char *json =
        "{\"Components\":["
        "{\"ID\":\"x3000c0s1b0n0\",\"Type\":\"Node\",\"Enabled\":true,\"Class\":\"Lake\"},"
        "{\"ID\":\"x3000c0s1b0n1\",\"Type\":\"Node\",\"Enabled\":true},"
        "{\"ID\":\"x3000c0s9b0n0\",\"Type\":\"Node\",\"Enabled\":true,\"Class\":\"River\"},"
        "{\"ID\":\"x3000c0s6b0n0\",\"Type\":\"Node\",\"Enabled\":true,\"Class\":\"River\"},"
        "{\"ID\":\"x3000c0s7b0n0\",\"Type\":\"Node\",\"Enabled\":true,\"Class\":\"River\"},"
        "{\"ID\":\"node\\n7\",\"Type\":\"Node\",\"Enabled\":true,\"Class\":\"River\"},"
        "{\"ID\":\"x3000c0s1\",\"Type\":\"Node\",\"Enabled\":true,\"Class\":\"River\"},"
        "{\"Type\":\"Node\",\"Enabled\":true,\"Class\":\"River\"},"
        "[\"x3000c0s1b0n0\"],"
        "{\"ID\":\"x3000c0s1b0n3\",\"Type\":\"Node\",\"Enabled\":true,\"Class\":{\"x\":1}}]}";
    struct records r;
    char err[256] = "";
    assert_int_equal(parse(json, &r, err), 0);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.nwarn, 10);
    assert_true(warned(&r, "node x3000c0s1b0n0: unknown Class \"Lake\""));
    assert_true(warned(&r, "node x3000c0s1b0n1: unknown Class \"\""));
    assert_true(warned(&r, "node x3000c0s9b0n0: no RedfishEndpoint for its BMC x3000c0s9b0"));
    assert_true(warned(
        &r, "node x3000c0s6b0n0: BMC x3000c0s6b0 address \"a b\" is not a valid host or IP"));
    assert_true(warned(&r, "node x3000c0s7b0n0: BMC x3000c0s7b0 has no IPAddress"));
    assert_true(warned(&r, "node node\\x0a7: ID is not a valid console name"));
    assert_true(warned(&r, "node x3000c0s1: ID is not a node xname"));
    assert_true(warned(&r, "Components[7]: no ID"));
    assert_true(warned(&r, "Components[8]: not an object"));
    assert_true(warned(&r, "node x3000c0s1b0n3: unknown Class"));
    records_release(&r);
}

static void test_duplicate_nodes_keep_the_first(void **state)
{
    (void)state;
    const char *json =
        "{\"Components\":["
        "{\"ID\":\"x3000c0s1b0n0\",\"Type\":\"Node\",\"Enabled\":true,\"Class\":\"River\"},"
        "{\"ID\":\"x3000c0s1b0n0\",\"Type\":\"Node\",\"Enabled\":true,\"Class\":\"Paradise\"}]}";
    struct records r;
    char err[256] = "";
    assert_int_equal(parse(json, &r, err), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.v[0].transport, RECORD_IPMI);
    assert_true(warned(&r, "\"x3000c0s1b0n0\" is used by more than one"));
    records_release(&r);
}

static void test_bad_answers_name_the_list(void **state)
{
    (void)state;
    struct records r;
    char err[256] = "";
    assert_int_equal(parse("{\"Nodes\":[]}", &r, err), -EINVAL);
    assert_string_equal(err, "JSON has no \"Components\" list");
    assert_int_equal(parse("{\"Components\":[{\"ID\":}]}", &r, err), -EINVAL);
    assert_non_null(strstr(err, "malformed JSON at line 1 column"));
    assert_int_equal(parse("", &r, err), -EINVAL);
    assert_non_null(strstr(err, "empty response body"));
    const char *c = "{\"Components\":[]}";
    assert_int_equal(nodes_from_json("{}", 2, c, strlen(c), &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "JSON has no \"RedfishEndpoints\" list");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_class_selects_the_transport),
        cmocka_unit_test(test_xname_gives_the_bmc_and_node_number),
        cmocka_unit_test(test_enabled_nodes_become_consoles_by_class),
        cmocka_unit_test(test_unusable_nodes_are_skipped_with_a_warning_naming_the_node),
        cmocka_unit_test(test_duplicate_nodes_keep_the_first),
        cmocka_unit_test(test_bad_answers_name_the_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
