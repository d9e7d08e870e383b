// SPDX-License-Identifier: MIT
/*
 * softsgx: the command-line front end of the model. Dispatches to one
 * subcommand per file (cmd_*.c); exit codes are those of cli.h.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tools/cli.h"

static const struct cli_cmd *const commands[] = {
	&cmd_run,
	&cmd_info,
	&cmd_keygen,
	&cmd_measure,
	&cmd_sign,
	&cmd_guest,
	&cmd_top,
	&cmd_platform,
	&cmd_cgroup,
};

#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct cli_cmd *find_command(const char *name)
{
	for (size_t i = 0; i < NR_COMMANDS; i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	return NULL;
}

static void usage(FILE *out)
{
	fputs("Usage: softsgx [--help] [--version] COMMAND [OPTIONS]\n"
	      "\n"
	      "Intel SGX and the Linux SGX driver, modelled in user space.\n"
	      "\n"
	      "Commands:\n",
	      out);
	for (size_t i = 0; i < NR_COMMANDS; i++)
		fprintf(out, "  %-9s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(out, "  %-9s %s\n", "help", "show the usage of softsgx or of one command");
	fprintf(out, "  %-9s %s\n", "version", "show the version of softsgx (as --version)");
	fputs("\n"
	      "Run 'softsgx help COMMAND' or 'softsgx COMMAND --help' for a command's options.\n"
	      "\n" CLI_EXIT_USAGE_TEXT,
	      out);
}

static int __attribute__((format(printf, 1, 2))) top_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("softsgx: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'softsgx --help'.\n", stderr);
	return CLI_EXIT_USAGE;
}

/*
 * "softsgx VERSION" on one line, as GNU programs print their name and
 * version first; `softsgx version` too, as git and go have it.
 */
static int version(void)
{
	printf("softsgx %s\n", SOFTSGX_VERSION);
	return CLI_EXIT_OK;
}

static int help(int argc, char **argv)
{
	const struct cli_cmd *cmd;

	if (argc < 2) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if (argc > 2)
		return top_usage_error("help: unexpected argument '%s'", argv[2]);
	if (!strcmp(argv[1], "help")) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	cmd = find_command(argv[1]);
	if (!cmd)
		return top_usage_error("help: unknown command '%s'", argv[1]);
	cmd->usage(stdout);
	return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const struct cli_cmd *cmd;
	int opt;

	opterr = 0;
	/* '+': stop at the command name; its options belong to the command. */
	while ((opt = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		case 'V':
			return version();
		default:
			if (optopt && optopt != 'h' && optopt != 'V' && optopt < 256)
				return top_usage_error("unknown option '-%c'", optopt);
			return top_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return top_usage_error("missing command");
	argc -= optind;
	argv += optind;
	/* The command parses its own arguments from the start: reinitialise getopt. */
	optind = 0;
	if (!strcmp(argv[0], "help"))
		return help(argc, argv);
	if (!strcmp(argv[0], "version")) {
		if (argc > 1)
			return top_usage_error("version: unexpected argument '%s'", argv[1]);
		return version();
	}
	cmd = find_command(argv[0]);
	if (!cmd)
		return top_usage_error("unknown command '%s'", argv[0]);
	return cmd->run(argc, argv);
}
