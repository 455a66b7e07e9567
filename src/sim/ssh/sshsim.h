/* ssh-bmc-sim's settings and the pure decisions of the simulator: which
 * console a user name selects and how an authorized_keys line splits. */
#ifndef SIM_SSH_SSHSIM_H
#define SIM_SSH_SSHSIM_H

#include <stddef.h>

#define SSHSIM_MAX_CONSOLES 100000

struct sshsim_options {
    char listen[64];             /* loopback address only */
    int port;                    /* 0: the kernel picks (printed on stdout) */
    const char *host_key;        /* generated (ed25519) when missing */
    const char *authorized_keys; /* NULL: no key auth */
    const char *password_file;   /* NULL: no password auth */
    const char *prefix;          /* console name = prefix + user name */
    const char *node_user;       /* set: one node console (a Paradise node's own BMC):
                                    only this user, console 0, named by prefix alone */
    long consoles;               /* users n0 .. n(consoles-1) */
    double rate;                 /* boot-log lines per second per open console */
};

extern const char sshsim_usage[];

/* Parses argv (argv[0] skipped) into `o`. Returns 0, 1 for --help, or
 * -EINVAL with a message naming the argument in `err`. */
int sshsim_parse_args(struct sshsim_options *o, int argc, char **argv, char *err, size_t errlen);

/* The console a user name selects: "n<N>" with N < consoles, no leading
 * zeros; otherwise -1. */
long sshsim_console_for_user(const char *user, long consoles);

/* The console a user selects under these options (node_user or n<N>);
 * -1 for none. */
long sshsim_console_for(const struct sshsim_options *o, const char *user);

/* Splits an authorized_keys line in place: *type and *b64 point at the key
 * type and base64 blob (options before the type are skipped). Returns 0, or
 * -ENOENT for a blank or comment line, -EINVAL when no key is found.
 * `is_type` says whether a word names a key type. */
int sshsim_split_key_line(char *line, int (*is_type)(const char *word), char **type, char **b64);

#endif
