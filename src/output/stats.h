/* stats.log (tapir's counters, JSON lines) and capture_loss.log (Zeek's
 * estimate of packets the capture missed, from TCP ACKs over gaps). */
#ifndef TP_OUTPUT_STATS_H
#define TP_OUTPUT_STATS_H

#include "decode/decode.h"
#include "dispatch/pipeline.h"
#include "dispatch/worker.h"
#include "mirror/session.h"

struct tp_stats_input {
	const struct tp_config *cfg;
	const struct tp_dec *dec;
	struct tp_sessions *sessions;
	const struct tp_pipeline_totals *totals;
	const struct tp_worker *workers;
	unsigned nworkers;
};

/* Append one record to stats.log and capture_loss.log in cfg->log_dir.
 * 0 or -errno (logged). */
int tp_stats_write(const struct tp_stats_input *in);

#endif
