/* libFuzzer target for one application parser (FUZZ_PARSER, an ops
 * table): the input is cut into pieces, each handed to the parser as
 * bytes of one direction or as a gap, then the flow ends.  Whatever the
 * bytes, the parser neither crashes nor leaks (ASan), and every record it
 * writes goes through a real log in a per-process folder. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz-common.h"
#include "app/app-flow.h"
#include "app/app.h"
#include "app/files.h"
#include "util/config.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tp_config cfg;
static struct tp_app_shared *shared;
static unsigned long weirds;

static void on_weird(struct tp_app_ctx *ctx, const char *name,
		     const char *addl)
{
	(void)ctx;
	if (!name || !name[0] || (addl && strlen(addl) > 4096))
		abort();
	weirds++;
}

static struct tp_files *files;

static void run(const struct tp_app_ops *ops, struct tp_app_logs *logs,
		const uint8_t *data, size_t size)
{
	struct tp_flow flow;
	fuzz_app_flow(&flow, ops->ipproto);
	struct tp_app_ctx ctx = {
		.ts_ns = 1700000000ull * 1000000000ull,
		.flow = &flow,
		.logs = logs,
		.weird = on_weird,
		.files = files,      /* HTTP bodies become files */
	};
	void *st = calloc(1, ops->state_size);
	if (!st)
		abort();
	ops->init(st);
	/* Pieces: a control byte (bit 7: direction, bit 6: a gap, low
	 * bits: length / 4 + 1), then the bytes. */
	size_t i = 0;
	while (i < size) {
		uint8_t c = data[i++];
		enum tp_app_dir dir = (c & 0x80) ? TP_APP_RESP : TP_APP_ORIG;
		size_t n = ((size_t)(c & 0x3f) + 1) * 4;
		ctx.ts_ns += 1000;
		if (c & 0x40) {
			ops->gap(st, &ctx, dir, n);
			continue;
		}
		if (n > size - i)
			n = size - i;
		ops->data(st, &ctx, dir, data + i, n);
		i += n;
	}
	ops->end(st, &ctx);
	ops->fini(st);
	free(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct tp_app_ops *ops = &FUZZ_PARSER;
	if (!shared) {
		tp_config_default(&cfg);
		snprintf(cfg.log_dir, sizeof(cfg.log_dir),
			 "/tmp/tapir-fuzz-app-%d", (int)getpid());
		mkdir(cfg.log_dir, 0755);
		shared = tp_app_shared_new(&cfg, NULL, 0);
		files = tp_files_new(&cfg);
		if (!shared || !files)
			abort();
	}
	static struct tp_app_logs *logs;
	if (!logs && !(logs = tp_app_logs_new(shared)))
		abort();
	/* Twice: the first pass may open the parser's log (kept for the
	 * process); the second must free all it allocates. */
	uint64_t before = 0;
	for (int pass = 0; pass < 2; pass++) {
		if (pass)
			before = tp_mem_in_use();
		run(ops, logs, data, size);
		if (pass && tp_mem_in_use() != before)
			abort();
	}
	return 0;
}
