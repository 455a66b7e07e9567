/* ssh:USER@HOST[:PORT] consoles: an SSH session inside the event loop
 * (libssh in non-blocking mode), no process per console. The TCP connect
 * is ours (net/dial.c: the name resolved off the loop, every address
 * tried), so libssh gets a connected socket and never blocks on DNS. Host key check,
 * authentication and the shell channel run as a state machine driven by a
 * uv_poll on that socket; once the shell is open the generic code
 * polls a duplicate of that socket and moves bytes through dev_read and
 * dev_write, since they must pass through libssh's decryption. */
#include <errno.h>
#include <fcntl.h>
#include <libssh/libssh.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "conmand/consoles/console.h"
#include "conmand/consoles/types.h"
#include "conmand/consoles/dynlib.h"
#include "conmand/net/dial.h"
#include "conmand/conf/sshopts.h"

#define SSH_BREAK_MS 500

/* Every libssh function we call, resolved when the first ssh: console
 * connects: a conmand without one never maps libssh and libcrypto. The
 * header still gives each pointer its prototype. */
#define SSH_FUNCS(X)                                                                               \
    X(ssh_channel_is_closed)                                                                       \
    X(ssh_channel_is_eof)                                                                          \
    X(ssh_channel_new)                                                                             \
    X(ssh_channel_open_session)                                                                    \
    X(ssh_channel_poll)                                                                            \
    X(ssh_channel_read_nonblocking)                                                                \
    X(ssh_channel_request_pty_size)                                                                \
    X(ssh_channel_request_send_break)                                                              \
    X(ssh_channel_request_shell)                                                                   \
    X(ssh_channel_write)                                                                           \
    X(ssh_clean_pubkey_hash)                                                                       \
    X(ssh_connect)                                                                                 \
    X(ssh_disconnect)                                                                              \
    X(ssh_free)                                                                                    \
    X(ssh_get_error)                                                                               \
    X(ssh_get_fd)                                                                                  \
    X(ssh_get_fingerprint_hash)                                                                    \
    X(ssh_get_poll_flags)                                                                          \
    X(ssh_get_publickey_hash)                                                                      \
    X(ssh_get_server_publickey)                                                                    \
    X(ssh_get_status)                                                                              \
    X(ssh_key_free)                                                                                \
    X(ssh_new)                                                                                     \
    X(ssh_options_set)                                                                             \
    X(ssh_pki_import_privkey_file)                                                                 \
    X(ssh_session_is_known_server)                                                                 \
    X(ssh_set_blocking)                                                                            \
    X(ssh_string_free_char)                                                                        \
    X(ssh_userauth_password)                                                                       \
    X(ssh_userauth_publickey)

struct ssh_lib {
#define SSH_MEMBER(f) __typeof__(&f) f;
    SSH_FUNCS(SSH_MEMBER)
#undef SSH_MEMBER
};

static const struct dynlib_sym ssh_syms[] = {
#define SSH_SYM(f) {#f, offsetof(struct ssh_lib, f)},
    SSH_FUNCS(SSH_SYM)
#undef SSH_SYM
};

/* Process-wide, like the library. `lib` is valid once ssh_dl loaded:
 * ssh_connect_op() checks that before it makes a session, so code that
 * holds a session, a channel or a key (p->s, p->ch, p->key) may call
 * through it; a console's state alone (ssh_init_op) does not load it. */
static struct ssh_lib ssh_table;
static const struct ssh_lib *const lib = &ssh_table;

/* Debian 12's SONAME (package libssh-4), the ABI of the header we build
 * against; the unversioned libssh.so exists only with the -dev package. */
static struct dynlib ssh_dl = {
    .soname = "libssh.so.4",
    .purpose = "ssh: consoles",
    .syms = ssh_syms,
    .nsyms = sizeof(ssh_syms) / sizeof(ssh_syms[0]),
    .table = &ssh_table,
};

enum phase { PH_RESOLVE, PH_TCP, PH_CONNECT, PH_AUTH, PH_OPEN, PH_PTY, PH_SHELL };

/* Per-console state. It outlives single connections (it keeps the host
 * key pinned on first use) and is freed once the console is destroyed and
 * libuv has closed its two timers. */
