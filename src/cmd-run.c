/* tapir run: the live mirror target.
 *
 * Start-up, in this order: configuration; the log directory's lock; every
 * source's sockets and rings, the health listeners and the HTTP server
 * (all of which may need root); the privilege drop; the pipeline (whose
 * logs are then the unprivileged user's); one thread per receive socket.
 * The main thread then only waits for signals and the clock: health once a
 * second, stats every stats.interval, rotation on the hour (log.rotate)
 * and on SIGHUP, and on SIGTERM or SIGINT a clean stop that flushes every
 * open flow. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capture/rx.h"
#include "commands.h"
#include "dispatch/pipeline.h"
#include "output/writer.h"
#include "service/service.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"

/* How long a receive call waits before the thread looks at the clock and
 * the stop flag. */
#define RX_WAIT_MS 100
#define NS 1000000000ull

struct rx_thread {
	struct tp_rx rx;
	struct tp_front *front;
	struct run *run;
	pthread_t thread;
	bool started;
	_Atomic bool ended;              /* its source has no more input */
	char err[256];
};

struct run {
	struct tp_config *cfg;
	struct tp_pipeline *_Atomic pl;
	struct rx_thread *rxs;
	unsigned nrx, nrx_alloc;
	_Atomic bool stop;
	/* health, as last checked by the main thread */
	pthread_mutex_t mu;
	bool healthy;
	char why[160];
};

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static void run_usage(FILE *out)
{
	fprintf(out,
		"usage: tapir run [options]\n\n"
		"Run as a traffic-mirroring target: receive VXLAN and Geneve on\n"
		"UDP, or capture interfaces, as the configuration's sources say\n"
		"(on the embedded defaults: VXLAN on UDP 4789 and Geneve on UDP\n"
		"6081, all addresses), answer load-balancer health checks,\n"
		"write the logs of 'tapir read' continuously, rotated hourly, and\n"
		"keep every frame in a packet store (store.dir, by default\n"
		"LOGDIR/store; GET /api/pcap and 'tapir query' search it).\n\n"
		"options:\n"
		"  -c, --config FILE    YAML configuration file\n"
		"      --set KEY=VALUE  override one configuration key\n"
		"  -o, --output DIR     log directory (log.dir)\n"
		"  -f, --format FMT     json (default) or zeek\n"
		"  -j, --workers N      worker threads\n"
		"      --replay FILE    replay a capture instead of the sources\n"
		"      --speed X        replay pace: 1 its own (default), 0 flat out\n"
		"      --check-config   validate the configuration and exit\n"
		"  -q, --quiet          only errors on standard error\n"
		"  -h, --help           this text\n\n"
		"Signals: SIGHUP rotates the logs; SIGTERM and SIGINT stop after\n"
		"flushing every open flow.  Configuration keys:\n"
		"docs/configuration.md.\n");
}

/* ---- receive threads --------------------------------------------------- */

static void *rx_main(void *arg)
{
	struct rx_thread *t = arg;
	struct tp_rx *rx = &t->rx;
	struct tp_pkt *pkts = tp_calloc_aligned(64, TP_RX_BATCH * sizeof(*pkts));
	struct tp_rx_stats st;
	uint64_t last_stats = 0;

	if (!pkts) {
		snprintf(t->err, sizeof(t->err), "out of memory");
		atomic_store(&t->ended, true);
		return NULL;
	}
	while (!atomic_load_explicit(&t->run->stop, memory_order_relaxed)) {
		int n = rx->ops->recv(rx, pkts, TP_RX_BATCH, RX_WAIT_MS, t->err,
				      sizeof(t->err));
		if (n < 0) {
			if (n != TP_RX_END)
				tp_log_error("%s", t->err);
			break;
		}
		for (int i = 0; i < n; i++)
			tp_front_packet(t->front, &pkts[i]);
		uint64_t now = wall_ns();
		tp_front_flush(t->front, now);
		tp_front_beat(t->front);
		if (now - last_stats >= NS / 10) {
			rx->ops->stats(rx, &st);
			tp_front_set_rx(t->front, (enum tp_source_kind)rx->cfg->kind,
					&st);
			last_stats = now;
		}
	}
	rx->ops->stats(rx, &st);
	tp_front_set_rx(t->front, (enum tp_source_kind)rx->cfg->kind, &st);
	tp_front_flush(t->front, 0);
	tp_free(pkts, TP_RX_BATCH * sizeof(*pkts));
	tp_mem_flush_thread();
	atomic_store(&t->ended, true);
	return NULL;
}

