/* The local state as JSON in state_dir/state.json. A file that cannot be read back is an
 * error, never a silent reset: a reset cursor re-reads every punch BioTime still holds. */
#include "bts/state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#define STATE_VERSION 1
#define STATE_MAX_BYTES (1 << 20) /* a real state is ~2 KB: anything near this is not ours */

enum state_type {
    STATE_I64,
    STATE_U64,
    STATE_STR,      /* cursor identity: refused if too long, a cut would change its meaning */
    STATE_STR_INFO, /* informational: cut (at a UTF-8 boundary) if too long */
};

struct state_field {
    const char *name;
    enum state_type type;
    size_t off;
    size_t size;
};

#define F(t, f) { #f, t, offsetof(bts_state, f), sizeof(((bts_state *)0)->f) }
static const struct state_field state_fields[] = {
    F(STATE_I64, last_id),          F(STATE_I64, page_hint),
    F(STATE_I64, hint_page_size),   F(STATE_STR, biotime_url),
    F(STATE_STR, newest_upload),    F(STATE_STR, newest_punch),
    F(STATE_U64, total_read),       F(STATE_U64, total_checkins),
    F(STATE_U64, total_device_logs), F(STATE_U64, total_duplicates),
    F(STATE_U64, total_parked),     F(STATE_U64, total_errors),
    F(STATE_U64, cycles),           F(STATE_I64, last_cycle_at),
    F(STATE_STR_INFO, last_result), F(STATE_U64, last_read),
    F(STATE_U64, last_checkins),    F(STATE_U64, last_device_logs),
    F(STATE_U64, last_parked),      F(STATE_I64, last_success_at),
    F(STATE_I64, last_error_at),    F(STATE_STR_INFO, last_error),
    F(STATE_U64, parked_waiting),
    F(STATE_U64, total_rejected),   F(STATE_U64, total_biotime_requests),
    F(STATE_U64, total_biotime_failures), F(STATE_U64, total_erpnext_requests),
    F(STATE_U64, total_erpnext_failures), F(STATE_U64, last_duration_ms),
    F(STATE_I64, push_last_at),     F(STATE_U64, push_last_created),
    F(STATE_U64, push_last_renamed), F(STATE_U64, push_last_resigned),
    F(STATE_U64, push_last_refused), F(STATE_U64, push_created),
    F(STATE_U64, push_renamed),     F(STATE_U64, push_resigned),
    F(STATE_U64, push_refused),
};
#undef F

static void state_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void state_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}


/* Copies the fixed buffer src (maybe not terminated) to dst as valid UTF-8: a sequence cut
 * at the end (bts_strlcpy of a long error) is dropped, other bad bytes become '?', so
 * --status --json always gives JSON that strict parsers accept. */
static void state_utf8_copy(char *dst, const char *src, size_t srcsize)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t n = strnlen(src, srcsize), i = 0, o = 0;

    while (i < n) {
        size_t len = bts_utf8_seq(s + i, n - i);
        if (len == 0 && n - i < 4 && s[i] >= 0xC2 && s[i] <= 0xF4)
            break; /* probably a cut sequence at the end */
        if (len == 0) {
            dst[o++] = '?';
            i++;
            continue;
        }
        memcpy(dst + o, s + i, len);
        o += len;
        i += len;
    }
    dst[o] = '\0';
}

static int state_add_field(cJSON *root, const bts_state *st, const struct state_field *f)
{
    const char *p = (const char *)st + f->off;
    char num[32], text[sizeof(st->last_error) + 1];
    cJSON *item;

    /* raw numbers: cJSON's double would print 2^53+1 wrong */
    if (f->type == STATE_I64) {
        snprintf(num, sizeof(num), "%" PRId64, *(const int64_t *)(const void *)p);
        item = cJSON_CreateRaw(num);
    } else if (f->type == STATE_U64) {
        snprintf(num, sizeof(num), "%" PRIu64, *(const uint64_t *)(const void *)p);
        item = cJSON_CreateRaw(num);
    } else {
        state_utf8_copy(text, p, f->size);
        item = cJSON_CreateString(text);
    }
    if (!item)
        return BTS_ENOMEM;
    cJSON_AddItemToObject(root, f->name, item);
    return 0;
}

