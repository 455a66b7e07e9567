/* The settle timer between a membership seen and a membership acted on. */
#include "configure/shardsettle.h"

int shard_settle_see(struct shard_settle *s, struct shard_members *seen, double now)
{
    if (!s->has_active) {
        s->active = *seen;
        s->has_active = true;
        *seen = (struct shard_members)SHARD_MEMBERS_INIT;
        return 1;
    }
    if (shard_members_equal(seen, &s->active)) {
        /* Back to what runs: whatever was pending never happened. */
        shard_members_release(&s->pending);
        s->has_pending = false;
    } else if (!s->has_pending || !shard_members_equal(seen, &s->pending)) {
        shard_members_release(&s->pending);
        s->pending = *seen;
        s->has_pending = true;
        s->since = now;
        *seen = (struct shard_members)SHARD_MEMBERS_INIT;
        return 0;
    }
    shard_members_release(seen);
    return 0;
}

int shard_settle_due(struct shard_settle *s, double now, double settle, struct shard_members *prev)
{
    if (!s->has_pending || now - s->since < settle)
        return 0;
    *prev = s->active;
    s->active = s->pending;
    s->pending = (struct shard_members)SHARD_MEMBERS_INIT;
    s->has_pending = false;
    return 1;
}

double shard_settle_next(const struct shard_settle *s, double settle)
{
    return s->has_pending ? s->since + settle : -1;
}

void shard_settle_forget(struct shard_settle *s)
{
    shard_members_release(&s->pending);
    s->has_pending = false;
}

void shard_settle_release(struct shard_settle *s)
{
    shard_members_release(&s->active);
    shard_members_release(&s->pending);
    s->has_active = s->has_pending = false;
}
