/* tapir query: search the packet store and write the matches as a pcap. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "store/query.h"
#include "util/config.h"
#include "util/log.h"

static void query_usage(FILE *out)
{
	fprintf(out,
		"usage: tapir query [options] -w FILE 'EXPR'\n"
		"       tapir query [options] --count 'EXPR'\n\n"
		"Search the packet store for the frames whose inner packet\n"
		"matches EXPR and write them, in time order and as they were\n"
		"received (outer headers kept), as one pcap.\n\n"
		"EXPR: BPF (tcpdump's syntax) over the inner IP packet, and\n"
		"tapir's fields 'vni N' and 'session NAME', joined by 'and'.\n\n"
		"options:\n"
		"      --store DIR      the store (default: store.dir)\n"
		"  -c, --config FILE    YAML configuration file\n"
		"      --set KEY=VALUE  override one configuration key\n"
		"      --since T        from time T (see below)\n"
		"      --until T        up to time T, inclusive\n"
		"  -w, --write FILE     output pcap ('-': stdout)\n"
		"      --count          print the number of matches only\n"
		"      --limit N        at most N packets (the earliest)\n"
		"  -h, --help           this text\n\n"
		"T: seconds since the epoch (1700000000.5), a UTC date and time\n"
		"(2024-05-01T12:00:00Z, fractions allowed), or a duration\n"
		"before now (90s, 30m, 2h, 1d).\n");
}

/* A time argument: 0 and *ns, or -1. */
static int parse_time(const char *s, uint64_t now_ns, uint64_t *ns)
{
	char *end;
	if (!*s)
		return -1;
	/* A duration before now. */
	errno = 0;
	double v = strtod(s, &end);
	if (!errno && end != s && v >= 0 && strlen(end) == 1 &&
	    strchr("smhd", *end)) {
		double mul = *end == 's' ? 1 : *end == 'm' ? 60
					 : *end == 'h' ? 3600 : 86400;
		double d = v * mul * 1e9;
		if (d > (double)now_ns)
			return -1;
		*ns = now_ns - (uint64_t)d;
		return 0;
	}
	if (!errno && end != s && *end == 0 && v >= 0 && v < 1e10) {
		/* Exact to the nanosecond: a double is not. */
		uint64_t sec = strtoull(s, &end, 10), frac = 0, scale = 1000000000;
		if (*end == '.')
			for (end++; *end >= '0' && *end <= '9'; end++)
				if (scale /= 10)
					frac += (uint64_t)(*end - '0') * scale;
		if (*end)
			return -1;
		*ns = sec * 1000000000ull + frac;
		return 0;
	}
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		p = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
	if (!p)
		return -1;
	double frac = 0;
	if (*p == '.') {
		frac = strtod(p, &end);
		p = end;
	}
	if (*p == 'Z')
		p++;
	if (*p)
		return -1;
	time_t t = timegm(&tm);
	if (t < 0)
		return -1;
	*ns = (uint64_t)t * 1000000000ull + (uint64_t)(frac * 1e9 + 0.5);
	return 0;
}

