/* ipmi:HOST[:PORT] consoles (HOST a name, an IPv4 address, or an IPv6 one
 * bare or in brackets): IPMI Serial-over-LAN through FreeIPMI's
 * libipmiconsole in its non-blocking mode. The library runs its own engine
 * threads and hands us one end of a socket pair (ipmiconsole_ctx_fd), which
 * the generic console code polls like any other fd. The session counts as up
 * when the library reports it established (it writes a byte on the fd). */
#include <errno.h>
#include <ipmiconsole.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/hostport.h"
#include "common/log.h"
#include "conmand/consoles/console.h"
#include "conmand/consoles/types.h"
#include "conmand/consoles/dynlib.h"
#include "conmand/conf/ipmiopts.h"

#define IPMI_ENGINE_THREADS 4

/* Every libipmiconsole function we call, resolved when the first ipmi:
 * console connects: a conmand without one never maps libipmiconsole and
 * libfreeipmi. The header still gives each pointer its prototype. */
#define IPMI_FUNCS(X)                                                                              \
    X(ipmiconsole_ctx_create)                                                                      \
    X(ipmiconsole_ctx_destroy)                                                                     \
    X(ipmiconsole_ctx_errnum)                                                                      \
    X(ipmiconsole_ctx_fd)                                                                          \
    X(ipmiconsole_ctx_generate_break)                                                              \
    X(ipmiconsole_ctx_status)                                                                      \
    X(ipmiconsole_ctx_strerror)                                                                    \
    X(ipmiconsole_engine_init)                                                                     \
    X(ipmiconsole_engine_submit)

struct ipmi_lib {
#define IPMI_MEMBER(f) __typeof__(&f) f;
    IPMI_FUNCS(IPMI_MEMBER)
#undef IPMI_MEMBER
};

static const struct dynlib_sym ipmi_syms[] = {
#define IPMI_SYM(f) {#f, offsetof(struct ipmi_lib, f)},
    IPMI_FUNCS(IPMI_SYM)
#undef IPMI_SYM
};

/* Process-wide, like the library. `lib` is valid once ipmi_dl loaded:
 * ipmi_open() checks that before it creates a console's state, so any
 * code holding a `struct ipmi` may call through it. */
static struct ipmi_lib ipmi_table;
static const struct ipmi_lib *const lib = &ipmi_table;

/* Debian 12's SONAME (package libipmiconsole2), the ABI of the header we
 * build against; the unversioned .so exists only with the -dev package. */
static struct dynlib ipmi_dl = {
    .soname = "libipmiconsole.so.2",
    .purpose = "ipmi: consoles",
    .syms = ipmi_syms,
    .nsyms = sizeof(ipmi_syms) / sizeof(ipmi_syms[0]),
    .table = &ipmi_table,
};

struct ipmi {
    ipmiconsole_ctx_t ctx;
    bool established;
};

/* The engine is process-wide by the library's design: initialised once. */
static int engine_state; /* 0 not tried, 1 running, -1 failed */

static int engine_start(void)
{
    if (engine_state == 0)
        engine_state = lib->ipmiconsole_engine_init(IPMI_ENGINE_THREADS, 0) < 0 ? -1 : 1;
    return engine_state > 0 ? 0 : -EIO;
}

/* The BMC's address as libipmiconsole reads it. FreeIPMI splits
 * "HOST:PORT" at the last colon, so a bare IPv6 address ("fd00::1") would
 * lose its last group as a "port": an IPv6 BMC always goes as
 * "[ADDRESS]:PORT", with IPMI's own port 623 when the dev names none. */
static int library_host(const char *dev, char *out, size_t outlen, char *err, size_t errlen)
{
    struct hostport hp;
    if (hostport_parse(dev, HOSTPORT_PORT_OPTIONAL, &hp, err, errlen) < 0)
        return -EINVAL;
    if (!hp.v6) {
        snprintf(out, outlen, "%s", dev);
        return 0;
    }
    hostport_default_port(&hp, 623);
    hostport_format(&hp, out, outlen);
    return 0;
}

static ipmiconsole_ctx_t make_ctx(struct console *c, const struct ipmiopts *o)
{
    struct ipmiconsole_ipmi_config ic = {
        /* NULL when unset: libipmiconsole.conf's value, else none. */
        .username = o->user[0] ? (char *)o->user : NULL,
        .password = o->password.bytes,
        .k_g = (unsigned char *)o->k_g.bytes,
        .k_g_len = (unsigned)o->k_g.len,
        .privilege_level = o->privilege,
        .cipher_suite_id = o->cipher_suite,
        .workaround_flags = o->workarounds,
    };
    struct ipmiconsole_protocol_config pc = {-1, -1, -1, -1, -1, -1, -1};
    /* Defaults, so libipmiconsole.conf applies, as in conman 0.3.1; but the
     * engine flags must hold OUTPUT_ON_SOL_ESTABLISHED: its byte on the fd
     * is how the loop learns the session is up (ipmi_finish), and the
     * library takes the flags whole, so its file's engine flags do not
     * apply here. */
    struct ipmiconsole_engine_config ec = {
        .engine_flags = IPMICONSOLE_ENGINE_OUTPUT_ON_SOL_ESTABLISHED,
        .behavior_flags = IPMICONSOLE_BEHAVIOR_DEFAULT,
        .debug_flags = IPMICONSOLE_DEBUG_DEFAULT,
    };
    char host[HOSTPORT_HOST_MAX + 16], why[300];
    if (library_host(c->cfg.dev + 5, host, sizeof(host), why, sizeof(why)) < 0) {
        errno = EINVAL; /* the parser refused it already (ipmi_check_dev) */
        return NULL;
    }
    return lib->ipmiconsole_ctx_create(host, &ic, &pc, &ec);
}

