/* Addresses and listening sockets of the service side.  See sock.h. */
#include "service/sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse_port(const char *s, uint16_t *port)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

void tp_sock_any(struct tp_sock_addr *a, uint16_t port)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;

	memset(a, 0, sizeof(*a));
	s6->sin6_family = AF_INET6;
	s6->sin6_addr = in6addr_any;
	s6->sin6_port = htons(port);
	a->len = sizeof(*s6);
	a->any = true;
}

int tp_sock_parse(const char *text, struct tp_sock_addr *a, char *err,
		  size_t errlen)
{
	char host[64];
	const char *port_s;
	uint16_t port;

	memset(a, 0, sizeof(*a));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':' ||
		    (size_t)(close - text - 1) >= sizeof(host))
			goto bad;
		memcpy(host, text + 1, (size_t)(close - text - 1));
		host[close - text - 1] = '\0';
		port_s = close + 2;
	} else {
		const char *colon = strrchr(text, ':');
		if (!colon || (size_t)(colon - text) >= sizeof(host))
			goto bad;
		memcpy(host, text, (size_t)(colon - text));
		host[colon - text] = '\0';
		if (strchr(host, ':')) {
			snprintf(err, errlen,
				 "'%s': an IPv6 address goes in brackets, as "
				 "in \"[::1]:8080\"", text);
			return -EINVAL;
		}
		port_s = colon + 1;
	}
	if (parse_port(port_s, &port) < 0)
		goto bad;

	if (host[0] == '\0' || !strcmp(host, "*")) {
		tp_sock_any(a, port);
		return 0;
	}
	if (!strcmp(host, "localhost"))
		snprintf(host, sizeof(host), "127.0.0.1");

	struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
	if (text[0] != '[' && inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		a->len = sizeof(*s4);
		a->any = s4->sin_addr.s_addr == htonl(INADDR_ANY);
		return 0;
	}
	if (text[0] == '[' && inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		a->len = sizeof(*s6);
		a->any = IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr);
		return 0;
	}
bad:
	snprintf(err, errlen,
		 "'%s' is not an address to listen on: expected ADDR:PORT, "
		 "[IPV6]:PORT or :PORT (all addresses), as in "
		 "\"127.0.0.1:8080\", \"[::]:8080\" or \":8080\"", text);
	return -EINVAL;
}

uint16_t tp_sock_port(const struct tp_sock_addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
}

void tp_sock_format(const struct tp_sock_addr *a, char *buf, size_t n)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (a->ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)&a->ss)->sin_addr,
			  host, sizeof(host));
		snprintf(buf, n, "%s:%u", host, tp_sock_port(a));
	} else {
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)&a->ss)->sin6_addr,
			  host, sizeof(host));
		snprintf(buf, n, "[%s]:%u", host, tp_sock_port(a));
	}
}

/* A close-on-exec, non-blocking TCP socket: the fd, or -errno. */
static int tcp_socket(int family)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	return fd < 0 ? -errno : fd;
}

/* Close fd after a failed step: that step's -errno. */
static int close_fail(int fd)
{
	int e = errno;
	close(fd);
	return -e;
}

static int bind_listen(const struct tp_sock_addr *a, bool listen_now,
		       int backlog)
{
	const int one = 1, zero = 0;
	int fd = tcp_socket(a->ss.ss_family);
	if (fd < 0)
		return fd;
	/* A restart must not wait for the old connections' TIME_WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	/* Dual-stack whatever net.ipv6.bindv6only says. */
	if (a->ss.ss_family == AF_INET6 && a->any &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0)
		goto fail;
	if (listen_now && listen(fd, backlog) < 0)
		goto fail;
	return fd;
fail:
	return close_fail(fd);
}

int tp_sock_listen_tcp(const struct tp_sock_addr *a, bool listen_now,
		       int backlog, char *err, size_t errlen)
{
	char where[80];
	int fd = bind_listen(a, listen_now, backlog);

	if (fd == -EAFNOSUPPORT && a->ss.ss_family == AF_INET6 && a->any) {
		/* A host booted with ipv6.disable=1: all IPv4 addresses. */
		struct tp_sock_addr v4 = {.len = sizeof(struct sockaddr_in),
					  .any = true};
		struct sockaddr_in *s4 = (struct sockaddr_in *)&v4.ss;
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_ANY);
		s4->sin_port = htons(tp_sock_port(a));
		fd = bind_listen(&v4, listen_now, backlog);
	}
	if (fd >= 0)
		return fd;

	tp_sock_format(a, where, sizeof(where));
	const char *hint = "";
	if (fd == -EACCES && tp_sock_port(a) < 1024)
		hint = " (a port below 1024 needs root or CAP_NET_BIND_SERVICE)";
	else if (fd == -EADDRINUSE)
		hint = " (another program, or another tapir, holds it: "
		       "`ss -ltnp` names it)";
	else if (fd == -EADDRNOTAVAIL)
		hint = " (no interface of this host has that address)";
	snprintf(err, errlen, "cannot listen on TCP %s: %s%s", where,
		 strerror(-fd), hint);
	return fd;
}

int tp_sock_connect_tcp(const struct sockaddr *sa, socklen_t len,
			int timeout_ms)
{
	int fd = tcp_socket(sa->sa_family);
	if (fd < 0)
		return fd;
	if (connect(fd, sa, len) < 0) {
		if (errno != EINPROGRESS)
			goto fail;
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		int rc = poll(&pfd, 1, timeout_ms);
		if (rc == 0)
			errno = ETIMEDOUT;
		if (rc <= 0)
			goto fail;
		int e = 0;
		socklen_t l = sizeof(e);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l);
		if (e) {
			errno = e;
			goto fail;
		}
	}
	return fd;
fail:
	return close_fail(fd);
}

uint16_t tp_sock_bound_port(int fd)
{
	struct tp_sock_addr a = {.len = sizeof(a.ss)};

	if (getsockname(fd, (struct sockaddr *)&a.ss, &a.len) < 0)
		return 0;
	return tp_sock_port(&a);
}
