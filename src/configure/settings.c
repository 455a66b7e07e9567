/* Environment to settings: defaults, number ranges, names, URL joining. */
#include "configure/settings.h"

#include "common/hostport.h"
#include "common/numparse.h"
#include "common/optvalue.h"
#include "configure/urljoin.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Unset and empty both mean "use the default": an empty assignment in a
 * Kubernetes manifest is a common way to leave a variable alone. */
static const char *value_or(settings_lookup_fn get, void *ctx, const char *name, const char *dflt)
{
    const char *v = get(name, ctx);
    return (v && *v) ? v : dflt;
}

static int copy_value(char **dst, const char *name, const char *value, char *err, size_t errlen)
{
    *dst = NULL;
    if (!value)
        return 0;
    *dst = strdup(value);
    if (!*dst) {
        snprintf(err, errlen, "%s: out of memory", name);
        return -ENOMEM;
    }
    return 0;
}

static int parse_seconds(settings_lookup_fn get, void *ctx, const char *name, const char *dflt,
                         long min, long *out, char *err, size_t errlen)
{
    const char *v = value_or(get, ctx, name, dflt);
    /* A day is far beyond any sensible wait; larger is a typo. Digits
     * only: no blanks or sign in an environment value. */
    if (numparse_digits(v, min, 86400, out) < 0) {
        snprintf(err, errlen, "%s=%.100s: expected a whole number of seconds from %ld to 86400",
                 name, v, min);
        return -EINVAL;
    }
    return 0;
}

static bool identifier_ok(const char *v)
{
    if (!*v || strlen(v) > 64)
        return false;
    for (const char *p = v; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return false;
    return true;
}

/* Key and known_hosts paths go into sshopts="I:<path>,K:<path>" as they are. */
static int check_path(const char *name, const char *v, char *err, size_t errlen)
{
    if (v && !optvalue_is_plain(v)) {
        snprintf(err, errlen,
                 "%s=%.100s: a path without blanks, quotes, commas or backslashes is needed "
                 "(it goes into sshopts)",
                 name, v);
        return -EINVAL;
    }
    return 0;
}

static int parse_port(settings_lookup_fn get, void *ctx, const char *name, const char *dflt,
                      long *out, char *err, size_t errlen)
{
    const char *v = value_or(get, ctx, name, dflt);
    if (numparse_digits(v, 1, 65535, out) < 0) {
        snprintf(err, errlen, "%s=%.100s: expected a TCP port from 1 to 65535", name, v);
        return -EINVAL;
    }
    return 0;
}

/* An IPv4 or IPv6 address ("::" takes both families); it goes into SERVER
 * httpaddr= or bind(2), so no name and no scope. */
static int parse_ip_address(settings_lookup_fn get, void *ctx, const char *name, const char *dflt,
                            char **out, char *err, size_t errlen)
{
    const char *v = value_or(get, ctx, name, dflt);
    struct in6_addr a;
    if (v && inet_pton(AF_INET, v, &a) != 1 && inet_pton(AF_INET6, v, &a) != 1) {
        snprintf(err, errlen,
                 "%s=%.100s: expected an IP address like 127.0.0.1, 0.0.0.0, ::1 or ::", name, v);
        return -EINVAL;
    }
    return copy_value(out, name, v, err, errlen);
}

/* HTTP_PORT unset or empty: configure_conman serves no HTTP. */
static int parse_http(struct settings *s, settings_lookup_fn get, void *ctx, char *err,
                      size_t errlen)
{
    int rc = 0;
    if (value_or(get, ctx, "HTTP_PORT", NULL))
        rc = parse_port(get, ctx, "HTTP_PORT", NULL, &s->http_port, err, errlen);
    return rc ? rc : parse_ip_address(get, ctx, "HTTP_ADDR", "0.0.0.0", &s->http_addr, err, errlen);
}

static int parse_mode(const char *v, enum console_mode *out, char *err, size_t errlen)
{
    if (strcasecmp(v, "bmc") == 0)
        *out = CONSOLE_MODE_BMC;
    else if (strcasecmp(v, "node") == 0)
        *out = CONSOLE_MODE_NODE;
    else {
        snprintf(err, errlen, "CONSOLE_MODE=%.100s: expected bmc or node", v);
        return -EINVAL;
    }
    return 0;
}

static int parse_strings(struct settings *s, settings_lookup_fn get, void *ctx, char *err,
                         size_t errlen)
{
    const char *ident = value_or(get, ctx, "LOG_IDENTIFIER", "Hostname");
    if (!identifier_ok(ident)) {
        snprintf(err, errlen, "LOG_IDENTIFIER=%.100s: expected a field name like Hostname or ID",
                 ident);
        return -EINVAL;
    }
    struct {
        char **dst;
        const char *name;
        const char *dflt;
    } vars[] = {
        {&s->log_identifier, "LOG_IDENTIFIER", "Hostname"},
        {&s->user_file, "USER_FILE", "/secrets/user"},
        {&s->pwd_file, "PWD_FILE", "/secrets/password"},
        {&s->base_conf, "CONMAN_BASE_CONF", "/app/conman_base.conf"},
        {&s->conman_conf, "CONMAN_CONF", "/etc/conman.conf"},
        {&s->conmand, "CONMAND", "conmand"},
        {&s->token_file, "HSM_TOKEN_FILE", NULL},
        {&s->ca_file, "HSM_CA_FILE", NULL},
        {&s->ssh_key_file, "SSH_KEY_FILE", NULL},
        {&s->ssh_known_hosts, "SSH_KNOWN_HOSTS", NULL},
    };
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        int rc = copy_value(vars[i].dst, vars[i].name,
                            value_or(get, ctx, vars[i].name, vars[i].dflt), err, errlen);
        if (rc < 0)
            return rc;
    }
    int rc = check_path("SSH_KEY_FILE", s->ssh_key_file, err, errlen);
    return rc ? rc : check_path("SSH_KNOWN_HOSTS", s->ssh_known_hosts, err, errlen);
}

