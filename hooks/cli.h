/*
 * cli.h: pvpanic-hook's command line (when run under its own name).
 *
 *   pvpanic-hook patch [--model M] [--iobase 0xNNN] [--on-crash ACTION] [FILE|-]
 *   pvpanic-hook check [-q] [FILE|-]...
 *   pvpanic-hook enable [--connect URI] [OPTIONS] DOMAIN... | --all
 *   pvpanic-hook check-config [FILE]
 *   pvpanic-hook hook [--] DOMAIN OP SUBOP EXTRA
 *
 * Exit statuses are distinct per outcome and documented in pvpanic-hook(8).
 */
#ifndef PVPANIC_CLI_H
#define PVPANIC_CLI_H

enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_NO_PANIC = 1,          /* check: no usable panic device */
    CLI_EXIT_BAD_INPUT = 2,         /* unreadable, not a domain XML, unsafe, too large */
    CLI_EXIT_CANNOT_PATCH = 3,      /* patch: no model for this arch, or options do not fit */
    CLI_EXIT_ENABLE_FAILED = 4,     /* enable: at least one domain failed */
    CLI_EXIT_ENABLE_SKIPPED = 5,    /* enable: none failed, at least one skipped */
    CLI_EXIT_USAGE = 64,            /* EX_USAGE */
    CLI_EXIT_SOFTWARE = 70,         /* EX_SOFTWARE: internal error */
    CLI_EXIT_OUTPUT = 74,           /* EX_IOERR: cannot write stdout */
    CLI_EXIT_CONFIG = 78,           /* EX_CONFIG: check-config found errors */
};

/*
 * Run the command line. @argv[0] is the program; @stdout_closed tells that
 * the process started with fd 1 closed (main() put /dev/null there).
 */
int cli_main(int argc, char **argv, int stdout_closed);

#endif /* PVPANIC_CLI_H */