int tp_cmd_query(int argc, char **argv)
{
	static const struct option opts[] = {
		{"store", required_argument, NULL, 'S'},
		{"config", required_argument, NULL, 'c'},
		{"set", required_argument, NULL, 's'},
		{"since", required_argument, NULL, 'a'},
		{"until", required_argument, NULL, 'b'},
		{"write", required_argument, NULL, 'w'},
		{"count", no_argument, NULL, 'n'},
		{"limit", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static struct tp_config cfg;
	static struct tp_query q;
	const char *since = NULL, *until = NULL, *wpath = NULL;
	bool count = false;
	char err[4096];
	int c;

	argv[0] = (char *)"tapir query";
	int rc = tp_cli_config_file(&cfg, argc, argv, "c:w:h", opts);
	if (rc != TP_EXIT_OK)
		return rc;
	q.limit = 0;
	while ((c = getopt_long(argc, argv, "c:w:h", opts, NULL)) != -1) {
		switch (c) {
		case 'S':
			if (tp_cli_set(&cfg, "store.dir", optarg) != TP_EXIT_OK)
				return TP_EXIT_USAGE;
			break;
		case 'c':
			break;
		case 's':
			if (tp_cli_set(&cfg, NULL, optarg) != TP_EXIT_OK)
				return TP_EXIT_USAGE;
			break;
		case 'a':
			since = optarg;
			break;
		case 'b':
			until = optarg;
			break;
		case 'w':
			wpath = optarg;
			break;
		case 'n':
			count = true;
			break;
		case 'l': {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 10);
			if (errno || *end || !*optarg || optarg[0] == '-' ||
			    v == 0) {
				fprintf(stderr, "tapir query: --limit '%s': "
					"give a number of packets, 1 or more\n",
					optarg);
				return TP_EXIT_USAGE;
			}
			q.limit = v;
			break;
		}
		case 'h':
			query_usage(stdout);
			return TP_EXIT_OK;
		default:
			fprintf(stderr, "tapir query: see 'tapir query --help'\n");
			return TP_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "tapir query: give one expression (quote it: "
			"'host 10.0.0.1 and port 443'; '' for every packet)\n");
		return TP_EXIT_USAGE;
	}
	if (!count && !wpath) {
		fprintf(stderr, "tapir query: say where the packets go "
			"(-w FILE, '-w -' for stdout) or give --count\n");
		return TP_EXIT_USAGE;
	}
	if (!cfg.store_dir[0]) {
		fprintf(stderr, "tapir query: no store: give --store DIR or "
			"set store.dir in the configuration\n");
		return TP_EXIT_USAGE;
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000ull +
			  (uint64_t)now.tv_nsec;
	q.since_ns = 0;
	q.until_ns = UINT64_MAX;
	if (since && parse_time(since, now_ns, &q.since_ns) < 0) {
		fprintf(stderr, "tapir query: --since '%s' is not a time: give "
			"seconds since the epoch, 2024-05-01T12:00:00Z or a "
			"duration before now like 2h\n", since);
		return TP_EXIT_USAGE;
	}
	if (until && parse_time(until, now_ns, &q.until_ns) < 0) {
		fprintf(stderr, "tapir query: --until '%s' is not a time: give "
			"seconds since the epoch, 2024-05-01T12:00:00Z or a "
			"duration before now like 30m\n", until);
		return TP_EXIT_USAGE;
	}
	if (q.since_ns > q.until_ns) {
		fprintf(stderr, "tapir query: --since %s is after --until %s: "
			"no packet can match\n", since, until);
		return TP_EXIT_USAGE;
	}
	q.dir = cfg.store_dir;
	q.text = argv[optind];
	if (tp_expr_parse(q.text, &q.expr, err, sizeof(err)) < 0) {
		fprintf(stderr, "tapir query: %s\n", err);
		return TP_EXIT_USAGE;
	}

	FILE *out = NULL;
	if (!count) {
		out = strcmp(wpath, "-") ? fopen(wpath, "wb") : stdout;
		if (!out) {
			fprintf(stderr, "tapir query: cannot write %s: %s\n",
				wpath, strerror(errno));
			return TP_EXIT_FAIL;
		}
	}
	struct tp_query_result res;
	int r = tp_query_run(&q, out, &res, err, sizeof(err));
	if (out && out != stdout && fclose(out) != 0 && r == 0) {
		snprintf(err, sizeof(err), "writing %s: %s", wpath,
			 strerror(errno));
		r = -EIO;
	}
	if (r < 0) {
		fprintf(stderr, "tapir query: %s\n", err);
		return r == -EINVAL ? TP_EXIT_USAGE : TP_EXIT_FAIL;
	}
	if (count)
		printf("%" PRIu64 "\n", res.written);
	else if (tp_log_level > 0)
		fprintf(stderr, "tapir query: %" PRIu64 " packets written "
			"(%" PRIu64 " segments, %" PRIu64 " searched, %" PRIu64
			" candidates decoded)\n", res.written, res.segments,
			res.segments_read, res.candidates);
	return res.damaged ? TP_EXIT_FAIL : TP_EXIT_OK;
}
