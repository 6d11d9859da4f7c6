/* bench-pipeline: the cost of tapir's pipeline without file I/O.
 *
 *   bench-pipeline [-j N] [-r K] [-o DIR] [--set KEY=VALUE]...
 *                  [--mapped] [--perf-ctl FIFO] FILE
 *
 * Loads every frame of FILE (pcap or pcapng, through libpcap) into memory,
 * then runs tp_pipeline_new, tp_pipeline_packet for every frame and
 * tp_pipeline_finish K times over the loaded frames, with N workers and
 * the logs in DIR (default a directory on /dev/shm, emptied after each
 * repetition).  Reports per repetition and for the median: wall time; CPU
 * time of all threads and of the decoding (calling) thread alone, which
 * bounds the speed-up from more workers; packets/s and Gbit/s of wire
 * bytes, per wall second and per CPU second ("per core"); the peak RSS the
 * pipeline added over the loaded file; and the size of the per-flow and
 * per-packet structures.
 *
 * --mapped runs over a fresh read-only mapping of FILE (classic pcap in
 * host byte order) instead of the loaded copy: the memory the frames come
 * from is then the page cache, as with tapir's pcap source, while the
 * source's own code stays out.  The RSS figures do not apply then.
 *
 * --perf-ctl FIFO writes "enable" to FIFO before the first repetition and
 * "disable" after the last, for `perf record -D -1 --control fifo:FIFO`,
 * so that a profile leaves out the loading.
 *
 * The last line is machine-readable for bench/run.sh:
 *   RESULT packets=... wire_bytes=... wall=... user=... sys=... ...
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dispatch/pipeline.h"
#include "dispatch/worker.h"
#include "flow/flow-t.h"
#include "util/config.h"
#include "util/log.h"

#define MAX_REPS 100

/* The loaded capture: records laid out as in a pcap file (a header, then
 * the frame's bytes), so that the pipeline reads memory in the same order
 * as from a capture file.  Records are 8-byte aligned. */
struct frame {
	uint64_t ts_ns;
	uint32_t caplen, wirelen;
};

struct capture {
	uint8_t *data;
	size_t len, cap;
	size_t n;
	uint64_t wire_bytes, captured;
	uint32_t linktype;
};

#define REC_SIZE(caplen) \
	((sizeof(struct frame) + (size_t)(caplen) + 7) & ~(size_t)7)

struct rep {
	double wall, user, sys;
	double main_cpu;        /* the calling (decoding) thread alone */
	struct tp_pipeline_totals t;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: bench-pipeline [-j N] [-r K] [-o DIR] [--set KEY=VALUE]...\n"
		"                      [--mapped] [--perf-ctl FIFO] FILE\n\n"
		"Load FILE into memory, then time tapir's pipeline over it K times\n"
		"(default 3) with N workers (default 1), logs in DIR (default a\n"
		"fresh directory under /dev/shm).  --mapped: read the frames from\n"
		"a mapping of FILE instead.  --perf-ctl FIFO: write enable and\n"
		"disable around the timed runs for perf record --control.\n");
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void cpu_s(double *user, double *sys)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	*user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	*sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double thread_cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_rss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* Resident set now, from /proc/self/statm (pages). */
static long cur_rss_kb(void)
{
	long size = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &size, &res) != 2)
		res = 0;
	fclose(f);
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* The frame bytes live in one anonymous mapping, populated up front (one
 * fault per huge page rather than one per 4 kB page while loading). */
static int grow_data(struct capture *c, size_t need)
{
	if (need <= c->cap)
		return 0;
	size_t n = c->cap ? c->cap : 1 << 26;
	if (!c->cap && n < need)
		n = (need + (1 << 21) - 1) & ~(size_t)((1 << 21) - 1);
	while (n < need)
		n *= 2;
	void *q = c->data ? mremap(c->data, c->cap, n, MREMAP_MAYMOVE)
			  : mmap(NULL, n, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q == MAP_FAILED)
		return -ENOMEM;
	madvise(q, n, MADV_HUGEPAGE);
	madvise((uint8_t *)q + c->cap, n - c->cap, MADV_POPULATE_WRITE);
	c->data = q;
	c->cap = n;
	return 0;
}

