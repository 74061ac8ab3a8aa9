/* Frappe error bodies (reference/frappe-api.md §6.3, frappe-observed.md) into one readable
 * line and a class. The body comes from the network: any bytes at all must give a bounded,
 * valid-UTF-8, one-line answer. */
#include "bts/frappe_error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#define FE_SNIPPET_MAX 160 /* text kept from a non-JSON 404 page: it names the wrong site */

/* Messages joined from _server_messages: those the exception raised, and all of them. */
typedef struct {
    char flagged[sizeof(((bts_frappe_error *)0)->message)];
    char all[sizeof(((bts_frappe_error *)0)->message)];
} fe_msgs;

/* ---- bounded UTF-8 text ---- */


/* In place: ill-formed bytes become '?', control characters spaces. */
static void fe_fix_text(char *s)
{
    unsigned char *p = (unsigned char *)s;
    size_t n = strlen(s);

    for (size_t i = 0; i < n;) {
        size_t len = bts_utf8_seq(p + i, n - i);
        if (len == 0)
            p[i] = '?';
        else if (len == 1 && (p[i] < 0x20 || p[i] == 0x7f))
            p[i] = ' ';
        i += len ? len : 1;
    }
}

/* Appends src to dst (size n), cutting at a UTF-8 boundary. */
static void fe_append(char *dst, size_t n, const char *src)
{
    size_t have = strnlen(dst, n), room, len = strlen(src);

    if (have + 1 >= n)
        return;
    room = n - have - 1;
    if (len > room) {
        len = room;
        while (len > 0 && ((unsigned char)src[len] & 0xC0) == 0x80)
            len--;
    }
    memcpy(dst + have, src, len);
    dst[have + len] = '\0';
}

static void fe_copy(char *dst, size_t n, const char *src)
{
    dst[0] = '\0';
    if (src)
        fe_append(dst, n, src);
}

/* ---- HTML ---- */

static bool fe_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Tags that sit inside a word ("<strong>BT-1</strong>") vanish; the others ("<Br>",
 * "</summary>") separate words, so they become a space. */
static bool fe_tag_is_inline(const char *name)
{
    static const char *const inl[] = { "a", "b", "i", "u", "s", "em", "strong", "span",
                                       "code", "small", "big", "sub", "sup", "font", "mark" };
    size_t len = 0;

    while (name[len] && ((name[len] >= 'a' && name[len] <= 'z') ||
                         (name[len] >= 'A' && name[len] <= 'Z') ||
                         (name[len] >= '0' && name[len] <= '9')))
        len++;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(inl); i++)
        if (strlen(inl[i]) == len && strncasecmp(name, inl[i], len) == 0)
            return true;
    return false;
}

/* Past the tag that starts at s ('<'): quoted attributes may hold '>'. An unterminated
 * tag runs to the end (shown, it would be noise). */
static const char *fe_skip_tag(const char *s)
{
    char quote = 0;

    if (strncmp(s, "<!--", 4) == 0) {
        const char *end = strstr(s + 4, "-->");
        return end ? end + 3 : s + strlen(s);
    }
    for (s++; *s; s++) {
        if (quote) {
            if (*s == quote)
                quote = 0;
        } else if (*s == '"' || *s == '\'') {
            quote = *s;
        } else if (*s == '>') {
            return s + 1;
        }
    }
    return s;
}

