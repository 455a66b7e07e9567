/* The telnet byte stream of telnet consoles (consoles/telnet.c), pure: the
 * receive side strips IAC commands and answers option requests through a
 * callback; the send side doubles IAC. No sockets, so it can be tested
 * and fuzzed on its own. */
#ifndef CONMAND_CONSOLES_TELNET_H
#define CONMAND_CONSOLES_TELNET_H

#include <stdbool.h>
#include <stddef.h>

#define TELNET_IAC 255
#define TELNET_DONT 254
#define TELNET_DO 253
#define TELNET_WONT 252
#define TELNET_WILL 251
#define TELNET_SB 250
#define TELNET_BREAK 243
#define TELNET_SE 240
#define TELNET_OPT_BINARY 0
#define TELNET_OPT_ECHO 1
#define TELNET_OPT_SGA 3

/* Receive state of one connection; zeroed at connect. */
struct telnet_rx {
    int state; /* 0 data, TELNET_IAC, TELNET_WILL..DONT awaiting option, TELNET_SB */
    bool sb_iac;
    unsigned char answered[2][256]; /* replies already sent, per direction */
};

/* Bytes to send to the peer (a negotiation reply, or data). */
typedef void (*telnet_out_fn)(void *ctx, const unsigned char *buf, size_t len);

/* Strips telnet commands from `len` received bytes in place (an escaped
 * IAC becomes one 0xFF) and returns the data length left. Accepts the
 * peer's ECHO, SUPPRESS-GO-AHEAD and BINARY, offers SGA and BINARY,
 * refuses the rest, each reply sent once through `out`. */
size_t telnet_rx_filter(struct telnet_rx *t, unsigned char *buf, size_t len, telnet_out_fn out,
                        void *ctx);

/* Sends `len` data bytes through `out` with every IAC doubled. */
void telnet_tx_escape(const unsigned char *buf, size_t len, telnet_out_fn out, void *ctx);

#endif