static int state_add_codes(cJSON *root, const bts_state *st)
{
    cJSON *codes = cJSON_AddArrayToObject(root, "unknown_codes");
    size_t n = st->n_unknown_codes < BTS_STATE_MAX_CODES ? st->n_unknown_codes
                                                           : BTS_STATE_MAX_CODES;
    char text[sizeof(st->unknown_codes[0]) + 1];

    if (!codes)
        return BTS_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        cJSON *s;
        state_utf8_copy(text, st->unknown_codes[i], sizeof(st->unknown_codes[i]));
        s = cJSON_CreateString(text);
        if (!s)
            return BTS_ENOMEM;
        cJSON_AddItemToArray(codes, s);
    }
    return 0;
}

char *bts_state_to_json(const bts_state *st)
{
    cJSON *root = NULL;
    char *out = NULL;

    if (!st)
        goto out;
    root = cJSON_CreateObject();
    if (!root || !cJSON_AddNumberToObject(root, "version", STATE_VERSION))
        goto out;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(state_fields); i++)
        if (state_add_field(root, st, &state_fields[i]) < 0)
            goto out;
    if (state_add_codes(root, st) < 0)
        goto out;
    out = cJSON_Print(root);
out:
    cJSON_Delete(root);
    return out;
}

/* Reads an integral JSON number within [lo, hi). */
static int state_get_int(const cJSON *item, double lo, double hi, double *ret)
{
    double d;

    if (!cJSON_IsNumber(item))
        return BTS_EINVAL;
    d = item->valuedouble;
    if (!(d >= lo && d < hi) || trunc(d) != d)
        return BTS_EINVAL;
    *ret = d;
    return 0;
}

static int state_read_str(const cJSON *item, const struct state_field *f, char *dst,
                          char *err, size_t errlen)
{
    const char *s = cJSON_GetStringValue(item);

    if (!s) {
        state_err(err, errlen, "\"%s\" is not a string", f->name);
        return BTS_EINVAL;
    }
    if (strlen(s) >= f->size && f->type == STATE_STR) {
        state_err(err, errlen, "\"%s\" is longer than %zu bytes", f->name, f->size - 1);
        return BTS_EINVAL;
    }
    state_utf8_copy(dst, s, f->size - 1);
    return 0;
}

static int state_read_field(const cJSON *root, const struct state_field *f, bts_state *st,
                            char *err, size_t errlen)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, f->name);
    char *p = (char *)st + f->off;
    double d;

    if (!item)
        return 0; /* absent: a field added after this file was written */
    if (f->type == STATE_STR || f->type == STATE_STR_INFO)
        return state_read_str(item, f, p, err, errlen);
    if (f->type == STATE_I64 && state_get_int(item, -9223372036854775808.0,
                                              9223372036854775808.0, &d) == 0) {
        *(int64_t *)(void *)p = (int64_t)d;
        return 0;
    }
    if (f->type == STATE_U64 && state_get_int(item, 0, 18446744073709551616.0, &d) == 0) {
        *(uint64_t *)(void *)p = (uint64_t)d;
        return 0;
    }
    state_err(err, errlen, "\"%s\" is not %s integer", f->name,
              f->type == STATE_U64 ? "a non-negative" : "an");
    return BTS_EINVAL;
}

/* Informational: extra codes are dropped, long ones cut; a wrong type is still an error. */
static int state_read_codes(const cJSON *root, bts_state *st, char *err, size_t errlen)
{
    const cJSON *codes = cJSON_GetObjectItemCaseSensitive(root, "unknown_codes"), *c;

    if (!codes)
        return 0;
    if (!cJSON_IsArray(codes)) {
        state_err(err, errlen, "\"unknown_codes\" is not an array");
        return BTS_EINVAL;
    }
    cJSON_ArrayForEach(c, codes) {
        const char *s = cJSON_GetStringValue(c);
        if (!s) {
            state_err(err, errlen, "\"unknown_codes\" holds a value that is not a string");
            return BTS_EINVAL;
        }
        if (st->n_unknown_codes < BTS_STATE_MAX_CODES)
            state_utf8_copy(st->unknown_codes[st->n_unknown_codes++], s,
                            sizeof(st->unknown_codes[0]) - 1);
    }
    return 0;
}

static int state_check_version(const cJSON *root, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "version");
    double d;

    if (!v || state_get_int(v, 1, 1e9, &d) < 0) {
        state_err(err, errlen, "no valid \"version\" key: not a biotime-syncd state file");
        return BTS_EINVAL;
    }
    if (d > STATE_VERSION) {
        state_err(err, errlen, "version %.0f was written by a newer biotime-syncd (this one "
                  "reads version %d)", d, STATE_VERSION);
        return BTS_EINVAL;
    }
    return 0;
}

