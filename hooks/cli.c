#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "domxml.h"
#include "enroll.h"
#include "fileutil.h"
#include "hookconf.h"
#include "hookmode.h"
#include "hookops.h"
#include "log.h"
#include "xalloc.h"

struct command {
    const char *name;
    const char *usage;
    const char *help;
    int (*run)(int argc, char **argv);
};

static int stdout_is_closed;

static const char main_usage[] =
    "Usage: pvpanic-hook [-v] COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "Makes sure libvirt domains have a <panic> device, so a guest crash is\n"
    "reported to the host instead of hanging silently.\n"
    "\n"
    "Commands:\n"
    "  patch         add a <panic> device to a domain XML (file or stdin) -> stdout\n"
    "  check         tell whether domain XML has a usable <panic> device\n"
    "  enable        add the device to the persistent definition of domains via virsh\n"
    "  check-config  validate the hook configuration and print the settings in effect\n"
    "  hook          run the libvirt hook by hand: hook [--] DOMAIN OP SUBOP EXTRA\n"
    "  help          help on a command\n"
    "\n"
    "Options: -v, --verbose (repeat for debug); -h, --help; -V, --version\n"
    "\n"
    "Installed under any other file name (libvirt runs it as\n"
    "/etc/libvirt/hooks/qemu.d/50-pvpanic), the program is the qemu hook and\n"
    "reads no options: see pvpanic-hook(8).\n";

static int cmd_patch(int argc, char **argv);
static int cmd_check(int argc, char **argv);
static int cmd_enable(int argc, char **argv);
static int cmd_check_config(int argc, char **argv);
static int cmd_hook(int argc, char **argv);

static const struct command commands[] = {
    { "patch",
      "Usage: pvpanic-hook patch [--model M] [--iobase 0xNNN] [--on-crash ACTION] [FILE|-]\n",
      "Reads a libvirt domain XML (FILE, or stdin for - or no FILE) and writes it to\n"
      "stdout with a <panic> device added. Nothing else in the document changes.\n"
      "An existing usable panic device is kept (the command is idempotent).\n"
      "\n"
      "  -m, --model M        auto (default), isa, pvpanic, hyperv, pseries, s390.\n"
      "                       auto: x86 -> isa, ARM virt -> pvpanic, ppc64 pseries ->\n"
      "                       pseries, s390x -> s390; other arches are left alone.\n"
      "  -i, --iobase 0xNNN   ISA port for model isa (default 0x505)\n"
      "  -c, --on-crash A     also set <on_crash>: destroy, restart, preserve,\n"
      "                       coredump-destroy or coredump-restart\n"
      "\n"
      "Exit: 0 written; 2 input unreadable or not a domain XML; 3 cannot patch\n"
      "(no model for this arch, or the options do not fit it); 74 cannot write.\n"
      "On any error nothing is written to stdout.\n",
      cmd_patch },
    { "check",
      "Usage: pvpanic-hook check [-q] [FILE|-]...\n",
      "Reports for each domain XML whether it has a usable <panic> device (one\n"
      "whose model fits the architecture).\n"
      "\n"
      "  -q, --quiet   print nothing, only set the exit status\n"
      "\n"
      "Exit: 0 all have one; 1 some have none; 2 some input is not a domain XML.\n",
      cmd_check },
    { "enable",
      "Usage: pvpanic-hook enable [--connect URI] [OPTIONS] DOMAIN... | --all\n",
      "Adds the device to the persistent definition of existing domains: virsh\n"
      "dumpxml --inactive --security-info, patch, virsh define, read back. It takes\n"
      "effect at the domain's next cold boot. Transient domains are skipped. One\n"
      "line per domain: added / updated / present / skipped: why / failed: why.\n"
      "\n"
      "  -a, --all            every domain (virsh list --all)\n"
      "  -c, --connect URI    libvirt URI for virsh (default: virsh's own default)\n"
      "  -m, --model M        as for patch (default auto)\n"
      "  -i, --iobase 0xNNN   as for patch\n"
      "      --on-crash A     also set <on_crash>\n"
      "  -n, --dry-run        show what would change, define nothing\n"
      "  -t, --timeout S      bound on each virsh call in seconds (default 60)\n"
      "\n"
      "Put domain names after -- when one starts with '-'.\n"
      "Exit: 0 all added/present; 4 some failed; 5 none failed, some skipped.\n",
      cmd_enable },
    { "check-config",
      "Usage: pvpanic-hook check-config [FILE]\n",
      "Reads the hook configuration (FILE, else $" HOOKCONF_ENV ", else\n"
      HOOKCONF_DEFAULT_PATH "), reports every problem as FILE:LINE: message\n"
      "and prints the settings in effect.\n"
      "\n"
      "Exit: 0 valid (or absent: defaults apply); 78 invalid.\n",
      cmd_check_config },
    { "hook",
      "Usage: pvpanic-hook hook [--] DOMAIN OP SUBOP EXTRA < domain.xml\n",
      "Runs exactly what libvirt runs, for testing: the four words are libvirt's\n"
      "arguments and are never read as options. Exit 0 allows, 1 refuses.\n",
      cmd_hook },
};

