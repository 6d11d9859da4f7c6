/* The pipeline behind a capture source: decode and tunnel termination,
 * mirror-session attribution and the dedup fingerprint on the decoding
 * thread, then dispatch by the symmetric inner-flow hash to workers, each
 * of which owns its flows (dedup, flow table, conn.log).  With one worker
 * everything runs on the calling thread. */
#ifndef TP_DISPATCH_PIPELINE_H
#define TP_DISPATCH_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "decode/decode.h"
#include "util/config.h"

struct tp_pipeline;

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
	uint64_t duplicates;
	uint64_t dedup_evictions;
	uint64_t flows;                  /* flows ended and logged */
	uint64_t flows_evicted;
	uint64_t peak_flows;
	uint64_t events;                 /* anomaly events, all names */
	uint64_t sessions;
	uint64_t first_ns, last_ns;      /* packet time covered */
};

/* Open the logs in cfg->log_dir and start the workers.  NULL on error,
 * with a message in err. */
struct tp_pipeline *tp_pipeline_new(const struct tp_config *cfg, char *err,
				    size_t errlen);

/* Feed one captured frame (p's input fields set). */
void tp_pipeline_packet(struct tp_pipeline *pl, struct tp_pkt *p);

/* End of input: flush every flow, write stats, join the workers. */
void tp_pipeline_finish(struct tp_pipeline *pl);

void tp_pipeline_totals(const struct tp_pipeline *pl,
			struct tp_pipeline_totals *t);

/* Close the logs and free.  Returns 0 or -errno of a failed log write. */
int tp_pipeline_free(struct tp_pipeline *pl);

#endif
