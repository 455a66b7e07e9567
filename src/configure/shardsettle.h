/* When a new membership is acted on: only once it has been seen unchanged
 * for SHARD_SETTLE_SEC, so a flapping member or a file written in two
 * steps does not move consoles back and forth. Pure: time comes in. */
#ifndef CONFIGURE_SHARDSETTLE_H
#define CONFIGURE_SHARDSETTLE_H

#include "configure/shard.h"

struct shard_settle {
    struct shard_members active;  /* acted on; has_active false: none yet */
    struct shard_members pending; /* seen, differs from active */
    double since;                 /* when pending was first seen */
    bool has_active, has_pending;
};

#define SHARD_SETTLE_INIT                                                                          \
    {                                                                                              \
        SHARD_MEMBERS_INIT, SHARD_MEMBERS_INIT, 0, false, false                                    \
    }

/* Records what the source says now; takes `seen` (left empty). The first
 * membership ever seen becomes active at once: nothing runs yet that a
 * change could disturb. Returns 1 when it did so, else 0. */
int shard_settle_see(struct shard_settle *s, struct shard_members *seen, double now);

/* Makes pending active when it has been stable for `settle` seconds; the
 * active one it replaces goes to `prev` (empty on entry, caller releases).
 * Returns 1 when it did, 0 when nothing is due. */
int shard_settle_due(struct shard_settle *s, double now, double settle, struct shard_members *prev);

/* When shard_settle_due will next have something to do, or -1: never. */
double shard_settle_next(const struct shard_settle *s, double settle);

/* Drops a pending membership (its source went bad or away); the active
 * one stays. */
void shard_settle_forget(struct shard_settle *s);

void shard_settle_release(struct shard_settle *s);

#endif