static int parse_size(settings_lookup_fn get, void *ctx, const char *name, unsigned long long *out,
                      char *err, size_t errlen)
{
    const char *v = value_or(get, ctx, name, NULL);
    if (v && (numparse_bytes(v, ULLONG_MAX / 2, out) < 0 || *out == 0)) {
        snprintf(err, errlen, "%s=%.100s: expected a size in bytes above 0, K/M/G/T suffix allowed",
                 name, v);
        return -EINVAL;
    }
    return 0;
}

/* One LOG_SHIP item: "tcp:HOST:PORT" or "file:PATH", no quotes or blanks. */
static bool ship_item_ok(const char *v)
{
    if (strncmp(v, "file:", 5) == 0)
        return v[5] == '/' && strpbrk(v, "\"\\") == NULL;
    if (strncmp(v, "tcp:", 4) != 0 || strpbrk(v, "\"\\") != NULL)
        return false;
    struct hostport hp;
    char why[300];
    return hostport_parse(v + 4, HOSTPORT_PORT_REQUIRED, &hp, why, sizeof(why)) == 0;
}

static int parse_ship(struct settings *s, settings_lookup_fn get, void *ctx, char *err,
                      size_t errlen)
{
    const char *v = value_or(get, ctx, "LOG_SHIP", NULL);
    if (!v)
        return 0;
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", v);
    size_t n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        if (n == 2 || !ship_item_ok(tok) || strlen(v) >= sizeof(buf)) {
            snprintf(err, errlen,
                     "LOG_SHIP=%.100s: expected one or two of tcp:HOST:PORT and file:/PATH "
                     "separated by a comma",
                     v);
            return -EINVAL;
        }
        s->log_ship[n] = strdup(tok);
        if (!s->log_ship[n++]) {
            snprintf(err, errlen, "LOG_SHIP: out of memory");
            return -ENOMEM;
        }
    }
    return 0;
}

