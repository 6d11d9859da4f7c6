/* libFuzzer target for the query expression parser of `tapir query`: any
 * text is parsed; a refusal explains itself, an accepted expression keeps
 * its BPF part within bounds and its terms within the table. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tp_expr e;
	char text[TP_EXPR_MAX_LEN + 2], err[1024];
	if (size > TP_EXPR_MAX_LEN + 1)
		size = TP_EXPR_MAX_LEN + 1;
	memcpy(text, data, size);
	text[size] = 0;
	err[0] = 0;
	if (tp_expr_parse(text, &e, err, sizeof(err)) < 0) {
		if (!strstr(err, "(column "))
			abort();
		return 0;
	}
	if (strlen(e.bpf) >= sizeof(e.bpf) || e.nterms > TP_EXPR_MAX_TERMS ||
	    (e.has_vni && e.vni > 0xffffff))
		abort();
	return 0;
}
