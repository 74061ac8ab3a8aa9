/* sd_notify messages, read from a datagram socket standing in for systemd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bts/log.h"
#include "bts/notify.h"

struct fixture {
    char dir[64];
    char path[128];
    int fd;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/bts-test-notify-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/notify", f->dir);
    if (strlen(f->path) >= sizeof(sa.sun_path))
        return -1;
    memcpy(sa.sun_path, f->path, strlen(f->path) + 1);
    f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return -1;
    setenv("NOTIFY_SOCKET", f->path, 1);
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    close(f->fd);
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* The next datagram as a string, or NULL if none comes within timeout_ms. */
static const char *next_msg(const struct fixture *f, int timeout_ms)
{
    static char buf[4096];
    struct pollfd p = { .fd = f->fd, .events = POLLIN };
    ssize_t n;

    if (poll(&p, 1, timeout_ms) != 1)
        return NULL;
    n = recv(f->fd, buf, sizeof(buf) - 1, 0);
    assert_true(n >= 0);
    buf[n] = '\0';
    return buf;
}

static uint64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void test_ready_stopping(void **state)
{
    struct fixture *f = *state;

    bts_notify_ready();
    assert_string_equal(next_msg(f, 1000), "READY=1\nSTATUS=Running");
    bts_notify_stopping();
    assert_string_equal(next_msg(f, 1000), "STOPPING=1\nSTATUS=Stopping");
    assert_null(next_msg(f, 20));
}

static void test_reloading(void **state)
{
    struct fixture *f = *state;
    uint64_t before = mono_us(), after, usec;
    const char *m, *p;

    bts_notify_reloading();
    after = mono_us();
    m = next_msg(f, 1000);
    assert_non_null(m);
    assert_int_equal(strncmp(m, "RELOADING=1\n", 12), 0);
    p = strstr(m, "\nMONOTONIC_USEC=");
    assert_non_null(p);
    usec = strtoull(p + 16, NULL, 10);
    assert_true(usec >= before && usec <= after);
}

static void test_status(void **state)
{
    struct fixture *f = *state;
    char big[1000];
    const char *m;
    size_t n;

    bts_notify_status("cycle %d: %s", 7, "ok");
    assert_string_equal(next_msg(f, 1000), "STATUS=cycle 7: ok");
    /* a newline in the text must not become a second assignment */
    bts_notify_status("evil\nREADY=1\r\tx");
    assert_string_equal(next_msg(f, 1000), "STATUS=evil READY=1  x");
    /* long: cut, and not inside a UTF-8 sequence */
    for (size_t i = 0; i + 2 < sizeof(big); i += 2)
        memcpy(big + i, "\xc3\xa9", 2);
    big[sizeof(big) - 2] = '\0';
    bts_notify_status("%s", big); /* 511 bytes would end in half an "é" */
    m = next_msg(f, 1000);
    assert_non_null(m);
    n = strlen(m);
    assert_int_equal(n, 7 + 510);
    assert_int_equal((unsigned char)m[n - 1], 0xa9);
}

static void test_watchdog(void **state)
{
    struct fixture *f = *state;
    char pid[32];

    bts_notify_watchdog(); /* WatchdogSec= not set: nothing */
    assert_null(next_msg(f, 20));

    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    setenv("WATCHDOG_USEC", "10000000", 1);
    setenv("WATCHDOG_PID", pid, 1);
    bts_notify_watchdog();
    assert_string_equal(next_msg(f, 1000), "WATCHDOG=1");
    bts_notify_watchdog(); /* within half the interval: rate-limited */
    bts_notify_watchdog();
    assert_null(next_msg(f, 20));

    /* half of 40 ms has passed: ping again */
    setenv("WATCHDOG_USEC", "40000", 1);
    usleep(25000);
    bts_notify_watchdog();
    assert_string_equal(next_msg(f, 1000), "WATCHDOG=1");
    bts_notify_watchdog();
    assert_null(next_msg(f, 5));

    /* meant for another process (a child that inherited the environment) */
    setenv("WATCHDOG_PID", "1", 1);
    usleep(25000);
    bts_notify_watchdog();
    assert_null(next_msg(f, 20));
}

/* A stop after an error says why, in the same datagram as STOPPING=1, as one line; a
 * secret in a STATUS= text is masked as in the log. */
static void test_failed_and_masked(void **state)
{
    struct fixture *f = *state;

    bts_log_add_secret("hunter2-S3cr3t");
    bts_notify_failed("/var/lib/x: not a directory\nREADY=1 hunter2-S3cr3t");
    assert_string_equal(next_msg(f, 1000),
                        "STOPPING=1\nSTATUS=failed: /var/lib/x: not a directory READY=1 ***");
    bts_notify_failed("");
    assert_string_equal(next_msg(f, 1000), "STOPPING=1\nSTATUS=failed");
    bts_notify_status("error: token %s refused", "hunter2-S3cr3t");
    assert_string_equal(next_msg(f, 1000), "STATUS=error: token *** refused");
    bts_log_clear_secrets();
}

/* Outside systemd every call is a silent no-op. */
static void test_no_socket(void **state)
{
    struct fixture *f = *state;

    unsetenv("NOTIFY_SOCKET");
    setenv("WATCHDOG_USEC", "1000", 1);
    bts_notify_ready();
    bts_notify_reloading();
    bts_notify_status("x");
    bts_notify_watchdog();
    bts_notify_stopping();
    assert_null(next_msg(f, 20));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ready_stopping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reloading, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watchdog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_and_masked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_socket, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
