/* Logging: stderr lines captured through a temp file (or a pty for the human prefixes),
 * the journal through a stand-in socket when no journald runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "bts/log.h"

static FILE *cap;
static int saved_stderr = -1;
static char captured[65536];

/* Points fd 2 at a temp file; bts_log_init runs after, as the daemon's would. */
static void capture_begin(int level)
{
    fflush(stderr);
    cap = tmpfile();
    assert_non_null(cap);
    saved_stderr = dup(STDERR_FILENO);
    assert_true(saved_stderr >= 0);
    assert_int_equal(dup2(fileno(cap), STDERR_FILENO), STDERR_FILENO);
    bts_log_init(level);
}

static const char *capture_end(void)
{
    size_t n;

    assert_int_equal(dup2(saved_stderr, STDERR_FILENO), STDERR_FILENO);
    close(saved_stderr);
    rewind(cap);
    n = fread(captured, 1, sizeof(captured) - 1, cap);
    captured[n] = '\0';
    fclose(cap);
    return captured;
}

static int setup(void **state)
{
    (void)state;
    setenv("BTS_LOG_FORCE_STDERR", "1", 1);
    unsetenv("JOURNAL_STREAM");
    bts_log_clear_secrets();
    return 0;
}

static void test_prefixes(void **state)
{
    (void)state;
    capture_begin(LOG_DEBUG);
    bts_err("e %d", 1);
    bts_warn("w");
    bts_notice("n");
    bts_info("i");
    bts_debug("d");
    bts_log(LOG_CRIT, "c");
    bts_log(LOG_DAEMON | LOG_ERR, "facility bits ignored");
    assert_string_equal(capture_end(), "<3>e 1\n<4>w\n<5>n\n<6>i\n<7>d\n<2>c\n"
                                       "<3>facility bits ignored\n");
}

static void test_level_filtering(void **state)
{
    (void)state;
    capture_begin(LOG_WARNING);
    assert_int_equal(bts_log_get_level(), LOG_WARNING);
    bts_err("shown");
    bts_warn("shown too");
    bts_notice("hidden");
    bts_info("hidden");
    bts_debug("hidden");
    bts_log_set_level(LOG_INFO);
    bts_info("now shown");
    bts_debug("still hidden");
    assert_string_equal(capture_end(), "<3>shown\n<4>shown too\n<6>now shown\n");
    bts_log_set_level(99);
    assert_int_equal(bts_log_get_level(), LOG_DEBUG);
    bts_log_set_level(-3);
    assert_int_equal(bts_log_get_level(), LOG_EMERG);
}

static void test_secret_masking(void **state)
{
    const char *const fields[] = { "TOKEN=abc-secret-xyz", NULL };

    (void)state;
    bts_log_add_secret("secret");
    bts_log_add_secret("abc-secret-xyz"); /* longer, contains the first: masked whole */
    bts_log_add_secret("");
    bts_log_add_secret(NULL);
    bts_log_add_secret("secret"); /* twice: no effect */
    capture_begin(LOG_INFO);
    bts_info("token abc-secret-xyz:secret and secretsecret, not secre t");
    bts_log_fields(LOG_INFO, fields, "fields do not go to stderr");
    bts_log_clear_secrets();
    bts_info("cleared: secret");
    assert_string_equal(capture_end(), "<6>token ***:*** and ******, not secre t\n"
                                       "<6>fields do not go to stderr\n"
                                       "<6>cleared: secret\n");
}

/* The cap applies after masking: a secret across the cut must not leave its first half. */
static void test_secret_across_cap(void **state)
{
    char msg[2100];
    const char *out;

    (void)state;
    memset(msg, 'a', sizeof(msg));
    memcpy(msg + 2040, "TOPSECRETVALUE", 14);
    msg[2060] = '\0';
    bts_log_add_secret("TOPSECRETVALUE");
    capture_begin(LOG_INFO);
    bts_info("%s", msg);
    out = capture_end();
    bts_log_clear_secrets();
    assert_null(strstr(out, "TOPSEC"));
    assert_non_null(strstr(out, "aaa***aa...\n"));
}

static void test_control_chars_and_cap(void **state)
{
    static char big[10000];
    const char *out;

    (void)state;
    capture_begin(LOG_INFO);
    bts_info("a\nb\tc\x01" "d\x7f" "e\r\n");
    out = capture_end();
    assert_string_equal(out, "<6>a b c d e\n");

    memset(big, 'x', sizeof(big) - 1);
    memcpy(big + 2044, "\xc3\xa9\xc3\xa9", 4); /* the cut falls inside these */
    capture_begin(LOG_INFO);
    bts_info("%s", big);
    out = capture_end();
    assert_true(strlen(out) <= 3 + 2048 + 1);
    assert_int_equal(strncmp(out + strlen(out) - 4, "...\n", 4), 0);
    assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1); /* one line */
    /* no half "é" before the "..." */
    assert_true(((unsigned char)out[strlen(out) - 5] & 0xC0) != 0xC0);
}