static const struct command *
find_command(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    }
    return NULL;
}

static void
print_command_help(const struct command *c)
{
    printf("%s\n%s", c->usage, c->help);
}

static int
usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fputs("pvpanic-hook: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'pvpanic-hook %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
    return CLI_EXIT_USAGE;
}

/*
 * The subcommand's own --help, checked before anything else is parsed.
 * Like getopt("+..."), it looks only at the options before the first
 * operand or "--": in "enable web-01 --help", --help is a domain.
 */
static bool
wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    }
    return false;
}

static int
parse_model_opt(const char *cmd, const char *arg, enum panic_model *out)
{
    int m = panic_model_from_string(arg);

    if (m < 0 || m == PANIC_MODEL_DEFAULT) {
        usage_error(cmd, "invalid --model '%s' (use auto, isa, pvpanic, hyperv, pseries "
                    "or s390)", arg);
        return -1;
    }
    *out = (enum panic_model)m;
    return 0;
}

static int
parse_iobase_opt(const char *cmd, const char *arg, int *out)
{
    unsigned int v;

    if (domxml_parse_iobase(arg, &v) < 0) {
        usage_error(cmd, "invalid --iobase '%s' (use a hex port such as 0x505)", arg);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int
parse_on_crash_opt(const char *cmd, const char *arg, const char **out)
{
    if (!domxml_on_crash_valid(arg)) {
        usage_error(cmd, "invalid --on-crash '%s' (use destroy, restart, preserve, "
                    "coredump-destroy or coredump-restart)", arg);
        return -1;
    }
    *out = arg;
    return 0;
}

/* Read FILE or "-" into memory, capped; reports its own error. */
static int
read_input(const char *file, char **out, size_t *len)
{
    AUTOFREE char *shown = display_name(file);
    int rc;

    if (strcmp(file, "-") == 0)
        rc = read_fd_capped(STDIN_FILENO, DOMXML_MAX_SIZE, out, len);
    else
        rc = read_file_capped(file, DOMXML_MAX_SIZE, out, len);
    if (rc == -EFBIG)
        log_error("%s: input is larger than %u MiB", shown, DOMXML_MAX_SIZE >> 20);
    else if (rc < 0)
        log_error("cannot read '%s': %s", shown, strerror(-rc));
    return rc;
}

static const char *
input_label(const char *file)
{
    return strcmp(file, "-") == 0 ? "(stdin)" : file;
}

static int
cmd_patch(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "model", required_argument, NULL, 'm' },
        { "iobase", required_argument, NULL, 'i' },
        { "on-crash", required_argument, NULL, 'c' },
        { NULL, 0, NULL, 0 },
    };
    struct domxml_patch_opts opts = { PANIC_MODEL_AUTO, -1, NULL };
    struct domxml_patch_report rep;
    AUTOFREE char *text = NULL;
    AUTOFREE char *errmsg = NULL;
    AUTOFREE char *label = NULL;
    AUTOPTR(domxml) d = NULL;
    const char *file = "-";
    const char *out;
    size_t len = 0;
    int c;
    int rc;

    while ((c = getopt_long(argc, argv, "+m:i:c:", longopts, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (parse_model_opt("patch", optarg, &opts.model) < 0)
                return CLI_EXIT_USAGE;
            break;
        case 'i':
            if (parse_iobase_opt("patch", optarg, &opts.iobase) < 0)
                return CLI_EXIT_USAGE;
            break;
        case 'c':
            if (parse_on_crash_opt("patch", optarg, &opts.on_crash) < 0)
                return CLI_EXIT_USAGE;
            break;
        default:
            return usage_error("patch", "invalid option");
        }
    }
    if (argc - optind > 1)
        return usage_error("patch", "patch takes one input file");
    if (argc - optind == 1)
        file = argv[optind];
    if (opts.iobase >= 0 && opts.model != PANIC_MODEL_AUTO && opts.model != PANIC_MODEL_ISA)
        return usage_error("patch", "--iobase applies to --model isa only");
    if (stdout_is_closed) {
        log_error("standard output is closed; nowhere to write the patched XML");
        return CLI_EXIT_OUTPUT;
    }
    label = display_name(input_label(file));
    if (read_input(file, &text, &len) < 0)
        return CLI_EXIT_BAD_INPUT;
    if (domxml_parse(text, len, &d, &errmsg) < 0) {
        log_error("%s: %s", label, errmsg);
        return CLI_EXIT_BAD_INPUT;
    }
    rc = domxml_patch(d, &opts, &rep, &errmsg);
    if (rc == -ENOTSUP) {
        log_error("%s: left unchanged: %s", label, errmsg);
        return CLI_EXIT_CANNOT_PATCH;
    }
    if (rc == -EINVAL) {
        log_error("%s: %s", label, errmsg);
        return CLI_EXIT_CANNOT_PATCH;
    }
    if (rc < 0) {
        log_error("%s: %s", label, errmsg);
        return CLI_EXIT_SOFTWARE;
    }
    if (rc == 0)
        log_info("%s: already as asked; unchanged", label);
    if (rep.added_panic)
        log_info("%s: added <panic model='%s'>", label, panic_model_to_string(rep.model));
    if (rep.changed_on_crash)
        log_info("%s: set <on_crash> to %s", label, opts.on_crash);
    out = domxml_text(d, &len);
    if ((rc = write_all(STDOUT_FILENO, out, len)) < 0) {
        log_error("cannot write standard output: %s", strerror(-rc));
        return CLI_EXIT_OUTPUT;
    }
    return CLI_EXIT_OK;
}

static int
check_one(const char *file, bool quiet)
{
    AUTOFREE char *text = NULL;
    AUTOFREE char *errmsg = NULL;
    AUTOFREE char *label = display_name(input_label(file));
    AUTOPTR(domxml) d = NULL;
    enum panic_model m;
    size_t len = 0;

    if (read_input(file, &text, &len) < 0)
        return CLI_EXIT_BAD_INPUT;
    if (domxml_parse(text, len, &d, &errmsg) < 0) {
        log_error("%s: %s", label, errmsg);
        return CLI_EXIT_BAD_INPUT;
    }
    if (domxml_has_usable_panic(d)) {
        if (!quiet)
            printf("%s: present\n", label);
        return CLI_EXIT_OK;
    }
    if (!quiet) {
        const char *extra = domxml_panic_count(d) ? "; its <panic> model does not fit" : "";

        if (domxml_auto_model(d, &m, &errmsg) < 0)
            printf("%s: missing%s (%s)\n", label, extra, errmsg);
        else
            printf("%s: missing%s (patch would add <panic model='%s'>)\n", label, extra,
                   panic_model_to_string(m));
    }
    return CLI_EXIT_NO_PANIC;
}

static int
cmd_check(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "quiet", no_argument, NULL, 'q' },
        { NULL, 0, NULL, 0 },
    };
    bool quiet = false;
    int worst = CLI_EXIT_OK;
    int c;

    while ((c = getopt_long(argc, argv, "+q", longopts, NULL)) != -1) {
        if (c != 'q')
            return usage_error("check", "invalid option");
        quiet = true;
    }
    if (optind == argc)
        return check_one("-", quiet);
    for (int i = optind; i < argc; i++) {
        int rc = check_one(argv[i], quiet);

        if (rc > worst)
            worst = rc;
    }
    fflush(stdout);
    return worst;
}

