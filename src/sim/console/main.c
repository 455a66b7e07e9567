/* console-sim: many simulated serial consoles in one process, for ipmi_sim's
 * SOL backend, conmand's telnet/unix consoles, tests and benchmarks. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "common/log.h"
#include "sim/console/server.h"
#include "sim/console/simopts.h"

struct app {
    struct simserver *server;
    uv_signal_t sigint, sigterm;
};

static void on_signal(uv_signal_t *sig, int signum)
{
    struct app *app = sig->data;
    log_info("signal %d: stopping", signum);
    simserver_stop(app->server);
    uv_close((uv_handle_t *)&app->sigint, NULL);
    uv_close((uv_handle_t *)&app->sigterm, NULL);
}

/* One listening socket per console: thousands need the hard limit. */
static void raise_fd_limit(size_t nconsoles)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
        return;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        log_warn("cannot raise the open-file limit for %zu consoles: %s", nconsoles,
                 strerror(errno));
}

static int parse(struct sim_options *o, int argc, char **argv)
{
    char err[512] = "";
    int rc = simopts_parse_args(o, argc, argv, err, sizeof(err));
    if (rc == 1) {
        fputs(simopts_usage, stdout);
        return 1;
    }
    if (rc == 0)
        rc = simopts_validate(o, err, sizeof(err));
    if (rc < 0) {
        log_error("%s", err);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    log_init("console-sim", stderr, LOG_LEVEL_INFO);
    signal(SIGPIPE, SIG_IGN);
    struct sim_options o;
    simopts_init(&o);
    int rc = parse(&o, argc, argv);
    if (rc != 0) {
        simopts_release(&o);
        return rc > 0 ? 0 : 2;
    }
    raise_fd_limit(o.nspecs);

    uv_loop_t *loop = uv_default_loop();
    struct app app = {0};
    char err[512] = "";
    int status = 0;
    if (simserver_start(loop, &o, stdout, &app.server, err, sizeof(err)) < 0) {
        log_error("%s", err);
        status = 1;
        if (app.server)
            simserver_stop(app.server);
    } else {
        uv_signal_init(loop, &app.sigint);
        uv_signal_init(loop, &app.sigterm);
        app.sigint.data = app.sigterm.data = &app;
        uv_signal_start(&app.sigint, on_signal, SIGINT);
        uv_signal_start(&app.sigterm, on_signal, SIGTERM);
        log_info("serving %zu consoles (%s, %g lines/s)", o.nspecs, o.burst ? "burst" : "paced",
                 o.rate);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    simserver_free(app.server);
    uv_loop_close(loop);
    simopts_release(&o);
    return status;
}
