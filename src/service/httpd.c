/* The HTTP server of `tapir run`, on libmicrohttpd: one internal thread
 * (epoll), a handful of connections, small answers.  Routes are rows of
 * one table; a route's handler queues the whole response, except
 * /api/pcap, which streams a query's output (api-pcap.c).
 *
 * The listening socket is opened here, not by libmicrohttpd, so that it can
 * be opened before privileges are dropped and so that a failure names the
 * address and the fix; it is handed over with MHD_OPTION_LISTEN_SOCKET and
 * closed by MHD_stop_daemon. */
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "service/api-pcap.h"
#include "service/service.h"
#include "service/sock.h"
#include "util/log.h"
#include "util/mem.h"

#define HTTPD_BACKLOG 64
#define HTTPD_MAX_CONNECTIONS 64
#define HTTPD_TIMEOUT_S 10
/* First guess at the size of /api/stats; a larger answer is asked again. */
#define STATS_FIRST_SIZE 4096

struct tp_httpd {
	struct MHD_Daemon *mhd;
	struct tp_health_source hs;
	struct tp_pcap_api *pcap;
	uint16_t port;
	atomic_bool stopping;
};

typedef enum MHD_Result route_fn(struct tp_httpd *h,
				 struct MHD_Connection *c, void **con_cls);

struct route {
	const char *method;
	const char *path;
	route_fn *fn;
};

static route_fn route_healthz, route_stats, route_pcap;

/* HEAD is served by the GET row (libmicrohttpd leaves the body out). */
static const struct route routes[] = {
	{MHD_HTTP_METHOD_GET, "/healthz", route_healthz},
	{MHD_HTTP_METHOD_GET, "/api/stats", route_stats},
	{MHD_HTTP_METHOD_GET, "/api/pcap", route_pcap},
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
			     const char *type, const char *body, size_t len,
			     const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status,
				  const char *text)
{
	return reply(c, status, "text/plain; charset=utf-8", text,
		     strlen(text), NULL);
}

static enum MHD_Result route_healthz(struct tp_httpd *h,
				     struct MHD_Connection *c, void **con_cls)
{
	(void)con_cls;
	char why[256], body[sizeof(why) + 2];

	if (atomic_load(&h->stopping))
		return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping\n");
	why[0] = '\0';
	if (!h->hs.healthy || h->hs.healthy(h->hs.arg, why, sizeof(why)))
		return reply_text(c, MHD_HTTP_OK, "ok\n");
	why[sizeof(why) - 1] = '\0';
	snprintf(body, sizeof(body), "%s\n", why[0] ? why : "unhealthy");
	return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, body);
}

static enum MHD_Result route_stats(struct tp_httpd *h,
				   struct MHD_Connection *c, void **con_cls)
{
	size_t cap = STATS_FIRST_SIZE;

	(void)con_cls;
	if (!h->hs.stats_json)
		return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
				  "no counters yet\n");
	/* The counters may grow (a new session) between the two calls, so
	 * the second buffer has room to spare and a third try is allowed. */
	for (int tries = 0; tries < 3; tries++) {
		char *buf = tp_malloc(cap);
		if (!buf)
			break;
		size_t len = h->hs.stats_json(h->hs.arg, buf, cap);
		if (len < cap) {
			enum MHD_Result ret = reply(c, MHD_HTTP_OK,
						    "application/json", buf,
						    len, NULL);
			tp_free(buf, cap);
			return ret;
		}
		tp_free(buf, cap);
		cap = len + 1 + len / 4;
	}
	return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
			  "the counters could not be written\n");
}

static enum MHD_Result route_pcap(struct tp_httpd *h,
				  struct MHD_Connection *c, void **con_cls)
{
	return tp_pcap_api_request(h->pcap, c, con_cls);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode why)
{
	struct tp_httpd *h = cls;
	(void)c;
	(void)why;
	tp_pcap_api_completed(h->pcap, con_cls);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct tp_httpd *h = cls;
	bool path_known = false;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	const char *m = strcmp(method, MHD_HTTP_METHOD_HEAD) ? method
							     : MHD_HTTP_METHOD_GET;
	for (size_t i = 0; i < TP_ARRAY_SIZE(routes); i++) {
		if (strcmp(url, routes[i].path))
			continue;
		path_known = true;
		if (!strcmp(m, routes[i].method))
			return routes[i].fn(h, c, con_cls);
	}
	if (path_known) {
		static const char body[] = "method not allowed\n";
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED,
			     "text/plain; charset=utf-8", body,
			     sizeof(body) - 1, "GET, HEAD");
	}
	return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	tp_log_warn("http: %s", msg);
}

struct tp_httpd *tp_httpd_start(const char *listen,
				const struct tp_health_source *hs, char *err,
				size_t errlen)
{
	struct tp_sock_addr a;
	struct tp_httpd *h = NULL;
	sigset_t all, old;
	int fd = -1;

	if (tp_sock_parse(listen, &a, err, errlen) < 0)
		return NULL;
	h = tp_calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "out of memory starting the HTTP server");
		return NULL;
	}
	h->hs = *hs;
	atomic_init(&h->stopping, false);
	h->pcap = tp_pcap_api_new();
	if (!h->pcap) {
		snprintf(err, errlen, "out of memory starting the HTTP server");
		goto fail;
	}
	fd = tp_sock_listen_tcp(&a, true, HTTPD_BACKLOG, err, errlen);
	if (fd < 0)
		goto fail;
	h->port = tp_sock_bound_port(fd);

	/* Suspend and resume: /api/pcap waits for its query without
	 * holding the thread. */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
			 MHD_ALLOW_SUSPEND_RESUME;
	flags |= MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES
			 ? MHD_USE_EPOLL
			 : MHD_USE_POLL;
	/* Signals are for the main thread: the server's thread starts with
	 * all of them blocked. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	h->mhd = MHD_start_daemon(
		flags, h->port, NULL, NULL, on_request, h,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
		MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTPD_MAX_CONNECTIONS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTPD_TIMEOUT_S,
		MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!h->mhd) {
		/* libmicrohttpd closes a socket it was given when it fails
		 * after taking it; closing it again could close someone
		 * else's fd, so it is left alone. */
		char where[80];
		tp_sock_format(&a, where, sizeof(where));
		snprintf(err, errlen,
			 "cannot start the HTTP server on %s (libmicrohttpd "
			 "refused; its message is above)", where);
		goto fail;
	}
	return h;
fail:
	tp_pcap_api_free(h->pcap);
	tp_free(h, sizeof(*h));
	return NULL;
}

uint16_t tp_httpd_port(const struct tp_httpd *h)
{
	return h->port;
}

void tp_httpd_serve_store(struct tp_httpd *h, const struct tp_config *cfg)
{
	tp_pcap_api_set_store(h->pcap, cfg);
}

void tp_httpd_set_stopping(struct tp_httpd *h)
{
	atomic_store(&h->stopping, true);
}

void tp_httpd_stop(struct tp_httpd *h)
{
	if (!h)
		return;
	tp_pcap_api_stop(h->pcap);
	MHD_stop_daemon(h->mhd);
	tp_pcap_api_free(h->pcap);
	tp_free(h, sizeof(*h));
}
