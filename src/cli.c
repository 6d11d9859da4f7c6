/* What the subcommands share on their command lines. */
#include <getopt.h>
#include <stdio.h>

#include "commands.h"

int tp_cli_config_file(struct tp_config *cfg, int argc, char **argv,
		       const char *shortopts, const struct option *opts)
{
	const char *file = NULL;
	char err[512];
	int c;

	tp_config_default(cfg);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1)
		if (c == 'c')
			file = optarg;
	opterr = 1;
	optind = 1;
	if (file && tp_config_load_file(cfg, file, err, sizeof(err)) < 0) {
		fprintf(stderr, "tapir: %s\n", err);
		return TP_EXIT_USAGE;
	}
	return TP_EXIT_OK;
}

int tp_cli_set(struct tp_config *cfg, const char *key, const char *value)
{
	char err[512], kv[4200];
	int rc;

	if (key) {
		snprintf(kv, sizeof(kv), "%s=%s", key, value);
		rc = tp_config_set(cfg, kv, err, sizeof(err));
	} else {
		rc = tp_config_set(cfg, value, err, sizeof(err));
	}
	if (rc < 0) {
		fprintf(stderr, "tapir: %s%s\n", key ? "" : "--set ", err);
		return TP_EXIT_USAGE;
	}
	return TP_EXIT_OK;
}

int tp_cli_default_store(struct tp_config *cfg)
{
	if (cfg->store_dir_set)
		return TP_EXIT_OK;
	int n = snprintf(cfg->store_dir, sizeof(cfg->store_dir), "%s/store",
			 cfg->log_dir);
	if (n < 0 || (size_t)n >= sizeof(cfg->store_dir)) {
		cfg->store_dir[0] = 0;
		fprintf(stderr, "tapir: log.dir is too long for the store "
			"under it; set store.dir\n");
		return TP_EXIT_USAGE;
	}
	return TP_EXIT_OK;
}
