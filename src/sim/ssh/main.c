/* ssh-bmc-sim: a blade BMC's SSH console service for tests and the demo.
 * One libssh server process, driven by ssh_event, serves many consoles at
 * once; user n<K> selects console K, which prints boot-log lines and echoes
 * what it is sent. Key and password authentication. */
#include <errno.h>
#include <fcntl.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/secret.h"
#include "sim/console/bootlog.h"
#include "sim/console/simopts.h"
#include "sim/ssh/sshsim.h"

#define MAX_KEYS 256
#define SETUP_TIMEOUT_MS 30000 /* to authenticate and open a shell */
#define MAX_LINES_PER_TICK 64

struct sess;

struct sim {
    struct sshsim_options o;
    ssh_bind bind;
    ssh_event event;
    ssh_key keys[MAX_KEYS];
    size_t nkeys;
    struct secret password;
    uint64_t *seq; /* per console: lines printed so far, across connections */
    struct sess **sess;
    size_t nsess, capsess;
    uint64_t start_ms;
};

struct sess {
    struct sim *sim;
    ssh_session s;
    ssh_channel ch;
    struct ssh_server_callbacks_struct scb;
    struct ssh_channel_callbacks_struct ccb;
    long console; /* -1 until authenticated */
    char user[16];
    bool shell, dead;
    uint64_t accepted_ms, shell_ms, sent;
};

static volatile sig_atomic_t stop_flag, drop_flag;

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        drop_flag = 1;
    else
        stop_flag = 1;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- authentication ---- */

