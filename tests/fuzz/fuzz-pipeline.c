/* libFuzzer target for the whole pipeline behind a capture source: the
 * input is a sequence of frames, each a 2-byte length, a 1-byte link type
 * choice and the frame; they go through decode, sessions, dedup, flows and
 * the log writers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include "dispatch/pipeline.h"
#include "fuzz-common.h"
#include "util/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t linktypes[] = {1, 113, 276, 0, 101, 228, 229};
	static struct tp_config cfg;
	struct tp_pkt p;
	uint64_t ts = 1700000000ull * 1000000000ull;

	struct tp_pipeline *pl = fuzz_pipeline_new(&cfg);
	while (size >= 3) {
		size_t n = (size_t)data[0] << 8 | data[1];
		uint8_t lt = data[2];
		data += 3;
		size -= 3;
		if (n > size)
			n = size;
		memset(&p, 0, sizeof(p));
		p.data = data;
		p.caplen = (uint32_t)n;
		p.wirelen = (uint32_t)n + (lt & 0x80 ? 100 : 0);
		p.linktype = linktypes[(lt & 0x7f) % 7];
		ts += (uint64_t)(lt & 0x0f) * 7000000ull; /* up to ~0.1 s apart */
		p.ts_ns = ts;
		tp_pipeline_packet(pl, &p);
		data += n;
		size -= n;
	}
	tp_pipeline_finish(pl);
	tp_pipeline_free(pl);
	return 0;
}
