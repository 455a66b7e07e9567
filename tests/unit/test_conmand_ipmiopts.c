/* ipmiopts as conman 0.3.1 reads them: every item, the workaround names of
 * 0.2.9 and their first-replaces-then-adds rule, empty values as defaults,
 * the older "user,password,K_g" form, layers, and errors that never show a
 * secret. */
#include <errno.h>
#include <ipmiconsole.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "conmand/conf/ipmiopts.h"

static void parse_ok(const char *s, struct ipmiopts *o)
{
    char err[256] = "";
    int rc = ipmiopts_parse(s, o, err, sizeof(err));
    if (rc != 0)
        fail_msg("\"%s\": %s", s, err);
}

static void parse_bad(const char *s, const char *want_err)
{
    struct ipmiopts o;
    char err[256] = "";
    assert_int_equal(ipmiopts_parse(s, &o, err, sizeof(err)), -EINVAL);
    if (want_err)
        assert_string_equal(err, want_err);
}

/* Every item unset: libipmiconsole picks its own defaults. */
static void assert_library_defaults(const struct ipmiopts *o)
{
    assert_string_equal(o->user, "");
    assert_null(o->password.bytes);
    assert_null(o->k_g.bytes);
    assert_int_equal(o->cipher_suite, -1);
    assert_int_equal(o->privilege, -1);
    assert_int_equal(o->workarounds, IPMICONSOLE_WORKAROUND_DEFAULT);
}

static void test_unset_values_leave_the_library_defaults(void **state)
{
    (void)state;
    struct ipmiopts o;
    parse_ok(NULL, &o);
    assert_library_defaults(&o);
    ipmiopts_release(&o);
    /* An empty value is the default too, also over an earlier value. */
    parse_ok("U:admin,P:pw,K:kg,C:3,L:op,W:authcap\nU:,P:,K:,C:,L:,W:", &o);
    assert_library_defaults(&o);
    ipmiopts_release(&o);
}

static void test_first_workaround_replaces_the_default_later_ones_add(void **state)
{
    (void)state;
    struct ipmiopts o;
    parse_ok("W:solpacketseq", &o);
    assert_int_equal(o.workarounds, IPMICONSOLE_WORKAROUND_INCREMENT_SOL_PACKET_SEQUENCE);
    ipmiopts_release(&o);
    parse_ok("w:nochecksumcheck,W:SerialAlertsDeferred,W:solchannelsupport", &o);
    assert_int_equal(o.workarounds, IPMICONSOLE_WORKAROUND_NO_CHECKSUM_CHECK |
                                        IPMICONSOLE_WORKAROUND_SERIAL_ALERTS_DEFERRED |
                                        IPMICONSOLE_WORKAROUND_SKIP_CHANNEL_PAYLOAD_SUPPORT);
    ipmiopts_release(&o);
    /* The GLOBAL layer's flag, then the console's adds to it. */
    parse_ok("W:authcap\nW:sun20", &o);
    assert_int_equal(o.workarounds, IPMICONSOLE_WORKAROUND_AUTHENTICATION_CAPABILITIES |
                                        IPMICONSOLE_WORKAROUND_SUN_2_0_SESSION);
    ipmiopts_release(&o);
    parse_ok("W:authcap,W:default", &o);
    assert_int_equal(o.workarounds, IPMICONSOLE_WORKAROUND_DEFAULT);
    ipmiopts_release(&o);
    parse_ok("W:authcap,W:none", &o);
    assert_int_equal(o.workarounds, 0);
    ipmiopts_release(&o);
    parse_ok("W:none,W:intel20", &o);
    assert_int_equal(o.workarounds, IPMICONSOLE_WORKAROUND_INTEL_2_0_SESSION);
    ipmiopts_release(&o);
    parse_ok("W:default,W:0x08000000,W:solport,W:solstatus,W:solpayloadsize,W:supermicro20,"
             "W:opensesspriv,W:integritycheckvalue",
             &o);
    assert_int_equal(o.workarounds, 0x0F000034);
    ipmiopts_release(&o);
    parse_ok("W:0xFFFFFFFF", &o);
    assert_int_equal(o.workarounds, IPMICONSOLE_WORKAROUND_DEFAULT);
    ipmiopts_release(&o);
    parse_bad("W:0x00000200", "ipmiopts: W: unknown workaround \"0x00000200\"");
    parse_bad("W:-1", NULL);
    parse_bad("W:sol", NULL);
}

