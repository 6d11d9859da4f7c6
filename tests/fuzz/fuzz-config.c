/* libFuzzer target for the configuration parsers: the input is loaded as a
 * YAML file, and each of its lines is also applied as a `--set key=value`.
 *
 * Besides crashes and sanitizer reports, it checks what the loaders
 * promise: a refused input leaves the configuration unchanged and explains
 * itself, and an accepted one holds only values within every key's bounds
 * (tp_config_validate may then object only to a port listed as both VXLAN
 * and Geneve, a constraint between keys). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/* libfyaml 0.7.12 leaks the text of a quoted scalar with many escapes
 * ('a''''''''''b'): fy_node_get_scalar grows an atom chunk array on the
 * heap and never frees it (the same array as pantoniou/libfyaml#337).
 * tapir reads its configuration once, so the loss is small and bounded;
 * it is left out of leak reports here so that the fuzzer goes on to find
 * tapir's own faults.  The unit tests, run under ASan without this list,
 * check that tapir frees every libfyaml object it makes. */
const char *__lsan_default_suppressions(void)
{
	return "leak:libfyaml.so\n";
}

static struct tp_config cfg, before;

static void check(int rc, const char *err)
{
	char verr[512];

	if (rc != 0) {
		/* Refused: unchanged, and a message was written. */
		if (memcmp(&cfg, &before, sizeof(cfg)) != 0 || !err[0])
			__builtin_trap();
		return;
	}
	if (tp_config_validate(&cfg, verr, sizeof(verr)) != 0 &&
	    strncmp(verr, "config: port ", 13) != 0)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512], line[512];
	size_t off = 0;
	int rc;

	tp_config_default(&cfg);
	memcpy(&before, &cfg, sizeof(cfg));
	err[0] = '\0';
	rc = tp_config_load_string(&cfg, "fuzz.yaml", (const char *)data, size,
				   err, sizeof(err));
	check(rc, err);

	for (int n = 0; n < 32 && off < size; n++) {
		const uint8_t *nl = memchr(data + off, '\n', size - off);
		size_t len = nl ? (size_t)(nl - (data + off)) : size - off;

		if (len >= sizeof(line))
			len = sizeof(line) - 1;
		memcpy(line, data + off, len);
		line[len] = '\0';
		off = nl ? (size_t)(nl - data) + 1 : size;

		memcpy(&before, &cfg, sizeof(cfg));
		err[0] = '\0';
		rc = tp_config_set(&cfg, line, err, sizeof(err));
		check(rc, err);
	}
	return 0;
}
