/* Addresses and listening sockets of the service side (the HTTP server, the
 * TCP health ports, `tapir stats`).  Not the packet path: these run at
 * start-up and on an operator's request. */
#ifndef TP_SERVICE_SOCK_H
#define TP_SERVICE_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct tp_sock_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	/* All addresses: "[::]" and ":PORT" (dual-stack), "0.0.0.0". */
	bool any;
};

/* Parse "ADDR:PORT", "[V6ADDR]:PORT" or ":PORT" (all addresses, IPv6 and
 * IPv4).  ADDR is a numeric address or "localhost"; no name is looked up.
 * Port 0 is accepted (the kernel picks one).  0, or -EINVAL with err
 * naming the text and the expected form. */
int tp_sock_parse(const char *text, struct tp_sock_addr *a, char *err,
		  size_t errlen);

/* The all-addresses form of port: dual-stack [::]. */
void tp_sock_any(struct tp_sock_addr *a, uint16_t port);

uint16_t tp_sock_port(const struct tp_sock_addr *a);

/* "[2001:db8::1]:80" or "10.0.0.1:80" into buf. */
void tp_sock_format(const struct tp_sock_addr *a, char *buf, size_t n);

/* A TCP socket bound to a, close-on-exec and non-blocking, SO_REUSEADDR;
 * an IPv6 wildcard is dual-stack and falls back to 0.0.0.0 where the host
 * has no IPv6.  Listening with backlog when listen_now, else only bound
 * (the port is held; listen() later).  Returns the fd, or -errno with err
 * naming the address and, for the usual causes, the fix. */
int tp_sock_listen_tcp(const struct tp_sock_addr *a, bool listen_now,
		       int backlog, char *err, size_t errlen);

/* A TCP connection to sa (len bytes), close-on-exec and non-blocking,
 * made within timeout_ms.  Returns the fd (the caller closes it), or -errno:
 * -ETIMEDOUT when no answer came in time. */
int tp_sock_connect_tcp(const struct sockaddr *sa, socklen_t len,
			int timeout_ms);

/* The port a bound socket has (after binding port 0); 0 on error. */
uint16_t tp_sock_bound_port(int fd);

#endif