struct enable_tally {
    bool from_hook;
    bool dry_run;
    int failed;
    int skipped;
};

static void
report_enable(struct enable_tally *t, enum enable_status st, const char *name,
              const char *detail)
{
    AUTOFREE char *dn = display_name(name);

    switch (st) {
    case ENABLE_ADDED:
    case ENABLE_UPDATED: {
        const char *word = st == ENABLE_ADDED ? "added " : "updated: ";

        if (t->dry_run)
            word = st == ENABLE_ADDED ? "would add " : "would update: ";
        if (t->from_hook)
            log_info("enroll '%s': %s%s in the persistent definition (effective from the "
                     "next cold boot)", dn, word, detail);
        else
            printf("%s: %s%s\n", dn, word, detail);
        break;
    }
    case ENABLE_PRESENT:
        if (t->from_hook)
            log_info("enroll '%s': <panic> already present", dn);
        else
            printf("%s: present\n", dn);
        break;
    case ENABLE_SKIPPED:
        t->skipped++;
        if (t->from_hook)
            log_warnx("enroll '%s': skipped: %s", dn, detail);
        else
            printf("%s: skipped: %s\n", dn, detail);
        break;
    case ENABLE_FAILED:
        t->failed++;
        if (t->from_hook)
            log_warnx("enroll '%s': failed: %s", dn, detail);
        else
            printf("%s: failed: %s\n", dn, detail);
        break;
    }
    fflush(stdout);
}

