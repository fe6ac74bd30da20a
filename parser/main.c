/*
 * pvpanic-watch: find guest crashes in libvirt's logs.
 *
 *   pvpanic-watch audit [OPTIONS] [FILE...]    one-shot scan (audit.c)
 *   pvpanic-watch follow [OPTIONS] [FILE...]   the daemon (follow.c)
 *   pvpanic-watch drill [OPTIONS] DOMAIN       the fire drill (drill.c)
 *
 * Each command is one row of the table below and parses its own options.
 */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "drill.h"
#include "follow.h"
#include "cleanup.h"
#include "log.h"
#include "xalloc.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    { "audit", audit_main, "scan libvirt logs once and report guest crash events" },
    { "follow", follow_main, "follow libvirt logs and alert when a guest crashes (the daemon)" },
    { "drill", drill_main, "crash one guest on purpose and prove its crash alert works" },
};

static void
usage(FILE *out)
{
    fprintf(out, "Usage: pvpanic-watch COMMAND [OPTIONS] [ARGS]\n\nCommands:\n");
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'pvpanic-watch COMMAND --help' describes a command; see also pvpanic-watch(8).\n");
}

int
main(int argc, char **argv)
{
    log_init("pvpanic-watch", LOG_DEST_STDERR, 0);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "help") == 0 && argc > 2) {
        /* "help COMMAND" is "COMMAND --help". */
        static char help_opt[] = "--help";
        static char *help_argv[4];

        help_argv[0] = argv[0];
        help_argv[1] = argv[2];
        help_argv[2] = help_opt;
        argv = help_argv;
        argc = 3;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("pvpanic-watch %s\n", PACKAGE_VERSION);
        return 0;
    }
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            /* getopt names argv[0] in its messages: "pvpanic-watch audit: ..." */
            AUTOFREE char *self = xasprintf("pvpanic-watch %s", commands[i].name);

            argv[1] = self;
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    log_warnx("unknown command '%s' (try --help)", argv[1]);
    return 2;
}
