/* The pipeline behind the capture sources: decode and tunnel termination,
 * mirror-session attribution and the dedup fingerprint on a decoding
 * thread (a "front"), then dispatch by the symmetric inner-flow hash to
 * workers, each of which owns its flows (dedup, flow table, conn.log).
 *
 * `tapir read` has one front, its own thread; with one worker everything
 * runs on that thread.  `tapir run` has one front per receive thread, each
 * with a ring into every worker, and never waits for a worker: a full ring
 * drops the packet and counts it.  See docs/internals/pipeline.md. */
#ifndef TP_DISPATCH_PIPELINE_H
#define TP_DISPATCH_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/app-flow.h"
#include "capture/rx.h"
#include "decode/decode.h"
#include "store/retention.h"
#include "store/store.h"
#include "util/config.h"

struct tp_pipeline;
struct tp_front;

struct tp_pipeline_totals {
	uint64_t packets, bytes;         /* frames seen, wire bytes */
	uint64_t ip_packets;             /* with an IP packet decoded */
	uint64_t non_ip;                 /* ARP and other non-IP frames */
	uint64_t tunnelled;              /* came through at least one tunnel */
	uint64_t truncated;              /* fewer bytes than the headers say */
	uint64_t fragments_held;         /* kept for reassembly */
	uint64_t reassembled;
	uint64_t not_flowed;             /* decoded, but no flow key */
	uint64_t decode_failed;          /* stopped before an IP packet */
	uint64_t queue_drops;            /* a worker's queue was full */
	uint64_t duplicates;
	uint64_t dedup_evictions;
	uint64_t flow_packets;           /* reached a flow */
	uint64_t flows;                  /* flows ended and logged */
	uint64_t flows_evicted;
	uint64_t peak_flows;
	uint64_t tcp_acks, tcp_gaps;     /* for capture_loss.log */
	uint64_t events;                 /* anomaly events, all names */
	uint64_t sessions;
	uint64_t defrag_memory;
	uint64_t first_ns, last_ns;      /* packet time covered */
	/* Live sources: lost before tapir saw them, by where. */
	uint64_t socket_drops;           /* UDP socket overflows */
	uint64_t ring_drops;             /* AF_PACKET ring drops */
	uint64_t rx_truncated;           /* datagrams longer than a buffer */
	uint64_t rx_errors;
	uint64_t by_event[TP_EV__COUNT];
	uint64_t by_encap[TP_ENCAP__COUNT];
	/* The packet store, when store.dir is set: the writers' counters
	 * summed over the fronts, and retention's. */
	bool store;
	struct tp_store_stats store_w;
	struct tp_retention_stats retention;
	struct tp_app_stats app;         /* parsers, reassembly, nDPI */
};

/* `tapir read`: open the logs in cfg->log_dir and start the workers; one
 * front that waits for the workers when they fall behind.  NULL on error,
 * with a message in err. */
struct tp_pipeline *tp_pipeline_new(const struct tp_config *cfg, char *err,
				    size_t errlen);

/* `tapir run`: nfronts fronts that never wait (a full queue drops and
 * counts), workers always on threads of their own, and the stats and
 * health of a service. */
struct tp_pipeline *tp_pipeline_new_live(const struct tp_config *cfg,
					 unsigned nfronts, char *err,
					 size_t errlen);

/* Feed one captured frame (p's input fields set) to front 0. */
void tp_pipeline_packet(struct tp_pipeline *pl, struct tp_pkt *p);

struct tp_front *tp_pipeline_front(struct tp_pipeline *pl, unsigned i);
/* Front side (one thread per front): a frame. */
void tp_front_packet(struct tp_front *f, struct tp_pkt *p);
/* End of a receive batch, or a wait that timed out: make queued items
 * visible to the workers, and let the wall clock (now_ns) advance flow
 * timeouts when no packet does. */
void tp_front_flush(struct tp_front *f, uint64_t now_ns);
/* The receive counters of the front's source (kind: where drops count). */
void tp_front_set_rx(struct tp_front *f, enum tp_source_kind kind,
		     const struct tp_rx_stats *st);
/* Liveness: the front's thread calls this on every pass of its loop. */
void tp_front_beat(struct tp_front *f);

/* End of input: flush every flow, write stats, join the workers.  Live:
 * after every front's thread has stopped. */
void tp_pipeline_finish(struct tp_pipeline *pl);

/* Counters summed over fronts and workers, read while they run. */
void tp_pipeline_totals(const struct tp_pipeline *pl,
			struct tp_pipeline_totals *t);

/* Append a record to stats.log and capture_loss.log (the interval since
 * the last one), as of now_ns.  0 or -errno. */
int tp_pipeline_write_stats(struct tp_pipeline *pl, uint64_t now_ns);
/* The stats record as JSON into buf, like snprintf. */
size_t tp_pipeline_stats_json(struct tp_pipeline *pl, char *buf, size_t n);

/* Close every log as of now_ns, rename it with its time range and, with
 * reopen, start a new one (else after the last records, at the end).  0 or
 * -errno. */
int tp_pipeline_rotate(struct tp_pipeline *pl, uint64_t now_ns, bool reopen);

/* Health, checked about once a second by one thread: every thread has
 * moved within health.stuck_after, and the packets lost over the last
 * health.loss_window are at most health.max_loss_percent.  true, or false
 * with the reason. */
bool tp_pipeline_check_health(struct tp_pipeline *pl, uint64_t now_ns,
			      char *why, size_t n);

/* Close the logs and free.  Returns 0 or -errno of a failed log write. */
int tp_pipeline_free(struct tp_pipeline *pl);

#endif
