/* libFuzzer target for the store's manifest reader: any bytes are
 * decoded; an accepted manifest has its entries in name order, and
 * encodes back to the same bytes (the format has one encoding). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/manifest.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_manifest m;
	char err[256];
	if (tp_manifest_decode(&m, data, size, err, sizeof(err)) < 0) {
		if (!err[0])
			abort();
		return 0;
	}
	for (uint32_t i = 0; i < m.n; i++) {
		if (i && strcmp(m.e[i - 1].name, m.e[i].name) >= 0)
			abort();
		if (tp_manifest_find(&m, m.e[i].name) != &m.e[i])
			abort();
	}
	uint8_t *buf;
	size_t len;
	if (tp_manifest_encode(&m, &buf, &len) == 0) {
		/* The reserved word is not kept. */
		if (len != size || memcmp(buf + 16, data + 16, len - 20))
			abort();
		tp_free(buf, len);
	}
	tp_manifest_free(&m);
	return 0;
}