static int open_sources(struct run *r, char *err, size_t errlen)
{
	const struct tp_config *cfg = r->cfg;
	unsigned n = 0;

	for (uint32_t s = 0; s < cfg->nsources; s++)
		n += cfg->sources[s].threads ? cfg->sources[s].threads : 1;
	r->rxs = tp_calloc(n, sizeof(*r->rxs));
	r->nrx_alloc = n;
	if (!r->rxs) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (uint32_t s = 0; s < cfg->nsources; s++) {
		const struct tp_source_cfg *sc = &cfg->sources[s];
		unsigned k = sc->threads ? sc->threads : 1;
		for (unsigned i = 0; i < k; i++) {
			struct rx_thread *t = &r->rxs[r->nrx];
			t->run = r;
			t->rx.ops = tp_rx_ops_of((enum tp_source_kind)sc->kind);
			int rc = t->rx.ops->open(&t->rx, sc, i, k, err, errlen);
			if (rc < 0)
				return rc;
			r->nrx++;
		}
	}
	return 0;
}

static void close_sources(struct run *r)
{
	for (unsigned i = 0; i < r->nrx; i++)
		r->rxs[i].rx.ops->close(&r->rxs[i].rx);
	tp_free(r->rxs, r->nrx_alloc * sizeof(*r->rxs));
	r->rxs = NULL;
}

/* ---- what the service asks --------------------------------------------- */

static bool svc_healthy(void *arg, char *why, size_t n)
{
	struct run *r = arg;
	pthread_mutex_lock(&r->mu);
	bool ok = r->healthy;
	if (!ok)
		snprintf(why, n, "%s", r->why);
	pthread_mutex_unlock(&r->mu);
	return ok;
}

static size_t svc_stats(void *arg, char *buf, size_t n)
{
	struct run *r = arg;
	struct tp_pipeline *pl = atomic_load(&r->pl);
	if (!pl)
		return (size_t)snprintf(buf, n, "{\"starting\":true}\n");
	return tp_pipeline_stats_json(pl, buf, n);
}

static void set_health(struct run *r, bool ok, const char *why, bool quiet)
{
	pthread_mutex_lock(&r->mu);
	if (ok != r->healthy && !quiet) {
		if (ok)
			tp_log_info("healthy");
		else
			tp_log_warn("unhealthy: %s", why);
	}
	r->healthy = ok;
	snprintf(r->why, sizeof(r->why), "%s", ok ? "" : why);
	pthread_mutex_unlock(&r->mu);
}

/* ---- the main loop ----------------------------------------------------- */

static uint64_t next_boundary(uint64_t now, uint64_t every)
{
	return every ? (now / every + 1) * every : UINT64_MAX;
}

static void main_loop(struct run *r, const sigset_t *sigs)
{
	const struct tp_config *cfg = r->cfg;
	struct tp_pipeline *pl = atomic_load(&r->pl);
	uint64_t now = wall_ns();
	uint64_t next_stats = now + cfg->stats_interval_ns;
	uint64_t next_rotate = next_boundary(now, cfg->rotate_interval_ns);
	uint64_t next_health = now;

	for (;;) {
		struct timespec ts = {0, 200 * 1000 * 1000};
		int sig = sigtimedwait(sigs, NULL, &ts);
		now = wall_ns();
		if (sig == SIGTERM || sig == SIGINT) {
			tp_log_info("%s: stopping", strsignal(sig));
			return;
		}
		if (sig == SIGHUP) {
			tp_log_info("SIGHUP: reopening the logs");
			tp_pipeline_rotate(pl, now, true);
		}
		if (now >= next_health) {
			char why[160] = "";
			bool ok = tp_pipeline_check_health(pl, now, why,
							   sizeof(why));
			set_health(r, ok, why, false);
			next_health = now + NS;
		}
		if (now >= next_stats) {
			tp_pipeline_write_stats(pl, now);
			next_stats = now + cfg->stats_interval_ns;
		}
		if (now >= next_rotate) {
			tp_pipeline_rotate(pl, now, true);
			next_rotate = next_boundary(now, cfg->rotate_interval_ns);
		}
		bool all_ended = true;
		for (unsigned i = 0; i < r->nrx; i++)
			all_ended &= atomic_load(&r->rxs[i].ended);
		if (all_ended) {
			tp_log_info("every source has ended: stopping");
			return;
		}
	}
}

/* Logs a run before this one left behind (it was killed, or rotation was
 * off) are kept under a rotated name, dated by their last change. */