/* EVENT_RULES, EVENT_EXEC, HTTP_TOKEN_FILE, HTTP_CERT_FILE and
 * HTTP_KEY_FILE: an absolute path, quoted
 * in the SERVER line, so no quote, backslash or newline in it. */
static int parse_abs_path(settings_lookup_fn get, void *ctx, const char *name, char **out,
                          char *err, size_t errlen)
{
    const char *v = value_or(get, ctx, name, NULL);
    if (!v)
        return 0;
    if (v[0] != '/' || strpbrk(v, "\"\\\n") || strlen(v) > EVENT_PATH_MAX) {
        snprintf(err, errlen,
                 "%s=%.100s: expected an absolute path without quotes, at most %d bytes", name, v,
                 EVENT_PATH_MAX);
        return -EINVAL;
    }
    if (!(*out = strdup(v))) {
        snprintf(err, errlen, "%s: out of memory", name);
        return -ENOMEM;
    }
    return 0;
}

/* HTTP_JOIN: ON or OFF (conman.conf's words; also yes/no, true/false,
 * 1/0), any case; unset or empty: OFF. */
static int parse_on_off(settings_lookup_fn get, void *ctx, const char *name, bool *out, char *err,
                        size_t errlen)
{
    const char *v = value_or(get, ctx, name, NULL);
    static const char *const on[] = {"on", "yes", "true", "1"}, *const off[] = {"off", "no",
                                                                                "false", "0"};
    *out = false;
    for (size_t i = 0; v && i < 4; i++) {
        if (!strcasecmp(v, on[i]))
            *out = true;
        if (!strcasecmp(v, on[i]) || !strcasecmp(v, off[i]))
            return 0;
    }
    if (!v)
        return 0;
    snprintf(err, errlen, "%s=%.100s: expected ON or OFF", name, v);
    return -EINVAL;
}

static int parse_server(struct settings *s, settings_lookup_fn get, void *ctx, char *err,
                        size_t errlen)
{
    int rc = 0;
    s->log_keep = -1;
    if (value_or(get, ctx, "CONMAND_HTTP_PORT", NULL))
        rc = parse_port(get, ctx, "CONMAND_HTTP_PORT", NULL, &s->conmand_http_port, err, errlen);
    if (rc == 0)
        rc = parse_ip_address(get, ctx, "CONMAND_HTTP_ADDR", NULL, &s->conmand_http_addr, err,
                              errlen);
    const char *keep = value_or(get, ctx, "LOG_KEEP", NULL);
    if (rc == 0 && keep && numparse_digits(keep, 0, 1000, &s->log_keep) < 0) {
        snprintf(err, errlen, "LOG_KEEP=%.100s: expected a count of old files from 0 to 1000",
                 keep);
        rc = -EINVAL;
    }
    if (rc == 0)
        rc = parse_size(get, ctx, "LOG_MAX_BYTES", &s->log_max, err, errlen);
    if (rc == 0)
        rc = parse_size(get, ctx, "LOG_BUDGET_BYTES", &s->log_budget, err, errlen);
    if (rc == 0)
        rc = parse_ship(s, get, ctx, err, errlen);
    if (rc == 0)
        rc = parse_abs_path(get, ctx, "EVENT_RULES", &s->event_rules, err, errlen);
    if (rc == 0 && !get("EVENT_RULES", ctx)) {
        /* Unset: the shipped rules, where the image puts them (main.c
         * drops them when the file is not there). Set but empty: none. */
        s->event_rules_default = true;
        if (!(s->event_rules = strdup(SETTINGS_EVENT_RULES_DEFAULT))) {
            snprintf(err, errlen, "EVENT_RULES: out of memory");
            rc = -ENOMEM;
        }
    }
    if (rc == 0)
        rc = parse_abs_path(get, ctx, "EVENT_EXEC", &s->event_exec, err, errlen);
    if (rc == 0)
        rc = parse_abs_path(get, ctx, "HTTP_TOKEN_FILE", &s->http_token_file, err, errlen);
    if (rc == 0)
        rc = parse_abs_path(get, ctx, "HTTP_CERT_FILE", &s->http_cert_file, err, errlen);
    if (rc == 0)
        rc = parse_abs_path(get, ctx, "HTTP_KEY_FILE", &s->http_key_file, err, errlen);
    if (rc == 0 && !s->http_cert_file != !s->http_key_file) {
        snprintf(err, errlen, "%s is set without %s: HTTPS needs the certificate and its key",
                 s->http_cert_file ? "HTTP_CERT_FILE" : "HTTP_KEY_FILE",
                 s->http_cert_file ? "HTTP_KEY_FILE" : "HTTP_CERT_FILE");
        rc = -EINVAL;
    }
    if (rc == 0)
        rc = parse_on_off(get, ctx, "HTTP_JOIN", &s->http_join, err, errlen);
    return rc;
}

