/* Serial consoles: a local character device set raw with the speed, data
 * bits, parity and stop bits of seropts (conf/seropts.c parses them). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "conmand/consoles/console.h"
#include "conmand/consoles/types.h"
#include "conmand/conf/seropts.h"

static void apply(struct termios *t, const struct serial_opts *o)
{
    static const tcflag_t sizes[] = {CS5, CS6, CS7, CS8};
    cfmakeraw(t);
    cfsetispeed(t, serial_speed(o->bps));
    cfsetospeed(t, serial_speed(o->bps));
    t->c_cflag &= ~(tcflag_t)(CSIZE | PARENB | PARODD | CSTOPB);
    t->c_cflag |= sizes[o->databits - 5] | CREAD | CLOCAL;
    if (o->parity != 'n')
        t->c_cflag |= PARENB | (o->parity == 'o' ? PARODD : 0);
    if (o->stopbits == 2)
        t->c_cflag |= CSTOPB;
    t->c_cc[VMIN] = 1;
    t->c_cc[VTIME] = 0;
}

static int serial_open(struct console *c, bool *connecting, char *err, size_t errlen)
{
    struct serial_opts o;
    *connecting = false;
    if (serial_parse_opts(c->cfg.opts, &o, err, errlen) < 0)
        return -EINVAL;
    int fd = open(c->cfg.dev, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "Console [%s]: cannot open \"%s\": %s", c->cfg.name, c->cfg.dev,
                 strerror(e));
        return -e;
    }
    struct termios t;
    if (tcgetattr(fd, &t) < 0 || (apply(&t, &o), tcsetattr(fd, TCSANOW, &t)) < 0) {
        int e = errno;
        close(fd);
        snprintf(err, errlen, "Console [%s]: cannot set \"%s\" to %s: %s", c->cfg.name, c->cfg.dev,
                 c->cfg.opts ? c->cfg.opts : "9600,8n1", strerror(e));
        return -e;
    }
    return fd;
}

static void serial_break(struct console *c)
{
    if (c->fd >= 0)
        tcsendbreak(c->fd, 0);
}

static void serial_describe(const struct console *c, char *out, size_t outlen)
{
    snprintf(out, outlen, "\"%s\"", c->cfg.dev);
}

static const struct console_ops serial_ops = {
    .connect = serial_open,
    .describe = serial_describe,
    .send_break = serial_break,
};

static bool serial_recognise(const char *dev, bool is_chardev)
{
    return dev[0] == '/' && is_chardev;
}

static const char *serial_dev_id(const char *dev)
{
    return conf_basename(dev);
}

const struct console_type console_type_serial = {
    .name = "serial",
    .recognise = serial_recognise,
    .opts_keyword = "seropts",
    .opts_layer = seropts_layer,
    .dev_id = serial_dev_id,
    .ops = &serial_ops,
};