struct sshc {
    struct console *c;
    struct ssh_target t;
    struct sshopts o;
    ssh_session s;
    ssh_channel ch;
    ssh_key key;
    enum phase phase;
    struct dial *dial; /* connecting the TCP socket, or NULL */
    int sock;          /* ours until libssh takes it (then -1) */
    bool key_tried, password_tried;
    uv_poll_t *poll;    /* while connecting; freed by its close callback */
    int pollfd;         /* our dup of the socket for `poll`: libssh may close its own */
    uv_timer_t timeout; /* gives up a connection attempt that hangs */
    uv_timer_t drain;   /* reads input libssh buffered without the fd saying so */
    int open_handles;
    char pinned[128]; /* fingerprint trusted on first use, "" before */
};

static void timer_closed(uv_handle_t *h)
{
    struct sshc *p = h->data;
    if (--p->open_handles == 0)
        free(p);
}

static void stop_poll(struct sshc *p)
{
    console_close_poll(&p->poll, &p->pollfd);
}

/* Ends the current session (if any); keeps the per-console state. */
static void end_session(struct sshc *p)
{
    stop_poll(p);
    uv_timer_stop(&p->timeout);
    uv_timer_stop(&p->drain);
    if (p->dial)
        dial_cancel(p->dial);
    p->dial = NULL;
    if (p->sock >= 0)
        close(p->sock);
    p->sock = -1;
    if (p->s) {
        lib->ssh_disconnect(p->s);
        lib->ssh_free(p->s); /* frees the channel too */
    }
    p->s = NULL;
    p->ch = NULL;
    if (p->key)
        lib->ssh_key_free(p->key);
    p->key = NULL;
    sshopts_release(&p->o);
}

static void fail(struct sshc *p, const char *why)
{
    console_down(p->c, why); /* calls ssh_disconnect_op, which ends the session */
}

static int fingerprint(struct sshc *p, char *out, size_t outlen)
{
    ssh_key srv = NULL;
    unsigned char *hash = NULL;
    size_t hlen = 0;
    int rc = -EIO;
    if (lib->ssh_get_server_publickey(p->s, &srv) == SSH_OK &&
        lib->ssh_get_publickey_hash(srv, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) == 0) {
        char *fp = lib->ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
        if (fp) {
            snprintf(out, outlen, "%s", fp);
            lib->ssh_string_free_char(fp);
            rc = 0;
        }
    }
    lib->ssh_clean_pubkey_hash(&hash);
    lib->ssh_key_free(srv);
    return rc;
}

/* Strict check against the K: file. */
static int check_known_hosts(struct sshc *p, const char *fp, char *why, size_t whylen)
{
    const char *file = p->o.known_hosts;
    switch (lib->ssh_session_is_known_server(p->s)) {
    case SSH_KNOWN_HOSTS_OK:
        return 0;
    case SSH_KNOWN_HOSTS_CHANGED:
        snprintf(why, whylen, "host key of %s:%u CHANGED (now %s), not the one in %s; refusing",
                 p->t.host, p->t.port, fp, file);
        return -EPERM;
    case SSH_KNOWN_HOSTS_OTHER:
        snprintf(why, whylen, "host key of %s:%u (%s) is of another type than in %s; refusing",
                 p->t.host, p->t.port, fp, file);
        return -EPERM;
    case SSH_KNOWN_HOSTS_NOT_FOUND:
    case SSH_KNOWN_HOSTS_UNKNOWN:
        snprintf(why, whylen, "host key of %s:%u (%s) is not in %s; refusing", p->t.host, p->t.port,
                 fp, file);
        return -EPERM;
    default:
        snprintf(why, whylen, "cannot check host key of %s:%u against %s: %s", p->t.host, p->t.port,
                 file, lib->ssh_get_error(p->s));
        return -EIO;
    }
}

/* Without a K: file the first key seen is pinned for conmand's lifetime; a
 * different key later is refused, never silently accepted. */