static void append(char *out, size_t outlen, const char *fmt, const char *a, unsigned long long v)
{
    size_t len = strlen(out);
    if (len < outlen)
        snprintf(out + len, outlen - len, fmt, a, v);
}

void settings_server_line(const struct settings *s, char *out, size_t outlen, char *names,
                          size_t nameslen)
{
    out[0] = names[0] = '\0';
    if (s->conmand_http_port) {
        append(out, outlen, " httpport=%s%llu", "", (unsigned long long)s->conmand_http_port);
        append(names, nameslen, "%sCONMAND_HTTP_PORT", names[0] ? " " : "", 0);
    }
    if (s->conmand_http_addr) {
        append(out, outlen, " httpaddr=%s%.0llu", s->conmand_http_addr, 0);
        append(names, nameslen, "%sCONMAND_HTTP_ADDR", names[0] ? " " : "", 0);
    }
    if (s->log_max) {
        append(out, outlen, " logsize=%s%llu", "", s->log_max);
        append(names, nameslen, "%sLOG_MAX_BYTES", names[0] ? " " : "", 0);
    }
    if (s->log_keep >= 0) {
        append(out, outlen, " logkeep=%s%llu", "", (unsigned long long)s->log_keep);
        append(names, nameslen, "%sLOG_KEEP", names[0] ? " " : "", 0);
    }
    if (s->log_budget) {
        append(out, outlen, " logbudget=%s%llu", "", s->log_budget);
        append(names, nameslen, "%sLOG_BUDGET_BYTES", names[0] ? " " : "", 0);
    }
    for (size_t i = 0; i < 2 && s->log_ship[i]; i++)
        append(out, outlen, " logship=\"%s\"%.0llu", s->log_ship[i], 0);
    if (s->log_ship[0])
        append(names, nameslen, "%sLOG_SHIP", names[0] ? " " : "", 0);
    if (s->event_rules) {
        append(out, outlen, " eventrules=\"%s\"%.0llu", s->event_rules, 0);
        if (!s->event_rules_default)
            append(names, nameslen, "%sEVENT_RULES", names[0] ? " " : "", 0);
    }
    if (s->event_exec) {
        append(out, outlen, " eventexec=\"%s\"%.0llu", s->event_exec, 0);
        append(names, nameslen, "%sEVENT_EXEC", names[0] ? " " : "", 0);
    }
    if (s->http_token_file) {
        append(out, outlen, " httptokenfile=\"%s\"%.0llu", s->http_token_file, 0);
        append(names, nameslen, "%sHTTP_TOKEN_FILE", names[0] ? " " : "", 0);
    }
    if (s->http_cert_file) {
        append(out, outlen, " httpcert=\"%s\"%.0llu", s->http_cert_file, 0);
        append(out, outlen, " httpkey=\"%s\"%.0llu", s->http_key_file, 0);
        append(names, nameslen, "%sHTTP_CERT_FILE HTTP_KEY_FILE", names[0] ? " " : "", 0);
    }
    if (s->http_join) {
        append(out, outlen, " httpjoin=ON%s%.0llu", "", 0);
        append(names, nameslen, "%sHTTP_JOIN", names[0] ? " " : "", 0);
    }
    if (out[0]) {
        char tmp[SETTINGS_SERVER_LINE_MAX];
        snprintf(tmp, sizeof(tmp), "server%s\n", out);
        snprintf(out, outlen, "%s", tmp);
    }
}

