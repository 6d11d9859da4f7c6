/* libFuzzer target for a tunnel payload as a UDP socket source delivers it
 * (capture/udp.c): no outer headers in the bytes, `first` naming VXLAN or
 * Geneve and the outer addresses and ports from the socket.  The first
 * input byte chooses the encapsulation (bit 0), the outer IP version (bit
 * 1) and the sender's port (the rest); the other bytes are the datagram.
 * It goes through the pipeline of `tapir run` as a receive thread drives
 * it: front, flush, then the end of a run.
 *
 * Besides crashes and sanitizer reports, it checks that the counters the
 * HTTP server would send (/api/stats) are one whole JSON value to the
 * reader `tapir stats` uses, whatever sessions the payload made. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/rx.h"
#include "decode/decode.h"
#include "dispatch/pipeline.h"
#include "fuzz-common.h"
#include "service/json-scan.h"
#include "util/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The stats as JSON: exactly one value, then white space. */
static void check_stats(struct tp_pipeline *pl)
{
	static char buf[1 << 16];
	struct tp_json_cur c;

	size_t len = tp_pipeline_stats_json(pl, buf, sizeof(buf));
	if (len == 0 || len >= sizeof(buf))
		__builtin_trap();
	tp_json_init(&c, buf, len);
	tp_json_skip(&c);
	tp_json_ws(&c);
	if (c.bad || c.p != c.end)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t src4[4] = {10, 0, 1, 5}, dst4[4] = {10, 0, 0, 2};
	static const uint8_t src6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 5};
	static const uint8_t dst6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};
	static struct tp_config cfg;
	uint64_t ts = 1700000000ull * 1000000000ull;
	struct tp_pkt p;

	if (size < 1)
		return 0;
	uint8_t how = data[0];
	data++;
	size--;
	if (size > TP_RX_FRAME)
		size = TP_RX_FRAME; /* the receive buffer */

	memset(&p, 0, sizeof(p));
	p.data = data;
	p.caplen = (uint32_t)size;
	p.ts_ns = ts;
	p.linktype = 0;
	p.first = how & 1 ? TP_P_GENEVE : TP_P_VXLAN;
	p.outer_sport = (uint16_t)(49152 + (how >> 2));
	p.outer_dport = how & 1 ? 6081 : 4789;
	if (how & 2) {
		p.outer_ipver = 6;
		memcpy(p.outer_src.b, src6, 16);
		memcpy(p.outer_dst.b, dst6, 16);
		p.wirelen = p.caplen + 40 + 8;
	} else {
		p.outer_ipver = 4;
		tp_addr_from_v4(&p.outer_src, src4);
		tp_addr_from_v4(&p.outer_dst, dst4);
		p.wirelen = p.caplen + 20 + 8;
	}

	struct tp_pipeline *pl = fuzz_pipeline_new_live(&cfg);
	struct tp_front *f = tp_pipeline_front(pl, 0);
	tp_front_packet(f, &p);
	tp_front_flush(f, ts);
	tp_front_flush(f, 0);
	tp_pipeline_finish(pl);
	check_stats(pl);
	tp_pipeline_free(pl);
	return 0;
}