static size_t fe_put_utf8(char *out, unsigned long cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* "&#39;" or "&#x27;": writes the character to out, returns bytes consumed (0: not one).
 * The output is never longer than the entity, so decoding in place is safe. */
static size_t fe_numeric_entity(const char *s, char *out, size_t *outlen)
{
    bool hex = s[2] == 'x' || s[2] == 'X';
    const char *p = s + (hex ? 3 : 2);
    unsigned long cp = 0;
    size_t digits = 0;

    for (; digits < 8; p++, digits++) {
        int v = *p >= '0' && *p <= '9' ? *p - '0'
              : hex && *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
              : hex && *p >= 'A' && *p <= 'F' ? *p - 'A' + 10 : -1;
        if (v < 0)
            break;
        cp = cp * (hex ? 16 : 10) + (unsigned long)v;
    }
    if (digits == 0 || *p != ';' || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    if (cp < 0x20 || cp == 0x7f)
        cp = ' ';
    *outlen = fe_put_utf8(out, cp);
    return (size_t)(p + 1 - s);
}

static size_t fe_entity(const char *s, char *out, size_t *outlen)
{
    static const struct { const char *name; char c; } named[] = {
        { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' },
        { "&#39;", '\'' }, { "&apos;", '\'' }, { "&nbsp;", ' ' },
    };

    for (size_t i = 0; i < BTS_ARRAY_SIZE(named); i++) {
        size_t len = strlen(named[i].name);
        if (strncmp(s, named[i].name, len) == 0) {
            out[0] = named[i].c;
            *outlen = 1;
            return len;
        }
    }
    return s[1] == '#' ? fe_numeric_entity(s, out, outlen) : 0;
}

static void fe_collapse_space(char *s)
{
    char *w = s;
    bool gap = false;

    for (const char *r = s; *r; r++) {
        if (fe_is_space(*r)) {
            gap = w != s;
            continue;
        }
        if (gap)
            *w++ = ' ';
        gap = false;
        *w++ = *r;
    }
    *w = '\0';
}

void bts_strip_html(char *s)
{
    char *w = s, ent[4];
    const char *r = s;

    if (!s)
        return;
    while (*r) {
        size_t used, outlen;
        if (*r == '<' && (r[1] == '/' || r[1] == '!' || r[1] == '?' ||
                          (r[1] >= 'a' && r[1] <= 'z') || (r[1] >= 'A' && r[1] <= 'Z'))) {
            bool inl = fe_tag_is_inline(r + (r[1] == '/' ? 2 : 1));
            r = fe_skip_tag(r);
            if (!inl)
                *w++ = ' ';
        } else if (*r == '&' && (used = fe_entity(r, ent, &outlen)) > 0) {
            memcpy(w, ent, outlen);
            w += outlen;
            r += used;
        } else {
            *w++ = (unsigned char)*r < 0x20 || *r == 0x7f ? ' ' : *r;
            r++;
        }
    }
    *w = '\0';
    fe_collapse_space(s);
}

/* ---- the pieces of a Frappe error body ---- */

static const char *fe_str(const cJSON *obj, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

/* Appends html, stripped, to dst with "; " between messages. */
static void fe_add_message(char *dst, size_t n, const char *html)
{
    char *text = html ? strdup(html) : NULL;

    if (!text)
        return;
    bts_strip_html(text);
    if (*text) {
        if (*dst)
            fe_append(dst, n, "; ");
        fe_append(dst, n, text);
    }
    free(text);
}

/* "/app/Form/Employee Checkin/<NAME>" (or the /app/employee-checkin/ route) in a link. */
static void fe_find_checkin(const char *text, bts_frappe_error *ret)
{
    static const char *const routes[] = { "/app/Form/Employee Checkin/",
                                          "/app/Form/Employee%20Checkin/",
                                          "/app/employee-checkin/" };
    char name[sizeof(ret->checkin_name)];

    for (size_t i = 0; text && !ret->checkin_name[0] && i < BTS_ARRAY_SIZE(routes); i++) {
        const char *p = strstr(text, routes[i]);
        size_t len;
        if (!p)
            continue;
        p += strlen(routes[i]);
        len = strcspn(p, "\"'<>?# \t\r\n\\");
        if (len == 0 || len >= sizeof(name))
            continue; /* a cut name would name another checkin */
        memcpy(name, p, len);
        name[len] = '\0';
        fe_copy(ret->checkin_name, sizeof(ret->checkin_name), name);
    }
}

static bool fe_truthy(const cJSON *v)
{
    if (cJSON_IsNumber(v))
        return v->valuedouble != 0;
    if (cJSON_IsString(v))
        return v->valuestring[0] && strcmp(v->valuestring, "0") != 0;
    return cJSON_IsTrue(v);
}

/* One element of _server_messages: a JSON string of an object (v1), or an object. */
static void fe_take_server_message(const cJSON *el, fe_msgs *m, bts_frappe_error *ret)
{
    cJSON *parsed = NULL;
    const cJSON *obj = el;
    const char *text, *indicator;

    if (cJSON_IsString(el)) {
        parsed = cJSON_Parse(el->valuestring);
        obj = parsed;
        if (!cJSON_IsObject(obj)) { /* a plain-text msgprint */
            fe_add_message(m->all, sizeof(m->all), el->valuestring);
            goto out;
        }
    }
    text = fe_str(obj, "message");
    if (!text)
        goto out;
    fe_find_checkin(text, ret);
    indicator = fe_str(obj, "indicator");
    if (fe_truthy(cJSON_GetObjectItemCaseSensitive(obj, "raise_exception")) ||
        (indicator && strcmp(indicator, "red") == 0))
        fe_add_message(m->flagged, sizeof(m->flagged), text);
    fe_add_message(m->all, sizeof(m->all), text);
out:
    cJSON_Delete(parsed);
}

/* _server_messages is JSON in a string holding JSON in strings: decode twice. */
static void fe_from_server_messages(const cJSON *root, bts_frappe_error *ret)
{
    const char *sm = fe_str(root, "_server_messages");
    cJSON *list = sm ? cJSON_Parse(sm) : NULL;
    const cJSON *el;
    fe_msgs m = { { 0 }, { 0 } };

    if (!cJSON_IsArray(list))
        goto out;
    cJSON_ArrayForEach(el, list)
        fe_take_server_message(el, &m, ret);
    fe_copy(ret->message, sizeof(ret->message), m.flagged[0] ? m.flagged : m.all);
out:
    cJSON_Delete(list);
}

/* "frappe.exceptions.ValidationError: text" gives "text"; a bare class name gives "". */
static void fe_after_class(const char *line, bts_frappe_error *ret)
{
    const char *colon = line ? strstr(line, ": ") : NULL;
    size_t sp = line ? strcspn(line, " \t") : 0;

    if (!line)
        return;
    if (colon && sp >= (size_t)(colon - line))
        line = colon + 2; /* no space before ": ": a class name */
    else if (!line[sp])
        return;           /* one word: only the class name */
    fe_add_message(ret->message, sizeof(ret->message), line);
}

/* The last non-empty line of a traceback. */
static void fe_from_traceback(const char *tb, bts_frappe_error *ret)
{
    char *copy = tb ? strdup(tb) : NULL, *line = NULL, *save = NULL;

    if (!copy)
        return;
    for (char *p = strtok_r(copy, "\r\n", &save); p; p = strtok_r(NULL, "\r\n", &save))
        if (p[strspn(p, " \t")])
            line = p;
    if (line)
        fe_after_class(line + strspn(line, " \t"), ret);
    free(copy);
}

/* exc is a JSON string of a list of traceback strings. */
static void fe_from_exc(const char *exc, bts_frappe_error *ret)
{
    cJSON *list = exc ? cJSON_Parse(exc) : NULL;
    int n = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : 0;

    if (n > 0)
        fe_from_traceback(cJSON_GetStringValue(cJSON_GetArrayItem(list, n - 1)), ret);
    cJSON_Delete(list);
}

/* v2: {"errors":[{"type","message","exception"(a traceback)}]}. */
static void fe_from_v2(const cJSON *errors, bts_frappe_error *ret)
{
    const cJSON *e, *first = cJSON_GetArrayItem(errors, 0);

    if (!ret->exc_type[0])
        fe_copy(ret->exc_type, sizeof(ret->exc_type), fe_str(first, "type"));
    cJSON_ArrayForEach(e, errors) {
        const char *text = fe_str(e, "message");
        fe_find_checkin(text, ret);
        fe_add_message(ret->message, sizeof(ret->message), text);
    }
    if (!ret->message[0])
        fe_from_traceback(fe_str(first, "exception"), ret);
}

/* The recommended order of frappe-api.md §6.3, first one that gives text wins. */
static void fe_decode_json(const cJSON *root, bts_frappe_error *ret)
{
    const cJSON *errors = cJSON_GetObjectItemCaseSensitive(root, "errors");
    const char *exception = fe_str(root, "exception");

    fe_copy(ret->exc_type, sizeof(ret->exc_type), fe_str(root, "exc_type"));
    fe_find_checkin(exception, ret);
    if (cJSON_IsArray(errors))
        fe_from_v2(errors, ret);
    if (!ret->message[0])
        fe_from_server_messages(root, ret);
    if (!ret->message[0])
        fe_add_message(ret->message, sizeof(ret->message), fe_str(root, "_error_message"));
    if (!ret->message[0])
        fe_after_class(exception, ret);
    if (!ret->message[0])
        fe_from_exc(fe_str(root, "exc"), ret);
    if (!ret->message[0] && ret->exc_type[0])
        snprintf(ret->message, sizeof(ret->message), "HTTP %ld %s", ret->status, ret->exc_type);
    if (!ret->message[0])
        snprintf(ret->message, sizeof(ret->message), "HTTP %ld (no error message)", ret->status);
}

/* HTML from werkzeug, nginx or a proxy: the status says it all, except for a 404 where
 * the page says which host is not a site ("127.0.0.1 does not exist"). */
static void fe_decode_other(const char *body, size_t len, bts_frappe_error *ret)
{
    char text[1024], snip[FE_SNIPPET_MAX + 1] = "";
    size_t n = body ? (len < sizeof(text) - 1 ? len : sizeof(text) - 1) : 0;

    for (size_t i = 0; i < n; i++)
        text[i] = body[i] ? body[i] : ' ';
    text[n] = '\0';
    bts_strip_html(text);
    fe_fix_text(text);
    fe_append(snip, sizeof(snip), text);
    if (ret->status == 404 && snip[0])
        snprintf(ret->message, sizeof(ret->message), "HTTP %ld (non-JSON body: %s)",
                 ret->status, snip);
    else
        snprintf(ret->message, sizeof(ret->message), "HTTP %ld (non-JSON body)", ret->status);
}

/* ---- classification ---- */

static bool fe_type_is(const bts_frappe_error *e, const char *type)
{
    return strcmp(e->exc_type, type) == 0;
}

/* A 500 that is about our data, not the server's health: retrying cannot help. Frappe
 * names the Python exception; one raised by application code on our document (TypeError,
 * AttributeError, ValueError, a MariaDB data error such as OperationalError "(1292, ...)")
 * will be raised again. Lost connections, deadlocks and lock timeouts (2006, 2013, 1205,
 * 1213) are the server's health, as is a 500 without a Frappe body. A record refused this
 * way is parked, and parked records are tried again later, so a misjudged one is not lost. */
static bool fe_is_data_500(const bts_frappe_error *e)
{
    static const char *const health[] = { "InterfaceError", "QueryDeadlockError",
                                          "QueryTimeoutError", "TimeoutError",
                                          "ConnectionError", "RedisError", "InternalError",
                                          "MemoryError", "SessionStopped" };
    static const int codes[] = { 1048, 1264, 1265, 1292, 1366, 1406, 1411 };
    int code = 0;

    if (!e->exc_type[0])
        return false;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(health); i++)
        if (fe_type_is(e, health[i]))
            return false;
    if (!fe_type_is(e, "OperationalError"))
        return true;
    if (sscanf(e->message, "(%d,", &code) != 1)
        return false;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(codes); i++)
        if (code == codes[i])
            return true;
    return false;
}

/* A 4xx refusal of this record: which kind the sync can act on. */
static bts_fe_class fe_classify_refusal(const bts_frappe_error *e)
{
    if (strstr(e->message, "already has a log with the same timestamp"))
        return BTS_FE_DUPLICATE_LOG;
    if (fe_type_is(e, "InactiveEmployeeStatusError") ||
        strstr(e->message, "Transactions cannot be created for an Inactive Employee"))
        return BTS_FE_INACTIVE;
    if (strstr(e->message, "Latitude and longitude values are required"))
        return BTS_FE_GEOLOCATION;
    /* F14 sends no exc_type for a bare DuplicateEntryError; but a 409 naming error such
     * as "Name cannot contain special characters" is not "already there" */
    if (fe_type_is(e, "DuplicateEntryError") || (e->status == 409 && !e->exc_type[0]))
        return BTS_FE_DUPLICATE_ENTRY;
    return BTS_FE_PERMANENT;
}

static bts_fe_class fe_classify(const bts_frappe_error *e, bool json)
{
    long s = e->status;

    if (s >= 200 && s < 300)
        return BTS_FE_NONE;
    if (s == 0 || s == 408 || s == 429)
        return BTS_FE_TRANSIENT;
    if (s == 401 || s == 403)
        return BTS_FE_AUTH;
    if (s == 404)
        return json ? BTS_FE_NOT_FOUND : BTS_FE_WRONG_SITE;
    if (s == 413)
        return BTS_FE_TOO_LARGE;
    if (s >= 400 && s < 500)
        return fe_classify_refusal(e);
    if (s == 500 && fe_is_data_500(e))
        return BTS_FE_PERMANENT;
    return BTS_FE_TRANSIENT; /* 5xx, and 1xx/3xx that a proxy may send: not the record */
}

/* A Frappe 403 is either our credentials (Guest) or a role the API user lacks: say so. */
static void fe_note_permission(bts_frappe_error *e)
{
    char note[sizeof(e->message)] = "permission denied (missing role, or not logged in)";

    if (strncmp(e->message, "HTTP ", 5) != 0) { /* not just "HTTP 403 PermissionError" */
        fe_append(note, sizeof(note), ": ");
        fe_append(note, sizeof(note), e->message);
    }
    fe_copy(e->message, sizeof(e->message), note);
}

void bts_frappe_error_parse(long status, const char *content_type, const char *body, size_t len,
                            bts_frappe_error *ret)
{
    cJSON *root = NULL;
    bool json;

    (void)content_type; /* the body decides: Frappe may label JSON loosely, proxies too */
    if (!ret)
        return;
    *ret = (bts_frappe_error){ .status = status, .retry_after_s = -1 };
    if (status >= 200 && status < 300)
        goto out; /* success bodies may carry harmless msgprints */
    if (status == 0) {
        snprintf(ret->message, sizeof(ret->message), "no HTTP response");
        ret->cls = BTS_FE_TRANSIENT;
        goto out;
    }
    if (body && len)
        root = cJSON_ParseWithLength(body, len);
    json = cJSON_IsObject(root);
    if (json)
        fe_decode_json(root, ret);
    else
        fe_decode_other(body, len, ret);
    ret->cls = fe_classify(ret, json);
    if (ret->cls != BTS_FE_DUPLICATE_LOG)
        ret->checkin_name[0] = '\0';
    if (status == 403 && json)
        fe_note_permission(ret);
    fe_fix_text(ret->message);
    fe_fix_text(ret->exc_type);
    fe_fix_text(ret->checkin_name);
out:
    cJSON_Delete(root);
}

void bts_frappe_error_format(const bts_frappe_error *e, char *out, size_t n)
{
    if (!out || n == 0)
        return;
    if (!e)
        snprintf(out, n, "no error");
    else if (e->status == 0)
        snprintf(out, n, "%s", e->message[0] ? e->message : "no HTTP response");
    else if (strncmp(e->message, "HTTP ", 5) == 0)
        snprintf(out, n, "%s", e->message);
    else if (!e->message[0])
        snprintf(out, n, "HTTP %ld%s%s", e->status, e->exc_type[0] ? " " : "", e->exc_type);
    else if (e->exc_type[0])
        snprintf(out, n, "HTTP %ld %s: %s", e->status, e->exc_type, e->message);
    else
        snprintf(out, n, "HTTP %ld: %s", e->status, e->message);
}
