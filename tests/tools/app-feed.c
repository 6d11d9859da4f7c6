/* app-feed: drive one application parser (tls or ssh) over the two
 * directions of a TCP stream, as the flow code would, and write its logs.
 *
 *   app-feed tls|ssh STREAM OUTDIR
 *
 * STREAM is text, one item a line (tests/pcap/app.py writes it from
 * tshark's "follow,tcp,raw"):
 *
 *   flow ORIG_IP ORIG_PORT RESP_IP RESP_PORT TS_NS
 *   o TS_NS HEX          bytes from the originator
 *   r TS_NS HEX          bytes from the responder
 *   go N | gr N          N bytes of that direction lost
 *
 * Each o/r line is one data call (one TCP segment).  Logs go to OUTDIR in
 * JSON, weirds to OUTDIR/weird.txt.  Exit 0, or 2 on a bad command line
 * or stream file. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/app-logs.h"
#include "app/ssh.h"
#include "app/tls.h"

static int parse_addr(const char *s, struct tp_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->b + 12) == 1) {
		a->b[10] = a->b[11] = 0xff;
		return 4;
	}
	return inet_pton(AF_INET6, s, a->b) == 1 ? 6 : 0;
}

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	while (s[0] && s[1] && n < cap) {
		unsigned v;
		if (sscanf(s, "%2x", &v) != 1)
			break;
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

int main(int argc, char **argv)
{
	const struct tp_app_ops *ops;
	struct tp_app_logs logs;
	struct tp_flow flow;
	struct tp_app_ctx ctx;

	if (argc != 4) {
		fprintf(stderr, "usage: app-feed tls|ssh STREAM OUTDIR\n");
		return 2;
	}
	ops = !strcmp(argv[1], "tls") ? &tp_app_tls
	      : !strcmp(argv[1], "ssh") ? &tp_app_ssh : NULL;
	FILE *in = fopen(argv[2], "r");
	if (!ops || !in || app_logs_open(&logs, argv[3], TP_FMT_JSON) < 0) {
		fprintf(stderr, "app-feed: bad parser, stream or folder\n");
		return 2;
	}
	size_t cap = 1 << 20;
	char *line = malloc(2 * cap + 64);
	uint8_t *buf = malloc(cap);
	void *st = calloc(1, ops->state_size);
	if (!line || !buf || !st)
		return 2;
	memset(&flow, 0, sizeof(flow));
	memset(&ctx, 0, sizeof(ctx));
	ctx.flow = &flow;
	ctx.logs = &logs;
	ctx.weird = app_logs_weird;
	ops->init(st);
	bool started = false;
	while (fgets(line, (int)(2 * cap + 64), in)) {
		char a[64], b[64];
		unsigned pa, pb;
		unsigned long long ts, n;
		if (sscanf(line, "flow %63s %u %63s %u %llu", a, &pa, b, &pb,
			   &ts) == 5) {
			int v = parse_addr(a, &flow.key.a[0]);
			if (!v || parse_addr(b, &flow.key.a[1]) != v)
				return 2;
			flow.key.port[0] = (uint16_t)pa;
			flow.key.port[1] = (uint16_t)pb;
			flow.key.proto = 6;
			flow.key.ipver = (uint8_t)v;
			flow.first_ns = flow.last_ns = ts;
			started = true;
			continue;
		}
		if (!started)
			return 2;
		if ((line[0] == 'o' || line[0] == 'r') && line[1] == ' ') {
			char *sp = strchr(line + 2, ' ');
			if (!sp)
				return 2;
			ctx.ts_ns = strtoull(line + 2, NULL, 10);
			flow.last_ns = ctx.ts_ns;
			size_t k = unhex(sp + 1, buf, cap);
			ops->data(st, &ctx, line[0] == 'o' ? TP_APP_ORIG
							   : TP_APP_RESP, buf, k);
		} else if (sscanf(line, "go %llu", &n) == 1) {
			ops->gap(st, &ctx, TP_APP_ORIG, n);
		} else if (sscanf(line, "gr %llu", &n) == 1) {
			ops->gap(st, &ctx, TP_APP_RESP, n);
		}
	}
	ops->end(st, &ctx);
	ops->fini(st);
	app_logs_close(&logs);
	fclose(in);
	free(st);
	free(buf);
	free(line);
	return 0;
}
