/* Subcommands: one file each at the top of src/. */
#ifndef TP_COMMANDS_H
#define TP_COMMANDS_H

#include <getopt.h>

#include "util/config.h"

#include <stdio.h>

struct tp_command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

int tp_cmd_read(int argc, char **argv);
int tp_cmd_stats(int argc, char **argv);
int tp_cmd_run(int argc, char **argv);
int tp_cmd_query(int argc, char **argv);
int tp_cmd_version(int argc, char **argv);

/* cmd-stats.c: the summary of a GET /api/stats body (len bytes, no NUL
 * needed) written to out.  0, or -EINVAL with the offset where the body
 * stopped being a JSON object in *bad_at (rows before it are written).
 * Apart from tp_cmd_stats so that a fuzz target can run it. */
int tp_stats_summary(FILE *out, const char *body, size_t len, size_t *bad_at);

/* Command lines.  Embedded defaults, then the file of -c/--config found
 * anywhere on the command line (so that every other option overrides it);
 * getopt is left ready for the command's own pass.  TP_EXIT_OK, or
 * TP_EXIT_USAGE with the message printed. */
int tp_cli_config_file(struct tp_config *cfg, int argc, char **argv,
		       const char *shortopts, const struct option *opts);
/* One key=value from an option (key given) or from --set (key NULL, value
 * "key=value").  TP_EXIT_OK, or TP_EXIT_USAGE with the message printed. */
int tp_cli_set(struct tp_config *cfg, const char *key, const char *value);

/* tapir run, tapir query: when store.dir was not given (not even as ""),
 * the store is "<log.dir>/store".  TP_EXIT_OK, or TP_EXIT_USAGE with the
 * message printed. */
int tp_cli_default_store(struct tp_config *cfg);

/* Exit statuses. */
#define TP_EXIT_OK 0
#define TP_EXIT_FAIL 1    /* input could not be read (fully) */
#define TP_EXIT_USAGE 2   /* the command line or configuration is wrong */

#endif
