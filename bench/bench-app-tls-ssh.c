/* bench-app-tls-ssh: the cost of the TLS (with X.509) and SSH parsers
 * alone, over the TCP streams of a capture.
 *
 *   bench-app-tls-ssh [-r K] [-o DIR] FILE
 *
 * Loads FILE (pcap or pcapng, Ethernet, through libpcap), puts the payload
 * of every TCP segment to or from port 443 (TLS) or 22 (SSH) in sequence
 * order per direction (a repeat is dropped, a hole is a gap), then K times
 * (default 5) runs the parsers over all of them with their logs in DIR
 * (default a folder on /dev/shm), as the flow code would: init, data per
 * segment, end, fini.  Reports per repetition the CPU time of the parsing
 * alone, payload bytes and handshakes per CPU second, and the state size
 * of each parser.  The last line is machine-readable:
 *   RESULT flows=... bytes=... cpu=... (median of K) */
#include <arpa/inet.h>
#include <getopt.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../tests/unit/app-logs.h"
#include "app/ssh.h"
#include "app/tls.h"

struct seg {
	uint32_t flow;
	uint8_t dir;
	uint8_t gap;                 /* len is a gap, not bytes */
	uint32_t len;
	uint64_t ts;
	const uint8_t *p;
};

struct bflow {
	uint8_t key[36];             /* addresses and ports, orig first */
	struct tp_flow flow;
	const struct tp_app_ops *ops;
	uint32_t next[2];
	uint8_t started[2];
};

static struct bflow *flows;
static size_t nflows, capflows;
static struct seg *segs;
static size_t nsegs, capsegs;

static void *grow(void *p, size_t *cap, size_t n, size_t el)
{
	if (n < *cap)
		return p;
	*cap = *cap ? *cap * 2 : 1024;
	p = realloc(p, *cap * el);
	if (!p) {
		fprintf(stderr, "bench-app-tls-ssh: out of memory\n");
		exit(1);
	}
	return p;
}

/* The flow of a segment: by 4-tuple, in a linear probe table. */
static size_t *slots;
static size_t nslots = 1 << 16;

static uint32_t flow_of(const uint8_t *src, const uint8_t *dst, int alen,
			uint16_t sp, uint16_t dp, bool syn_only, uint8_t *dir)
{
	uint8_t k1[36] = {0}, k2[36] = {0};
	memcpy(k1, src, (size_t)alen);
	memcpy(k1 + 16, dst, (size_t)alen);
	memcpy(k1 + 32, &sp, 2);
	memcpy(k1 + 34, &dp, 2);
	memcpy(k2, dst, (size_t)alen);
	memcpy(k2 + 16, src, (size_t)alen);
	memcpy(k2 + 32, &dp, 2);
	memcpy(k2 + 34, &sp, 2);
	uint64_t h = 1469598103934665603ull;
	for (int i = 0; i < 36; i++)
		h = (h ^ (k1[i] ^ k2[i] ^ (uint8_t)(k1[i] + k2[i]))) *
		    1099511628211ull;
	for (size_t i = h & (nslots - 1);; i = (i + 1) & (nslots - 1)) {
		if (slots[i] == 0) {
			if (!syn_only)
				return UINT32_MAX;
			if (nflows * 2 >= nslots) {
				fprintf(stderr, "too many flows\n");
				exit(1);
			}
			flows = grow(flows, &capflows, nflows, sizeof(*flows));
			memset(&flows[nflows], 0, sizeof(flows[0]));
			memcpy(flows[nflows].key, k1, 36);
			slots[i] = ++nflows;
			*dir = 0;
			return (uint32_t)(nflows - 1);
		}
		struct bflow *f = &flows[slots[i] - 1];
		if (!memcmp(f->key, k1, 36)) {
			*dir = 0;
			return (uint32_t)(slots[i] - 1);
		}
		if (!memcmp(f->key, k2, 36)) {
			*dir = 1;
			return (uint32_t)(slots[i] - 1);
		}
	}
}

