/* Subcommands: one file each at the top of src/. */
#ifndef TP_COMMANDS_H
#define TP_COMMANDS_H

struct tp_command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

int tp_cmd_read(int argc, char **argv);
int tp_cmd_stats(int argc, char **argv);
int tp_cmd_run(int argc, char **argv);
int tp_cmd_version(int argc, char **argv);

/* Exit statuses. */
#define TP_EXIT_OK 0
#define TP_EXIT_FAIL 1    /* input could not be read (fully) */
#define TP_EXIT_USAGE 2   /* the command line or configuration is wrong */

#endif
