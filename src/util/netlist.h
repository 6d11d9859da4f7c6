/* A list of IP networks in CIDR form ("10.0.0.0/8 fc00::/7"), for
 * site.local_nets: which addresses are the site's own (Zeek's
 * Site::local_nets). */
#ifndef TP_UTIL_NETLIST_H
#define TP_UTIL_NETLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode/packet-t.h"

#define TP_NETLIST_MAX 64

struct tp_netlist {
	unsigned n;
	struct {
		struct tp_addr net;  /* v4-mapped for IPv4, host bits zero */
		uint8_t bits;        /* prefix length over the 128 bits */
	} e[TP_NETLIST_MAX];
};

/* Parse networks separated by commas or white space, each an address
 * with an optional /prefix (a bare address is one host).  0, or -1 with
 * "expected ..." naming the bad item in why. */
int tp_netlist_parse(const char *text, struct tp_netlist *l, char *why,
		     size_t whylen);

/* Is a in one of l's networks? */
bool tp_netlist_has(const struct tp_netlist *l, const struct tp_addr *a);

#endif
