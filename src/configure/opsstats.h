/* What configure_conman tells its HTTP endpoints: one plain struct the main
 * loop fills, and the pure decisions and Prometheus text made from it. */
#ifndef CONFIGURE_OPSSTATS_H
#define CONFIGURE_OPSSTATS_H

#include <stdbool.h>
#include <stddef.h>

#define OPSSTATS_BUCKETS 10 /* HSM request duration histogram, +Inf included */
#define OPSSTATS_CAUSES 16  /* distinct conmand exit causes kept; then "other" */
#define OPSSTATS_STALE_SEC 5.0

struct opsstats_cause {
    char name[24]; /* "exit_<code>" or "signal_<NAME>" */
    unsigned long long n;
};

/* Plain data, no pointers: copied whole between the threads. Times named
 * _mono are CLOCK_MONOTONIC seconds, _unix are wall-clock seconds. */
struct opsstats {
    double heartbeat_mono;  /* the main loop's last turn */
    double busy_until_mono; /* a bounded blocking call (HSM, stopping conmand) runs until then */
    bool have_config;       /* a usable CONMAN_CONF exists (written or frozen) */
    long conmand_port;      /* conmand's client port (SERVER port=) */
    unsigned long long discoveries_ok, discoveries_error;
    double last_discovery_unix, last_success_unix; /* 0: never */
    bool last_discovery_ok;
    unsigned long long consoles;
    unsigned long long hsm_buckets[OPSSTATS_BUCKETS]; /* not cumulative */
    double hsm_seconds_sum;
    unsigned long long hsm_requests, hsm_errors;
    unsigned long long conmand_starts, conmand_restarts;
    struct opsstats_cause causes[OPSSTATS_CAUSES];
    unsigned long long causes_other;
    bool conmand_up;
    double conmand_start_unix;
    /* Scale-out; the shard metrics are left out when not sharded. */
    bool sharded;
    unsigned long long shard_members; /* in the acted-on membership */
    unsigned long long shard_owned;   /* consoles this instance owns in the file it wrote */
    unsigned long long shard_changes; /* membership changes acted on */
};

/* Counts one HSM request of `seconds`, failed or not. */
void opsstats_hsm_request(struct opsstats *s, double seconds, bool failed);

/* Counts one conmand exit by its wait status. */
void opsstats_conmand_exit(struct opsstats *s, int status);

/* "exit_<code>" / "signal_SIG<NAME>" (or signal_<number>) for a wait status. */
void opsstats_cause_name(int status, char *buf, size_t buflen);

/* /healthz: true while the main loop turned within OPSSTATS_STALE_SEC of
 * `now_mono`, or runs a bounded blocking call; else a reason in `why`. */
bool opsstats_healthy(const struct opsstats *s, double now_mono, char *why, size_t whylen);

/* /readyz, all but the TCP connect: a usable configuration and a running
 * conmand. False with a one-line reason otherwise. */
bool opsstats_ready(const struct opsstats *s, char *why, size_t whylen);

/* The Prometheus text (format 0.0.4) of `s` in a new string the caller
 * frees. Returns 0 or -ENOMEM. */
int opsstats_metrics(const struct opsstats *s, char **out, size_t *len);

/* conmand's client port as conman.conf sets it: the last SERVER port=
 * (keyword case ignored, value optionally quoted), 7890 when none. */
long opsstats_conf_port(const char *conf);

#endif
