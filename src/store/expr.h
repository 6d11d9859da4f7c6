/* Query expressions of `tapir query`: BPF over the inner packet, plus
 * tapir's own fields, combined with `and` at the top level:
 *
 *   expr  := term { ("and" | "&&") term }
 *   term  := "vni" NUMBER | "session" NAME | "zone" NAME | "uid" UID
 *          | "community-id" ID | BPF
 *
 * Where the expression has an `or` (or `||`) at the top level, or a
 * tapir field inside parentheses or after `not`, only BPF is allowed.
 * The BPF terms are handed to libpcap as one expression, joined with
 * `and`.  Terms of the forms `[src|dst] host ADDR`, `[tcp|udp|sctp]
 * [src|dst] port N` and `tcp|udp|sctp|icmp|icmp6` name index postings
 * that narrow the candidates (docs/internals/store.md). */
#ifndef TP_STORE_EXPR_H
#define TP_STORE_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode/packet-t.h"

#define TP_EXPR_MAX_TERMS 16
#define TP_EXPR_MAX_LEN 4000

enum tp_expr_kind {
	TP_EXPR_HOST = 1,
	TP_EXPR_PORT,
	TP_EXPR_PROTO,
};

struct tp_expr_term {
	uint8_t kind;            /* enum tp_expr_kind */
	struct tp_addr addr;     /* HOST, v4-mapped for IPv4 */
	uint32_t val;            /* PORT: port; PROTO: IP protocol */
};

struct tp_expr {
	char bpf[TP_EXPR_MAX_LEN + 64]; /* "" : every frame */
	bool has_vni;
	uint32_t vni;
	bool has_session;
	char session[64];
	/* Flow terms, matched by store/flow-terms.c. */
	bool has_zone;
	char zone[64];           /* a zone's name, as in the configuration */
	bool has_uid;
	char uid[32];            /* a conn.log uid, "C" and letters/digits */
	bool has_cid;
	char cid[64];            /* a Community ID v1, "1:" + base64 */
	/* The top level is a conjunction: every term must hold, so each
	 * term below may narrow the candidates by the index. */
	bool conjunction;
	unsigned nterms;
	struct tp_expr_term terms[TP_EXPR_MAX_TERMS];
};

/* Parse text into e.  0, or -EINVAL with a message in err that names the
 * mistake and shows where it is (the expression with a caret line below). */
int tp_expr_parse(const char *text, struct tp_expr *e, char *err,
		  size_t errlen);

#endif