static void load(const char *path)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline_with_tstamp_precision(
		path, PCAP_TSTAMP_PRECISION_NANO, err);
	struct pcap_pkthdr *ph;
	const u_char *pk;

	if (!pc || pcap_datalink(pc) != DLT_EN10MB) {
		fprintf(stderr, "bench-app-tls-ssh: %s: %s\n", path,
			pc ? "not Ethernet" : err);
		exit(2);
	}
	slots = calloc(nslots, sizeof(*slots));
	while (pcap_next_ex(pc, &ph, &pk) == 1) {
		const uint8_t *p = pk;
		size_t n = ph->caplen, l3 = 14;
		if (n < 14)
			continue;
		uint16_t et = (uint16_t)(p[12] << 8 | p[13]);
		const uint8_t *src, *dst;
		int alen;
		size_t l4, end;
		if (et == 0x0800 && n >= 34 && p[23] == 6) {
			src = p + 26;
			dst = p + 30;
			alen = 4;
			l4 = l3 + (size_t)(p[14] & 15) * 4;
			end = l3 + (size_t)(p[16] << 8 | p[17]);
		} else if (et == 0x86dd && n >= 54 && p[20] == 6) {
			src = p + 22;
			dst = p + 38;
			alen = 16;
			l4 = 54;
			end = 54 + (size_t)(p[18] << 8 | p[19]);
		} else {
			continue;
		}
		if (end > n || l4 + 20 > end)
			continue;
		const uint8_t *t = p + l4;
		uint16_t sp = (uint16_t)(t[0] << 8 | t[1]);
		uint16_t dp = (uint16_t)(t[2] << 8 | t[3]);
		uint32_t seq = (uint32_t)t[4] << 24 | (uint32_t)t[5] << 16 |
			       (uint32_t)t[6] << 8 | t[7];
		uint8_t fl = t[13];
		size_t off = l4 + (size_t)(t[12] >> 4) * 4;
		bool syn = (fl & 0x02) && !(fl & 0x10);
		if (dp != 443 && dp != 22 && sp != 443 && sp != 22)
			continue;
		uint8_t dir;
		uint32_t fi = flow_of(src, dst, alen, sp, dp, syn, &dir);
		if (fi == UINT32_MAX)
			continue;
		struct bflow *f = &flows[fi];
		uint64_t ts = (uint64_t)ph->ts.tv_sec * 1000000000ull +
			      (uint64_t)ph->ts.tv_usec;
		if (syn && !f->ops) {
			uint32_t a = 0, b = 0;
			if (alen == 4) {
				memcpy(&a, src, 4);
				memcpy(&b, dst, 4);
			}
			app_flow_v4(&f->flow, ntohl(a), sp, ntohl(b), dp, ts);
			f->ops = dp == 22 ? &tp_app_ssh : &tp_app_tls;
		}
		if (fl & 0x02) {
			f->next[dir] = seq + 1;
			f->started[dir] = 1;
			continue;
		}
		if (!f->started[dir] || off >= end)
			continue;
		const uint8_t *pl = p + off;
		uint32_t len = (uint32_t)(end - off);
		int32_t rel = (int32_t)(seq - f->next[dir]);
		if (rel < 0) {
			if ((uint32_t)-rel >= len)
				continue;
			pl += -rel;
			len -= (uint32_t)-rel;
			rel = 0;
		}
		/* The frame memory is libpcap's: keep a copy. */
		uint8_t *copy = malloc(len);
		memcpy(copy, pl, len);
		if (rel > 0) {
			segs = grow(segs, &capsegs, nsegs, sizeof(*segs));
			segs[nsegs++] = (struct seg){fi, dir, 1, (uint32_t)rel,
						     ts, NULL};
		}
		segs = grow(segs, &capsegs, nsegs, sizeof(*segs));
		segs[nsegs++] = (struct seg){fi, dir, 0, len, ts, copy};
		f->next[dir] += (uint32_t)rel + len;
	}
	pcap_close(pc);
}

static double cpu_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int reps = 5, c;
	const char *out = "/dev/shm/tapir-bench-app";

	while ((c = getopt(argc, argv, "r:o:")) != -1) {
		if (c == 'r')
			reps = atoi(optarg);
		else if (c == 'o')
			out = optarg;
		else
			return 2;
	}
	if (optind != argc - 1 || reps < 1) {
		fprintf(stderr, "usage: bench-app-tls-ssh [-r K] [-o DIR] "
				"FILE\n");
		return 2;
	}
	load(argv[optind]);
	mkdir(out, 0700);
	uint64_t bytes = 0;
	for (size_t i = 0; i < nsegs; i++)
		if (!segs[i].gap)
			bytes += segs[i].len;
	size_t ntls = 0, nssh = 0;
	for (size_t i = 0; i < nflows; i++) {
		ntls += flows[i].ops == &tp_app_tls;
		nssh += flows[i].ops == &tp_app_ssh;
	}
	printf("%zu TLS and %zu SSH flows, %zu segments, %llu payload bytes; "
	       "state: tls %zu B, ssh %zu B per flow\n", ntls, nssh, nsegs,
	       (unsigned long long)bytes, tp_app_tls.state_size,
	       tp_app_ssh.state_size);
	double *cpu = calloc((size_t)reps, sizeof(double));
	void **st = calloc(nflows, sizeof(void *));
	for (int r = 0; r < reps; r++) {
		struct tp_app_logs logs;
		struct tp_app_ctx ctx = {.logs = &logs,
					 .weird = app_logs_weird};
		app_logs_open(&logs, out, TP_FMT_JSON);
		double t0 = cpu_now();
		for (size_t i = 0; i < nflows; i++) {
			if (!flows[i].ops)
				continue;
			st[i] = malloc(flows[i].ops->state_size);
			flows[i].ops->init(st[i]);
		}
		for (size_t i = 0; i < nsegs; i++) {
			struct seg *s = &segs[i];
			struct bflow *f = &flows[s->flow];
			if (!f->ops)
				continue;
			ctx.flow = &f->flow;
			ctx.ts_ns = s->ts;
			if (s->gap)
				f->ops->gap(st[s->flow], &ctx, s->dir, s->len);
			else
				f->ops->data(st[s->flow], &ctx, s->dir, s->p,
					     s->len);
		}
		for (size_t i = 0; i < nflows; i++) {
			if (!flows[i].ops)
				continue;
			ctx.flow = &flows[i].flow;
			flows[i].ops->end(st[i], &ctx);
			flows[i].ops->fini(st[i]);
			free(st[i]);
		}
		app_logs_close(&logs);
		cpu[r] = cpu_now() - t0;
		printf("rep %d: cpu %.3f s, %.1f MB/s, %.0f flows/s per core "
		       "(%u weird)\n", r + 1, cpu[r], (double)bytes / cpu[r] / 1e6,
		       (double)(ntls + nssh) / cpu[r], logs.weirds);
	}
	qsort(cpu, (size_t)reps, sizeof(double), cmp_d);
	double med = cpu[reps / 2];
	printf("RESULT flows=%zu tls=%zu ssh=%zu bytes=%llu cpu=%.4f "
	       "mbyte_per_cpu_s=%.1f flows_per_cpu_s=%.0f\n", ntls + nssh, ntls,
	       nssh, (unsigned long long)bytes, med, (double)bytes / med / 1e6,
	       (double)(ntls + nssh) / med);
	return 0;
}