static int
cmd_enable(int argc, char **argv)
{
    enum { OPT_ON_CRASH = 256, OPT_FROM_HOOK, OPT_UUID };
    static const struct option longopts[] = {
        { "all", no_argument, NULL, 'a' },
        { "connect", required_argument, NULL, 'c' },
        { "model", required_argument, NULL, 'm' },
        { "iobase", required_argument, NULL, 'i' },
        { "on-crash", required_argument, NULL, OPT_ON_CRASH },
        { "dry-run", no_argument, NULL, 'n' },
        { "timeout", required_argument, NULL, 't' },
        /* used by the hook when it starts the helper */
        { "from-hook", no_argument, NULL, OPT_FROM_HOOK },
        { "uuid", required_argument, NULL, OPT_UUID },
        { NULL, 0, NULL, 0 },
    };
    struct enable_request req = {
        .model = PANIC_MODEL_AUTO, .iobase = -1, .timeout_s = ENROLL_VIRSH_TIMEOUT_S,
    };
    struct enable_tally tally = { false, false, 0, 0 };
    bool all = false;
    int c;

    while ((c = getopt_long(argc, argv, "+ac:m:i:nt:", longopts, NULL)) != -1) {
        switch (c) {
        case 'a':
            all = true;
            break;
        case 'c':
            req.connect = optarg;
            break;
        case 'm':
            if (parse_model_opt("enable", optarg, &req.model) < 0)
                return CLI_EXIT_USAGE;
            break;
        case 'i':
            if (parse_iobase_opt("enable", optarg, &req.iobase) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_ON_CRASH:
            if (parse_on_crash_opt("enable", optarg, &req.on_crash) < 0)
                return CLI_EXIT_USAGE;
            break;
        case 'n':
            req.dry_run = tally.dry_run = true;
            break;
        case 't': {
            char *end = NULL;
            unsigned long v = strtoul(optarg, &end, 10);

            if (!*optarg || *end || v == 0 || v > 86400)
                return usage_error("enable", "invalid --timeout '%s' (seconds, 1-86400)",
                                   optarg);
            req.timeout_s = (unsigned int)v;
            break;
        }
        case OPT_FROM_HOOK:
            tally.from_hook = true;
            break;
        case OPT_UUID: {
            AUTOFREE char *norm = uuid_normalize(optarg);

            if (!norm)
                return usage_error("enable", "invalid --uuid '%s'", optarg);
            req.uuid = optarg;
            break;
        }
        default:
            return usage_error("enable", "invalid option");
        }
    }
    if (all == (optind < argc))
        return usage_error("enable", all ? "--all takes no domain names"
                                         : "name at least one domain, or use --all");
    if (req.uuid && (all || argc - optind != 1))
        return usage_error("enable", "--uuid goes with exactly one domain name");
    if (tally.from_hook) {
        /* Detached: stdout/stderr are /dev/null, results go to syslog. */
        log_set_dest(LOG_DEST_SYSLOG);
    }

    if (all) {
        char **uuids = NULL;
        AUTOFREE char *errmsg = NULL;
        int n = enable_list_all(req.connect, req.timeout_s, &uuids, &errmsg);

        if (n < 0) {
            log_error("cannot list domains: %s", errmsg);
            return CLI_EXIT_ENABLE_FAILED;
        }
        for (int i = 0; i < n; i++) {
            struct enable_request one = req;
            AUTOFREE char *detail = NULL;
            AUTOFREE char *name = NULL;
            enum enable_status st;

            one.uuid = uuids[i];
            st = enable_domain(&one, &detail, &name);
            report_enable(&tally, st, name, detail ? detail : "");
            free(uuids[i]);
        }
        free(uuids);
    } else {
        for (int i = optind; i < argc; i++) {
            struct enable_request one = req;
            AUTOFREE char *detail = NULL;
            AUTOFREE char *name = NULL;
            enum enable_status st;

            one.name = argv[i];
            st = enable_domain(&one, &detail, &name);
            report_enable(&tally, st, name, detail ? detail : "");
        }
    }
    if (tally.failed)
        return CLI_EXIT_ENABLE_FAILED;
    if (tally.skipped)
        return CLI_EXIT_ENABLE_SKIPPED;
    return CLI_EXIT_OK;
}

static void
print_list(const char *key, const struct strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        printf("%s = %s\n", key, l->v[i]);
}

static int
cmd_check_config(int argc, char **argv)
{
    AUTOPTR(hook_conf) conf = NULL;
    AUTOFREE char *shown = NULL;
    const char *path;
    int rc;

    if (argc > 2 || (argc == 2 && argv[1][0] == '-' && argv[1][1]))
        return usage_error("check-config", "check-config takes at most one file");
    path = argc == 2 ? argv[1] : hookconf_path();
    shown = display_name(path);
    rc = hookconf_load(path, &conf);
    if (rc < 0) {
        log_error("%s: configuration is invalid (the hook would fail open)", shown);
        return CLI_EXIT_CONFIG;
    }
    if (conf->from_file)
        printf("# %s: configuration OK\n", shown);
    else
        printf("# %s: does not exist; defaults apply\n", shown);
    printf("on_missing = %s\n", on_missing_to_string(conf->on_missing));
    printf("model = %s\n", panic_model_to_string(conf->model));
    print_list("include", &conf->include);
    print_list("include_uuid", &conf->include_uuid);
    print_list("exclude", &conf->exclude);
    print_list("exclude_uuid", &conf->exclude_uuid);
    printf("log = %s\n", hookconf_log_to_string(conf->log_dest));
    printf("connect = %s\n", conf->connect);
    printf("verbose = %s\n", conf->verbose ? "yes" : "no");
    printf("stdin_timeout = %llums\n", conf->stdin_timeout_ms);
    printf("metadata = %s\n", conf->metadata ? "yes" : "no");
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_OUTPUT;
}

static int
cmd_hook(int argc, char **argv)
{
    int first = 1;

    /* No option parsing at all: the words are libvirt's, whatever they look
     * like. A lone --help cannot be the four words, so it asks for help. */
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        print_command_help(&commands[ARRAY_SIZE(commands) - 1]);
        return CLI_EXIT_OK;
    }
    if (argc > 1 && strcmp(argv[1], "--") == 0)
        first = 2;
    if (argc - first != 4)
        return usage_error("hook", "hook needs exactly DOMAIN OP SUBOP EXTRA");
    return hook_main(4, argv + first);
}