static int check_host_key(struct sshc *p, char *why, size_t whylen)
{
    char fp[128];
    if (fingerprint(p, fp, sizeof(fp)) < 0) {
        snprintf(why, whylen, "cannot read the host key of %s:%u", p->t.host, p->t.port);
        return -EIO;
    }
    if (p->o.known_hosts[0])
        return check_known_hosts(p, fp, why, whylen);
    if (!p->pinned[0]) {
        snprintf(p->pinned, sizeof(p->pinned), "%s", fp);
        log_info("Console [%s]: trusting host key %s of %s:%u on first use (no K: in sshopts)",
                 p->c->cfg.name, fp, p->t.host, p->t.port);
        return 0;
    }
    if (strcmp(p->pinned, fp)) {
        snprintf(why, whylen, "host key of %s:%u CHANGED from %s to %s; refusing", p->t.host,
                 p->t.port, p->pinned, fp);
        return -EPERM;
    }
    return 0;
}

/* One step of authentication: the key first, then the password. Returns
 * SSH_AUTH_SUCCESS, SSH_AUTH_AGAIN, or SSH_AUTH_ERROR with `why` filled. */
static int auth_step(struct sshc *p, char *why, size_t whylen)
{
    int rc;
    if (p->o.identity[0] && !p->key_tried) {
        if (!p->key && lib->ssh_pki_import_privkey_file(p->o.identity, NULL, NULL, NULL, &p->key)) {
            snprintf(why, whylen, "cannot read private key file %s (I: in sshopts)", p->o.identity);
            return SSH_AUTH_ERROR;
        }
        rc = lib->ssh_userauth_publickey(p->s, NULL, p->key);
        if (rc == SSH_AUTH_SUCCESS || rc == SSH_AUTH_AGAIN)
            return rc;
        if (rc == SSH_AUTH_ERROR)
            goto error;
        p->key_tried = true;
    }
    if (p->o.password.len && !p->password_tried) {
        rc = lib->ssh_userauth_password(p->s, NULL, p->o.password.bytes);
        if (rc == SSH_AUTH_SUCCESS || rc == SSH_AUTH_AGAIN)
            return rc;
        if (rc == SSH_AUTH_ERROR)
            goto error;
        p->password_tried = true;
    }
    snprintf(why, whylen, "authentication as \"%s\" refused (tried:%s%s%s)", p->t.user,
             p->o.identity[0] ? " key " : "", p->o.identity, p->o.password.len ? " password" : "");
    if (!p->o.identity[0] && !p->o.password.len)
        snprintf(why, whylen, "no I: key file or P: password in sshopts");
    return SSH_AUTH_ERROR;
error:
    snprintf(why, whylen, "authentication as \"%s\" failed: %s", p->t.user,
             lib->ssh_get_error(p->s));
    return SSH_AUTH_ERROR;
}

static void on_poll(uv_poll_t *h, int status, int events);

static void arm_poll(struct sshc *p)
{
    int ev = p->phase == PH_TCP ? UV_WRITABLE : UV_READABLE;
    if (p->phase != PH_TCP && (lib->ssh_get_poll_flags(p->s) & SSH_WRITE_PENDING))
        ev |= UV_WRITABLE;
    uv_poll_start(p->poll, ev, on_poll);
}

static void drain_cb(uv_timer_t *t)
{
    struct sshc *p = t->data;
    console_read_ready(p->c);
}

/* The shell is open: the generic code takes over a duplicate of the socket
 * (it closes that one, libssh closes its own). */
static void hand_over(struct sshc *p)
{
    int fd = fcntl(lib->ssh_get_fd(p->s), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        fail(p, strerror(errno));
        return;
    }
    stop_poll(p);
    uv_timer_stop(&p->timeout);
    lib->ssh_key_free(p->key);
    p->key = NULL;
    secret_release(&p->o.password); /* not needed until the next connect */
    console_up(p->c, fd);
    /* Output that came with the shell reply sits in libssh already. */
    if (p->c->state == CONSOLE_UP)
        uv_timer_start(&p->drain, drain_cb, 0, 0);
}

/* The non-blocking connect finished: hand the socket to libssh. */
static int tcp_connected(struct sshc *p, char *why, size_t whylen)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(p->sock, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        snprintf(why, whylen, "cannot connect to %s:%u: %s", p->t.host, p->t.port, strerror(err));
        return -1;
    }
    if (lib->ssh_options_set(p->s, SSH_OPTIONS_FD, &p->sock) < 0) {
        snprintf(why, whylen, "cannot hand the socket to libssh: %s", lib->ssh_get_error(p->s));
        return -1;
    }
    return 0;
}