static int ipmi_open(struct console *c, bool *connecting, char *err, size_t errlen)
{
    struct ipmiopts o;
    /* The failure is remembered: one warning per console, then retries on
     * the usual backoff that cost nothing until a restart. */
    int loaded = dynlib_load(&ipmi_dl);
    if (loaded < 0) {
        snprintf(err, errlen, "Console [%s]: %s", c->cfg.name, ipmi_dl.error);
        return loaded;
    }
    char why[256];
    if (ipmiopts_parse(c->cfg.opts, &o, why, sizeof(why)) < 0) {
        /* The parser checked them with the line; this is the same check. */
        snprintf(err, errlen, "Console [%s] (%s:%d): %s", c->cfg.name, c->hub->conf_path,
                 c->cfg.line, why);
        return -EINVAL;
    }
    if (engine_start() < 0) {
        ipmiopts_release(&o);
        snprintf(err, errlen, "Console [%s]: cannot start the IPMI engine", c->cfg.name);
        return -EIO;
    }
    struct ipmi *p = calloc(1, sizeof(*p));
    if (!p || !(p->ctx = make_ctx(c, &o))) {
        int e = errno;
        ipmiopts_release(&o);
        free(p);
        snprintf(err, errlen, "Console [%s]: cannot set up IPMI to \"%s\": %s", c->cfg.name,
                 c->cfg.dev + 5, strerror(e));
        return -EINVAL;
    }
    ipmiopts_release(&o);
    if (lib->ipmiconsole_engine_submit(p->ctx, NULL, NULL) < 0) {
        snprintf(err, errlen, "Console [%s]: IPMI submit failed: %s", c->cfg.name,
                 lib->ipmiconsole_ctx_strerror(lib->ipmiconsole_ctx_errnum(p->ctx)));
        lib->ipmiconsole_ctx_destroy(p->ctx);
        free(p);
        return -EIO;
    }
    int fd = lib->ipmiconsole_ctx_fd(p->ctx);
    if (fd < 0) {
        lib->ipmiconsole_ctx_destroy(p->ctx);
        free(p);
        return -EIO;
    }
    c->priv = p;
    *connecting = true;
    return fd;
}

static int ipmi_finish(struct console *c, char *err, size_t errlen)
{
    struct ipmi *p = c->priv;
    ipmiconsole_ctx_status_t st = lib->ipmiconsole_ctx_status(p->ctx);
    if (st == IPMICONSOLE_CTX_STATUS_SOL_ESTABLISHED) {
        p->established = true;
        return 1;
    }
    if (st == IPMICONSOLE_CTX_STATUS_SUBMITTED) {
        char b;
        /* Readable before the status says so: bytes only flow once SOL is
         * up, and EOF means the setup failed. Peek, so nothing is lost. */
        ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n > 0 || (n < 0 && errno == EAGAIN)) {
            p->established = n > 0;
            return n > 0 ? 1 : 0;
        }
    }
    snprintf(err, errlen, "%s", lib->ipmiconsole_ctx_strerror(lib->ipmiconsole_ctx_errnum(p->ctx)));
    return -EIO;
}

static size_t ipmi_filter_in(struct console *c, unsigned char *buf, size_t len)
{
    (void)c;
    /* OUTPUT_ON_SOL_ESTABLISHED writes one NUL when the session comes up. */
    if (len && buf[0] == '\0') {
        memmove(buf, buf + 1, len - 1);
        return len - 1;
    }
    return len;
}

static void ipmi_close(struct console *c)
{
    struct ipmi *p = c->priv;
    if (p) {
        lib->ipmiconsole_ctx_destroy(p->ctx);
        free(p);
    }
    c->priv = NULL;
}

static void ipmi_describe(const struct console *c, char *out, size_t outlen)
{
    snprintf(out, outlen, "<%s>", c->cfg.dev + 5);
}

static void ipmi_break(struct console *c)
{
    struct ipmi *p = c->priv;
    if (p && p->established && lib->ipmiconsole_ctx_generate_break(p->ctx) < 0)
        log_warn("Console [%s]: IPMI break failed", c->cfg.name);
}

static const struct console_ops ipmi_ops = {
    .connect = ipmi_open,
    .finish = ipmi_finish,
    .connect_on_read = true,
    .filter_in = ipmi_filter_in,
    .disconnect = ipmi_close,
    .describe = ipmi_describe,
    .send_break = ipmi_break,
};

static bool ipmi_recognise(const char *dev, bool is_chardev)
{
    (void)is_chardev;
    return !strncasecmp(dev, "ipmi:", 5);
}

/* A bad address is said at its line of the file, not at each retry. */
static int ipmi_check_dev(const char *dev, char *err, size_t errlen)
{
    char host[HOSTPORT_HOST_MAX + 16], why[300];
    if (library_host(dev + 5, host, sizeof(host), why, sizeof(why)) == 0)
        return 0;
    snprintf(err, errlen, "dev %s", why);
    return -EINVAL;
}

const struct console_type console_type_ipmi = {
    .name = "ipmi",
    .recognise = ipmi_recognise,
    .check_dev = ipmi_check_dev,
    .opts_keyword = "ipmiopts",
    .opts_layer = ipmiopts_layer,
    .ops = &ipmi_ops,
};
