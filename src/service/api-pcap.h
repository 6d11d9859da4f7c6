/* GET /api/pcap: a store query over HTTP, streamed as a pcap.  Part of the
 * HTTP server (httpd.c), which routes the requests here.
 *
 *   GET /api/pcap?expr=EXPR&since=T&until=T&limit=N
 *
 * takes what `tapir query` takes (store/query-args.h), checks it before
 * anything is sent (400 with the message, the expression and a caret line
 * under the mistake; 404 for a uid in no conn.log), then runs the query on
 * a thread of its own that writes into a pipe, and streams the pipe as the
 * body (chunked; 200, application/vnd.tcpdump.pcap) while the connection
 * is suspended whenever the pipe is empty, so that the server's one thread
 * never waits for a query.  The status is sent with the first bytes, so a
 * query that fails before writing any (matches of two link types) gets
 * its error as a 500; one that fails later ends the body without its last
 * chunk.  At most TP_PCAP_API_MAX queries run at once; another gets 503. */
#ifndef TP_SERVICE_API_PCAP_H
#define TP_SERVICE_API_PCAP_H

#include <microhttpd.h>

#include "util/config.h"

#define TP_PCAP_API_MAX 2

struct tp_pcap_api;

/* NULL on ENOMEM. */
struct tp_pcap_api *tp_pcap_api_new(void);

/* Serve the store of cfg (cfg->store_dir; "" answers 404) with its
 * log.dir for uid lookups; until then every request gets 503.  cfg must
 * outlive a.  Thread-safe. */
void tp_pcap_api_set_store(struct tp_pcap_api *a, const struct tp_config *cfg);

/* The access handler's part for GET /api/pcap: *con_cls is the request's
 * state between calls. */
enum MHD_Result tp_pcap_api_request(struct tp_pcap_api *a,
				    struct MHD_Connection *c, void **con_cls);

/* MHD_OPTION_NOTIFY_COMPLETED's part: the request of con_cls is over. */
void tp_pcap_api_completed(struct tp_pcap_api *a, void **con_cls);

/* Before MHD_stop_daemon: refuse new queries and resume every suspended
 * connection (libmicrohttpd cannot stop with one suspended). */
void tp_pcap_api_stop(struct tp_pcap_api *a);

/* After MHD_stop_daemon: wait for the queries still searching, free a.
 * NULL is ignored. */
void tp_pcap_api_free(struct tp_pcap_api *a);

#endif
