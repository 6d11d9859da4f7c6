/* tapir: a traffic-mirroring target.  Dispatches to the subcommands. */
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>
#include <zlib.h>

#include "commands.h"
#include "tp-build.h"

static const struct tp_command commands[] = {
	{"read", "decode capture files into flow logs", tp_cmd_read},
	{"run", "run as a live mirror target (VXLAN, Geneve, interfaces)",
	 tp_cmd_run},
	{"stats", "print the counters of a running tapir", tp_cmd_stats},
	{"query", "search the packet store, write the matches as a pcap",
	 tp_cmd_query},
	{"version", "print the versions of tapir and its libraries",
	 tp_cmd_version},
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: tapir <command> [options]\n\n"
		"tapir terminates mirrored traffic (VXLAN, Geneve, GRE, ERSPAN) and\n"
		"turns it into Zeek-compatible flow logs.\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(out, "\n'tapir <command> --help' describes a command.\n");
}

int tp_cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("tapir %s\n", TP_VERSION);
	printf("  %s\n", pcap_lib_version());
	printf("  zlib %s\n", zlibVersion());
	printf("  xxhash %u.%u.%u\n", XXH_VERSION_MAJOR, XXH_VERSION_MINOR,
	       XXH_VERSION_RELEASE);
	printf("  libfyaml %s\n", TP_FYAML_VERSION);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return TP_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(stdout);
		return TP_EXIT_OK;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V"))
		return tp_cmd_version(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(cmd, commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "tapir: unknown command '%s'\n\n", cmd);
	usage(stderr);
	return TP_EXIT_USAGE;
}