static void test_errno_preserved(void **state)
{
    (void)state;
    capture_begin(LOG_INFO);
    errno = ENOSPC;
    bts_err("x");
    assert_int_equal(errno, ENOSPC);
    bts_debug("filtered");
    assert_int_equal(errno, ENOSPC);
    capture_end();
}

static void test_limiter(void **state)
{
    bts_log_limiter l = { .repeats = 0 };
    const char *out;

    (void)state;
    capture_begin(LOG_DEBUG);
    bts_log_limiter_clear(&l, "nothing failed"); /* silent */
    bts_log_limited(&l, "erp:down", LOG_WARNING, NULL, "ERPNext down: %s", "refused");
    bts_log_limited(&l, "erp:down", LOG_WARNING, NULL, "ERPNext down: %s", "refused");
    bts_log_limited(&l, "erp:down", LOG_WARNING, NULL, "ERPNext down: %s", "refused");
    bts_log_limited(&l, "erp:401", LOG_ERR, NULL, "ERPNext refused our key");
    bts_log_limited(&l, "erp:401", LOG_ERR, NULL, "ERPNext refused our key");
    assert_string_equal(capture_end(), "<4>ERPNext down: refused\n"
                                       "<7>ERPNext down: refused (repeated 1 times)\n"
                                       "<7>ERPNext down: refused (repeated 2 times)\n"
                                       "<3>ERPNext refused our key\n"
                                       "<7>ERPNext refused our key (repeated 1 times)\n");

    /* ten minutes later (moved back in time rather than waited for) */
    l.last_ms -= 10 * 60 * 1000;
    l.first_ms -= 11 * 60 * 1000;
    capture_begin(LOG_INFO);
    bts_log_limited(&l, "erp:401", LOG_ERR, NULL, "ERPNext refused our key");
    bts_log_limited(&l, "erp:401", LOG_ERR, NULL, "ERPNext refused our key"); /* debug */
    bts_log_limiter_clear(&l, "ERPNext");
    bts_log_limiter_clear(&l, "ERPNext"); /* already clear: silent */
    out = capture_end();
    assert_int_equal(strncmp(out, "<3>ERPNext refused our key (still failing: 3 times since 2", 58),
                     0);
    assert_non_null(strstr(out, ")\n<5>ERPNext recovered after 4 failures\n"));
    assert_null(strstr(out, "repeated"));
    assert_int_equal(l.repeats, 0);
    assert_string_equal(l.key, "");

    /* one failure, then recovery */
    capture_begin(LOG_INFO);
    bts_log_limited(&l, NULL, LOG_WARNING, NULL, "once");
    bts_log_limiter_clear(&l, NULL);
    bts_log_limited(NULL, "k", LOG_WARNING, NULL, "no limiter: always logged");
    assert_string_equal(capture_end(), "<4>once\n<5>- recovered after 1 failure\n"
                                       "<4>no limiter: always logged\n");
}

static void test_limiter_masks_and_long_key(void **state)
{
    bts_log_limiter l = { .repeats = 0 };
    char key[400];

    (void)state;
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    bts_log_add_secret("hunter2");
    capture_begin(LOG_DEBUG);
    bts_log_limited(&l, key, LOG_ERR, NULL, "login with hunter2 failed");
    bts_log_limited(&l, key, LOG_ERR, NULL, "login with hunter2 failed");
    assert_string_equal(capture_end(), "<3>login with *** failed\n"
                                       "<7>login with *** failed (repeated 1 times)\n");
    assert_int_equal(strlen(l.key), sizeof(l.key) - 1);
    bts_log_clear_secrets();
}

