/* The passive inventory (app/known.c): what the traffic shows of the
 * site's own hosts, as Zeek's known_hosts, known_services, known_certs
 * and software logs.  One shared table for all workers (a host reaches
 * several), fed through a small per-worker front; records come out in
 * packet-time order once every worker has gone past them, so that the
 * same capture gives the same records for any number of workers.
 * See docs/internals/inventory.md. */
#ifndef TP_APP_INVENTORY_H
#define TP_APP_INVENTORY_H

#include <stdbool.h>
#include <stdint.h>

#include "decode/packet-t.h"
#include "util/config.h"

struct tp_app_logs;
struct tp_inv;          /* shared */
struct tp_inv_worker;   /* one worker's */

/* Zeek's Software::Type values that tapir finds. */
enum tp_sw_type {
	TP_SW_HTTP_BROWSER,     /* HTTP::BROWSER: User-Agent */
	TP_SW_HTTP_SERVER,      /* HTTP::SERVER: Server */
	TP_SW_HTTP_APPSERVER,   /* HTTP::APPSERVER: X-Powered-By */
	TP_SW_SSH_CLIENT,       /* SSH::CLIENT */
	TP_SW_SSH_SERVER,       /* SSH::SERVER */
};

/* Per-worker counters (summed for stats.log). */
struct tp_inv_stats {
	uint64_t records;       /* inventory records written */
	uint64_t late;          /* sightings older than what was logged */
	uint64_t memcap_hits;   /* sightings not tracked for inventory.memory */
};

/* The inventory of cfg, writing through logs (the app logs of the
 * pipeline; the inventory owns logs from here on).  nworkers workers will
 * report their clocks.  NULL when every inventory log is off or on
 * ENOMEM (logs is then freed). */
struct tp_inv *tp_inv_new(const struct tp_config *cfg,
			  struct tp_app_logs *logs, unsigned nworkers);
/* Write everything still pending and free. */
void tp_inv_free(struct tp_inv *inv);

/* A worker's front (at most nworkers of them).  NULL on ENOMEM or when
 * inv is NULL. */
struct tp_inv_worker *tp_inv_worker_new(struct tp_inv *inv);
void tp_inv_worker_free(struct tp_inv_worker *w);

/* Is a one of site.local_nets? */
bool tp_inv_is_local(const struct tp_inv_worker *w, const struct tp_addr *a);

/* Sightings at packet time ts (addresses not local are ignored). */
void tp_inv_host(struct tp_inv_worker *w, uint64_t ts,
		 const struct tp_addr *host);
/* service "" is a responder whose service is not known (Zeek logs it
 * so too). */
void tp_inv_service(struct tp_inv_worker *w, uint64_t ts,
		    const struct tp_addr *host, uint16_t port, uint8_t proto,
		    const char *service);
void tp_inv_cert(struct tp_inv_worker *w, uint64_t ts,
		 const struct tp_addr *host, uint16_t port, const char *fp,
		 const char *subject, const char *issuer, const char *serial);
/* port 0: none (client software). */
void tp_inv_software(struct tp_inv_worker *w, uint64_t ts,
		     const struct tp_addr *host, uint16_t port,
		     enum tp_sw_type type, const char *unparsed);

/* The worker's clock reached now_ns (UINT64_MAX: its input ended): what
 * every worker has gone past is logged. */
void tp_inv_clock(struct tp_inv_worker *w, uint64_t now_ns);

void tp_inv_stats(const struct tp_inv_worker *w, struct tp_inv_stats *st);

#endif
