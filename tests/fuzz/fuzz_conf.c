/* libFuzzer harness for conman.conf: conf_parse() over the input as file
 * text, then what the daemon does with each console it returns (lookup,
 * copy and compare, %D, argv split, log name, ipmiopts, sshopts). The
 * first byte picks the length of the file name, so error messages with
 * long paths (the truncation of deliver()) are covered. */
#include <errno.h>

#include "conmand/conf/conf.h"
#include "conmand/consoles/console.h"
#include "conmand/conf/ipmiopts.h"
#include "conmand/conf/seropts.h"
#include "conmand/conf/sshopts.h"
#include "conmand/consoles/types.h"
#include "fuzz_common.h"

struct counts {
    int errors, warnings;
};

static void on_report(void *ctx, bool warning, const char *msg)
{
    struct counts *n = ctx;
    FUZZ_CHECK(msg != NULL && strlen(msg) < 4096);
    if (warning)
        n->warnings++;
    else
        n->errors++;
}

static void check_console(const struct conf *c, const struct conf_console *con)
{
    FUZZ_CHECK(con->name && con->dev && con->name[0]);
    FUZZ_CHECK(conf_find(c, con->name) == con);

    struct conf_console copy = {0};
    if (conf_console_copy(&copy, con) == 0) {
        FUZZ_CHECK(conf_console_equal(&copy, con));
        conf_console_release(&copy);
    }

    const struct console_type *type = console_type_for(con->dev, false);
    char id[512], log[4096], buf[4096];
    conf_dev_id(con->dev, type, id, sizeof(id));
    fuzz_check_msg(id, sizeof(id));
    if (con->log) {
        struct conf_fmt v = {.name = con->name, .devid = id, .pid = 1234, .now = 1700000000};
        if (conf_format(con->log, &v, log, sizeof(log)) == 0)
            fuzz_check_msg(log, sizeof(log));
    }
    char *argv[64];
    int argc = conf_split_args(con->dev, buf, sizeof(buf), argv, 64);
    FUZZ_CHECK(argc < 64);
    if (argc >= 0)
        FUZZ_CHECK(argv[argc] == NULL);

    /* The options as the console's type will read them. */
    char err[256];
    const struct console_type *guess = console_type_for(con->dev, !strpbrk(con->dev, " \t"));
    if (guess == &console_type_ipmi) {
        struct ipmiopts io;
        FUZZ_CHECK(ipmiopts_parse(con->opts, &io, err, sizeof(err)) == 0);
        ipmiopts_release(&io);
    } else if (guess == &console_type_ssh) {
        struct sshopts so;
        if (sshopts_parse(con->opts, &so, err, sizeof(err)) == -EINVAL)
            fuzz_check_msg(err, sizeof(err));
        sshopts_release(&so);
    } else if (guess == &console_type_serial) {
        struct serial_opts sp;
        FUZZ_CHECK(serial_parse_opts(con->opts, &sp, err, sizeof(err)) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_knobbed in;
    if (!fuzz_knob_and_text(data, size, 256 * 1024, &in))
        return 0;
    char path[1100];
    size_t plen = (size_t)in.knob * 4;
    memset(path, 'd', plen);
    memcpy(path + plen, "/conman.conf", sizeof("/conman.conf"));
    char *text = in.text;

    struct conf c = {0};
    struct counts n = {0};
    if (conf_parse(text, path, on_report, &n, &c) == 0) {
        FUZZ_CHECK(n.errors == c.nerrors && n.warnings == c.nwarnings);
        for (size_t i = 0; i < c.nconsoles; i++)
            check_console(&c, &c.consoles[i]);
    }
    conf_release(&c);
    free(text);
    return 0;
}
