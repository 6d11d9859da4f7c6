/* libFuzzer target for Zeek's software version parser (app/software.c)
 * and the CIDR lists of site.local_nets (util/netlist.c): the input is a
 * User-Agent, Server header or SSH banner, and a network list.
 *
 * Besides crashes and sanitizer reports, it checks what the parser
 * promises: a name and an addl that are NUL-terminated within their
 * arrays, a parse that does not depend on what came before (the same
 * string twice gives the same result), cmp_versions equal to itself and
 * antisymmetric; a network list either parses or says why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app/software.h"
#include "util/netlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct tp_sw_desc a, b, c;
	char clean[256], why[256];
	struct tp_netlist l;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	tp_software_parse(s, &a);
	if (memchr(a.name, '\0', sizeof(a.name)) == NULL ||
	    memchr(a.v.addl, '\0', sizeof(a.v.addl)) == NULL)
		abort();
	tp_software_parse(s, &b);
	if (strcmp(a.name, b.name) != 0 || tp_software_cmp(&a.v, &b.v) != 0)
		abort();
	/* Its two halves against each other. */
	size_t half = strlen(s) / 2;
	tp_software_parse(s + half, &c);
	int x = tp_software_cmp(&a.v, &c.v), y = tp_software_cmp(&c.v, &a.v);
	if (x != -y || x < -1 || x > 1)
		abort();
	tp_software_ssh_clean(s, 1, clean, sizeof(clean));
	tp_software_ssh_clean(s, 0, clean, sizeof(clean));
	why[0] = '\0';
	if (tp_netlist_parse(s, &l, why, sizeof(why)) < 0 && !why[0])
		abort();
	if (l.n > TP_NETLIST_MAX)
		abort();
	free(s);
	return 0;
}