/* Letters, digits, '.', '_' (SRV names start "_service._proto") and '-',
 * at most 253 of them: anything else is a typo, not a name to look up. */
static bool dns_name_ok(const char *v)
{
    size_t n = strlen(v);
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)v[i]) && !strchr("._-", v[i]))
            return false;
    return n > 0 && n <= 253;
}

/* SHARD_SRV: a DNS name (it is looked up, never written into a file), and
 * its poll period; one source of members only, or they could disagree. */
static int parse_srv(struct settings *s, settings_lookup_fn get, void *ctx, char *err,
                     size_t errlen)
{
    const char *srv = value_or(get, ctx, "SHARD_SRV", NULL);
    const char *other = NULL;
    if (value_or(get, ctx, "SHARD_MEMBERS", NULL))
        other = "SHARD_MEMBERS";
    else if (value_or(get, ctx, "SHARD_MEMBERS_FILE", NULL))
        other = "SHARD_MEMBERS_FILE";
    if (srv && other) {
        snprintf(err, errlen, "SHARD_SRV=%.100s: %s is set too; give one source of members", srv,
                 other);
        return -EINVAL;
    }
    if (srv && !dns_name_ok(srv)) {
        snprintf(err, errlen,
                 "SHARD_SRV=%.100s: expected a DNS name like _conman._tcp.conman.svc.cluster.local",
                 srv);
        return -EINVAL;
    }
    const char *poll = value_or(get, ctx, "SHARD_SRV_POLL_SEC", "5");
    if (numparse_digits(poll, 1, 3600, &s->shard_srv_poll_sec) < 0) {
        snprintf(err, errlen,
                 "SHARD_SRV_POLL_SEC=%.100s: expected a whole number of seconds from 1 to 3600",
                 poll);
        return -EINVAL;
    }
    return copy_value(&s->shard_srv, "SHARD_SRV", srv, err, errlen);
}

static int parse_shard(struct settings *s, settings_lookup_fn get, void *ctx, char *err,
                       size_t errlen)
{
    const char *list = value_or(get, ctx, "SHARD_MEMBERS", NULL);
    const char *file = value_or(get, ctx, "SHARD_MEMBERS_FILE", NULL);
    const char *self = value_or(get, ctx, "SHARD_SELF", NULL);
    char why[400];
    if (list && file) {
        snprintf(err, errlen,
                 "SHARD_MEMBERS_FILE=%.100s: SHARD_MEMBERS is set too; give one source of members",
                 file);
        return -EINVAL;
    }
    int rc = list ? shard_parse_list(list, &s->shard_members, why, sizeof(why)) : 0;
    if (rc < 0) {
        snprintf(err, errlen, "SHARD_MEMBERS=%.200s: %s", list, why);
        return rc;
    }
    struct shard_member m;
    if (self && (strchr(self, '=') || shard_parse_member(self, &m, why, sizeof(why)) < 0)) {
        snprintf(err, errlen, "SHARD_SELF=%.100s: expected a member name, [A-Za-z0-9._-]{1,%d}",
                 self, SHARD_NAME_MAX);
        return -EINVAL;
    }
    const char *settle = value_or(get, ctx, "SHARD_SETTLE_SEC", "10");
    if (numparse_digits(settle, 0, 3600, &s->shard_settle_sec) < 0) {
        snprintf(err, errlen,
                 "SHARD_SETTLE_SEC=%.100s: expected a whole number of seconds from 0 "
                 "to 3600",
                 settle);
        return -EINVAL;
    }
    rc = copy_value(&s->shard_members_file, "SHARD_MEMBERS_FILE", file, err, errlen);
    if (rc == 0)
        rc = copy_value(&s->shard_self, "SHARD_SELF", self, err, errlen);
    return rc ? rc : parse_srv(s, get, ctx, err, errlen);
}

