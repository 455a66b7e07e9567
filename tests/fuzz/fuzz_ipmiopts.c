/* libFuzzer harness for ipmiopts (ipmiopts.c): the input is the option
 * string, layers one per line as conf.c merges GLOBAL and CONSOLE values.
 * Values must stay in the bounds libipmiconsole takes, and an error must
 * never show a password or K_g. */
#include <errno.h>

#include "conmand/conf/ipmiopts.h"
#include "fuzz_secret_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_text(data, size, 64 * 1024);
    if (!s)
        return 0;
    struct ipmiopts o;
    char err[256] = "";
    int rc = ipmiopts_parse(s, &o, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
    if (rc == 0) {
        FUZZ_CHECK(strlen(o.user) < sizeof(o.user));
        FUZZ_CHECK(o.password.len <= IPMIOPTS_KEY_MAX && o.k_g.len <= IPMIOPTS_KEY_MAX);
        FUZZ_CHECK(!o.password.bytes || strlen(o.password.bytes) == o.password.len);
        FUZZ_CHECK(o.cipher_suite >= -1 && o.privilege >= -1);
    } else if (rc == -EINVAL) {
        fuzz_check_msg(err, sizeof(err));
        FUZZ_CHECK(err[0] != '\0');
        if (fuzz_all_keyed(s)) {
            fuzz_check_no_secret(s, "P:", err);
            fuzz_check_no_secret(s, "K:", err);
        }
    }
    ipmiopts_release(&o);
    free(s);
    return 0;
}