/* Says where the JSON broke: "line 3, column 7". */
static void state_err_syntax(const char *text, const char *at, char *err, size_t errlen)
{
    unsigned line = 1, col = 1;

    for (const char *p = text; at && p < at && *p; p++) {
        col++;
        if (*p == '\n') {
            line++;
            col = 1;
        }
    }
    state_err(err, errlen, "not valid JSON (line %u, column %u)", line, col);
}

static int state_parse_root(const char *text, cJSON **ret, char *err, size_t errlen)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);

    if (!root) {
        state_err_syntax(text, end, err, errlen);
        return BTS_EINVAL;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        state_err(err, errlen, "not a JSON object");
        return BTS_EINVAL;
    }
    *ret = root;
    return 0;
}

int bts_state_from_json(const char *text, bts_state *st, char *err, size_t errlen)
{
    bts_state tmp = { 0 };
    cJSON *root = NULL;
    int r = BTS_EINVAL;

    if (!text || !st) {
        state_err(err, errlen, "no state text");
        goto out;
    }
    r = state_parse_root(text, &root, err, errlen);
    if (r < 0 || (r = state_check_version(root, err, errlen)) < 0)
        goto out;
    /* the cursor must be there: without it every punch would be read again */
    if (!cJSON_GetObjectItemCaseSensitive(root, "last_id")) {
        state_err(err, errlen, "no \"last_id\" key (the cursor)");
        r = BTS_EINVAL;
        goto out;
    }
    for (size_t i = 0; i < BTS_ARRAY_SIZE(state_fields); i++)
        if ((r = state_read_field(root, &state_fields[i], &tmp, err, errlen)) < 0)
            goto out;
    if ((r = state_read_codes(root, &tmp, err, errlen)) < 0)
        goto out;
    *st = tmp;
out:
    cJSON_Delete(root);
    return r;
}

static int state_path(char *out, size_t n, const char *dir, const char *name)
{
    int len = snprintf(out, n, "%s/%s", dir, name);

    return len < 0 || (size_t)len >= n ? BTS_EINVAL : 0;
}

/* Whole file into a NUL-terminated buffer; *ret = NULL with 0 when it does not exist. */
static int state_read_file(const char *path, char **ret, char *err, size_t errlen)
{
    struct stat sb;
    char *buf = NULL;
    size_t got = 0;
    int fd, r = BTS_EIO;

    *ret = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        state_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return BTS_EIO;
    }
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size > STATE_MAX_BYTES) {
        state_err(err, errlen, "%s: not a regular file of at most %d bytes", path,
                  STATE_MAX_BYTES);
        r = BTS_EINVAL;
        goto out;
    }
    buf = malloc((size_t)sb.st_size + 1);
    if (!buf) {
        r = BTS_ENOMEM;
        goto out;
    }
    while (got < (size_t)sb.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            state_err(err, errlen, "%s: read failed: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break; /* shrank under us: parse what is there, which will be refused */
        got += (size_t)n;
    }
    buf[got] = '\0';
    if (memchr(buf, '\0', got)) {
        state_err(err, errlen, "%s: contains a NUL byte: not a state file", path);
        r = BTS_EINVAL;
        goto out;
    }
    *ret = buf;
    buf = NULL;
    r = 0;
out:
    free(buf);
    close(fd);
    return r;
}

int bts_state_load(const char *dir, bts_state *st, char *err, size_t errlen)
{
    char path[PATH_MAX], why[256];
    char *text = NULL;
    int r;

    if (!dir || !st || state_path(path, sizeof(path), dir, BTS_STATE_FILE) < 0) {
        state_err(err, errlen, "state directory path is missing or too long");
        return BTS_EINVAL;
    }
    r = state_read_file(path, &text, err, errlen);
    if (r < 0)
        goto out;
    if (!text) {
        *st = (bts_state){ 0 };
        goto out;
    }
    r = bts_state_from_json(text, st, why, sizeof(why));
    if (r < 0)
        state_err(err, errlen, "%s: %s", path, why);
out:
    free(text);
    return r;
}