static int load(struct capture *c, const char *path)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	struct stat st;
	int r;

	pcap_t *pc = pcap_open_offline_with_tstamp_precision(
		path, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!pc) {
		fprintf(stderr, "bench-pipeline: %s\n", errbuf);
		return -1;
	}
	/* The frame bytes of an uncompressed capture fit in its size. */
	/* Records take at most 8 bytes more than in the file. */
	if (stat(path, &st) == 0 && st.st_size > 0 &&
	    grow_data(c, (size_t)st.st_size + (size_t)st.st_size / 8) < 0)
		goto nomem;
	c->linktype = (uint32_t)pcap_datalink(pc);
	while ((r = pcap_next_ex(pc, &h, &data)) == 1) {
		if (grow_data(c, c->len + REC_SIZE(h->caplen)) < 0)
			goto nomem;
		if ((uint32_t)pcap_datalink(pc) != c->linktype) {
			fprintf(stderr, "bench-pipeline: %s: more than one "
				"link type\n", path);
			pcap_close(pc);
			return -1;
		}
		struct frame *f = (struct frame *)(c->data + c->len);
		f->caplen = h->caplen;
		f->wirelen = h->len < h->caplen ? h->caplen : h->len;
		f->ts_ns = (uint64_t)h->ts.tv_sec * 1000000000ull +
			   (uint64_t)h->ts.tv_usec;
		memcpy(f + 1, data, h->caplen);
		c->len += REC_SIZE(h->caplen);
		c->n++;
		c->captured += f->caplen;
		c->wire_bytes += f->wirelen;
	}
	if (r != PCAP_ERROR_BREAK) {
		fprintf(stderr, "bench-pipeline: %s: %s after %zu frames\n",
			path, pcap_geterr(pc), c->n);
		pcap_close(pc);
		return -1;
	}
	pcap_close(pc);
	return 0;
nomem:
	fprintf(stderr, "bench-pipeline: out of memory loading %s\n", path);
	pcap_close(pc);
	return -1;
}

/* A classic pcap file mapped read-only. */
struct mapped {
	const uint8_t *m;
	size_t len;
	bool nsec;
};

static int map_file(const char *path, struct mapped *mp)
{
	struct stat st;
	uint32_t magic;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < 24) {
		fprintf(stderr, "bench-pipeline: %s: cannot map: %s\n", path,
			fd < 0 ? strerror(errno) : "too short");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		fprintf(stderr, "bench-pipeline: %s: mmap: %s\n", path,
			strerror(errno));
		return -1;
	}
	memcpy(&magic, m, 4);
	if (magic != 0xa1b2c3d4 && magic != 0xa1b23c4d) {
		fprintf(stderr, "bench-pipeline: %s: --mapped needs a classic "
			"pcap file in host byte order\n", path);
		munmap(m, (size_t)st.st_size);
		return -1;
	}
	mp->m = m;
	mp->len = (size_t)st.st_size;
	mp->nsec = magic == 0xa1b23c4d;
	return 0;
}

/* Feed every record of the mapping to pl; a truncated last record ends
 * the run, as libpcap would report it. */
static void run_mapped(struct tp_pipeline *pl, struct tp_pkt *pkt,
		       const struct mapped *mp, uint32_t linktype)
{
	size_t off = 24;
	while (off + 16 <= mp->len) {
		uint32_t h[4];
		memcpy(h, mp->m + off, sizeof(h));
		if (h[2] > mp->len - off - 16)
			break;
		pkt->data = mp->m + off + 16;
		pkt->caplen = h[2];
		pkt->wirelen = h[3] < h[2] ? h[2] : h[3];
		pkt->ts_ns = (uint64_t)h[0] * 1000000000ull +
			     (mp->nsec ? (uint64_t)h[1] : (uint64_t)h[1] * 1000);
		pkt->linktype = linktype;
		tp_pipeline_packet(pl, pkt);
		off += 16 + (size_t)h[2];
	}
}

/* Empty the log directory between repetitions (tmpfs holds it in RAM). */
static void clean_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[8192];
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
}

static int cmp_wall(const void *a, const void *b)
{
	double x = ((const struct rep *)a)->wall;
	double y = ((const struct rep *)b)->wall;
	return (x > y) - (x < y);
}

