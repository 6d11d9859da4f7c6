/* The service side of `tapir run`: what a load balancer, systemd and an
 * operator see of the pipeline.
 *
 *   - an HTTP server (libmicrohttpd): GET /healthz, GET /api/stats,
 *     GET /api/pcap (a store query, streamed);
 *   - TCP health ports for NLB-style checks: they accept while the pipeline
 *     is healthy and refuse connections while it is not;
 *   - a lock on the log directory, so that two tapirs never write one set
 *     of logs;
 *   - dropping root for run.user once the sockets are open.
 *
 * Order in `tapir run`: tp_dir_lock (creates the log dir), open the capture
 * sockets, tp_httpd_start and tp_health_tcp_start (ports below 1024 are
 * bound here, as root), tp_drop_privileges; at SIGTERM tp_health_tcp_down
 * and tp_httpd_set_stopping first, so that balancers drain before the
 * pipeline stops, then the _stop functions. */
#ifndef TP_SERVICE_SERVICE_H
#define TP_SERVICE_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tp_config;

/* What the pipeline tells the service: its health and its counters.  Both
 * callbacks are called from the service's own threads (the HTTP server's
 * and the health ports'), concurrently with the pipeline and with each
 * other, so they must be thread-safe; healthy() is called about four times
 * a second and should be cheap. */
struct tp_health_source {
	/* true when healthy; else false with a reason in why */
	bool (*healthy)(void *arg, char *why, size_t n);
	/* The current counters as one JSON object, written into buf (at most
	 * n bytes, NUL-terminated); returns the length, or the length needed
	 * if larger than n (like snprintf). */
	size_t (*stats_json)(void *arg, char *buf, size_t n);
	void *arg;
};

/* --- HTTP server (httpd.c) --- */

struct tp_httpd;

/* Listen on listen ("ADDR:PORT", "[V6]:PORT", ":PORT" for all addresses;
 * port 0 picks a free one, see tp_httpd_port) and serve from a thread of
 * its own:
 *   GET /healthz    200 "ok\n", or 503 with the reason (text/plain)
 *   GET /api/stats  200, hs->stats_json (application/json)
 * anything else 404, another method on a known path 405.  *hs is copied.
 * NULL on error, with a message in err naming the address. */
struct tp_httpd *tp_httpd_start(const char *listen,
				const struct tp_health_source *hs, char *err,
				size_t errlen);

/* Serve GET /api/pcap from the store of cfg (cfg->store_dir, log.dir for
 * uid); until this is called it answers 503.  cfg must outlive h. */
void tp_httpd_serve_store(struct tp_httpd *h, const struct tp_config *cfg);

/* The port listened on (useful after port 0). */
uint16_t tp_httpd_port(const struct tp_httpd *h);

/* From now on /healthz answers 503 "stopping".  Cannot fail; may be called
 * from any thread (not from a signal handler). */
void tp_httpd_set_stopping(struct tp_httpd *h);

/* Stop the server, wait for its thread and free h.  NULL is ignored. */
void tp_httpd_stop(struct tp_httpd *h);

/* --- TCP health ports (health-tcp.c) --- */

struct tp_health_tcp;

#define TP_HEALTH_TCP_MAX 8   /* ports, as tp_config.health_tcp_ports */

/* One dual-stack TCP socket on all addresses for each of the n ports
 * (1..65535, n <= TP_HEALTH_TCP_MAX), bound now, and a thread that accepts connections on them
 * and closes them at once.  The thread asks hs->healthy() every 250 ms;
 * while it says no, the sockets stop listening, so that a connect is
 * refused (RST) rather than left to time out, and they listen again when
 * it says yes.  The port stays bound all the while, so a port below 1024
 * keeps working after privileges are dropped.  *hs is copied.  NULL on
 * error, with a message in err naming the port. */
struct tp_health_tcp *tp_health_tcp_start(const uint16_t *ports, unsigned n,
					  const struct tp_health_source *hs,
					  char *err, size_t errlen);

/* Refuse connections from now on, whatever healthy() says; for shutdown,
 * so that balancers stop sending before the pipeline stops.  When it
 * returns, new connects are refused.  Not from a signal handler. */
void tp_health_tcp_down(struct tp_health_tcp *t);

/* Stop the thread, close the sockets and free t.  NULL is ignored. */
void tp_health_tcp_stop(struct tp_health_tcp *t);

/* --- The log directory's lock (lock.c) --- */

/* Create dir (and its parents) if missing and take an exclusive lock on
 * dir/.tapir.lock, which then holds our pid.  Returns the lock's fd, to be
 * kept open for the life of the process (the lock goes with it, even on a
 * crash); or -EBUSY with "another tapir (pid N) is running on DIR" in err,
 * or -errno with a message naming the path. */
int tp_dir_lock(const char *dir, char *err, size_t errlen);

/* --- Dropping root (privs.c) --- */

/* When user is non-empty and we run as root: give dir, and what root owns
 * in it (the logs and the lock file; not across file systems, not through
 * symbolic links), to user, then become user, with its groups.  Afterwards
 * regaining root is impossible (checked).  Does nothing when user is ""
 * or we are not root.  Sockets opened before keep working.  0, or -errno
 * with err naming the user (a missing user gets a hint at creating it). */
int tp_drop_privileges(const char *user, const char *dir, char *err,
		       size_t errlen);

#endif
