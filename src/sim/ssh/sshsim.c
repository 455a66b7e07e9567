/* ssh-bmc-sim's command line, user-to-console mapping and authorized_keys
 * line splitting: no I/O, unit-tested. */
#include "sim/ssh/sshsim.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/numparse.h"

const char sshsim_usage[] =
    "usage: ssh-bmc-sim --host-key FILE [--port N] [--listen 127.0.0.1|::1]\n"
    "                   [--consoles N] [--prefix NAME] [--rate LINES_PER_SEC]\n"
    "                   [--authorized-keys FILE] [--password-file FILE]\n"
    "                   [--node-user NAME]\n"
    "One SSH server (libssh) serving N simulated node consoles: user n<K> selects\n"
    "console K. Each open console prints numbered boot-log lines and echoes input.\n"
    "--node-user NAME serves one node's console instead (as a Paradise node's BMC\n"
    "does): only user NAME logs in, and the console is named by --prefix alone.\n"
    "The host key file is created (ed25519, with FILE.pub) when missing. SIGUSR1\n"
    "drops every connection (a BMC reset); SIGTERM stops.\n";

static int set_option(struct sshsim_options *o, int opt, const char *v, char *err, size_t errlen)
{
    long n = 0;
    char *end;
    switch (opt) {
    case 'p':
        if (numparse_long(v, 0, 65535, &n) < 0)
            break;
        o->port = (int)n;
        return 0;
    case 'l':
        if ((strncmp(v, "127.", 4) && strcmp(v, "::1")) || strlen(v) >= sizeof(o->listen))
            break; /* loopback only: the simulators never face a network */
        strcpy(o->listen, v);
        return 0;
    case 'n':
        if (numparse_long(v, 1, SSHSIM_MAX_CONSOLES, &o->consoles) < 0)
            break;
        return 0;
    case 'r':
        o->rate = strtod(v, &end);
        if (end == v || *end || !(o->rate > 0 && o->rate <= 10000))
            break;
        return 0;
    case 'k':
        o->host_key = v;
        return 0;
    case 'a':
        o->authorized_keys = v;
        return 0;
    case 'w':
        o->password_file = v;
        return 0;
    case 'x':
        o->prefix = v;
        return 0;
    case 'u':
        o->node_user = v;
        o->consoles = 1;
        return 0;
    }
    snprintf(err, errlen, "bad value \"%s\" for option -%c (see --help)", v, opt);
    return -EINVAL;
}

int sshsim_parse_args(struct sshsim_options *o, int argc, char **argv, char *err, size_t errlen)
{
    static const struct option longs[] = {
        {"port", required_argument, NULL, 'p'},
        {"listen", required_argument, NULL, 'l'},
        {"consoles", required_argument, NULL, 'n'},
        {"rate", required_argument, NULL, 'r'},
        {"host-key", required_argument, NULL, 'k'},
        {"authorized-keys", required_argument, NULL, 'a'},
        {"password-file", required_argument, NULL, 'w'},
        {"prefix", required_argument, NULL, 'x'},
        {"node-user", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (struct sshsim_options){.listen = "127.0.0.1", .prefix = "", .consoles = 1, .rate = 2};
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "p:l:n:r:k:a:w:x:u:h", longs, NULL)) != -1) {
        if (opt == 'h')
            return 1;
        if (opt == '?' || opt == ':') {
            snprintf(err, errlen, "unknown option or missing value: %s", argv[optind - 1]);
            return -EINVAL;
        }
        if (set_option(o, opt, optarg, err, errlen) < 0)
            return -EINVAL;
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument \"%s\"", argv[optind]);
        return -EINVAL;
    }
    if (!o->host_key) {
        snprintf(err, errlen, "--host-key FILE is required");
        return -EINVAL;
    }
    if (!o->authorized_keys && !o->password_file) {
        snprintf(err, errlen, "give --authorized-keys or --password-file (or both)");
        return -EINVAL;
    }
    return 0;
}

long sshsim_console_for_user(const char *user, long consoles)
{
    if (!user || user[0] != 'n' || !user[1] || strlen(user) > 7)
        return -1;
    if (strspn(user + 1, "0123456789") != strlen(user + 1) || (user[1] == '0' && user[2]))
        return -1;
    long n = strtol(user + 1, NULL, 10);
    return n < consoles ? n : -1;
}

long sshsim_console_for(const struct sshsim_options *o, const char *user)
{
    if (o->node_user)
        return user && strcmp(user, o->node_user) == 0 ? 0 : -1;
    return sshsim_console_for_user(user, o->consoles);
}

static char *next_word(char **s)
{
    char *p = *s + strspn(*s, " \t\r\n");
    if (!*p)
        return NULL;
    char *end = p + strcspn(p, " \t\r\n");
    if (*end)
        *end++ = '\0';
    *s = end;
    return p;
}

int sshsim_split_key_line(char *line, int (*is_type)(const char *word), char **type, char **b64)
{
    char *s = line;
    char *w = next_word(&s);
    if (!w || w[0] == '#')
        return -ENOENT;
    if (!is_type(w))
        w = next_word(&s); /* an options field (without spaces) comes first */
    if (!w || !is_type(w))
        return -EINVAL;
    *type = w;
    *b64 = next_word(&s);
    return *b64 ? 0 : -EINVAL;
}