static void test_cipher_suites_and_levels_are_freeipmis(void **state)
{
    (void)state;
    struct ipmiopts o;
    static const int good[] = {0, 1, 2, 3, 6, 7, 8, 11, 12, 15, 16, 17};
    static const char *bad[] = {"C:4",  "C:5",  "C:9",  "C:10", "C:13",
                                "C:14", "C:18", "C:-1", "C:3x"};
    char item[16];
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(item, sizeof(item), "C:%d", good[i]);
        parse_ok(item, &o);
        assert_int_equal(o.cipher_suite, good[i]);
        ipmiopts_release(&o);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        parse_bad(bad[i], NULL);
    parse_ok("L:user", &o);
    assert_int_equal(o.privilege, IPMICONSOLE_PRIVILEGE_USER);
    parse_ok("L:Administrator", &o);
    assert_int_equal(o.privilege, IPMICONSOLE_PRIVILEGE_ADMIN);
    parse_ok("L:2", &o);
    assert_int_equal(o.privilege, IPMICONSOLE_PRIVILEGE_ADMIN);
    parse_bad("L:3", "ipmiopts: L: invalid privilege level \"3\"");
    parse_bad("L:root", NULL);
}

static void test_keys_are_text_or_hex_up_to_their_limits(void **state)
{
    (void)state;
    struct ipmiopts o;
    parse_ok("U:sixteen-bytes-us", &o);
    assert_string_equal(o.user, "sixteen-bytes-us");
    parse_bad("U:seventeen-bytes-x", "ipmiopts: U: user name longer than 16 bytes");
    parse_ok("P:twenty-bytes-passwd!", &o);
    assert_int_equal(o.password.len, 20);
    ipmiopts_release(&o);
    /* 40 hex digits are 20 bytes; 42 are one too many. */
    parse_ok("K:0x00112233445566778899aabbccddeeff00112233", &o);
    assert_int_equal(o.k_g.len, 20);
    assert_int_equal((unsigned char)o.k_g.bytes[0], 0x00);
    assert_int_equal((unsigned char)o.k_g.bytes[19], 0x33);
    ipmiopts_release(&o);
    parse_bad("K:0x00112233445566778899aabbccddeeff0011223344",
              "ipmiopts: K: longer than 20 bytes");
    /* Not all hex after 0x: the text itself, as conman reads it. */
    parse_ok("P:0xzz", &o);
    assert_string_equal(o.password.bytes, "0xzz");
    ipmiopts_release(&o);
    /* An odd last digit is a high nibble; a password ends at a NUL. */
    parse_ok("K:0x123", &o);
    assert_int_equal(o.k_g.len, 2);
    assert_int_equal((unsigned char)o.k_g.bytes[1], 0x30);
    ipmiopts_release(&o);
    parse_ok("P:0x6100620a", &o);
    assert_int_equal(o.password.len, 1);
    ipmiopts_release(&o);
}

