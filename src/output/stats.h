/* stats.log (tapir's counters, one JSON object per line) and
 * capture_loss.log (Zeek's estimate of packets the capture missed, from
 * TCP ACKs over gaps). */
#ifndef TP_OUTPUT_STATS_H
#define TP_OUTPUT_STATS_H

#include <stdio.h>

#include "dispatch/pipeline.h"
#include "mirror/session.h"
#include "output/writer.h"

struct tp_stats_input {
	const struct tp_config *cfg;
	const struct tp_pipeline_totals *totals;
	struct tp_sessions *sessions;
	/* One session's counters summed over the threads. */
	void (*session)(void *arg, uint32_t idx, struct tp_session_count *c,
			uint64_t *duplicates);
	void *arg;
	uint64_t ts_ns;              /* the record's time */
	uint64_t uptime_ns;          /* tapir run: since start; else 0 */
};

/* One stats record, a JSON object and a newline, into f. */
void tp_stats_json(const struct tp_stats_input *in, FILE *f);

/* One capture_loss.log record for the interval [ts - delta, ts]. */
void tp_capture_loss_record(struct tp_rec *r, uint64_t ts_ns,
			    uint64_t delta_ns, uint64_t gaps, uint64_t acks);

#endif
