/* libFuzzer target for a file of app/files.c: its Content-Encoding
 * decoding (gzip, deflate zlib or raw, none), MIME sniffing and hashes
 * over a body handed in pieces and gaps.  The first byte chooses the
 * encoding and the decompression cap (1 KiB to 64 KiB, or the default);
 * then as fuzz-app.c: a control byte (bit 7 a gap, low bits length / 4 +
 * 1) and the bytes.  Whatever the body, nothing crashes, nothing leaks,
 * and seen_bytes never exceeds the cap. */
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

static struct tp_config cfg[2];   /* [1]: a small cap */
static struct tp_files *fs[2];
static struct tp_app_shared *shared;
static struct tp_app_logs *logs;

static void on_weird(struct tp_app_ctx *ctx, const char *name,
		     const char *addl)
{
	(void)ctx;
	if (!name || !name[0] || (addl && strlen(addl) > 4096))
		abort();
}

static void run(const uint8_t *data, size_t size)
{
	if (!size)
		return;
	struct tp_flow flow;
	fuzz_app_flow(&flow, 6);
	struct tp_app_ctx ctx = {
		.ts_ns = 1700000000ull * 1000000000ull,
		.flow = &flow,
		.logs = logs,
		.weird = on_weird,
	};
	int small = (data[0] >> 2) & 1;
	struct tp_files_stats before, after;
	tp_files_stats(fs[small], &before);
	struct tp_file_desc d = {
		.source = "HTTP",
		.is_orig = data[0] & 0x80,
		.seq = 1,
		.filename = (data[0] & 0x40) ? "f.bin" : NULL,
		.encoding = (enum tp_file_encoding)((data[0] & 3) % 3),
	};
	struct tp_file *f = tp_file_open(fs[small], &ctx, &d);
	if (!f)
		abort();
	size_t i = 1;
	while (i < size) {
		uint8_t c = data[i++];
		size_t n = ((size_t)(c & 0x7f) + 1) * 4;
		ctx.ts_ns += 1000;
		if (c & 0x80) {
			tp_file_gap(fs[small], f, &ctx, n);
			continue;
		}
		if (n > size - i)
			n = size - i;
		tp_file_data(fs[small], f, &ctx, data + i, n);
		i += n;
	}
	char mime[TP_FILE_MIME_MAX];
	tp_file_close(fs[small], f, &ctx, mime);
	if (strnlen(mime, sizeof(mime)) == sizeof(mime))
		abort();
	tp_files_stats(fs[small], &after);
	if (d.encoding != TP_FILE_IDENTITY &&
	    after.bytes - before.bytes > cfg[small].app_file_decompress_max)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!shared) {
		for (int k = 0; k < 2; k++)
			tp_config_default(&cfg[k]);
		cfg[1].app_file_decompress_max = 1024 + (size_t)(getpid() % 64) * 1024;
		snprintf(cfg[0].log_dir, sizeof(cfg[0].log_dir),
			 "/tmp/tapir-fuzz-files-%d", (int)getpid());
		mkdir(cfg[0].log_dir, 0755);
		shared = tp_app_shared_new(&cfg[0], NULL, 0);
		logs = shared ? tp_app_logs_new(shared) : NULL;
		fs[0] = tp_files_new(&cfg[0]);
		fs[1] = tp_files_new(&cfg[1]);
		if (!logs || !fs[0] || !fs[1])
			abort();
	}
	/* Twice: the first pass may open files.log; the second must free
	 * all it allocates. */
	uint64_t before = 0;
	for (int pass = 0; pass < 2; pass++) {
		if (pass)
			before = tp_mem_in_use();
		run(data, size);
		if (pass && tp_mem_in_use() != before)
			abort();
	}
	return 0;
}
