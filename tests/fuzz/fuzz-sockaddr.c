/* libFuzzer target for the listen addresses of the service side
 * (tp_sock_parse: http.listen, `tapir stats`): the input is the text.
 *
 * Besides crashes and sanitizer reports, it checks what the parser
 * promises: a refused text gets -EINVAL and a message, also into a
 * one-byte buffer; an accepted one is an IPv4 or IPv6 socket address of
 * the right length, and what tp_sock_format writes of it parses back to
 * the same address. */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "service/sock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const struct tp_sock_addr *a, const struct tp_sock_addr *b)
{
	return a->len == b->len && a->any == b->any &&
	       a->ss.ss_family == b->ss.ss_family &&
	       !memcmp(&a->ss, &b->ss, a->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_sock_addr a, b;
	char err[512], shown[80];

	/* Exactly as long as the text, so that a read past its end shows. */
	char *text = malloc(size + 1);
	char *tiny = malloc(1);
	if (!text || !tiny)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	tiny[0] = 'x';

	err[0] = '\0';
	int rc = tp_sock_parse(text, &a, err, sizeof(err));
	if (rc != tp_sock_parse(text, &b, tiny, 1))
		__builtin_trap();
	if (rc < 0) {
		if (rc != -EINVAL || !err[0] || tiny[0] != '\0')
			__builtin_trap();
		goto out;
	}
	if (rc != 0 || !same(&a, &b))
		__builtin_trap();
	if (!(a.ss.ss_family == AF_INET &&
	      a.len == sizeof(struct sockaddr_in)) &&
	    !(a.ss.ss_family == AF_INET6 &&
	      a.len == sizeof(struct sockaddr_in6)))
		__builtin_trap();

	tp_sock_format(&a, shown, sizeof(shown));
	if (tp_sock_parse(shown, &b, err, sizeof(err)) != 0 || !same(&a, &b) ||
	    tp_sock_port(&b) != tp_sock_port(&a))
		__builtin_trap();
out:
	free(text);
	free(tiny);
	return 0;
}