bool settings_sharded(const struct settings *s)
{
    return s->shard_members.n > 0 || s->shard_members_file || s->shard_srv;
}

int settings_check_self(const struct settings *s, char *err, size_t errlen)
{
    if (!s->shard_members.n || shard_find(&s->shard_members, s->shard_self) >= 0)
        return 0;
    char names[512];
    shard_members_describe(&s->shard_members, names, sizeof(names));
    snprintf(err, errlen, "SHARD_SELF=%.100s: not one of SHARD_MEMBERS (%s)", s->shard_self, names);
    return -EINVAL;
}

static int parse_all(struct settings *s, settings_lookup_fn get, void *ctx, char *err,
                     size_t errlen)
{
    int rc = parse_strings(s, get, ctx, err, errlen);
    if (rc == 0)
        rc = url_join(
            value_or(get, ctx, "API_GATEWAY", "api-gw-service-nmn.local"),
            value_or(get, ctx, "RF_ENDPOINT", "apis/smd/hsm/v2/Inventory/RedfishEndpoints"),
            &s->endpoint_url, err, errlen);
    if (rc == 0)
        rc = url_join_named(
            value_or(get, ctx, "API_GATEWAY", "api-gw-service-nmn.local"),
            value_or(get, ctx, "COMPONENTS_ENDPOINT", "apis/smd/hsm/v2/State/Components?type=Node"),
            "COMPONENTS_ENDPOINT", &s->components_url, err, errlen);
    if (rc == 0)
        rc = parse_port(get, ctx, "PARADISE_PORT", "2200", &s->paradise_port, err, errlen);
    if (rc == 0)
        rc = parse_seconds(get, ctx, "DISCOVERY_RETRY_SEC", "30", 1, &s->discovery_retry_sec, err,
                           errlen);
    if (rc == 0)
        rc = parse_seconds(get, ctx, "HSM_TIMEOUT_SEC", "10", 1, &s->hsm_timeout_sec, err, errlen);
    if (rc == 0)
        rc = parse_seconds(get, ctx, "HARDWARE_UPDATE_SEC", "0", 0, &s->hardware_update_sec, err,
                           errlen);
    if (rc == 0)
        rc = parse_mode(value_or(get, ctx, "CONSOLE_MODE", "bmc"), &s->mode, err, errlen);
    if (rc == 0)
        rc = parse_server(s, get, ctx, err, errlen);
    if (rc == 0)
        rc = parse_http(s, get, ctx, err, errlen);
    if (rc == 0)
        rc = parse_shard(s, get, ctx, err, errlen);
    return rc;
}

int settings_parse(struct settings *s, settings_lookup_fn get, void *ctx, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    int rc = parse_all(s, get, ctx, err, errlen);
    if (rc < 0)
        settings_release(s);
    return rc;
}

void settings_release(struct settings *s)
{
    char **all[] = {&s->endpoint_url,   &s->log_identifier,    &s->user_file,
                    &s->pwd_file,       &s->base_conf,         &s->conman_conf,
                    &s->conmand,        &s->token_file,        &s->ca_file,
                    &s->components_url, &s->ssh_key_file,      &s->ssh_known_hosts,
                    &s->http_addr,      &s->conmand_http_addr, &s->shard_members_file,
                    &s->shard_self,     &s->shard_srv,         &s->event_rules,
                    &s->event_exec,     &s->http_token_file,   &s->http_cert_file,
                    &s->http_key_file};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        free(*all[i]);
        *all[i] = NULL;
    }
    for (size_t i = 0; i < 2; i++) {
        free(s->log_ship[i]);
        s->log_ship[i] = NULL;
    }
    shard_members_release(&s->shard_members);
}