static int
print_version(void)
{
    printf("pvpanic-hook (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
    printf("configuration: %s\n", hookconf_path());
    return CLI_EXIT_OK;
}

int
cli_main(int argc, char **argv, int stdout_closed)
{
    const struct command *cmd;
    int verbose = 0;
    int i;

    stdout_is_closed = stdout_closed;
    /* A reader that goes away must give us EPIPE (and an error), not a signal. */
    signal(SIGPIPE, SIG_IGN);
    log_init(HOOK_CLI_NAME, LOG_DEST_STDERR, 0);

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];

        if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            verbose++;
        } else if (strcmp(a, "-vv") == 0) {
            verbose += 2;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(main_usage, stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            return print_version();
        } else {
            return usage_error(NULL, "unknown option '%s'", a);
        }
    }
    log_set_verbose(verbose);
    if (i == argc) {
        fputs(main_usage, stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[i], "help") == 0) {
        if (i + 1 == argc || strcmp(argv[i + 1], "--help") == 0 || strcmp(argv[i + 1], "-h") == 0) {
            fputs(main_usage, stdout);
            return CLI_EXIT_OK;
        }
        if (!(cmd = find_command(argv[i + 1])))
            return usage_error(NULL, "unknown command '%s'", argv[i + 1]);
        print_command_help(cmd);
        return CLI_EXIT_OK;
    }
    if (!(cmd = find_command(argv[i]))) {
        AUTOFREE char *shown = display_name(argv[i]);

        return usage_error(NULL, "unknown command '%s'", shown);
    }
    if (cmd->run != cmd_hook && wants_help(argc - i, argv + i)) {
        print_command_help(cmd);
        return CLI_EXIT_OK;
    }
    /* getopt_long over the command's own argv; optind 0 re-initializes glibc's getopt. */
    optind = 0;
    return cmd->run(argc - i, argv + i);
}
