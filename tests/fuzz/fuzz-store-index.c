/* libFuzzer target for the store's index reader: any bytes are decoded;
 * an accepted index must keep every packet offset inside its segment and
 * in order within its stream, and must encode and decode back to the same
 * tables. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/index.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_index ix, back;
	char err[256];
	if (tp_index_decode(&ix, data, size, err, sizeof(err)) < 0) {
		if (!err[0])
			abort();
		return 0;
	}
	for (uint32_t s = 0; s < ix.nstreams; s++)
		for (uint32_t k = 0; k < ix.streams[s].npkts; k++) {
			uint64_t o = ix.offs[ix.streams[s].first + k];
			if (o < TP_IDX_FIRST_OFF || o + 16 > ix.seg_bytes)
				abort();
			if (k && o <= ix.offs[ix.streams[s].first + k - 1])
				abort();
		}
	uint8_t *buf;
	size_t len;
	if (tp_index_encode(&ix, &buf, &len) == 0) {
		if (tp_index_decode(&back, buf, len, err, sizeof(err)) != 0 ||
		    back.npkts != ix.npkts || back.nstreams != ix.nstreams ||
		    (ix.npkts && memcmp(back.offs, ix.offs,
					ix.npkts * sizeof(*ix.offs))))
			abort();
		tp_index_free(&back);
		tp_free(buf, len);
	}
	tp_index_free(&ix);
	return 0;
}