static void keep_old_logs(const char *dir)
{
	static const char *const names[] = {"conn", "weird", "capture_loss",
					     "stats", "http", "dns"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char from[4352], to[4352];
		struct stat st;
		snprintf(from, sizeof(from), "%s/%s.log", dir, names[i]);
		if (stat(from, &st) < 0)
			continue;
		uint64_t t = (uint64_t)st.st_mtim.tv_sec * NS;
		tp_log_rotated_name(to, sizeof(to), dir, names[i], t, t);
		if (rename(from, to) == 0)
			tp_log_info("kept %s as %s", from, to);
	}
}

static int parse_args(struct tp_config *cfg, int argc, char **argv,
		      bool *check, bool *quiet)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"set", required_argument, NULL, 's'},
		{"output", required_argument, NULL, 'o'},
		{"format", required_argument, NULL, 'f'},
		{"workers", required_argument, NULL, 'j'},
		{"replay", required_argument, NULL, 'r'},
		{"speed", required_argument, NULL, 'S'},
		{"check-config", no_argument, NULL, 'C'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	char err[512];
	const char *replay = NULL, *speed = "1";
	int c;

	argv[0] = (char *)"tapir run";
	int rc = tp_cli_config_file(cfg, argc, argv, "c:o:f:j:qh", opts);
	if (rc != TP_EXIT_OK)
		return rc;
	while ((c = getopt_long(argc, argv, "c:o:f:j:qh", opts, NULL)) != -1) {
		const char *key = NULL;
		switch (c) {
		case 'o': key = "log.dir"; break;
		case 'f': key = "log.format"; break;
		case 'j': key = "workers"; break;
		case 'c': continue;
		case 'r': replay = optarg; continue;
		case 'S': speed = optarg; continue;
		case 'C': *check = true; continue;
		case 'q': *quiet = true; continue;
		case 's':
			if (tp_cli_set(cfg, NULL, optarg) != TP_EXIT_OK)
				return TP_EXIT_USAGE;
			continue;
		case 'h':
			run_usage(stdout);
			return -1;
		default:
			fprintf(stderr, "tapir run: see 'tapir run --help'\n");
			return TP_EXIT_USAGE;
		}
		if (tp_cli_set(cfg, key, optarg) != TP_EXIT_OK)
			return TP_EXIT_USAGE;
	}
	if (optind < argc) {
		fprintf(stderr, "tapir run: unexpected argument '%s'\n",
			argv[optind]);
		return TP_EXIT_USAGE;
	}
	if (replay) {
		char *end;
		double x = strtod(speed, &end);
		if (*end || end == speed || x < 0 || x > 1000) {
			fprintf(stderr, "tapir run: --speed: expected a number "
				"from 0 (flat out) to 1000, got '%s'\n", speed);
			return TP_EXIT_USAGE;
		}
		struct tp_source_cfg *sc = &cfg->sources[0];
		memset(sc, 0, sizeof(*sc));
		sc->kind = TP_SRC_PCAP;
		sc->threads = 1;
		sc->speed_permille = (uint32_t)(x * 1000 + 0.5);
		if (strlen(replay) >= sizeof(sc->file)) {
			fprintf(stderr, "tapir run: --replay: path too long\n");
			return TP_EXIT_USAGE;
		}
		snprintf(sc->file, sizeof(sc->file), "%s", replay);
		cfg->nsources = 1;
	}
	if (tp_cli_default_store(cfg) != TP_EXIT_OK)
		return TP_EXIT_USAGE;
	if (tp_config_validate(cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "tapir: %s\n", err);
		return TP_EXIT_USAGE;
	}
	if (cfg->nsources == 0) {
		fprintf(stderr, "tapir: config: 'sources' is empty: nothing to "
			"receive\n");
		return TP_EXIT_USAGE;
	}
	return TP_EXIT_OK;
}

