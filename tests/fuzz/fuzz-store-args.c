/* libFuzzer target for what a store query reads besides its expression:
 * the times and limits of `tapir query` and GET /api/pcap
 * (store/query-args.c), and the conn.log lines a `uid` is looked up in
 * (store/flow-terms.c), JSON and Zeek TSV.  The first byte picks the
 * parser; the rest is its text. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/flow-terms.h"
#include "store/query-args.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char zeek_fields[] =
	"ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\t"
	"service\tduration\tip_proto\tzone";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[4096];
	uint64_t a, b;
	struct tp_conn_ref r;

	if (size < 1)
		return 0;
	uint8_t pick = data[0] % 4;
	data++;
	size--;
	if (size >= sizeof(text))
		size = sizeof(text) - 1;
	memcpy(text, data, size);
	text[size] = 0;
	switch (pick) {
	case 0:
		if (tp_query_parse_time(text, 1800000000000000000ull, &a) == 0 &&
		    strchr("smhd", text[strlen(text) - 1]) &&
		    a > 1800000000000000000ull)
			abort();   /* a duration goes back, never forward */
		break;
	case 1:
		if (tp_query_parse_limit(text, &a, &b) == 0 && !a == !b)
			abort();   /* packets or bytes, one of them */
		break;
	case 2:
		if (tp_conn_ref_parse(text, size, NULL, &r) == 0 &&
		    (r.ipver != 4 && r.ipver != 6))
			abort();
		break;
	default: {
		/* A fields header of its own, up to the first newline. */
		char *nl = strchr(text, '\n');
		const char *fields = zeek_fields, *line = text;
		if (nl) {
			*nl = 0;
			fields = text;
			line = nl + 1;
		}
		if (tp_conn_ref_parse(line, strlen(line), fields, &r) == 0 &&
		    strlen(r.uid) >= sizeof(r.uid))
			abort();
		break;
	}
	}
	return 0;
}