static bool same_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char diff = alen != blen;
    for (size_t i = 0; i < alen && i < blen; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

static int auth_password(ssh_session s, const char *user, const char *password, void *ud)
{
    (void)s;
    struct sess *x = ud;
    long con = sshsim_console_for(&x->sim->o, user);
    if (con < 0 || !x->sim->password.len ||
        !same_bytes(password, strlen(password), x->sim->password.bytes, x->sim->password.len)) {
        log_info("password refused for user \"%s\"", user);
        return SSH_AUTH_DENIED;
    }
    x->console = con;
    /* A node's own BMC names its console by the prefix alone. */
    snprintf(x->user, sizeof(x->user), "%s", x->sim->o.node_user ? "" : user);
    return SSH_AUTH_SUCCESS;
}

static bool key_authorized(struct sim *sim, ssh_key key)
{
    for (size_t i = 0; i < sim->nkeys; i++)
        if (ssh_key_cmp(sim->keys[i], key, SSH_KEY_CMP_PUBLIC) == 0)
            return true;
    return false;
}

static int auth_pubkey(ssh_session s, const char *user, struct ssh_key_struct *key, char state,
                       void *ud)
{
    (void)s;
    struct sess *x = ud;
    long con = sshsim_console_for(&x->sim->o, user);
    if (con < 0 || !key_authorized(x->sim, key)) {
        if (state != SSH_PUBLICKEY_STATE_NONE)
            log_info("key refused for user \"%s\"", user);
        return SSH_AUTH_DENIED;
    }
    if (state == SSH_PUBLICKEY_STATE_NONE)
        return SSH_AUTH_SUCCESS; /* the key would do: the client signs next */
    if (state != SSH_PUBLICKEY_STATE_VALID)
        return SSH_AUTH_DENIED;
    x->console = con;
    /* A node's own BMC names its console by the prefix alone. */
    snprintf(x->user, sizeof(x->user), "%s", x->sim->o.node_user ? "" : user);
    return SSH_AUTH_SUCCESS;
}

/* ---- the console channel ---- */

static int on_data(ssh_session s, ssh_channel ch, void *data, uint32_t len, int is_stderr, void *ud)
{
    (void)s;
    (void)is_stderr;
    (void)ud;
    ssh_channel_write(ch, data, len); /* a console echoes what is typed */
    return (int)len;
}

static int on_pty(ssh_session s, ssh_channel ch, const char *term, int cols, int rows, int px,
                  int py, void *ud)
{
    (void)s, (void)ch, (void)term, (void)cols, (void)rows, (void)px, (void)py, (void)ud;
    return 0;
}

static int on_shell(ssh_session s, ssh_channel ch, void *ud)
{
    (void)s;
    (void)ch;
    struct sess *x = ud;
    x->shell = true;
    x->shell_ms = now_ms();
    log_info("console %s%s opened", x->sim->o.prefix, x->user);
    return 0;
}

static int on_exec(ssh_session s, ssh_channel ch, const char *cmd, void *ud)
{
    (void)cmd;
    return on_shell(s, ch, ud);
}

static int on_resize(ssh_session s, ssh_channel ch, int cols, int rows, int px, int py, void *ud)
{
    (void)s, (void)px, (void)py, (void)ud;
    char msg[80];
    int n = snprintf(msg, sizeof(msg), "\r\n[ssh-bmc-sim: window is now %dx%d]\r\n", cols, rows);
    ssh_channel_write(ch, msg, (uint32_t)n);
    return 0;
}

static void on_close(ssh_session s, ssh_channel ch, void *ud)
{
    (void)s;
    (void)ch;
    ((struct sess *)ud)->dead = true;
}

static ssh_channel on_channel_open(ssh_session s, void *ud)
{
    struct sess *x = ud;
    if (x->console < 0 || x->ch)
        return NULL;
    x->ch = ssh_channel_new(s);
    if (!x->ch)
        return NULL;
    x->ccb = (struct ssh_channel_callbacks_struct){
        .userdata = x,
        .channel_data_function = on_data,
        .channel_pty_request_function = on_pty,
        .channel_shell_request_function = on_shell,
        .channel_exec_request_function = on_exec,
        .channel_pty_window_change_function = on_resize,
        .channel_eof_function = on_close,
        .channel_close_function = on_close,
    };
    ssh_callbacks_init(&x->ccb);
    ssh_set_channel_callbacks(x->ch, &x->ccb);
    return x->ch;
}

/* libssh 0.10 has no callback for RFC 4335 "break"; it arrives here as an
 * unknown channel request. A console client sends no other such request,
 * so the simulated console reports it the way a BMC would see a break. */
static int on_message(ssh_session s, ssh_message msg, void *ud)
{
    (void)s;
    struct sess *x = ud;
    if (ssh_message_type(msg) != SSH_REQUEST_CHANNEL ||
        ssh_message_subtype(msg) != SSH_CHANNEL_REQUEST_UNKNOWN || !x->ch)
        return 1; /* libssh answers with its default refusal */
    static const char note[] = "\r\n[ssh-bmc-sim: break received]\r\n";
    ssh_channel_write(x->ch, note, sizeof(note) - 1);
    log_info("console %s%s: break", x->sim->o.prefix, x->user);
    return 1;
}

/* ---- sessions ---- */

static int add_sess(struct sim *sim, struct sess *x)
{
    if (sim->nsess == sim->capsess) {
        size_t cap = sim->capsess ? sim->capsess * 2 : 64;
        struct sess **grown = realloc(sim->sess, cap * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        sim->sess = grown;
        sim->capsess = cap;
    }
    sim->sess[sim->nsess++] = x;
    return 0;
}

static void free_sess(struct sim *sim, struct sess *x)
{
    ssh_event_remove_session(sim->event, x->s);
    ssh_disconnect(x->s);
    ssh_free(x->s); /* frees the channel */
    free(x);
}

static int auth_methods(const struct sim *sim)
{
    return (sim->nkeys ? SSH_AUTH_METHOD_PUBLICKEY : 0) |
           (sim->password.len ? SSH_AUTH_METHOD_PASSWORD : 0);
}

/* Accepts one pending connection; -EAGAIN when there is none. */
static int accept_one(struct sim *sim)
{
    struct pollfd pending = {.fd = ssh_bind_get_fd(sim->bind), .events = POLLIN};
    if (poll(&pending, 1, 0) <= 0)
        return -EAGAIN;
    struct sess *x = calloc(1, sizeof(*x));
    if (!x || !(x->s = ssh_new())) {
        free(x);
        return -ENOMEM;
    }
    if (ssh_bind_accept(sim->bind, x->s) != SSH_OK) {
        log_warn("accept failed: %s", ssh_get_error(sim->bind));
        ssh_free(x->s);
        free(x);
        return -EIO;
    }
    x->sim = sim;
    x->console = -1;
    x->accepted_ms = now_ms();
    x->scb = (struct ssh_server_callbacks_struct){
        .userdata = x,
        .auth_password_function = auth_password,
        .auth_pubkey_function = auth_pubkey,
        .channel_open_request_session_function = on_channel_open,
    };
    ssh_callbacks_init(&x->scb);
    ssh_set_server_callbacks(x->s, &x->scb);
    ssh_set_message_callback(x->s, on_message, x);
    ssh_set_auth_methods(x->s, auth_methods(sim));
    ssh_set_blocking(x->s, 0);
    /* Non-blocking: this sends our banner; the event loop does the rest. */
    if (ssh_handle_key_exchange(x->s) == SSH_ERROR || add_sess(sim, x) < 0) {
        ssh_free(x->s);
        free(x);
        return 0;
    }
    ssh_event_add_session(sim->event, x->s);
    return 0;
}

/* A whole pending batch per wake-up: a conmand starting 1,000 consoles
 * connects them all at once. */
static int on_accept(socket_t fd, int revents, void *ud)
{
    (void)fd;
    (void)revents;
    for (int i = 0; i < 256 && accept_one(ud) == 0; i++)
        ;
    return 0;
}

/* Prints the boot-log lines this console owes, as far as the window lets. */
static void talk(struct sim *sim, struct sess *x, uint64_t now)
{
    uint64_t due = simopts_lines_due(sim->o.rate, now - x->shell_ms);
    char name[128], line[BOOTLOG_LINE_MAX];
    snprintf(name, sizeof(name), "%s%s", sim->o.prefix, x->user);
    for (int i = 0; i < MAX_LINES_PER_TICK && x->sent < due; i++) {
        if (ssh_channel_window_size(x->ch) < BOOTLOG_LINE_MAX)
            return; /* the reader is slow: catch up later */
        uint64_t seq = ++sim->seq[x->console];
        size_t n = bootlog_format(line, sizeof(line), name, seq, (now - sim->start_ms) * 1000);
        if (ssh_channel_write(x->ch, line, (uint32_t)n) == SSH_ERROR) {
            x->dead = true;
            return;
        }
        x->sent++;
    }
}

static bool finished(struct sess *x, uint64_t now)
{
    if (x->dead || drop_flag || (ssh_get_status(x->s) & (SSH_CLOSED | SSH_CLOSED_ERROR)))
        return true;
    return !x->shell && now - x->accepted_ms > SETUP_TIMEOUT_MS;
}

static void tick(struct sim *sim)
{
    uint64_t now = now_ms();
    size_t kept = 0;
    for (size_t i = 0; i < sim->nsess; i++) {
        struct sess *x = sim->sess[i];
        if (x->shell && !x->dead && !drop_flag)
            talk(sim, x, now);
        if (finished(x, now)) {
            if (x->shell)
                log_info("console %s%s closed", sim->o.prefix, x->user);
            free_sess(sim, x);
        } else {
            sim->sess[kept++] = x;
        }
    }
    sim->nsess = kept;
    if (drop_flag)
        log_info("SIGUSR1: dropped every connection");
    drop_flag = 0;
}

/* ---- setup ---- */

static int is_key_type(const char *word)
{
    return ssh_key_type_from_name(word) != SSH_KEYTYPE_UNKNOWN;
}

static int load_authorized_keys(struct sim *sim, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        log_error("cannot read authorized keys file %s: %s", path, strerror(errno));
        return -errno;
    }
    char line[16384], *type, *b64;
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        lineno++;
        int split = sshsim_split_key_line(line, is_key_type, &type, &b64);
        if (split == -ENOENT)
            continue;
        ssh_key key = NULL;
        if (split < 0 || sim->nkeys == MAX_KEYS ||
            ssh_pki_import_pubkey_base64(b64, ssh_key_type_from_name(type), &key) != SSH_OK) {
            log_error("%s:%d: not a public key line this simulator can use", path, lineno);
            rc = -EINVAL;
        } else {
            sim->keys[sim->nkeys++] = key;
        }
    }
    fclose(f);
    if (rc == 0 && sim->nkeys == 0) {
        log_error("%s: no public keys", path);
        rc = -EINVAL;
    }
    return rc;
}