int bts_state_save(const char *dir, const bts_state *st, char *err, size_t errlen)
{
    char *text = bts_state_to_json(st);
    int r;

    if (!text) {
        state_err(err, errlen, "cannot encode the state: out of memory");
        return BTS_ENOMEM;
    }
    r = bts_state_write_atomic(dir, BTS_STATE_FILE, text, strlen(text), err, errlen);
    free(text);
    return r;
}

static int state_write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* O_EXCL so a symlink planted at the temp name is never followed; a temp left by an
 * earlier process that had our pid is ours to replace. fchmod, not open's mode: the
 * unit's UMask=0077 would take a reader's bits off the metrics file. */
static int state_open_temp(const char *tmp, mode_t mode)
{
    int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY;
    int fd = open(tmp, flags, 0600);

    if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
        fd = open(tmp, flags, 0600);
    if (fd >= 0 && mode != 0600 && fchmod(fd, mode) < 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        errno = e;
        return -1;
    }
    return fd;
}

/* The rename is durable only once the directory entry is: fsync the directory. Some file
 * systems cannot fsync a directory (EINVAL); there is nothing more to do on those. */
static int state_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int r = 0;

    if (fd < 0)
        return -errno;
    if (fsync(fd) < 0 && errno != EINVAL)
        r = -errno;
    close(fd);
    return r;
}

static int state_step_failed(const char *what, const char *step, int e, char *err,
                             size_t errlen)
{
    state_err(err, errlen, "%s: %s failed: %s", what, step, strerror(e));
    return BTS_EIO;
}

int bts_state_write_atomic(const char *dir, const char *name, const char *data, size_t len,
                           char *err, size_t errlen)
{
    return bts_state_write_atomic_mode(dir, name, data, len, 0600, err, errlen);
}

int bts_state_write_atomic_mode(const char *dir, const char *name, const char *data,
                                size_t len, mode_t mode, char *err, size_t errlen)
{
    char path[PATH_MAX], tmp[PATH_MAX + 32];
    bool have_tmp = false;
    int fd = -1, r = BTS_EINVAL, e;

    if (!dir || !*dir || !name || !*name || strchr(name, '/') || (!data && len) ||
        state_path(path, sizeof(path), dir, name) < 0) {
        state_err(err, errlen, "invalid state file name or directory");
        goto out;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    if ((fd = state_open_temp(tmp, mode)) < 0) {
        r = state_step_failed(tmp, "create", errno, err, errlen);
        goto out;
    }
    have_tmp = true;
    if ((e = state_write_all(fd, data, len)) < 0) {
        r = state_step_failed(tmp, "write", -e, err, errlen);
        goto out;
    }
    if (fsync(fd) < 0) {
        r = state_step_failed(tmp, "fsync", errno, err, errlen);
        goto out;
    }
    e = close(fd) < 0 ? errno : 0;
    fd = -1;
    if (e) {
        r = state_step_failed(tmp, "close", e, err, errlen);
        goto out;
    }
    if (rename(tmp, path) < 0) {
        r = state_step_failed(path, "rename of the temp file", errno, err, errlen);
        goto out;
    }
    have_tmp = false;
    if ((e = state_fsync_dir(dir)) < 0) {
        r = state_step_failed(dir, "fsync of the directory", -e, err, errlen);
        goto out;
    }
    r = 0;
out:
    if (fd >= 0)
        close(fd);
    if (have_tmp)
        unlink(tmp);
    return r;
}

/* mkdir -p with mode 0700 (the state names employees and servers). */
static int state_mkdir_p(const char *dir)
{
    char path[PATH_MAX];
    size_t n = strlen(dir);

    if (n == 0 || n >= sizeof(path))
        return -ENAMETOOLONG;
    memcpy(path, dir, n + 1);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

int bts_state_dir_usable(const char *dir, char *err, size_t errlen)
{
    struct stat sb;
    int e;

    if (!dir || !*dir) {
        state_err(err, errlen, "no state directory configured");
        return BTS_EINVAL;
    }
    if ((e = state_mkdir_p(dir)) < 0) {
        state_err(err, errlen, "%s: cannot create the state directory: %s", dir, strerror(-e));
        return BTS_EIO;
    }
    if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
        state_err(err, errlen, "%s: not a directory", dir);
        return BTS_EIO;
    }
    if (access(dir, W_OK | X_OK) < 0) {
        state_err(err, errlen, "%s: state directory not writable: %s", dir, strerror(errno));
        return BTS_EIO;
    }
    return 0;
}
