/* libFuzzer target for one application parser (FUZZ_APP: tls, ssh or
 * x509), driven as the flow code drives it.
 *
 * tls, ssh: the input is a run of chunks, each a control byte (bit 0: the
 * direction; bit 1: a gap instead of bytes) and a length byte (n + 1),
 * then n + 1 bytes of that direction's stream; the flow ends with the
 * input.  x509: the input is one DER certificate, as a Certificate message
 * carries it.
 *
 * Logs go to /tmp/tapir-fuzz-app-PID (opened afresh every few thousand
 * runs, so that a long campaign does not fill the disk).  Besides crashes
 * and sanitizer reports it checks that a parser writes at most one record
 * of its own log per flow. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../unit/app-logs.h"
#include "app/ssh.h"
#include "app/tls.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_tls 1
#define FUZZ_ssh 2
#define FUZZ_x509 3
#define CAT(a, b) a##b
#define XCAT(a, b) CAT(a, b)
#define KIND XCAT(FUZZ_, FUZZ_APP)

static struct tp_app_logs logs;
static unsigned runs;

static void logs_fresh(void)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/tmp/tapir-fuzz-app-%d", (int)getpid());
	mkdir(dir, 0700);
	if (logs.weird)
		app_logs_close(&logs);
	if (app_logs_open(&logs, dir, TP_FMT_JSON) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_flow flow;
	struct tp_app_ctx ctx;

	if (runs++ % 4096 == 0)
		logs_fresh();
	app_flow_v4(&flow, 0xc0000201, 50000, 0xc0000202, 443,
		    UINT64_C(1700000000000000000));
	memset(&ctx, 0, sizeof(ctx));
	ctx.ts_ns = flow.first_ns;
	ctx.flow = &flow;
	ctx.logs = &logs;
	ctx.weird = app_logs_weird;

#if KIND == FUZZ_x509
	struct tp_x509_seen seen;
	if (tp_x509_log(&ctx, data, size, true, false, true, "example.com",
			&seen) == 0) {
		if (strlen(seen.fp) != 64)
			__builtin_trap();
		tp_strfree(seen.subject);
		tp_strfree(seen.issuer);
	}
#else
	const struct tp_app_ops *ops = KIND == FUZZ_tls ? &tp_app_tls
							: &tp_app_ssh;
	const struct tp_log_schema *own = KIND == FUZZ_tls ? &tp_ssl_schema
							   : &tp_ssh_schema;
	static void *st;
	if (!st && !(st = malloc(ops->state_size)))
		abort();
	uint64_t before = app_logs_count(&logs, own);
	ops->init(st);
	size_t i = 0;
	while (i + 2 <= size) {
		uint8_t c = data[i];
		size_t n = (size_t)data[i + 1] + 1;
		i += 2;
		enum tp_app_dir dir = (c & 1) ? TP_APP_RESP : TP_APP_ORIG;
		if (c & 2) {
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
	if (app_logs_count(&logs, own) > before + 1)
		__builtin_trap();
#endif
	return 0;
}
