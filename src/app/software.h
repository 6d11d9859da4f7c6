/* Software versions as Zeek's software framework parses and compares them
 * (base/frameworks/software/main.zeek: Software::parse, cmp_versions).
 * Used by the inventory (app/known.c) for software.log. */
#ifndef TP_APP_SOFTWARE_H
#define TP_APP_SOFTWARE_H

#include <stddef.h>
#include <stdint.h>

/* Which fields of a version are set (Zeek's &optional). */
#define TP_SWV_MAJOR 0x1u
#define TP_SWV_MINOR 0x2u
#define TP_SWV_MINOR2 0x4u
#define TP_SWV_MINOR3 0x8u
#define TP_SWV_ADDL 0x10u

struct tp_sw_version {
	unsigned have;               /* TP_SWV_* bits */
	uint64_t major, minor, minor2, minor3;
	char addl[64];               /* when TP_SWV_ADDL; cut to 63 bytes */
};

struct tp_sw_desc {
	char name[128];              /* cut to 127 bytes */
	struct tp_sw_version v;
};

/* Zeek's Software::parse of the NUL-terminated string s (a User-Agent, a
 * Server header, an SSH banner without its "SSH-2.0-" prefix): the name
 * ("<parse error>" when none is found, as Zeek) and version into *d.
 * Strings longer than TP_SW_PARSE_MAX are parsed on their first
 * TP_SW_PARSE_MAX bytes. */
#define TP_SW_PARSE_MAX 2048
void tp_software_parse(const char *s, struct tp_sw_desc *d);

/* Zeek's cmp_versions: -1, 0 or 1; an unset field is less than a set one
 * and addl compares as strcmp. */
int tp_software_cmp(const struct tp_sw_version *a,
		    const struct tp_sw_version *b);

/* Zeek's sub() of the SSH identification prefix: the client's
 * /^SSH[0-9\.\-]+/ (client true) or the server's /SSH[0-9\.\-]{2,}/,
 * removed once, into out (n bytes). */
void tp_software_ssh_clean(const char *banner, int client, char *out,
			   size_t n);

#endif