/* Runs the connection forward as far as it goes without blocking.
 * Returns 1 when the shell is open, 0 to wait, -1 with `why` on failure. */
static int advance(struct sshc *p, char *why, size_t whylen)
{
    int rc;
    switch (p->phase) {
    case PH_RESOLVE:
        return 0; /* dialed() moves on */
    case PH_TCP:
        if (tcp_connected(p, why, whylen) < 0)
            return -1;
        p->phase = PH_CONNECT;
        /* fall through */
    case PH_CONNECT:
        rc = lib->ssh_connect(p->s);
        if (p->sock >= 0 && lib->ssh_get_fd(p->s) == p->sock)
            p->sock = -1; /* libssh owns and closes it now */
        if (rc == SSH_AGAIN)
            return 0;
        if (rc != SSH_OK) {
            snprintf(why, whylen, "%s", lib->ssh_get_error(p->s));
            return -1;
        }
        if (check_host_key(p, why, whylen) < 0)
            return -1;
        p->phase = PH_AUTH;
        /* fall through */
    case PH_AUTH:
        rc = auth_step(p, why, whylen);
        if (rc == SSH_AUTH_AGAIN)
            return 0;
        if (rc != SSH_AUTH_SUCCESS)
            return -1;
        p->phase = PH_OPEN;
        p->ch = lib->ssh_channel_new(p->s);
        if (!p->ch) {
            snprintf(why, whylen, "cannot create a channel: %s", lib->ssh_get_error(p->s));
            return -1;
        }
        /* fall through */
    case PH_OPEN:
        rc = lib->ssh_channel_open_session(p->ch);
        if (rc == SSH_AGAIN)
            return 0;
        if (rc != SSH_OK) {
            snprintf(why, whylen, "cannot open a session channel: %s", lib->ssh_get_error(p->s));
            return -1;
        }
        p->phase = PH_PTY;
        /* fall through */
    case PH_PTY:
        rc = lib->ssh_channel_request_pty_size(p->ch, "vt100", 80, 24);
        if (rc == SSH_AGAIN)
            return 0;
        if (rc != SSH_OK) /* a console server without ptys still works */
            log_debug("Console [%s]: pty refused by %s", p->c->cfg.name, p->t.host);
        p->phase = PH_SHELL;
        /* fall through */
    case PH_SHELL:
        rc = lib->ssh_channel_request_shell(p->ch);
        if (rc == SSH_AGAIN)
            return 0;
        if (rc != SSH_OK) {
            snprintf(why, whylen, "shell request refused: %s", lib->ssh_get_error(p->s));
            return -1;
        }
        return 1;
    }
    return -1;
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    struct sshc *p = h->data;
    char why[2048] = "";
    int rc = advance(p, why, sizeof(why));
    if (rc == 0 && p->phase >= PH_CONNECT &&
        (lib->ssh_get_status(p->s) & (SSH_CLOSED | SSH_CLOSED_ERROR))) {
        snprintf(why, sizeof(why), "connection closed: %s", lib->ssh_get_error(p->s));
        rc = -1;
    }
    if (rc < 0)
        fail(p, why);
    else if (rc > 0)
        hand_over(p);
    else
        arm_poll(p);
}

static void timeout_cb(uv_timer_t *t)
{
    struct sshc *p = t->data;
    char why[64];
    snprintf(why, sizeof(why), "no shell after %u s (T: in sshopts)", p->o.timeout);
    fail(p, why);
}

/* The console's SSH state: its timers live as long as the console (or
 * until it changes type: ssh_release). */
static int ssh_init_op(struct console *c)
{
    if (c->priv)
        return 0;
    struct sshc *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->c = c;
    p->sock = p->pollfd = -1;
    uv_timer_init(c->hub->loop, &p->timeout);
    uv_timer_init(c->hub->loop, &p->drain);
    p->timeout.data = p->drain.data = p;
    p->open_handles = 2;
    c->priv = p;
    return 0;
}

