/* Serial consoles: a local character device set raw with the speed, data
 * bits, parity and stop bits of seropts ("9600,8n1" by default). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "conmand/console.h"
#include "conmand/serial.h"

static const struct {
    unsigned bps;
    speed_t speed;
} speeds[] = {{300, B300},       {1200, B1200},     {2400, B2400},    {4800, B4800},
              {9600, B9600},     {19200, B19200},   {38400, B38400},  {57600, B57600},
              {115200, B115200}, {230400, B230400}, {460800, B460800}};

int serial_parse_opts(const char *s, struct serial_opts *o, char *err, size_t errlen)
{
    struct serial_opts tmp = {9600, 8, 'n', 1};
    if (!s || !*s) {
        *o = tmp;
        return 0;
    }
    char *end;
    unsigned long bps = strtoul(s, &end, 10);
    bool known = false;
    for (size_t i = 0; i < sizeof(speeds) / sizeof(speeds[0]); i++)
        known |= speeds[i].bps == bps;
    if (end == s || !known) {
        snprintf(err, errlen, "seropts \"%s\": unsupported speed", s);
        return -EINVAL;
    }
    tmp.bps = (unsigned)bps;
    if (*end == ',') {
        const char *f = end + 1;
        if (strlen(f) != 3 || f[0] < '5' || f[0] > '8' || !strchr("nNoOeE", f[1]) ||
            (f[2] != '1' && f[2] != '2')) {
            snprintf(err, errlen, "seropts \"%s\": bad framing \"%s\" (want e.g. 8n1)", s, f);
            return -EINVAL;
        }
        tmp.databits = f[0] - '0';
        tmp.parity = (char)(f[1] | 0x20);
        tmp.stopbits = f[2] - '0';
    } else if (*end) {
        snprintf(err, errlen, "seropts \"%s\": unexpected \"%s\"", s, end);
        return -EINVAL;
    }
    *o = tmp;
    return 0;
}

static speed_t to_speed(unsigned bps)
{
    for (size_t i = 0; i < sizeof(speeds) / sizeof(speeds[0]); i++)
        if (speeds[i].bps == bps)
            return speeds[i].speed;
    return B9600;
}

static void apply(struct termios *t, const struct serial_opts *o)
{
    static const tcflag_t sizes[] = {CS5, CS6, CS7, CS8};
    cfmakeraw(t);
    cfsetispeed(t, to_speed(o->bps));
    cfsetospeed(t, to_speed(o->bps));
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
    if (serial_parse_opts(c->cfg.seropts, &o, err, errlen) < 0)
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
                 c->cfg.seropts ? c->cfg.seropts : "9600,8n1", strerror(e));
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

const struct console_ops console_serial_ops = {
    .type = "serial",
    .open = serial_open,
    .describe = serial_describe,
    .send_break = serial_break,
};
