/* libFuzzer target: random segment sequences through the tcp.analysis
 * classifier.  Each 16-byte record is one segment: side, flags, window,
 * seq, ack, length, time step, and a window scale option. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "flow/tcp-analysis.h"

static uint32_t rd32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_tcpa a;
	uint64_t t = 0, rtt;
	uint8_t opts[4];

	tp_tcpa_init(&a);
	for (; size >= 16; data += 16, size -= 16) {
		struct tp_pkt p;
		memset(&p, 0, sizeof(p));
		/* small seq/ack deltas as often as big jumps */
		p.seq = (data[0] & 0x80) ? rd32(data + 4) : rd32(data + 4) & 0x3ff;
		p.ack = (data[0] & 0x40) ? rd32(data + 8) : rd32(data + 8) & 0x3ff;
		p.tcp_flags = data[1];
		p.tcp_win = (uint16_t)(data[2] << 8 | data[3]);
		p.payload_len = data[12] & 0x80 ? 1500u * (data[12] & 0x7f) :
						  data[12];
		t += (uint64_t)data[13] * 100000u;
		p.ts_ns = t;
		opts[0] = 1;
		opts[1] = 3;
		opts[2] = 3;
		opts[3] = data[14];
		p.tcp_opts = opts;
		p.tcp_opts_len = (uint8_t)(data[15] & 3) + 1;
		rtt = 0;
		unsigned f = tp_tcpa_update(&a, data[0] & 1, &p, &rtt);
		if ((f & TP_TCPA_ACK_RTT) && rtt == 0)
			__builtin_trap();
	}
	for (int d = 0; d < 2; d++)
		if (a.d[d].ua_n > TP_TCPA_UNACKED ||
		    (a.d[d].rtt_n && a.st[d].rtt_min_us > a.st[d].rtt_max_us))
			__builtin_trap();
	return 0;
}