static int set_options(struct sshc *p)
{
    const char *kh = p->o.known_hosts[0] ? p->o.known_hosts : "/dev/null";
    int port = (int)p->t.port, verbosity = SSH_LOG_NOLOG;
    bool no = false;
    if (lib->ssh_options_set(p->s, SSH_OPTIONS_HOST, p->t.host) ||
        lib->ssh_options_set(p->s, SSH_OPTIONS_PORT, &port) ||
        lib->ssh_options_set(p->s, SSH_OPTIONS_USER, p->t.user) ||
        lib->ssh_options_set(p->s, SSH_OPTIONS_LOG_VERBOSITY, &verbosity) ||
        lib->ssh_options_set(p->s, SSH_OPTIONS_PROCESS_CONFIG, &no) ||
        lib->ssh_options_set(p->s, SSH_OPTIONS_KNOWNHOSTS, kh) ||
        lib->ssh_options_set(p->s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, kh))
        return -EINVAL;
    lib->ssh_set_blocking(p->s, 0);
    return 0;
}

/* A BMC that vanishes without a FIN or RST would otherwise leave the console
 * "up" for ever: TCP keepalive notices within 50 s (30 s of silence, then 4
 * probes 5 s apart), and input it does not acknowledge fails as soon. */
static void keep_alive(int fd)
{
    int on = 1, idle = 30, intvl = 5, cnt = 4, user_ms = (idle + intvl * cnt) * 1000;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_ms, sizeof(user_ms));
}

/* The TCP connection is up (net/dial.c tried every address): libssh's
 * handshake goes on from the socket becoming writable. */
static int start_tcp(struct sshc *p, int fd, char *why, size_t whylen)
{
    p->sock = fd;
    keep_alive(p->sock);
    /* libssh closes its socket on errors inside any call; a handle polling
     * that very fd would then be left registered on a dead (or reused)
     * descriptor, which libuv cannot recover from. */
    p->pollfd = fcntl(p->sock, F_DUPFD_CLOEXEC, 0);
    p->poll = p->pollfd < 0 ? NULL : malloc(sizeof(*p->poll));
    if (!p->poll || uv_poll_init(p->c->hub->loop, p->poll, p->pollfd) < 0) {
        free(p->poll);
        p->poll = NULL;
        snprintf(why, whylen, "cannot poll the socket to %s", p->t.host);
        return -1;
    }
    p->poll->data = p;
    p->phase = PH_TCP;
    arm_poll(p);
    return 0;
}

static void dialed(void *ctx, int fd, const char *failed)
{
    struct sshc *p = ctx;
    p->dial = NULL;
    char why[600];
    if (fd < 0)
        snprintf(why, sizeof(why), "%s", failed);
    if (fd < 0 || start_tcp(p, fd, why, sizeof(why)) < 0)
        fail(p, why);
}

static int start_session(struct sshc *p, char *why, size_t whylen)
{
    p->s = lib->ssh_new();
    if (!p->s || set_options(p) < 0) {
        snprintf(why, whylen, "cannot set up an SSH session%s%s", p->s ? ": " : "",
                 p->s ? lib->ssh_get_error(p->s) : "");
        return -ENOMEM;
    }
    char port[8];
    snprintf(port, sizeof(port), "%u", p->t.port);
    if (!(p->dial = dial_start(p->c->hub->loop, p->t.host, port, dialed, p))) {
        snprintf(why, whylen, "out of memory connecting");
        return -ENOMEM;
    }
    p->phase = PH_RESOLVE;
    return 0;
}

static int ssh_connect_op(struct console *c, bool *connecting, char *err, size_t errlen)
{
    char why[2048];
    /* The failure is remembered: one warning per console, then retries on
     * the usual backoff that cost nothing until a restart. */
    int loaded = dynlib_load(&ssh_dl);
    if (loaded < 0) {
        snprintf(err, errlen, "Console [%s]: %s", c->cfg.name, ssh_dl.error);
        return loaded;
    }
    struct sshc *p = c->priv; /* ssh_init_op() made it */
    end_session(p);
    p->phase = PH_RESOLVE;
    p->key_tried = p->password_tried = false;
    int rc = sshopts_parse_dev(c->cfg.dev, &p->t, why, sizeof(why));
    if (rc == 0)
        rc = sshopts_parse(c->cfg.opts, &p->o, why, sizeof(why));
    if (rc == 0)
        rc = start_session(p, why, sizeof(why));
    if (rc < 0) {
        snprintf(err, errlen, "Console [%s] cannot connect to <%s>: %s", c->cfg.name,
                 c->cfg.dev + 4, why);
        end_session(p);
        return rc;
    }
    *connecting = true;
    uv_timer_start(&p->timeout, timeout_cb, (uint64_t)p->o.timeout * 1000, 0);
    return -EINPROGRESS; /* hand_over() calls console_up() */
}

