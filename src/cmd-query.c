/* tapir query: search the packet store and write the matches as a pcap. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "store/query-args.h"
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
		"tapir's fields 'vni N', 'session NAME', 'zone NAME', 'uid UID'\n"
		"(one conn.log flow) and 'community-id ID', joined by 'and'.\n\n"
		"options:\n"
		"      --store DIR      the store (default: store.dir, else\n"
		"                       tapir run's, log.dir/store)\n"
		"      --logs DIR       conn.log of 'uid' (default: log.dir)\n"
		"  -c, --config FILE    YAML configuration file\n"
		"      --set KEY=VALUE  override one configuration key\n"
		"      --since T        from time T (see below)\n"
		"      --until T        up to time T, inclusive\n"
		"  -w, --write FILE     output pcap ('-': stdout)\n"
		"      --count          print the number of matches only\n"
		"      --limit N        at most N packets (the earliest), or\n"
		"                       N bytes of pcap with a unit (10MB)\n"
		"  -h, --help           this text\n\n"
		"T: seconds since the epoch (1700000000.5), a UTC date and time\n"
		"(2024-05-01T12:00:00Z, fractions allowed), or a duration\n"
		"before now (90s, 30m, 2h, 1d).\n");
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
		{"logs", required_argument, NULL, 'L'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static struct tp_config cfg;
	static struct tp_query_req req;
	struct tp_query_args qa = {.opt = "--"};
	const char *wpath = NULL;
	bool count = false;
	char err[4096];
	int c;

	argv[0] = (char *)"tapir query";
	int rc = tp_cli_config_file(&cfg, argc, argv, "c:w:h", opts);
	if (rc != TP_EXIT_OK)
		return rc;
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
			qa.since = optarg;
			break;
		case 'b':
			qa.until = optarg;
			break;
		case 'L':
			qa.logs = optarg;
			break;
		case 'w':
			wpath = optarg;
			break;
		case 'n':
			count = true;
			break;
		case 'l':
			qa.limit = optarg;
			break;
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
	if (tp_cli_default_store(&cfg) != TP_EXIT_OK)
		return TP_EXIT_USAGE;
	if (!cfg.store_dir[0]) {
		fprintf(stderr, "tapir query: no store: give --store DIR or "
			"set store.dir in the configuration\n");
		return TP_EXIT_USAGE;
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000ull +
			  (uint64_t)now.tv_nsec;
	qa.expr = argv[optind];
	int r = tp_query_req_init(&req, &cfg, &qa, now_ns, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "tapir query: %s\n", err);
		tp_query_req_fini(&req);
		return r == -EINVAL ? TP_EXIT_USAGE : TP_EXIT_FAIL;
	}

	FILE *out = NULL;
	if (!count) {
		out = strcmp(wpath, "-") ? fopen(wpath, "wb") : stdout;
		if (!out) {
			fprintf(stderr, "tapir query: cannot write %s: %s\n",
				wpath, strerror(errno));
			tp_query_req_fini(&req);
			return TP_EXIT_FAIL;
		}
	}
	struct tp_query_result res;
	r = tp_query_run(&req.q, out, &res, err, sizeof(err));
	tp_query_req_fini(&req);
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