static int write_public_key(ssh_key key, const char *path)
{
    char *b64 = NULL, pubpath[4200];
    snprintf(pubpath, sizeof(pubpath), "%s.pub", path);
    if (ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK)
        return -EIO;
    FILE *f = fopen(pubpath, "w");
    int rc = f ? 0 : -errno;
    if (f) {
        fprintf(f, "%s %s ssh-bmc-sim\n", ssh_key_type_to_char(ssh_key_type(key)), b64);
        rc = fclose(f) ? -errno : 0;
    }
    ssh_string_free_char(b64);
    return rc;
}

/* A missing host key is generated (mode 0600) so a fresh demo just runs. */
static int ensure_host_key(const char *path)
{
    if (access(path, F_OK) == 0)
        return 0;
    ssh_key key = NULL;
    if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK)
        return -EIO;
    mode_t old = umask(077);
    int rc = ssh_pki_export_privkey_file(key, NULL, NULL, NULL, path) == SSH_OK ? 0 : -EIO;
    umask(old);
    if (rc == 0)
        rc = write_public_key(key, path);
    if (rc == 0)
        log_info("generated host key %s (public part in %s.pub)", path, path);
    else
        log_error("cannot write host key %s", path);
    ssh_key_free(key);
    return rc;
}

static void log_fingerprint(const char *path)
{
    ssh_key key = NULL;
    unsigned char *hash = NULL;
    size_t hlen = 0;
    if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL, &key) == SSH_OK &&
        ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) == 0) {
        char *fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
        if (fp)
            log_info("host key %s: %s", path, fp);
        ssh_string_free_char(fp);
    }
    ssh_clean_pubkey_hash(&hash);
    ssh_key_free(key);
}

