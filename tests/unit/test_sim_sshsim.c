/* ssh-bmc-sim's pure parts: user names selecting consoles, authorized_keys
 * lines, and the command line (loopback only, an auth method required). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sim/ssh/sshsim.h"

static void test_user_n_number_selects_that_console(void **state)
{
    (void)state;
    assert_int_equal(sshsim_console_for_user("n0", 4), 0);
    assert_int_equal(sshsim_console_for_user("n3", 4), 3);
    assert_int_equal(sshsim_console_for_user("n4", 4), -1);
    assert_int_equal(sshsim_console_for_user("n03", 4), -1);
    assert_int_equal(sshsim_console_for_user("n", 4), -1);
    assert_int_equal(sshsim_console_for_user("root", 4), -1);
    assert_int_equal(sshsim_console_for_user("n1x", 4), -1);
    assert_int_equal(sshsim_console_for_user("n99999", 100000), 99999);
}

static void test_node_user_selects_the_one_node_console_and_nothing_else(void **state)
{
    (void)state;
    char *argv[] = {"ssh-bmc-sim", "--host-key",  "hk",   "--password-file",
                    "pw",          "--node-user", "root", NULL};
    struct sshsim_options o;
    char err[128] = "";
    assert_int_equal(sshsim_parse_args(&o, 7, argv, err, sizeof(err)), 0);
    assert_int_equal(sshsim_console_for(&o, "root"), 0);
    assert_int_equal(sshsim_console_for(&o, "n0"), -1);
    assert_int_equal(sshsim_console_for(&o, "admin"), -1);
    o.node_user = NULL;
    assert_int_equal(sshsim_console_for(&o, "n0"), 0);
}

static int is_type(const char *w)
{
    return !strcmp(w, "ssh-ed25519") || !strcmp(w, "ssh-rsa");
}

static void test_key_lines_split_with_or_without_options(void **state)
{
    (void)state;
    char a[] = "ssh-ed25519 AAAAC3Nz comment here\n";
    char b[] = "no-pty,command=\"x\" ssh-rsa AAAAB3\n";
    char blank[] = "   \n", comment[] = "# ssh-rsa AAAA\n", junk[] = "ssh-dss AAAA\n";
    char *type, *b64;
    assert_int_equal(sshsim_split_key_line(a, is_type, &type, &b64), 0);
    assert_string_equal(type, "ssh-ed25519");
    assert_string_equal(b64, "AAAAC3Nz");
    assert_int_equal(sshsim_split_key_line(b, is_type, &type, &b64), 0);
    assert_string_equal(type, "ssh-rsa");
    assert_string_equal(b64, "AAAAB3");
    assert_int_equal(sshsim_split_key_line(blank, is_type, &type, &b64), -ENOENT);
    assert_int_equal(sshsim_split_key_line(comment, is_type, &type, &b64), -ENOENT);
    assert_int_equal(sshsim_split_key_line(junk, is_type, &type, &b64), -EINVAL);
}

static int parse(const char *line, struct sshsim_options *o, char *err, size_t errlen)
{
    char buf[512], *argv[16];
    int argc = 0;
    snprintf(buf, sizeof(buf), "sim %s", line);
    for (char *w = strtok(buf, " "); w && argc < 15; w = strtok(NULL, " "))
        argv[argc++] = w;
    argv[argc] = NULL;
    return sshsim_parse_args(o, argc, argv, err, errlen);
}

static void test_command_line_defaults_and_checks(void **state)
{
    (void)state;
    struct sshsim_options o;
    char err[256] = "";
    assert_int_equal(parse("--host-key /k --password-file /p --consoles 1000 --port 2200 "
                           "--prefix x1c0s0b0 --rate 0.5",
                           &o, err, sizeof(err)),
                     0);
    assert_string_equal(o.listen, "127.0.0.1");
    assert_int_equal(o.consoles, 1000);
    assert_int_equal(o.port, 2200);
    assert_string_equal(o.prefix, "x1c0s0b0");
    assert_true(o.rate == 0.5);
    assert_int_equal(
        parse("--host-key /k --password-file /p --listen 192.168.1.1", &o, err, sizeof(err)),
        -EINVAL);
    assert_non_null(strstr(err, "192.168.1.1"));
    assert_int_equal(parse("--host-key /k --password-file /p --listen ::1", &o, err, sizeof(err)),
                     0);
    assert_string_equal(o.listen, "::1");
    assert_int_equal(parse("--host-key /k --password-file /p --listen ::", &o, err, sizeof(err)),
                     -EINVAL);
    assert_int_equal(parse("--host-key /k", &o, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "--authorized-keys or --password-file"));
    assert_int_equal(parse("--password-file /p", &o, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "--host-key"));
    assert_int_equal(parse("--host-key /k --password-file /p --consoles 0", &o, err, sizeof(err)),
                     -EINVAL);
    assert_int_equal(parse("--help", &o, err, sizeof(err)), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_n_number_selects_that_console),
        cmocka_unit_test(test_node_user_selects_the_one_node_console_and_nothing_else),
        cmocka_unit_test(test_key_lines_split_with_or_without_options),
        cmocka_unit_test(test_command_line_defaults_and_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
