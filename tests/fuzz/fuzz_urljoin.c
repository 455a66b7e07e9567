/* libFuzzer harness for url_join (urljoin.c): API_GATEWAY, a newline, then
 * RF_ENDPOINT. A URL it returns goes to libcurl and into log lines: an
 * http(s) scheme, no blanks or control bytes, and the gateway's host kept. */
#include <errno.h>
#include <strings.h>

#include "configure/urljoin.h"
#include "fuzz_common.h"

static void check_url(const char *url)
{
    FUZZ_CHECK(strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0);
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        FUZZ_CHECK(*p > ' ' && *p != 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_text(data, size, 16 * 1024);
    if (!s)
        return 0;
    char *path = fuzz_split_line(s);
    char err[256] = "", *url = NULL;
    int rc = url_join(s, path, &url, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
    if (rc == 0) {
        check_url(url);
        if (!path || !strstr(path, "://")) { /* joined: one '/' between the two */
            const char *host = strstr(url, "://") + 3;
            FUZZ_CHECK(*host != '/');
        }
    } else {
        FUZZ_CHECK(url == NULL);
        fuzz_check_msg(err, sizeof(err));
        FUZZ_CHECK(err[0] != '\0');
    }
    free(url);
    free(s);
    return 0;
}
