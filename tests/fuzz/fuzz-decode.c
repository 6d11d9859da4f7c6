/* libFuzzer target for one decoder entry point: the input is the bytes at
 * that layer, decoded by the whole decode loop from there on (so every
 * decoder it leads to is reached too).  Built once per protocol with
 * -DFUZZ_PROTO=TP_P_<NAME>. */
#include <stdint.h>
#include <string.h>

#include "decode/decode.h"
#include "decode/defrag.h"

#ifndef FUZZ_PROTO
#error "build with -DFUZZ_PROTO=TP_P_<NAME>"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tp_decode_cfg cfg;
	static struct tp_dec d;
	static struct tp_pkt p;
	static int ready;
	static uint64_t ts;

	if (!ready) {
		tp_decode_cfg_default(&cfg);
		cfg.verify_checksums = true;
		if (tp_dec_init(&d, &cfg) < 0)
			return 0;
		ready = 1;
	}
	memset(&p, 0, sizeof(p));
	p.data = data;
	p.caplen = (uint32_t)size;
	p.wirelen = (uint32_t)size + (size & 7); /* sometimes truncated */
	p.ts_ns = ts += 1000000;                 /* reassembly timeouts move */
	tp_pkt_reset(&p);
	(void)tp_decode_from(&d, &p, FUZZ_PROTO);
	if ((ts / 1000000) % 4096 == 0)
		tp_defrag_expire(&d, ts);
	return 0;
}
