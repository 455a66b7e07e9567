/* Shared libraries loaded on first use: dlopen() once, dlsym() a table of
 * functions, remember the outcome for the life of the process. */
#include "conmand/consoles/dynlib.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *dl_why(void)
{
    const char *e = dlerror();
    return e ? e : "unknown error";
}

static int resolve(struct dynlib *d, void *handle)
{
    for (size_t i = 0; i < d->nsyms; i++) {
        dlerror(); /* a NULL from dlsym is only an error if dlerror says so */
        void *f = dlsym(handle, d->syms[i].name);
        if (!f) {
            snprintf(d->error, sizeof(d->error), "cannot load %s (needed for %s): no symbol %s: %s",
                     d->soname, d->purpose, d->syms[i].name, dl_why());
            return -ELIBBAD;
        }
        /* POSIX guarantees a function's address survives the trip through
         * void *; memcpy avoids the object-to-function pointer cast. */
        memcpy((char *)d->table + d->syms[i].offset, &f, sizeof(f));
    }
    return 0;
}

int dynlib_load(struct dynlib *d)
{
    if (d->state)
        return d->state > 0 ? 0 : d->state;
    /* RTLD_NOW: a missing symbol shows here, not as a crash mid-session.
     * RTLD_LOCAL: its symbols stay out of the global namespace. Never
     * dlclose(): libipmiconsole runs engine threads and libssh/libcrypto
     * keep process-wide state (and exit handlers) until the process ends,
     * even after a missing symbol made the table unusable. */
    void *handle = dlopen(d->soname, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(d->error, sizeof(d->error), "cannot load %s (needed for %s): %s", d->soname,
                 d->purpose, dl_why());
        d->state = -ELIBACC;
        return d->state;
    }
    int rc = resolve(d, handle);
    d->state = rc < 0 ? rc : 1;
    return rc;
}
