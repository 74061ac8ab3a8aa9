/* Checks of single config values, for the table-driven loader in config.c. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bts/common.h"
#include "bts/config_check.h"
#include "bts/timeconv.h"

/* The port after "host:" in a URL authority: 1..65535, digits only. */
static bool url_port_ok(const char *p, size_t n) {
    long port = 0;

    if (n == 0 || n > 5)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        port = port * 10 + (p[i] - '0');
    }
    return port >= 1 && port <= 65535;
}

/* host[:port] or [v6]:port, as it stands between "//" and the path. */
static const char *url_authority(const char *a, size_t n) {
    const char *colon;

    if (n == 0)
        return "has no host";
    if (memchr(a, '@', n))
        return "must not carry user:password@ (use username and password)";
    if (a[0] == '[') {
        const char *end = memchr(a, ']', n);
        if (!end || end == a + 1)
            return "has a bad [IPv6] host";
        colon = end + 1 < a + n ? end + 1 : NULL;
        if (colon && *colon != ':')
            return "has a bad [IPv6] host";
    } else {
        colon = memchr(a, ':', n);
        if (colon == a)
            return "has no host";
    }
    if (colon && !url_port_ok(colon + 1, (size_t)(a + n - colon - 1)))
        return "has a bad port (expected 1..65535)";
    return NULL;
}

/* scheme://host[:port][/prefix]: the clients append API paths to it, so a query, a fragment
 * or a trailing slash would break every request. The trailing slash is forgiven. */
const char *bts_config_check_url(char *value) {
    size_t skip, len;
    const char *why;

    if (!*value)
        return NULL; /* required-ness is loader_required's job */
    if (strncasecmp(value, "http://", 7) == 0)
        skip = 7;
    else if (strncasecmp(value, "https://", 8) == 0)
        skip = 8;
    else
        return "must start with http:// or https://";
    for (const char *p = value; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return "must not contain spaces or control characters";
    if (strpbrk(value, "?#"))
        return "must not have a query (?) or fragment (#)";
    if ((why = url_authority(value + skip, strcspn(value + skip, "/"))))
        return why;
    len = strlen(value);
    while (len > skip && value[len - 1] == '/')
        value[--len] = '\0';
    return NULL;
}

/* The label goes into Device Log names ("<name>-<id>") and so into URL paths. */
const char *bts_config_check_label(char *value) {
    if (strlen(value) > 64)
        return "is longer than 64 characters";
    if (value[strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")])
        return "may hold only letters, digits, '.', '_' and '-'";
    return NULL;
}

const char *bts_config_check_zone(char *value) {
    if (*value && bts_tz_valid(value) != 1)
        return "is not a time zone of the tz database (e.g. \"Asia/Kolkata\", \"UTC\")";
    return NULL;
}

const char *bts_config_check_date(char *value) {
    struct tm tm;

    if (*value && (strlen(value) != 10 || bts_time_parse(value, true, &tm) < 0))
        return "must be a date YYYY-MM-DD";
    return NULL;
}

/* A Frappe field name; it is put into list filters. */
const char *bts_config_check_fieldname(char *value) {
    if (!*value || value[strspn(value, "abcdefghijklmnopqrstuvwxyz"
                                       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")])
        return "must be a field name (letters, digits, '_')";
    return NULL;
}

const char *bts_config_check_nonempty(char *value) {
    return *value ? NULL : "must not be empty";
}

/* A CA file that cannot be read would only show at the first TLS handshake. */
const char *bts_config_check_readable(char *value) {
    if (*value && access(value, R_OK) < 0)
        return strerror(errno);
    return NULL;
}


/* Is host (n bytes) name, or a name under it? */
static bool host_within(const char *host, size_t n, const char *name) {
    size_t m = strlen(name);

    return n >= m && strncasecmp(host + n - m, name, m) == 0 &&
           (n == m || host[n - m - 1] == '.');
}

/* The example config's values: "change-me", and URLs on the names RFC 2606 reserves for
 * examples (they can never be a real server). Not a value check of its own key: the
 * loader runs it over every string once the file is read. */
const char *bts_config_check_placeholder(const char *value) {
    static const char *const words[] = {"change-me", "changeme", "change_me"};
    static const char *const hosts[] = {"example.com", "example.net", "example.org",
                                        "example", "invalid"};
    const char *host = strstr(value, "://");
    size_t n;

    for (size_t i = 0; i < BTS_ARRAY_SIZE(words); i++)
        if (strcasecmp(value, words[i]) == 0)
            return "still the example config's placeholder \"change-me\": set the real value";
    if (!host || strncasecmp(value, "http", 4) != 0)
        return NULL;
    host += 3;
    n = strcspn(host, ":/");
    for (size_t i = 0; i < BTS_ARRAY_SIZE(hosts); i++)
        if (host_within(host, n, hosts[i]))
            return "names a placeholder host (example.com/.net/.org and .invalid are "
                   "reserved for examples and never a real server): set your server's URL";
    return NULL;
}

/* A file the daemon writes ("" = none): absolute, since a service's working directory is
 * "/", and naming a file, since the temp file goes beside it. */
const char *bts_config_check_file_path(char *value) {
    if (!*value)
        return NULL;
    if (value[0] != '/')
        return "must be an absolute path";
    if (value[strlen(value) - 1] == '/')
        return "must name a file, not a directory";
    return NULL;
}
