/* tapir read: capture files through the pipeline into logs. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capture/source.h"
#include "commands.h"
#include "dispatch/pipeline.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"

static void read_usage(FILE *out)
{
	fprintf(out,
		"usage: tapir read [options] FILE...\n\n"
		"Read pcap or pcapng captures (gzip-compressed too; '-' is stdin),\n"
		"terminate their tunnels, remove double-mirrored packets, track\n"
		"flows and write conn.log, weird.log, capture_loss.log and\n"
		"stats.log.\n\n"
		"options:\n"
		"  -o, --output DIR     log directory (default ./tapir-logs)\n"
		"  -f, --format FMT     json (default) or zeek (TSV for zeek-cut)\n"
		"  -j, --workers N      worker threads (default 1)\n"
		"  -c, --config FILE    YAML configuration file\n"
		"      --set KEY=VALUE  override one configuration key\n"
		"      --store DIR      keep every frame in the packet store DIR\n"
		"                       (for tapir query)\n"
		"  -q, --quiet          no progress bar and no summary\n"
		"  -h, --help           this text\n\n"
		"Configuration keys: docs/configuration.md.\n");
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void human_bytes(char *buf, size_t n, double b)
{
	const char *u[] = {"B", "kB", "MB", "GB", "TB"};
	int i = 0;
	while (b >= 1000 && i < 4) {
		b /= 1000;
		i++;
	}
	snprintf(buf, n, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

struct progress {
	bool on;
	double start, last;
	uint64_t total, done_before;
};

static void progress_draw(struct progress *pr, const struct tp_source *s,
			  uint64_t packets, bool final)
{
	double t = now_s();
	if (!pr->on || (!final && t - pr->last < 0.2))
		return;
	pr->last = t;
	uint64_t done = pr->done_before + s->bytes_read;
	double frac = pr->total ? (double)done / (double)pr->total : 0;
	if (frac > 1)
		frac = 1;
	char a[32], b[32];
	human_bytes(a, sizeof(a), (double)done);
	human_bytes(b, sizeof(b), (double)pr->total);
	int width = 30, fill = (int)(frac * width);
	double el = t - pr->start;
	fprintf(stderr, "\r[%.*s%*s] %3.0f%% %s / %s  %.2f Mpkt/s ", fill,
		"##############################", width - fill, "", frac * 100,
		a, b, el > 0 ? (double)packets / el / 1e6 : 0.0);
	if (final)
		fputc('\n', stderr);
}

int tp_cmd_read(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"format", required_argument, NULL, 'f'},
		{"workers", required_argument, NULL, 'j'},
		{"config", required_argument, NULL, 'c'},
		{"set", required_argument, NULL, 's'},
		{"quiet", no_argument, NULL, 'q'},
		{"store", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static struct tp_config cfg;
	char err[512];
	bool quiet = false;
	int c, rc = TP_EXIT_OK;

	/* getopt names the program by argv[0] in its messages. */
	argv[0] = (char *)"tapir read";

	rc = tp_cli_config_file(&cfg, argc, argv, "o:f:j:c:qh", opts);
	if (rc != TP_EXIT_OK)
		return rc;
	while ((c = getopt_long(argc, argv, "o:f:j:c:qh", opts, NULL)) != -1) {
		const char *key = NULL;
		switch (c) {
		case 'o':
			key = "log.dir";
			break;
		case 'f':
			key = "log.format";
			break;
		case 'j':
			key = "workers";
			break;
		case 'c':
			continue;
		case 'S':
			key = "store.dir";
			break;
		case 's':
			if (tp_cli_set(&cfg, NULL, optarg) != TP_EXIT_OK)
				return TP_EXIT_USAGE;
			continue;
		case 'q':
			quiet = true;
			continue;
		case 'h':
			read_usage(stdout);
			return TP_EXIT_OK;
		default:
			fprintf(stderr, "tapir read: see 'tapir read --help'\n");
			return TP_EXIT_USAGE;
		}
		if (tp_cli_set(&cfg, key, optarg) != TP_EXIT_OK)
			return TP_EXIT_USAGE;
	}
	if (optind >= argc) {
		fprintf(stderr, "tapir read: no capture file given\n\n");
		read_usage(stderr);
		return TP_EXIT_USAGE;
	}
	if (tp_config_validate(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "tapir: %s\n", err);
		return TP_EXIT_USAGE;
	}
	if (quiet)
		tp_log_level = 0;

	struct progress pr = {.on = !quiet && isatty(STDERR_FILENO)};
	for (int i = optind; i < argc; i++) {
		struct stat st;
		if (strcmp(argv[i], "-") != 0 && stat(argv[i], &st) == 0)
			pr.total += (uint64_t)st.st_size;
	}

	struct tp_pipeline *pl = tp_pipeline_new(&cfg, err, sizeof(err));
	if (!pl) {
		fprintf(stderr, "tapir: %s\n", err);
		return TP_EXIT_FAIL;
	}
	pr.start = pr.last = now_s();
	uint64_t packets = 0;
	struct tp_pkt *pkt = tp_calloc_aligned(64, sizeof(*pkt));
	if (!pkt) {
		tp_pipeline_free(pl);
		fprintf(stderr, "tapir: out of memory\n");
		return TP_EXIT_FAIL;
	}
	for (int i = optind; i < argc && rc == TP_EXIT_OK; i++) {
		struct tp_source src = {.ops = &tp_source_pcap_file};
		int r = src.ops->open(&src, argv[i], err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "%stapir: %s\n", pr.on ? "\n" : "", err);
			src.ops->close(&src);
			rc = TP_EXIT_FAIL;
			break;
		}
		while ((r = src.ops->next(&src, pkt, err, sizeof(err))) == 1) {
			tp_pipeline_packet(pl, pkt);
			if ((++packets & 0xffff) == 0)
				progress_draw(&pr, &src, packets, false);
		}
		if (r < 0) {
			/* What came before the corruption is kept and logged. */
			fprintf(stderr, "%stapir: %s\n", pr.on ? "\n" : "", err);
			rc = TP_EXIT_FAIL;
		}
		pr.done_before += src.bytes_read;
		src.bytes_read = 0;
		if (i == argc - 1 || rc != TP_EXIT_OK)
			progress_draw(&pr, &src, packets, true);
		src.ops->close(&src);
	}
	tp_free(pkt, sizeof(*pkt));

	tp_pipeline_finish(pl);
	struct tp_pipeline_totals t;
	tp_pipeline_totals(pl, &t);
	double el = now_s() - pr.start;
	if (tp_pipeline_free(pl) < 0)
		rc = TP_EXIT_FAIL;

	if (!quiet) {
		char b[32];
		human_bytes(b, sizeof(b), (double)t.bytes);
		fprintf(stderr,
			"tapir: %" PRIu64 " packets (%s) in %.2f s, %.2f Mpkt/s; "
			"%" PRIu64 " flows; %" PRIu64 " duplicates removed; "
			"%" PRIu64 " truncated; %" PRIu64 " decode anomalies; "
			"logs in %s\n",
			t.packets, b, el, el > 0 ? (double)t.packets / el / 1e6 : 0,
			t.flows, t.duplicates, t.truncated, t.events, cfg.log_dir);
	}
	return rc;
}
