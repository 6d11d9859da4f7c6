/* What the pipeline fuzz targets share: a pipeline with small tables (so
 * that one input runs in microseconds) writing into a per-process folder. */
#ifndef TP_FUZZ_COMMON_H
#define TP_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dispatch/pipeline.h"
#include "util/config.h"

static inline struct tp_pipeline *fuzz_pipeline_new(struct tp_config *cfg)
{
	char err[256];

	tp_config_default(cfg);
	snprintf(cfg->log_dir, sizeof(cfg->log_dir), "/tmp/tapir-fuzz-%d",
		 (int)getpid());
	cfg->max_flows = 64;
	cfg->max_sessions = 64;
	cfg->dedup_table_size = 1024;
	cfg->decode.defrag_mem_cap = 256 * 1024;
	struct tp_pipeline *pl = tp_pipeline_new(cfg, err, sizeof(err));
	if (!pl) {
		fprintf(stderr, "fuzz: %s\n", err);
		abort();
	}
	return pl;
}

#endif