/* On a terminal: "warning: " instead of "<4>". */
static void test_tty_prefixes(void **state)
{
    int master, slave, saved;
    struct termios tio;
    char buf[512];
    size_t got = 0;

    (void)state;
    master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0)
        skip();
    slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    assert_true(slave >= 0);
    assert_int_equal(tcgetattr(slave, &tio), 0);
    cfmakeraw(&tio); /* no "\n" -> "\r\n" */
    assert_int_equal(tcsetattr(slave, TCSANOW, &tio), 0);
    fflush(stderr);
    saved = dup(STDERR_FILENO);
    dup2(slave, STDERR_FILENO);
    bts_log_init(LOG_DEBUG);
    bts_err("bad");
    bts_warn("odd");
    bts_info("fine");
    bts_debug("noise");
    dup2(saved, STDERR_FILENO);
    close(saved);
    bts_log_init(LOG_INFO);
    while (got < sizeof(buf) - 1) {
        struct pollfd p = { .fd = master, .events = POLLIN };
        ssize_t n;
        if (poll(&p, 1, 500) <= 0)
            break;
        n = read(master, buf + got, sizeof(buf) - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    close(slave);
    close(master);
    assert_string_equal(buf, "error: bad\nwarning: odd\nfine\ndebug: noise\n");
}

/* Under systemd (JOURNAL_STREAM names our stderr) the entry goes to the journal socket with
 * its fields. Done only as root on a machine without journald, with a stand-in socket. */
static void test_journal(void **state)
{
    const char *path = "/run/systemd/journal/socket";
    const char *const fields[] = { "SERVER=erpnext", "HTTP_STATUS=417", "bad key=x",
                                   "TOKEN=pw-hunter2", "MESSAGE=forged", "_PID=1", "NOEQ",
                                   "E=line\nbreak", NULL };
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct stat sb;
    char env[64], dgram[4096], fallback[256];
    int fallback_len;
    bool made_run, made_dir;
    ssize_t n;
    int fd, probe;

    (void)state;
    if (geteuid() != 0)
        skip();
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    probe = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        close(probe);
        skip(); /* a real journald: do not write test entries into it */
    }
    close(probe);
    unlink(path); /* a stale socket of an earlier crashed run */
    made_run = mkdir("/run/systemd", 0755) == 0;
    made_dir = mkdir("/run/systemd/journal", 0755) == 0;
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        if (made_dir)
            rmdir("/run/systemd/journal");
        if (made_run)
            rmdir("/run/systemd");
        skip();
    }

    capture_begin(LOG_INFO); /* stderr is the temp file: name it in JOURNAL_STREAM */
    assert_int_equal(fstat(STDERR_FILENO, &sb), 0);
    snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)sb.st_dev,
             (unsigned long long)sb.st_ino);
    setenv("JOURNAL_STREAM", env, 1);
    unsetenv("BTS_LOG_FORCE_STDERR");
    bts_log_add_secret("hunter2");
    bts_log_add_secret("E"); /* silly, but must not break the (upper case) field names */
    bts_log_init(LOG_INFO);
    bts_log_fields(LOG_WARNING, fields, "rejected\nline two");
    n = recv(fd, dgram, sizeof(dgram) - 1, MSG_DONTWAIT);

    /* journald dead (its socket refuses): the line still reaches stderr. (With no socket
     * at all libsystemd drops the entry and reports success: nothing to fall back on.) */
    close(fd);
    bts_info("fallback");
    unlink(path);
    fallback_len = snprintf(fallback, sizeof(fallback), "%s", capture_end());
    if (made_dir)
        rmdir("/run/systemd/journal");
    if (made_run)
        rmdir("/run/systemd");
    setup(NULL);

    assert_in_range(fallback_len, 0, sizeof(fallback) - 1); /* nothing cut off */
    assert_string_equal(fallback, "<6>fallback\n");

    assert_true(n > 0);
    dgram[n] = '\0';
    assert_string_equal(dgram, "MESSAGE=rejected line two\nPRIORITY=4\n"
                               "SYSLOG_IDENTIFIER=biotime-syncd\nSERVER=erpnext\n"
                               "HTTP_STATUS=417\nTOKEN=pw-***\nE=line break\n");
}

/* A JOURNAL_STREAM that names another file (stderr redirected) means stderr. */
static void test_journal_stream_mismatch(void **state)
{
    (void)state;
    unsetenv("BTS_LOG_FORCE_STDERR");
    setenv("JOURNAL_STREAM", "1:1", 1);
    capture_begin(LOG_INFO);
    bts_info("to stderr");
    setenv("JOURNAL_STREAM", "garbage", 1);
    bts_log_init(LOG_INFO);
    bts_info("again");
    assert_string_equal(capture_end(), "<6>to stderr\n<6>again\n");
    setup(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_prefixes, setup),
        cmocka_unit_test_setup(test_level_filtering, setup),
        cmocka_unit_test_setup(test_secret_masking, setup),
        cmocka_unit_test_setup(test_secret_across_cap, setup),
        cmocka_unit_test_setup(test_control_chars_and_cap, setup),
        cmocka_unit_test_setup(test_errno_preserved, setup),
        cmocka_unit_test_setup(test_limiter, setup),
        cmocka_unit_test_setup(test_limiter_masks_and_long_key, setup),
        cmocka_unit_test_setup(test_tty_prefixes, setup),
        cmocka_unit_test_setup(test_journal, setup),
        cmocka_unit_test_setup(test_journal_stream_mismatch, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