int tp_cmd_run(int argc, char **argv)
{
	static struct tp_config cfg;
	static struct run r;
	struct tp_health_source hs = {svc_healthy, svc_stats, &r};
	struct tp_httpd *httpd = NULL;
	struct tp_health_tcp *htcp = NULL;
	bool check = false, quiet = false;
	char err[512];
	int rc;

	rc = parse_args(&cfg, argc, argv, &check, &quiet);
	if (rc != TP_EXIT_OK)
		return rc < 0 ? TP_EXIT_OK : rc;
	if (check) {
		printf("tapir: configuration is valid: %u source%s, %u worker%s, "
		       "logs in %s, packet store %s\n", cfg.nsources,
		       cfg.nsources == 1 ? "" : "s", cfg.workers,
		       cfg.workers == 1 ? "" : "s", cfg.log_dir,
		       cfg.store_dir[0] ? cfg.store_dir : "off");
		return TP_EXIT_OK;
	}
	if (quiet)
		tp_log_level = 0;

	memset(&r, 0, sizeof(r));
	r.cfg = &cfg;
	pthread_mutex_init(&r.mu, NULL);
	snprintf(r.why, sizeof(r.why), "starting");

	/* Every thread started from here on leaves these signals to the
	 * main thread's sigtimedwait. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (tp_dir_lock(cfg.log_dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "tapir: %s\n", err);
		return TP_EXIT_FAIL;
	}
	if (open_sources(&r, err, sizeof(err)) < 0)
		goto fail;
	if (cfg.n_health_tcp_ports &&
	    !(htcp = tp_health_tcp_start(cfg.health_tcp_ports,
					 cfg.n_health_tcp_ports, &hs, err,
					 sizeof(err))))
		goto fail;
	if (cfg.http_listen[0] &&
	    !(httpd = tp_httpd_start(cfg.http_listen, &hs, err, sizeof(err))))
		goto fail;
	if (httpd)
		tp_httpd_serve_store(httpd, &cfg);
	if (tp_drop_privileges(cfg.run_user, cfg.log_dir, err, sizeof(err)) < 0)
		goto fail;
	if (cfg.rotate_interval_ns)
		keep_old_logs(cfg.log_dir);

	struct tp_pipeline *pl = tp_pipeline_new_live(&cfg, r.nrx, err,
						      sizeof(err));
	if (!pl)
		goto fail;
	atomic_store(&r.pl, pl);
	for (unsigned i = 0; i < r.nrx; i++) {
		struct rx_thread *t = &r.rxs[i];
		t->front = tp_pipeline_front(pl, i);
		if (pthread_create(&t->thread, NULL, rx_main, t) != 0) {
			snprintf(err, sizeof(err), "cannot start a receive thread");
			atomic_store(&r.stop, true);
			for (unsigned k = 0; k < i; k++)
				pthread_join(r.rxs[k].thread, NULL);
			tp_pipeline_finish(pl);
			tp_pipeline_free(pl);
			goto fail;
		}
		t->started = true;
	}
	tp_log_info("running: %u receive thread%s, %u worker%s, logs in %s, "
		    "packet store %s", r.nrx, r.nrx == 1 ? "" : "s",
		    cfg.workers, cfg.workers == 1 ? "" : "s", cfg.log_dir,
		    cfg.store_dir[0] ? cfg.store_dir : "off");

	main_loop(&r, &sigs);

	/* Stop: refuse health checks first, so that a load balancer moves
	 * the traffic elsewhere while the flows are flushed. */
	set_health(&r, false, "stopping", true);
	if (httpd)
		tp_httpd_set_stopping(httpd);
	if (htcp)
		tp_health_tcp_down(htcp);
	atomic_store(&r.stop, true);
	for (unsigned i = 0; i < r.nrx; i++)
		if (r.rxs[i].started)
			pthread_join(r.rxs[i].thread, NULL);
	tp_pipeline_finish(pl);
	struct tp_pipeline_totals t;
	tp_pipeline_totals(pl, &t);
	if (cfg.rotate_interval_ns)
		tp_pipeline_rotate(pl, wall_ns(), false);
	tp_httpd_stop(httpd);
	tp_health_tcp_stop(htcp);
	atomic_store(&r.pl, NULL);
	rc = tp_pipeline_free(pl) < 0 ? TP_EXIT_FAIL : TP_EXIT_OK;
	close_sources(&r);
	if (!quiet)
		fprintf(stderr,
			"tapir: %" PRIu64 " packets; %" PRIu64 " flows; %" PRIu64
			" duplicates removed; lost %" PRIu64 " (socket %" PRIu64
			", ring %" PRIu64 ", queue %" PRIu64 ")\n",
			t.packets, t.flows, t.duplicates,
			t.socket_drops + t.ring_drops + t.queue_drops,
			t.socket_drops, t.ring_drops, t.queue_drops);
	return rc;

fail:
	fprintf(stderr, "tapir: %s\n", err);
	tp_httpd_stop(httpd);
	tp_health_tcp_stop(htcp);
	close_sources(&r);
	return TP_EXIT_FAIL;
}
