/* CIDR lists (util/netlist.h). */
#include "util/netlist.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void mask(struct tp_addr *a, unsigned bits)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned lo = i * 8;
		if (bits >= lo + 8)
			continue;
		a->b[i] &= bits <= lo ? 0 : (uint8_t)(0xff00u >> (bits - lo));
	}
}

static int item(const char *s, size_t n, struct tp_netlist *l, char *why,
		size_t whylen)
{
	char buf[64], *slash;
	uint8_t raw[16];
	struct tp_addr a;
	unsigned bits, max;

	if (n >= sizeof(buf))
		goto bad;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if ((slash = strchr(buf, '/')))
		*slash = '\0';
	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, buf, raw) == 1) {
		a.b[10] = a.b[11] = 0xff;
		memcpy(&a.b[12], raw, 4);
		max = 32;
	} else if (inet_pton(AF_INET6, buf, raw) == 1) {
		memcpy(a.b, raw, 16);
		max = 128;
	} else {
		goto bad;
	}
	bits = max;
	if (slash) {
		char *end;
		unsigned long v = strtoul(slash + 1, &end, 10);
		if (!slash[1] || *end || v > max)
			goto bad;
		bits = (unsigned)v;
	}
	if (l->n == TP_NETLIST_MAX) {
		snprintf(why, whylen, "expected at most %d networks",
			 TP_NETLIST_MAX);
		return -1;
	}
	bits += 128 - max;
	mask(&a, bits);
	l->e[l->n].net = a;
	l->e[l->n].bits = (uint8_t)bits;
	l->n++;
	return 0;
bad:
	snprintf(why, whylen, "expected networks like 10.0.0.0/8 or "
		 "fc00::/7, separated by commas or spaces, got '%.*s'",
		 (int)(n > 60 ? 60 : n), s);
	return -1;
}

int tp_netlist_parse(const char *text, struct tp_netlist *l, char *why,
		     size_t whylen)
{
	memset(l, 0, sizeof(*l));
	const char *p = text;
	while (*p) {
		size_t sep = strspn(p, ", \t\n");
		p += sep;
		size_t n = strcspn(p, ", \t\n");
		if (!n)
			break;
		if (item(p, n, l, why, whylen) < 0)
			return -1;
		p += n;
	}
	return 0;
}

bool tp_netlist_has(const struct tp_netlist *l, const struct tp_addr *a)
{
	for (unsigned i = 0; i < l->n; i++) {
		struct tp_addr m = *a;
		mask(&m, l->e[i].bits);
		if (memcmp(&m, &l->e[i].net, sizeof(m)) == 0)
			return true;
	}
	return false;
}
