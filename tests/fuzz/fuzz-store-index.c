/* libFuzzer target for the store's index reader: any bytes are decoded;
 * an accepted index must keep every packet offset inside its segment and
 * in order within its stream, and must encode and decode back to the same
 * offsets. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/index.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every offset of ix, grouped by stream; NULL on ENOMEM. */
static uint64_t *expand(const struct tp_index *ix)
{
	uint64_t *offs = tp_calloc(ix->npkts ? ix->npkts : 1, sizeof(*offs));
	if (!offs)
		return NULL;
	for (uint32_t s = 0; s < ix->nstreams; s++)
		tp_index_stream_offs(ix, s, offs + ix->streams[s].first);
	return offs;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_index ix, back;
	char err[256];
	if (tp_index_decode(&ix, data, size, err, sizeof(err)) < 0) {
		if (!err[0])
			abort();
		return 0;
	}
	size_t n = (ix.npkts ? ix.npkts : 1) * sizeof(uint64_t);
	uint64_t *offs = expand(&ix);
	if (!offs)
		abort();
	for (uint32_t s = 0; s < ix.nstreams; s++) {
		const uint64_t *o = offs + ix.streams[s].first;
		for (uint32_t k = 0; k < ix.streams[s].npkts; k++) {
			if (o[k] < TP_IDX_FIRST_OFF || o[k] + 16 > ix.seg_bytes)
				abort();
			if (k && o[k] <= o[k - 1])
				abort();
		}
	}
	ix.offs = offs;
	uint8_t *buf;
	size_t len;
	if (tp_index_encode(&ix, &buf, &len) == 0) {
		if (tp_index_decode(&back, buf, len, err, sizeof(err)) != 0 ||
		    back.npkts != ix.npkts || back.nstreams != ix.nstreams)
			abort();
		uint64_t *again = expand(&back);
		if (!again || memcmp(again, offs, n))
			abort();
		tp_free(again, n);
		tp_index_free(&back);
		tp_free(buf, len);
	}
	ix.offs = NULL;
	tp_free(offs, n);
	tp_index_free(&ix);
	return 0;
}
