/* Subcommands: one file each at the top of src/. */
#ifndef TP_COMMANDS_H
#define TP_COMMANDS_H

#include <stdio.h>

struct tp_command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

int tp_cmd_read(int argc, char **argv);
int tp_cmd_stats(int argc, char **argv);
int tp_cmd_run(int argc, char **argv);
int tp_cmd_version(int argc, char **argv);

/* cmd-stats.c: the summary of a GET /api/stats body (len bytes, no NUL
 * needed) written to out.  0, or -EINVAL with the offset where the body
 * stopped being a JSON object in *bad_at (rows before it are written).
 * Apart from tp_cmd_stats so that a fuzz target can run it. */
int tp_stats_summary(FILE *out, const char *body, size_t len, size_t *bad_at);

/* Exit statuses. */
#define TP_EXIT_OK 0
#define TP_EXIT_FAIL 1    /* input could not be read (fully) */
#define TP_EXIT_USAGE 2   /* the command line or configuration is wrong */

#endif
