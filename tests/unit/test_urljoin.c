/* URL joining: API_GATEWAY + RF_ENDPOINT with one slash and a default scheme. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "configure/urljoin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void expect_join(const char *gw, const char *path, const char *want)
{
    char *url = NULL;
    char err[256] = "";
    assert_int_equal(url_join(gw, path, &url, err, sizeof(err)), 0);
    assert_string_equal(url, want);
    free(url);
}

static void test_bare_host_gets_https(void **state)
{
    (void)state;
    expect_join("api-gw-service-nmn.local", "apis/smd/hsm/v2/Inventory/RedfishEndpoints",
                "https://api-gw-service-nmn.local/apis/smd/hsm/v2/Inventory/RedfishEndpoints");
}

static void test_exactly_one_slash_between_parts(void **state)
{
    (void)state;
    expect_join("http://127.0.0.1:8080/", "/apis/x", "http://127.0.0.1:8080/apis/x");
    expect_join("http://127.0.0.1:8080///", "///apis/x", "http://127.0.0.1:8080/apis/x");
    expect_join("http://127.0.0.1:8080", "apis/x", "http://127.0.0.1:8080/apis/x");
}

/* libcurl reads http://[v6]:port/; joining must leave the brackets be. */
static void test_ipv6_gateways_keep_their_brackets(void **state)
{
    (void)state;
    expect_join("http://[::1]:8080/", "/apis/x", "http://[::1]:8080/apis/x");
    expect_join("[fd00::1]:8443", "apis/x", "https://[fd00::1]:8443/apis/x");
    expect_join("https://[fe80::1%25eth0]/", "apis/x", "https://[fe80::1%25eth0]/apis/x");
    expect_join("gw", "http://[::1]:9000/apis/y", "http://[::1]:9000/apis/y");
}

static void test_gateway_with_path_prefix_is_kept(void **state)
{
    (void)state;
    expect_join("https://gw.local/prefix/", "apis/x", "https://gw.local/prefix/apis/x");
}

static void test_full_url_endpoint_is_used_as_is(void **state)
{
    (void)state;
    expect_join("ignored.local", "http://127.0.0.2:9000/custom?type=NodeBMC",
                "http://127.0.0.2:9000/custom?type=NodeBMC");
    expect_join("ignored.local", "HTTPS://127.0.0.2/x", "HTTPS://127.0.0.2/x");
}

static void test_empty_gateway_is_an_error_naming_it(void **state)
{
    (void)state;
    char *url = NULL;
    char err[256] = "";
    assert_int_equal(url_join("", "apis/x", &url, err, sizeof(err)), -EINVAL);
    assert_null(url);
    assert_non_null(strstr(err, "API_GATEWAY"));
}

static void test_other_scheme_is_rejected(void **state)
{
    (void)state;
    char *url = NULL;
    char err[256] = "";
    assert_int_equal(url_join("ftp://gw", "apis/x", &url, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "ftp://gw"));
}

static void test_blanks_in_url_are_rejected(void **state)
{
    (void)state;
    char *url = NULL;
    char err[256] = "";
    assert_int_equal(url_join("gw.local", "apis/x y", &url, err, sizeof(err)), -EINVAL);
    assert_int_equal(url_join("http://gw\n.local", "apis", &url, err, sizeof(err)), -EINVAL);
    assert_null(url);
}

/* Found by tests/fuzz/fuzz_urljoin: "http://" joined gave "http:/apis/x". */
static void test_gateway_or_endpoint_without_host_is_rejected(void **state)
{
    (void)state;
    static const char *const cases[][2] = {{"http://", "apis/x"},
                                           {"https:///gw/", "apis/x"},
                                           {"///gw", "apis/x"},
                                           {"gw.local", "http:///apis/x"},
                                           {"gw.local", "https://"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *url = NULL;
        char err[256] = "";
        assert_int_equal(url_join(cases[i][0], cases[i][1], &url, err, sizeof(err)), -EINVAL);
        assert_null(url);
        assert_non_null(strstr(err, "no host"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bare_host_gets_https),
        cmocka_unit_test(test_exactly_one_slash_between_parts),
        cmocka_unit_test(test_gateway_with_path_prefix_is_kept),
        cmocka_unit_test(test_ipv6_gateways_keep_their_brackets),
        cmocka_unit_test(test_full_url_endpoint_is_used_as_is),
        cmocka_unit_test(test_empty_gateway_is_an_error_naming_it),
        cmocka_unit_test(test_other_scheme_is_rejected),
        cmocka_unit_test(test_blanks_in_url_are_rejected),
        cmocka_unit_test(test_gateway_or_endpoint_without_host_is_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