static void print_rep(const char *label, const struct rep *r,
		      const struct capture *c)
{
	double cpu = r->user + r->sys;
	printf("%-8s wall %.3f s  cpu %.3f s (user %.3f, sys %.3f)  "
	       "%.3f Mpkt/s  %.3f Gbit/s  per core: %.3f Mpkt/s  %.3f Gbit/s  "
	       "decoding thread %.3f s  "
	       "flows %" PRIu64 "  peak %" PRIu64 "  duplicates %" PRIu64 "\n",
	       label, r->wall, cpu, r->user, r->sys,
	       (double)c->n / r->wall / 1e6,
	       (double)c->wire_bytes * 8 / r->wall / 1e9,
	       (double)c->n / cpu / 1e6,
	       (double)c->wire_bytes * 8 / cpu / 1e9, r->main_cpu, r->t.flows,
	       r->t.peak_flows, r->t.duplicates);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"workers", required_argument, NULL, 'j'},
		{"repeat", required_argument, NULL, 'r'},
		{"output", required_argument, NULL, 'o'},
		{"set", required_argument, NULL, 's'},
		{"perf-ctl", required_argument, NULL, 'p'},
		{"mapped", no_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static struct tp_config cfg;
	static struct rep reps[MAX_REPS];
	struct capture cap = {0};
	char err[512], kv[4200], tmpdir[64] = "";
	const char *outdir = NULL, *perf_ctl = NULL;
	unsigned workers = 1, nrep = 3;
	bool mapped = false;
	int c;

	tp_config_default(&cfg);
	while ((c = getopt_long(argc, argv, "j:r:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			workers = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			nrep = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'o':
			outdir = optarg;
			break;
		case 's':
			if (tp_config_set(&cfg, optarg, err, sizeof(err)) < 0) {
				fprintf(stderr, "bench-pipeline: --set %s\n", err);
				return 2;
			}
			break;
		case 'p':
			perf_ctl = optarg;
			break;
		case 'm':
			mapped = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1 || workers < 1 || nrep < 1 || nrep > MAX_REPS) {
		usage(stderr);
		return 2;
	}
	if (!outdir) {
		snprintf(tmpdir, sizeof(tmpdir), "/dev/shm/bench-pipeline.XXXXXX");
		if (!mkdtemp(tmpdir)) {
			fprintf(stderr, "bench-pipeline: mkdtemp: %s\n",
				strerror(errno));
			return 1;
		}
		outdir = tmpdir;
	}
	snprintf(kv, sizeof(kv), "workers=%u", workers);
	if (tp_config_set(&cfg, kv, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench-pipeline: %s\n", err);
		return 2;
	}
	snprintf(kv, sizeof(kv), "log.dir=%s", outdir);
	if (tp_config_set(&cfg, kv, err, sizeof(err)) < 0 ||
	    tp_config_validate(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench-pipeline: %s\n", err);
		return 2;
	}
	tp_log_level = 0;

	printf("sizeof struct tp_flow %zu, struct tp_witem %zu, "
	       "struct tp_pkt %zu\n",
	       sizeof(struct tp_flow), sizeof(struct tp_witem),
	       sizeof(struct tp_pkt));

	double t0 = mono_s();
	if (load(&cap, argv[optind]) < 0)
		return 1;
	double tload = mono_s() - t0;
	long rss_loaded = cur_rss_kb();
	printf("loaded %s: %zu frames, %" PRIu64 " wire bytes, %zu bytes "
	       "captured, in %.2f s; RSS %ld kB\n",
	       argv[optind], cap.n, cap.wire_bytes, (size_t)cap.captured, tload,
	       rss_loaded);
	if (mapped) {
		/* Counted and checked by the load; the runs read the file. */
		munmap(cap.data, cap.cap);
		cap.data = NULL;
		rss_loaded = cur_rss_kb();
	}
	printf("pipeline: %u worker%s, %u repetition%s, logs in %s%s\n",
	       workers, workers > 1 ? "s" : "", nrep, nrep > 1 ? "s" : "",
	       outdir, mapped ? ", frames read from the mapped file" : "");
	fflush(stdout);

	struct tp_pkt *pkt = calloc(1, sizeof(*pkt));
	if (!pkt)
		return 1;
	FILE *ctl = NULL;
	if (perf_ctl) {
		ctl = fopen(perf_ctl, "w");
		if (!ctl) {
			fprintf(stderr, "bench-pipeline: %s: %s\n", perf_ctl,
				strerror(errno));
			return 1;
		}
		fputs("enable\n", ctl);
		fflush(ctl);
	}
	for (unsigned k = 0; k < nrep; k++) {
		struct rep *r = &reps[k];
		double u0, s0, u1, s1;
		clean_dir(outdir);
		cpu_s(&u0, &s0);
		double m0 = thread_cpu_s();
		double w0 = mono_s();
		struct tp_pipeline *pl = tp_pipeline_new(&cfg, err, sizeof(err));
		if (!pl) {
			fprintf(stderr, "bench-pipeline: %s\n", err);
			return 1;
		}
		if (mapped) {
			struct mapped mp;
			if (map_file(argv[optind], &mp) < 0)
				return 1;
			run_mapped(pl, pkt, &mp, cap.linktype);
			munmap((void *)mp.m, mp.len);
		}
		for (size_t off = 0; !mapped && off < cap.len;) {
			const struct frame *f =
				(const struct frame *)(cap.data + off);
			pkt->data = (const uint8_t *)(f + 1);
			pkt->caplen = f->caplen;
			pkt->wirelen = f->wirelen;
			pkt->ts_ns = f->ts_ns;
			pkt->linktype = cap.linktype;
			tp_pipeline_packet(pl, pkt);
			off += REC_SIZE(f->caplen);
		}
		tp_pipeline_finish(pl);
		r->wall = mono_s() - w0;
		r->main_cpu = thread_cpu_s() - m0;
		cpu_s(&u1, &s1);
		r->user = u1 - u0;
		r->sys = s1 - s0;
		tp_pipeline_totals(pl, &r->t);
		if (tp_pipeline_free(pl) < 0) {
			fprintf(stderr, "bench-pipeline: writing logs in %s "
				"failed\n", outdir);
			return 1;
		}
		char label[16];
		snprintf(label, sizeof(label), "run %u", k + 1);
		print_rep(label, &reps[k], &cap);
		fflush(stdout);
	}
	if (ctl) {
		fputs("disable\n", ctl);
		fclose(ctl);
	}
	clean_dir(outdir);
	if (tmpdir[0])
		rmdir(tmpdir);

	/* Every repetition is the same work: its median is the figure. */
	struct tp_pipeline_totals t = reps[0].t;
	qsort(reps, nrep, sizeof(reps[0]), cmp_wall);
	const struct rep *m = &reps[nrep / 2];
	print_rep("median", m, &cap);

	long peak = peak_rss_kb();
	long grew = peak > rss_loaded ? peak - rss_loaded : 0;
	double per_flow = t.peak_flows ? (double)grew * 1024 /
					 (double)t.peak_flows : 0;
	if (mapped) {
		/* The mapped file's pages count in the RSS. */
		grew = 0;
		per_flow = 0;
		printf("peak RSS %ld kB, mapped file included\n", peak);
	} else {
		printf("peak RSS %ld kB: the pipeline added %ld kB over the "
		       "loaded capture, %.1f bytes per peak flow (%" PRIu64
		       " flows at once)\n", peak, grew, per_flow,
		       t.peak_flows);
	}
	printf("totals: packets %" PRIu64 ", ip %" PRIu64 ", tunnelled %" PRIu64
	       ", duplicates %" PRIu64 ", flows %" PRIu64 ", evicted %" PRIu64
	       ", decode failed %" PRIu64 ", events %" PRIu64 "\n",
	       t.packets, t.ip_packets, t.tunnelled, t.duplicates, t.flows,
	       t.flows_evicted, t.decode_failed, t.events);
	printf("RESULT packets=%zu wire_bytes=%" PRIu64 " workers=%u wall=%.4f "
	       "user=%.4f sys=%.4f main_cpu=%.4f mpps=%.4f mpps_per_core=%.4f "
	       "gbps=%.4f gbps_per_core=%.4f pipeline_rss_kb=%ld "
	       "peak_flows=%" PRIu64 " bytes_per_flow=%.1f "
	       "sizeof_flow=%zu\n",
	       cap.n, cap.wire_bytes, workers, m->wall, m->user, m->sys,
	       m->main_cpu,
	       (double)cap.n / m->wall / 1e6,
	       (double)cap.n / (m->user + m->sys) / 1e6,
	       (double)cap.wire_bytes * 8 / m->wall / 1e9,
	       (double)cap.wire_bytes * 8 / (m->user + m->sys) / 1e9, grew,
	       t.peak_flows, per_flow, sizeof(struct tp_flow));
	free(pkt);
	if (cap.data)
		munmap(cap.data, cap.cap);
	return 0;
}
