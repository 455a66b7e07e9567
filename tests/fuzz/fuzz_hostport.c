/* libFuzzer harness for hostport_parse (common/hostport.c): the first byte
 * picks the mode (port required, optional, none), the rest is the text.
 * What it accepts goes to getaddrinfo and into log lines: a host of the
 * allowed bytes only, a port 1-65535 or none, the text named in every
 * error, and hostport_format() read back to the same parts. */
#include <errno.h>
#include <string.h>

#include "common/hostport.h"
#include "fuzz_common.h"

static void check_host(const struct hostport *hp)
{
    FUZZ_CHECK(hp->host[0] != '\0');
    for (const unsigned char *p = (const unsigned char *)hp->host; *p; p++)
        FUZZ_CHECK(*p > ' ' && *p < 0x7f && *p != '[' && *p != ']' && *p != '/');
    FUZZ_CHECK(hp->v6 == (strchr(hp->host, ':') != NULL));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum hostport_port mode = (enum hostport_port)(data[0] % 3);
    char *s = fuzz_text(data + 1, size - 1, 1024);
    if (!s)
        return 0;
    struct hostport hp;
    char err[300] = "";
    int rc = hostport_parse(s, mode, &hp, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == -EINVAL);
    if (rc < 0) {
        fuzz_check_msg(err, sizeof(err));
        FUZZ_CHECK(err[0] == '\'');
    } else {
        check_host(&hp);
        FUZZ_CHECK(hp.port[0] ? hp.portnum >= 1 && hp.portnum <= 65535 : hp.portnum == 0);
        FUZZ_CHECK(mode != HOSTPORT_PORT_REQUIRED || hp.port[0]);
        FUZZ_CHECK(mode != HOSTPORT_PORT_NONE || !hp.port[0]);
        char back[320];
        hostport_format(&hp, back, sizeof(back));
        struct hostport again;
        FUZZ_CHECK(hostport_parse(back, mode, &again, err, sizeof(err)) == 0);
        FUZZ_CHECK(!strcmp(again.host, hp.host) && !strcmp(again.port, hp.port) &&
                   again.v6 == hp.v6);
    }
    free(s);
    return 0;
}