static ssize_t ssh_dev_read(struct console *c, void *buf, size_t len)
{
    struct sshc *p = c->priv;
    int n = lib->ssh_channel_read_nonblocking(p->ch, buf, (uint32_t)len, 0);
    if (n == 0)
        n = lib->ssh_channel_read_nonblocking(p->ch, buf, (uint32_t)len, 1);
    if (n > 0)
        return n;
    if (n == SSH_ERROR) {
        log_warn("Console [%s]: SSH read from %s: %s", c->cfg.name, p->t.host,
                 lib->ssh_get_error(p->s));
        errno = EIO;
        return -1;
    }
    if (n < 0 || lib->ssh_channel_is_eof(p->ch) || lib->ssh_channel_is_closed(p->ch))
        return 0;
    errno = EAGAIN;
    return -1;
}

/* libssh may pull input off the socket while writing; read it soon. */
static void drain_later(struct sshc *p)
{
    if (p->ch && lib->ssh_channel_poll(p->ch, 0) > 0)
        uv_timer_start(&p->drain, drain_cb, 0, 0);
}

static ssize_t ssh_dev_write(struct console *c, const void *buf, size_t len)
{
    struct sshc *p = c->priv;
    int n = lib->ssh_channel_write(p->ch, buf, (uint32_t)len);
    if (n == SSH_ERROR) {
        log_warn("Console [%s]: SSH write to %s: %s", c->cfg.name, p->t.host,
                 lib->ssh_get_error(p->s));
        errno = EIO;
        return -1;
    }
    drain_later(p);
    if (n == 0) {
        errno = EAGAIN; /* the server's window is full */
        return -1;
    }
    return n;
}

static void ssh_disconnect_op(struct console *c)
{
    struct sshc *p = c->priv;
    if (p)
        end_session(p);
}

/* The console is destroyed or becomes another type: its timers close and
 * free the state once both are closed. */
static void ssh_release(struct console *c)
{
    struct sshc *p = c->priv;
    if (!p)
        return;
    c->priv = NULL;
    uv_close((uv_handle_t *)&p->timeout, timer_closed);
    uv_close((uv_handle_t *)&p->drain, timer_closed);
}

static void ssh_describe(const struct console *c, char *out, size_t outlen)
{
    snprintf(out, outlen, "<%s>", c->cfg.dev + 4);
}

static void ssh_break(struct console *c)
{
    struct sshc *p = c->priv;
    if (c->state != CONSOLE_UP || !p || !p->ch)
        return;
    if (lib->ssh_channel_request_send_break(p->ch, SSH_BREAK_MS) != SSH_OK)
        log_warn("Console [%s]: SSH break to %s failed: %s", c->cfg.name, p->t.host,
                 lib->ssh_get_error(p->s));
    drain_later(p);
}

static const struct console_ops ssh_ops = {
    .init = ssh_init_op,
    .connect = ssh_connect_op,
    .disconnect = ssh_disconnect_op,
    .release = ssh_release,
    .describe = ssh_describe,
    .send_break = ssh_break,
    .dev_read = ssh_dev_read,
    .dev_write = ssh_dev_write,
};

static bool ssh_recognise(const char *dev, bool is_chardev)
{
    (void)is_chardev;
    return !strncasecmp(dev, "ssh:", 4);
}

/* user@host[:port]: consoles of one BMC differ by user. */
static const char *ssh_dev_id(const char *dev)
{
    return dev + 4;
}

const struct console_type console_type_ssh = {
    .name = "ssh",
    .recognise = ssh_recognise,
    .opts_keyword = "sshopts",
    .opts_layer = sshopts_layer,
    .dev_id = ssh_dev_id,
    .ops = &ssh_ops,
};
