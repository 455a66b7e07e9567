/* opsstats: health decisions, exit causes, conf port and the Prometheus text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "configure/opsstats.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define W_EXIT(code) ((code) << 8)
#define W_SIGNAL(sig) (sig)

static void test_healthz_fails_when_the_loop_stops_turning(void **state)
{
    (void)state;
    struct opsstats s = {.heartbeat_mono = 100};
    char why[128] = "";
    assert_true(opsstats_healthy(&s, 104.9, why, sizeof(why)));
    assert_false(opsstats_healthy(&s, 106, why, sizeof(why)));
    assert_non_null(strstr(why, "6.0 s ago"));
    /* A bounded blocking call (HSM, stopping conmand) is not a hang. */
    s.busy_until_mono = 130;
    assert_true(opsstats_healthy(&s, 125, why, sizeof(why)));
    assert_false(opsstats_healthy(&s, 131, why, sizeof(why)));
}

static void test_readyz_needs_a_configuration_and_a_running_conmand(void **state)
{
    (void)state;
    struct opsstats s = {0};
    char why[128] = "";
    assert_false(opsstats_ready(&s, why, sizeof(why)));
    assert_non_null(strstr(why, "no usable configuration"));
    s.have_config = true;
    assert_false(opsstats_ready(&s, why, sizeof(why)));
    assert_string_equal(why, "conmand is not running");
    s.conmand_up = true;
    assert_true(opsstats_ready(&s, why, sizeof(why)));
}

static void test_exit_causes_are_named_and_bounded(void **state)
{
    (void)state;
    char name[24];
    opsstats_cause_name(W_EXIT(3), name, sizeof(name));
    assert_string_equal(name, "exit_3");
    opsstats_cause_name(W_SIGNAL(SIGKILL), name, sizeof(name));
    assert_string_equal(name, "signal_SIGKILL");
    struct opsstats s = {0};
    opsstats_conmand_exit(&s, W_SIGNAL(SIGKILL));
    opsstats_conmand_exit(&s, W_EXIT(1));
    opsstats_conmand_exit(&s, W_SIGNAL(SIGKILL));
    assert_string_equal(s.causes[0].name, "signal_SIGKILL");
    assert_int_equal(s.causes[0].n, 2);
    assert_string_equal(s.causes[1].name, "exit_1");
    for (int code = 10; code < 10 + OPSSTATS_CAUSES; code++)
        opsstats_conmand_exit(&s, W_EXIT(code));
    assert_int_equal(s.causes_other, 2); /* two slots were taken already */
}

static void test_hsm_requests_fill_one_bucket_each(void **state)
{
    (void)state;
    struct opsstats s = {0};
    opsstats_hsm_request(&s, 0.01, false);
    opsstats_hsm_request(&s, 0.05, false); /* le is inclusive */
    opsstats_hsm_request(&s, 3, true);
    opsstats_hsm_request(&s, 100, true);
    assert_int_equal(s.hsm_buckets[0], 2);
    assert_int_equal(s.hsm_buckets[6], 1);
    assert_int_equal(s.hsm_buckets[OPSSTATS_BUCKETS - 1], 1);
    assert_int_equal(s.hsm_requests, 4);
    assert_int_equal(s.hsm_errors, 2);
}

static void test_metrics_text_has_help_type_and_values(void **state)
{
    (void)state;
    struct opsstats s = {.discoveries_ok = 3,
                         .discoveries_error = 1,
                         .last_discovery_unix = 1700000000.5,
                         .last_discovery_ok = true,
                         .consoles = 42,
                         .conmand_up = true,
                         .conmand_restarts = 2};
    opsstats_hsm_request(&s, 0.2, false);
    opsstats_hsm_request(&s, 40, true);
    opsstats_conmand_exit(&s, W_EXIT(1));
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(opsstats_metrics(&s, &text, &len), 0);
    assert_int_equal(strlen(text), len);
    const char *want[] = {
        "# HELP conman_configure_discoveries_total ",
        "# TYPE conman_configure_discoveries_total counter\n",
        "conman_configure_discoveries_total{result=\"ok\"} 3\n",
        "conman_configure_discoveries_total{result=\"error\"} 1\n",
        "conman_configure_last_discovery_timestamp_seconds 1700000000.5\n",
        "conman_configure_last_discovery_success 1\n",
        "conman_configure_consoles_discovered 42\n",
        "# TYPE conman_configure_hsm_request_duration_seconds histogram\n",
        "conman_configure_hsm_request_duration_seconds_bucket{le=\"0.1\"} 0\n",
        "conman_configure_hsm_request_duration_seconds_bucket{le=\"0.25\"} 1\n",
        "conman_configure_hsm_request_duration_seconds_bucket{le=\"30\"} 1\n",
        "conman_configure_hsm_request_duration_seconds_bucket{le=\"+Inf\"} 2\n",
        "conman_configure_hsm_request_duration_seconds_count 2\n",
        "conman_configure_hsm_errors_total 1\n",
        "conman_configure_conmand_restarts_total 2\n",
        "conman_configure_conmand_exits_total{cause=\"exit_1\"} 1\n",
        "conman_configure_conmand_up 1\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(text, want[i]))
            fail_msg("missing %s in:\n%s", want[i], text);
    assert_int_equal(text[len - 1], '\n');
    assert_null(strstr(text, "shard")); /* not sharded: no shard families */
    free(text);
}

static void test_shard_metrics_appear_when_sharded(void **state)
{
    (void)state;
    struct opsstats s = {
        .sharded = true, .shard_members = 3, .shard_owned = 12, .shard_changes = 2};
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(opsstats_metrics(&s, &text, &len), 0);
    assert_non_null(strstr(text, "# TYPE conman_configure_shard_members gauge\n"
                                 "conman_configure_shard_members 3\n"));
    assert_non_null(strstr(text, "\nconman_configure_shard_owned_consoles 12\n"));
    assert_non_null(strstr(text, "# TYPE conman_configure_shard_changes_total counter\n"
                                 "conman_configure_shard_changes_total 2\n"));
    free(text);
}

static void test_conf_port_is_the_last_server_port(void **state)
{
    (void)state;
    assert_int_equal(opsstats_conf_port("# UPDATE_CONFIG=TRUE\nserver logdir=/x\n"), 7890);
    assert_int_equal(opsstats_conf_port("SERVER port=7001\n# server port=1\n"
                                        "server keepalive=on port=\"7002\"\r\n"),
                     7002);
    assert_int_equal(opsstats_conf_port("console name=\"port=9\" dev=\"x\"\n"
                                        "server port=notaport\n"),
                     7890);
    assert_int_equal(opsstats_conf_port(""), 7890);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shard_metrics_appear_when_sharded),
        cmocka_unit_test(test_healthz_fails_when_the_loop_stops_turning),
        cmocka_unit_test(test_readyz_needs_a_configuration_and_a_running_conmand),
        cmocka_unit_test(test_exit_causes_are_named_and_bounded),
        cmocka_unit_test(test_hsm_requests_fill_one_bucket_each),
        cmocka_unit_test(test_metrics_text_has_help_type_and_values),
        cmocka_unit_test(test_conf_port_is_the_last_server_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
