/* What the pipeline fuzz targets share: a pipeline with small tables (so
 * that one input runs in microseconds) writing into a per-process folder,
 * as `tapir read` makes it or as `tapir run` does; the app targets, the
 * flow their parser is told of. */
#ifndef TP_FUZZ_COMMON_H
#define TP_FUZZ_COMMON_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dispatch/pipeline.h"
#include "util/config.h"

static inline struct tp_pipeline *fuzz_pipeline_make(struct tp_config *cfg,
						     bool live)
{
	char err[256];

	tp_config_default(cfg);
	snprintf(cfg->log_dir, sizeof(cfg->log_dir), "/tmp/tapir-fuzz-%d",
		 (int)getpid());
	cfg->max_flows = 64;
	cfg->max_sessions = 64;
	cfg->dedup_table_size = 1024;
	cfg->decode.defrag_mem_cap = 256 * 1024;
	cfg->queue_size = 1024; /* the least: a ring is allocated per input */
	/* nDPI's module takes ~0.1 s to set up: per input, it would leave
	 * the pipeline targets a few hundred runs.  The parsers stay on. */
	cfg->app_ndpi = false;
	struct tp_pipeline *pl = live ? tp_pipeline_new_live(cfg, 1, err,
							     sizeof(err))
				      : tp_pipeline_new(cfg, err, sizeof(err));
	if (!pl) {
		fprintf(stderr, "fuzz: %s\n", err);
		abort();
	}
	return pl;
}

/* `tapir read`'s: one front, the worker on the caller's thread. */
static inline struct tp_pipeline *fuzz_pipeline_new(struct tp_config *cfg)
{
	return fuzz_pipeline_make(cfg, false);
}

/* `tapir run`'s, with one front (tp_pipeline_front(pl, 0)) that the caller
 * drives as a receive thread would, and the worker on a thread of its
 * own. */
static inline struct tp_pipeline *fuzz_pipeline_new_live(struct tp_config *cfg)
{
	return fuzz_pipeline_make(cfg, true);
}

/* The flow a parser's target hands its bytes in: IPv4, proto, from port
 * 40000 to 80, first seen at 0 (its uid and fuids follow from that). */
static inline void fuzz_app_flow(struct tp_flow *flow, uint8_t proto)
{
	memset(flow, 0, sizeof(*flow));
	flow->key.proto = proto;
	flow->key.ipver = 4;
	flow->key.port[0] = 40000;
	flow->key.port[1] = 80;
}

#endif