static void test_the_older_form_is_user_password_kg_then_flags(void **state)
{
    (void)state;
    struct ipmiopts o;
    parse_ok("admin,secret", &o);
    assert_string_equal(o.user, "admin");
    assert_string_equal(o.password.bytes, "secret");
    assert_null(o.k_g.bytes);
    assert_int_equal(o.workarounds, IPMICONSOLE_WORKAROUND_DEFAULT);
    ipmiopts_release(&o);
    parse_ok("admin,-,0x6b67,authcap,sun20", &o);
    assert_null(o.password.bytes);
    assert_int_equal(o.k_g.len, 2);
    assert_int_equal(o.workarounds, IPMICONSOLE_WORKAROUND_AUTHENTICATION_CAPABILITIES |
                                        IPMICONSOLE_WORKAROUND_SUN_2_0_SESSION);
    ipmiopts_release(&o);
    /* A GLOBAL line in the older form, the console's in the new one. */
    parse_ok("admin,secret\nP:other,C:17", &o);
    assert_string_equal(o.user, "admin");
    assert_string_equal(o.password.bytes, "other");
    assert_int_equal(o.cipher_suite, 17);
    ipmiopts_release(&o);
    parse_bad("admin,secret,kg,nosuchflag", NULL);
}

static void test_errors_name_the_item_never_the_secret(void **state)
{
    (void)state;
    struct ipmiopts o;
    char err[256];
    static const char *bad[] = {"P:twenty-one-bytes-pwd!", "K:topsecret-topsecret-x", "X:topsecret",
                                "topsecret-user-is-far-too-long,topsecret"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(ipmiopts_parse(bad[i], &o, err, sizeof(err)), -EINVAL);
        assert_null(strstr(err, "topsecret"));
        assert_non_null(strstr(err, "ipmiopts"));
    }
    assert_string_equal(err, "ipmiopts: U: user name longer than 16 bytes");
}

static void test_ipmiopts_plain_hex_names_and_numbers(void **state)
{
    (void)state;
    struct ipmiopts o;
    char err[128];
    assert_int_equal(ipmiopts_parse("W:opensesspriv,W:0x08000000,U:admin,P:0x7365637265740a,"
                                    "K:key,C:3,L:operator,W:solpayloadsize",
                                    &o, err, sizeof(err)),
                     0);
    assert_string_equal(o.user, "admin");
    assert_int_equal(o.password.len, 7);
    assert_memory_equal(o.password.bytes, "secret\n", 7);
    assert_int_equal(o.k_g.len, 3);
    assert_int_equal(o.cipher_suite, 3);
    assert_int_equal(o.privilege, IPMICONSOLE_PRIVILEGE_OPERATOR);
    assert_int_equal(o.workarounds, 0x09000010);
    ipmiopts_release(&o);
}

static void test_bad_ipmiopts_name_the_item_never_the_secret(void **state)
{
    (void)state;
    struct ipmiopts o;
    char err[128];
    assert_int_equal(
        ipmiopts_parse("P:0x7365637265742d746f707365637265742d6c6f6e67", &o, err, sizeof(err)),
        -EINVAL);
    assert_string_equal(err, "ipmiopts: P: longer than 20 bytes");
    assert_int_equal(ipmiopts_parse("P:twenty-one-bytes-long", &o, err, sizeof(err)), -EINVAL);
    assert_null(strstr(err, "twenty"));
    assert_int_equal(ipmiopts_parse("W:nosuchflag", &o, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "ipmiopts: W: unknown workaround \"nosuchflag\"");
    assert_int_equal(ipmiopts_parse("X:1", &o, err, sizeof(err)), -EINVAL);
    assert_int_equal(ipmiopts_parse("C:99", &o, err, sizeof(err)), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unset_values_leave_the_library_defaults),
        cmocka_unit_test(test_first_workaround_replaces_the_default_later_ones_add),
        cmocka_unit_test(test_cipher_suites_and_levels_are_freeipmis),
        cmocka_unit_test(test_keys_are_text_or_hex_up_to_their_limits),
        cmocka_unit_test(test_the_older_form_is_user_password_kg_then_flags),
        cmocka_unit_test(test_errors_name_the_item_never_the_secret),
        cmocka_unit_test(test_ipmiopts_plain_hex_names_and_numbers),
        cmocka_unit_test(test_bad_ipmiopts_name_the_item_never_the_secret),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
