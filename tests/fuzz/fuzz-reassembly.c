/* libFuzzer target for TCP reassembly: segments and acknowledgements of
 * both directions in any order, any sequence numbers, lengths and
 * truncations.  Every byte offset is handed on at most once, as data or as
 * a gap, in order; the memory cap holds; nothing is left allocated. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flow/reassembly.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t handed[2];

static void on_data(void *arg, int dir, const uint8_t *b, size_t n)
{
	(void)arg;
	if (dir < 0 || dir > 1 || !n || !b)
		abort();
	handed[dir] += n;
}

static void on_gap(void *arg, int dir, uint64_t n)
{
	(void)arg;
	if (dir < 0 || dir > 1 || !n)
		abort();
	handed[dir] += n;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t payload[2048];
	struct tp_reasm r;
	struct tp_reasm_ctx cx;
	memset(&r, 0, sizeof(r));
	memset(&cx, 0, sizeof(cx));
	cx.data = on_data;
	cx.gap = on_gap;
	cx.mem_cap = 8192;
	handed[0] = handed[1] = 0;
	uint64_t before = tp_mem_in_use();
	if (size && (data[0] & 1))
		cx.depth = 1 + data[0];
	/* Records of 8 bytes: op (bit 0 direction, bit 1 ack, bits 2..4
	 * TCP flags SYN/FIN), seq/ack (4), length (2), cut (1). */
	for (size_t i = 1; i + 8 <= size; i += 8) {
		const uint8_t *p = data + i;
		int dir = p[0] & 1;
		uint32_t seq = rd32(p + 1);
		if (p[0] & 2) {
			tp_reasm_ack(&r, &cx, dir, seq);
		} else {
			uint8_t flags = (uint8_t)(((p[0] >> 2) & 1) ? 0x02 : 0) |
					(uint8_t)(((p[0] >> 3) & 1) ? 0x01 : 0);
			uint32_t len = ((uint32_t)p[5] << 8 | p[6]) % 1500;
			uint32_t cap = len - (len * p[7] / 255);
			tp_reasm_segment(&r, &cx, dir, seq, flags, payload, cap,
					 len);
		}
		if (cx.mem_used > cx.mem_cap)
			abort();
		for (int d = 0; d < 2; d++)
			if (handed[d] != r.d[d].next)
				abort();
	}
	tp_reasm_flush(&r, &cx);
	for (int d = 0; d < 2; d++)
		if (r.d[d].held || handed[d] != r.d[d].next)
			abort();
	tp_reasm_free(&r, &cx);
	if (cx.mem_used || tp_mem_in_use() != before)
		abort();
	return 0;
}
