/* configure_conman's settings: environment variables parsed and validated
 * into one struct before anything runs. Pure: the environment comes in
 * through a lookup function. */
#ifndef CONFIGURE_SETTINGS_H
#define CONFIGURE_SETTINGS_H

#include "configure/shard.h"

#include <stdbool.h>
#include <stddef.h>

enum console_mode { CONSOLE_MODE_BMC, CONSOLE_MODE_NODE };

/* EVENT_RULES, EVENT_EXEC, HTTP_TOKEN_FILE, HTTP_CERT_FILE and
 * HTTP_KEY_FILE: the longest path taken; and the room of the one SERVER
 * line configure_conman writes (every keyword at its longest fits: five
 * such paths, LOG_SHIP's 1023 bytes, numbers and an address). */
#define EVENT_PATH_MAX 1024
/* EVENT_RULES unset: the shipped rules file, where the image has it. */
#define SETTINGS_EVENT_RULES_DEFAULT "/app/conman-events.rules"
#define SETTINGS_SERVER_LINE_MAX 8192

struct settings {
    char *endpoint_url;   /* API_GATEWAY joined with RF_ENDPOINT */
    char *log_identifier; /* RedfishEndpoint field that names a console */
    char *user_file;
    char *pwd_file;
    char *base_conf;
    char *conman_conf;
    char *conmand;
    char *token_file;      /* NULL when unset */
    char *ca_file;         /* NULL when unset */
    char *components_url;  /* API_GATEWAY joined with COMPONENTS_ENDPOINT (node mode) */
    char *ssh_key_file;    /* SSH_KEY_FILE: Mountain/Hill key; NULL when unset */
    char *ssh_known_hosts; /* SSH_KNOWN_HOSTS; NULL: trust on first use */
    long paradise_port;    /* PARADISE_PORT */
    long discovery_retry_sec;
    long hsm_timeout_sec;
    long hardware_update_sec;
    enum console_mode mode;
    /* configure_conman's own /healthz /readyz /metrics (opshttp.h). */
    long http_port;  /* HTTP_PORT; 0: off */
    char *http_addr; /* HTTP_ADDR, an IPv4 or IPv6 address; default 0.0.0.0 */
    /* conmand SERVER keywords (issue 15); 0 / NULL: not given, not written. */
    long conmand_http_port;        /* CONMAND_HTTP_PORT -> httpport= */
    char *conmand_http_addr;       /* CONMAND_HTTP_ADDR -> httpaddr= (IPv4 or v6) */
    unsigned long long log_max;    /* LOG_MAX_BYTES -> logsize= */
    long log_keep;                 /* LOG_KEEP -> logkeep= (-1: unset) */
    unsigned long long log_budget; /* LOG_BUDGET_BYTES -> logbudget= */
    char *event_rules;             /* EVENT_RULES -> eventrules="PATH" (absolute) */
    bool event_rules_default;      /* EVENT_RULES unset: event_rules is the default */
    char *event_exec;              /* EVENT_EXEC -> eventexec="PATH" (absolute) */
    char *http_token_file;         /* HTTP_TOKEN_FILE -> httptokenfile="PATH" (absolute) */
    char *http_cert_file;          /* HTTP_CERT_FILE -> httpcert="PATH" (absolute) */
    char *http_key_file;           /* HTTP_KEY_FILE -> httpkey="PATH" (absolute, with the cert) */
    bool http_join;                /* HTTP_JOIN=ON -> httpjoin=ON */
    char *log_ship[2];             /* LOG_SHIP items "tcp:HOST:PORT" / "file:PATH" */
    /* Scale-out (issue 16); none set: one instance holds every console. */
    struct shard_members shard_members; /* SHARD_MEMBERS parsed; n 0: unset */
    char *shard_members_file;           /* SHARD_MEMBERS_FILE; NULL: unset */
    char *shard_self;                   /* SHARD_SELF; NULL: main uses the host name */
    long shard_settle_sec;              /* SHARD_SETTLE_SEC */
    char *shard_srv;                    /* SHARD_SRV, a DNS SRV name; NULL: unset */
    long shard_srv_poll_sec;            /* SHARD_SRV_POLL_SEC */
};

/* Returns the value of environment variable `name`, or NULL when unset. */
typedef const char *(*settings_lookup_fn)(const char *name, void *ctx);

/* Fills `s` from the variables `get` returns, defaults for unset ones.
 * Returns 0, or -EINVAL / -ENOMEM with a message naming the variable and
 * its value in `err`. On error `s` holds nothing to release. */
int settings_parse(struct settings *s, settings_lookup_fn get, void *ctx, char *err, size_t errlen);

/* Renders the SERVER line for the keywords above into `out` ("" when none
 * is set); the names of the variables given go into `names` (for the
 * warning when conmand is not ours). Pure. */
void settings_server_line(const struct settings *s, char *out, size_t outlen, char *names,
                          size_t nameslen);

/* Whether SHARD_MEMBERS, SHARD_MEMBERS_FILE or SHARD_SRV is set. */
bool settings_sharded(const struct settings *s);

/* With SHARD_MEMBERS, SHARD_SELF (filled by then) must be one of them:
 * returns 0 or -EINVAL with "SHARD_SELF=<name>: ..." in `err`. */
int settings_check_self(const struct settings *s, char *err, size_t errlen);

/* Frees every string; `s` may be released twice. */
void settings_release(struct settings *s);

#endif