static int start_listening(struct sim *sim)
{
    int verbosity = SSH_LOG_NOLOG;
    sim->bind = ssh_bind_new();
    if (!sim->bind)
        return -ENOMEM;
    if (ssh_bind_options_set(sim->bind, SSH_BIND_OPTIONS_BINDADDR, sim->o.listen) ||
        ssh_bind_options_set(sim->bind, SSH_BIND_OPTIONS_BINDPORT, &sim->o.port) ||
        ssh_bind_options_set(sim->bind, SSH_BIND_OPTIONS_LOG_VERBOSITY, &verbosity) ||
        ssh_bind_options_set(sim->bind, SSH_BIND_OPTIONS_HOSTKEY, sim->o.host_key)) {
        log_error("cannot use host key %s: %s", sim->o.host_key, ssh_get_error(sim->bind));
        return -EINVAL;
    }
    if (ssh_bind_listen(sim->bind) != SSH_OK) {
        log_error("cannot listen on %s:%d: %s", sim->o.listen, sim->o.port,
                  ssh_get_error(sim->bind));
        return -EADDRINUSE;
    }
    /* libssh listens with a short backlog; a burst of connects would see
     * SYNs dropped and retried seconds later. Non-blocking so a batch of
     * accepts ends cleanly. */
    int lfd = ssh_bind_get_fd(sim->bind);
    if (listen(lfd, 4096) < 0 || fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK) < 0)
        log_warn("cannot widen the listen backlog: %s", strerror(errno));
    sim->event = ssh_event_new();
    if (!sim->event ||
        ssh_event_add_fd(sim->event, ssh_bind_get_fd(sim->bind), POLLIN, on_accept, sim) != SSH_OK)
        return -ENOMEM;
    return 0;
}

static int setup(struct sim *sim)
{
    char err[512];
    if (ensure_host_key(sim->o.host_key) < 0)
        return -EIO;
    log_fingerprint(sim->o.host_key);
    if (sim->o.authorized_keys && load_authorized_keys(sim, sim->o.authorized_keys) < 0)
        return -EINVAL;
    if (sim->o.password_file &&
        secret_read_first_line(sim->o.password_file, 0, &sim->password, err, sizeof(err)) < 0) {
        log_error("%s", err);
        return -EINVAL;
    }
    sim->seq = calloc((size_t)sim->o.consoles, sizeof(*sim->seq));
    if (!sim->seq)
        return -ENOMEM;
    return start_listening(sim);
}

static void teardown(struct sim *sim)
{
    for (size_t i = 0; i < sim->nsess; i++)
        free_sess(sim, sim->sess[i]);
    free(sim->sess);
    if (sim->event) {
        if (sim->bind)
            ssh_event_remove_fd(sim->event, ssh_bind_get_fd(sim->bind)); /* frees its wrapper */
        ssh_event_free(sim->event);
    }
    if (sim->bind)
        ssh_bind_free(sim->bind);
    for (size_t i = 0; i < sim->nkeys; i++)
        ssh_key_free(sim->keys[i]);
    secret_release(&sim->password);
    free(sim->seq);
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* The port actually bound (the kernel's pick for --port 0). */
static int bound_port(struct sim *sim)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(ssh_bind_get_fd(sim->bind), (struct sockaddr *)&ss, &len) < 0)
        return -1;
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int main(int argc, char **argv)
{
    log_init("ssh-bmc-sim", stderr, LOG_LEVEL_INFO);
    struct sim sim = {0};
    char err[512] = "";
    int rc = sshsim_parse_args(&sim.o, argc, argv, err, sizeof(err));
    if (rc != 0) {
        if (rc > 0)
            fputs(sshsim_usage, stdout);
        else
            log_error("%s", err);
        return rc > 0 ? 0 : 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    raise_fd_limit();
    ssh_init();
    sim.start_ms = now_ms();
    int status = 0;
    if (setup(&sim) < 0) {
        status = 1;
    } else {
        printf("listening on %s:%d\n", sim.o.listen, bound_port(&sim));
        fflush(stdout);
        if (sim.o.node_user)
            log_info("serving node console %s (user %s) on %s:%d", sim.o.prefix, sim.o.node_user,
                     sim.o.listen, bound_port(&sim));
        else
            log_info("serving %ld consoles (users n0..n%ld) on %s:%d", sim.o.consoles,
                     sim.o.consoles - 1, sim.o.listen, bound_port(&sim));
        uint64_t tick_ms = simopts_tick_ms(sim.o.rate);
        while (!stop_flag) {
            ssh_event_dopoll(sim.event, (int)(tick_ms < 50 ? tick_ms : 50));
            tick(&sim);
        }
        log_info("stopping");
    }
    teardown(&sim);
    ssh_finalize();
    return status;
}
