/* Frappe error decoding, against the real bodies recorded from Frappe 15 / HRMS 15
 * (tests/data/frappe/, copied from shared/reference/frappe-transcripts/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bts/frappe_error.h"

/* The file's bytes in a buffer of exactly that size (no NUL: ASan sees any overread). */
static char *read_body(const char *name, size_t *len)
{
    const char *dir = getenv("BTS_TEST_DATA");
    char path[1024];
    FILE *f;
    long n;
    char *buf;

    snprintf(path, sizeof(path), "%s/frappe/%s", dir ? dir : "tests/data", name);
    f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s (is BTS_TEST_DATA set?)", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void parse_str(long status, const char *body, bts_frappe_error *e)
{
    bts_frappe_error_parse(status, "application/json", body, body ? strlen(body) : 0, e);
}

struct real_case {
    const char *file;
    long status;
    bts_fe_class cls;
    const char *exc_type;
    const char *message; /* the whole decoded message */
    const char *checkin;
};

static const struct real_case real_cases[] = {
    { "02-checkin-resource-duplicate.json", 417, BTS_FE_DUPLICATE_LOG, "ValidationError",
      "This employee already has a log with the same timestamp. Employee Checkin Aisha Test",
      "EMP-CKIN-11-2026-000002" },
    { "04-add-log-duplicate.json", 417, BTS_FE_DUPLICATE_LOG, "ValidationError",
      "This employee already has a log with the same timestamp. Employee Checkin Bilal Test",
      "EMP-CKIN-11-2026-000003" },
    { "06-add-log-inactive-employee.json", 417, BTS_FE_INACTIVE, "InactiveEmployeeStatusError",
      "Transactions cannot be created for an Inactive Employee HR-EMP-00003.", "" },
    { "07-wrong-api-secret.json", 401, BTS_FE_AUTH, "AuthenticationError",
      "HTTP 401 AuthenticationError", "" },
    { "07c-no-auth.json", 403, BTS_FE_AUTH, "PermissionError",
      "permission denied (missing role, or not logged in): You are not permitted to access "
      "this resource. Login to access Function "
      "hrms.hr.doctype.employee_checkin.employee_checkin.add_log_based_on_employee_field is "
      "not whitelisted.", "" },
    { "09b-create-custom-doctype-again.json", 409, BTS_FE_DUPLICATE_ENTRY, "DuplicateEntryError",
      "DocType BioTime Device Log already exists", "" },
    { "09d-doctype-missing-check.json", 404, BTS_FE_NOT_FOUND, "DoesNotExistError",
      "DocType No Such Doctype not found", "" },
    { "11-biotime-log-insert-duplicate.json", 409, BTS_FE_DUPLICATE_ENTRY,
      "DuplicateEntryError", "BioTime Device Log BT-0001 already exists", "" },
    { "11b-biotime-log-bad-link.json", 417, BTS_FE_PERMANENT, "LinkValidationError",
      "Could not find Employee: HR-EMP-99999", "" },
    { "13-insert-many-one-bad.json", 417, BTS_FE_INACTIVE, "InactiveEmployeeStatusError",
      "Transactions cannot be created for an Inactive Employee HR-EMP-00003.", "" },
    { "14b-shift-type-put-missing.json", 404, BTS_FE_NOT_FOUND, "DoesNotExistError",
      "Shift Type No Such Shift not found", "" },
    { "14d-shift-type-put-bad-datetime.json", 500, BTS_FE_PERMANENT, "OperationalError",
      "(1292, \"Incorrect datetime value: 'not-a-date' for column "
      "`_9bb96e4f5732a7cc`.`tabShift Type`.`last_sync_of_checkin` at row 1\")", "" },
    { "15-malformed-json.json", 500, BTS_FE_PERMANENT, "JSONDecodeError",
      "Expecting property name enclosed in double quotes: line 1 column 73 (char 72)", "" },
    { "15d-unknown-method.json", 417, BTS_FE_PERMANENT, "ValidationError",
      "Failed to get method for command hrms.no_such_module.fn with No module named "
      "'hrms.no_such_module'", "" },
    { "15f-checkin-iso-time-tz.json", 500, BTS_FE_PERMANENT, "OperationalError",
      "(1292, \"Incorrect datetime value: '2026-11-25 17:00:00+03:00' for column "
      "`_9bb96e4f5732a7cc`.`tabEmployee Checkin`.`time` at row 1\")", "" },
    { "15g-checkin-bad-log-type.json", 417, BTS_FE_PERMANENT, "ValidationError",
      "Log Type cannot be \"BREAK\". It should be one of \"\", \"IN\", \"OUT\"", "" },
    { "15i-checkin-inactive-via-resource.json", 417, BTS_FE_INACTIVE,
      "InactiveEmployeeStatusError",
      "Transactions cannot be created for an Inactive Employee HR-EMP-00003.", "" },
    { "17b-v2-create-checkin-duplicate.json", 417, BTS_FE_DUPLICATE_LOG, "ValidationError",
      "This employee already has a log with the same timestamp. Employee Checkin Bilal Test",
      "EMP-CKIN-11-2026-000814" },
};

static void test_real_bodies(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(real_cases) / sizeof(real_cases[0]); i++) {
        const struct real_case *c = &real_cases[i];
        bts_frappe_error e;
        size_t len;
        char *body = read_body(c->file, &len);

        bts_frappe_error_parse(c->status, "application/json", body, len, &e);
        if (e.cls != c->cls || strcmp(e.message, c->message) != 0)
            fail_msg("%s: class %d (want %d), message \"%s\"", c->file, e.cls, c->cls,
                     e.message);
        assert_int_equal(e.status, c->status);
        assert_string_equal(e.exc_type, c->exc_type);
        assert_string_equal(e.checkin_name, c->checkin);
        assert_int_equal(e.retry_after_s, -1);
        free(body);
    }
}

static void test_format(void **state)
{
    bts_frappe_error e;
    char out[700];
    size_t len;
    char *body = read_body("02-checkin-resource-duplicate.json", &len);

    (void)state;
    bts_frappe_error_parse(417, "application/json", body, len, &e);
    bts_frappe_error_format(&e, out, sizeof(out));
    assert_string_equal(out, "HTTP 417 ValidationError: This employee already has a log with "
                             "the same timestamp. Employee Checkin Aisha Test");
    bts_frappe_error_format(&e, out, 10); /* cut, terminated */
    assert_string_equal(out, "HTTP 417 ");
    free(body);

    bts_frappe_error_parse(502, "text/html", "<html>bad gateway</html>", 24, &e);
    bts_frappe_error_format(&e, out, sizeof(out));
    assert_string_equal(out, "HTTP 502 (non-JSON body)");

    parse_str(400, "{\"_error_message\":\"no\"}", &e);
    bts_frappe_error_format(&e, out, sizeof(out));
    assert_string_equal(out, "HTTP 400: no");

    bts_frappe_error_parse(0, NULL, NULL, 0, &e);
    bts_frappe_error_format(&e, out, sizeof(out));
    assert_string_equal(out, "no HTTP response");
    bts_frappe_error_format(NULL, out, sizeof(out));
    assert_string_equal(out, "no error");
    bts_frappe_error_format(&e, NULL, 0); /* must not crash */
}

static void test_status_classes(void **state)
{
    static const struct { long status; const char *body; bts_fe_class cls; } cases[] = {
        { 200, "{\"message\":\"ok\"}", BTS_FE_NONE },
        { 201, "{\"_server_messages\":\"[]\"}", BTS_FE_NONE },
        { 0, NULL, BTS_FE_TRANSIENT },
        { 408, "", BTS_FE_TRANSIENT },
        { 429, "{\"exc_type\":\"TooManyRequestsError\"}", BTS_FE_TRANSIENT },
        { 500, "{\"exc_type\":\"QueryDeadlockError\"}", BTS_FE_TRANSIENT },
        { 500, "{\"exc_type\":\"OperationalError\",\"exception\":\"pymysql.err."
               "OperationalError: (2013, 'Lost connection to MySQL server')\"}",
          BTS_FE_TRANSIENT },
        { 500, "{\"exc_type\":\"TypeError\"}", BTS_FE_PERMANENT },
        /* an application exception on our document comes back the same next time */
        { 500, "{\"exc_type\":\"AttributeError\"}", BTS_FE_PERMANENT },
        { 500, "{\"exc_type\":\"InterfaceError\"}", BTS_FE_TRANSIENT },
        { 500, "{\"exc_type\":\"ImportError\"}", BTS_FE_PERMANENT },
        { 500, "{\"exc_type\":\"DataError\"}", BTS_FE_PERMANENT },
        { 500, "<html>Internal Server Error</html>", BTS_FE_TRANSIENT },
        { 502, "<html><center>nginx</center></html>", BTS_FE_TRANSIENT },
        { 503, "{\"exc_type\":\"SessionStopped\"}", BTS_FE_TRANSIENT },
        { 504, NULL, BTS_FE_TRANSIENT },
        { 302, "", BTS_FE_TRANSIENT },
        { 401, "", BTS_FE_AUTH },
        { 403, "{\"_error_message\":\"Not permitted\"}", BTS_FE_AUTH },
        { 404, "<!doctype html><p>127.0.0.1 does not exist</p>", BTS_FE_WRONG_SITE },
        { 404, "{\"exc_type\":\"DoesNotExistError\"}", BTS_FE_NOT_FOUND },
        { 413, "<html>Request Entity Too Large</html>", BTS_FE_TOO_LARGE },
        { 400, "{\"exc_type\":\"CSRFTokenError\"}", BTS_FE_PERMANENT },
        { 417, "{\"exc_type\":\"MandatoryError\"}", BTS_FE_PERMANENT },
        /* F14: a bare DuplicateEntryError carries no exc_type */
        { 409, "{\"exception\":\"frappe.exceptions.DuplicateEntryError\"}",
          BTS_FE_DUPLICATE_ENTRY },
        /* a 409 naming error is not "already there" */
        { 409, "{\"exc_type\":\"NameError\",\"_server_messages\":\"[\\\"{\\\\\\\"message\\\\\\\":"
               " \\\\\\\"Name cannot contain special characters\\\\\\\"}\\\"]\"}",
          BTS_FE_PERMANENT },
        { 417, "{\"exc_type\":\"ValidationError\",\"exception\":\"frappe.exceptions."
               "ValidationError: Latitude and longitude values are required for checking "
               "in.\"}", BTS_FE_GEOLOCATION },
        { 417, "{\"exception\":\"X: Transactions cannot be created for an Inactive Employee "
               "E1\"}", BTS_FE_INACTIVE },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bts_frappe_error e;
        parse_str(cases[i].status, cases[i].body, &e);
        if (e.cls != cases[i].cls)
            fail_msg("case %zu (HTTP %ld): class %d, want %d (%s)", i, cases[i].status, e.cls,
                     cases[i].cls, e.message);
        assert_int_equal(e.retry_after_s, -1);
    }
}

static void test_non_json_messages(void **state)
{
    bts_frappe_error e;
    const char *html = "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n"
                       "<h1>Not Found</h1>\n<p>127.0.0.1 does not exist</p>\n";

    (void)state;
    parse_str(404, html, &e);
    assert_int_equal(e.cls, BTS_FE_WRONG_SITE);
    assert_string_equal(e.message, "HTTP 404 (non-JSON body: 404 Not Found Not Found "
                                   "127.0.0.1 does not exist)");
    parse_str(502, "<html><body><h1>502 Bad Gateway</h1></body></html>", &e);
    assert_string_equal(e.message, "HTTP 502 (non-JSON body)");
    parse_str(500, "[1,2,3]", &e); /* JSON, but not a Frappe object */
    assert_string_equal(e.message, "HTTP 500 (non-JSON body)");
    bts_frappe_error_parse(503, NULL, "", 0, &e);
    assert_string_equal(e.message, "HTTP 503 (non-JSON body)");
    assert_string_equal(e.exc_type, "");
}

/* The order of §6.3: _server_messages, _error_message, exception, exc, exc_type. */
static void test_message_sources(void **state)
{
    bts_frappe_error e;

    (void)state;
    parse_str(403, "{\"_error_message\":\"You need the <b>'write'</b> permission\","
                   "\"exception\":\"frappe.exceptions.PermissionError: ignored\"}", &e);
    assert_string_equal(e.message, "permission denied (missing role, or not logged in): "
                                   "You need the 'write' permission");
    parse_str(403, "{\"exc_type\":\"PermissionError\"}", &e);
    assert_string_equal(e.message, "permission denied (missing role, or not logged in)");
    parse_str(403, "<html>403 Forbidden</html>", &e); /* a proxy: no Frappe note */
    assert_string_equal(e.message, "HTTP 403 (non-JSON body)");
    parse_str(417, "{\"exc_type\":\"X\",\"exc\":\"[\\\"Traceback\\\\n  File x\\\\n"
                   "frappe.exceptions.X: from the traceback\\\\n\\\\n\\\"]\"}", &e);
    assert_string_equal(e.message, "from the traceback");
    parse_str(417, "{\"exc_type\":\"MandatoryError\",\"exception\":\"frappe.exceptions."
                   "MandatoryError\"}", &e);
    assert_string_equal(e.message, "HTTP 417 MandatoryError");
    parse_str(417, "{\"exception\":\"a message: with a colon\"}", &e);
    assert_string_equal(e.message, "a message: with a colon");
    parse_str(417, "{}", &e);
    assert_string_equal(e.message, "HTTP 417 (no error message)");
}

static void test_server_messages_selection(void **state)
{
    bts_frappe_error e;

    (void)state;
    /* only the messages the exception raised, when some are flagged */
    parse_str(417, "{\"_server_messages\":\"[\\\"{\\\\\\\"message\\\\\\\": \\\\\\\"note\\\\\\\"}"
                   "\\\", \\\"{\\\\\\\"message\\\\\\\": \\\\\\\"bad <b>one</b>\\\\\\\", "
                   "\\\\\\\"raise_exception\\\\\\\": 1}\\\", \\\"{\\\\\\\"message\\\\\\\": "
                   "\\\\\\\"bad two\\\\\\\", \\\\\\\"indicator\\\\\\\": \\\\\\\"red\\\\\\\"}\\\"]\"}",
              &e);
    assert_string_equal(e.message, "bad one; bad two");
    /* none flagged (MandatoryError): all of them */
    parse_str(417, "{\"_server_messages\":\"[\\\"{\\\\\\\"message\\\\\\\": \\\\\\\"Error: Value "
                   "missing for A\\\\\\\"}\\\", \\\"{\\\\\\\"message\\\\\\\": \\\\\\\"Error: "
                   "Value missing for B\\\\\\\"}\\\"]\"}", &e);
    assert_string_equal(e.message, "Error: Value missing for A; Error: Value missing for B");
    /* elements that are plain text or objects (v2 "messages" style) */
    parse_str(417, "{\"_server_messages\":\"[\\\"plain text\\\", {\\\"message\\\": \\\"obj\\\"}]\"}",
              &e);
    assert_string_equal(e.message, "plain text; obj");
    /* nonsense inside: no crash, next source used */
    parse_str(417, "{\"_server_messages\":\"[1, null, [], {\\\"message\\\": 5}]\","
                   "\"exception\":\"X: fallback\"}", &e);
    assert_string_equal(e.message, "fallback");
    parse_str(417, "{\"_server_messages\":\"not json\",\"_error_message\":\"second\"}", &e);
    assert_string_equal(e.message, "second");
}

static void test_checkin_name(void **state)
{
    bts_frappe_error e;

    (void)state;
    parse_str(417, "{\"exc_type\":\"ValidationError\",\"exception\":\"frappe.exceptions."
                   "ValidationError: This employee already has a log with the same timestamp."
                   "<Br><a href='https://erp.example.com/app/employee-checkin/EMP-CKIN-1?x=1'>"
                   "x</a>\"}", &e);
    assert_int_equal(e.cls, BTS_FE_DUPLICATE_LOG);
    assert_string_equal(e.checkin_name, "EMP-CKIN-1");
    /* no link: still a duplicate, the caller looks the checkin up */
    parse_str(417, "{\"exception\":\"X: This employee already has a log with the same "
                   "timestamp.\"}", &e);
    assert_int_equal(e.cls, BTS_FE_DUPLICATE_LOG);
    assert_string_equal(e.checkin_name, "");
    /* a name too long for the struct is dropped, not cut (a cut names another checkin) */
    {
        char body[1024], name[300];
        memset(name, 'N', sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        snprintf(body, sizeof(body), "{\"exception\":\"X: already has a log with the same "
                 "timestamp <a href=\\\"/app/Form/Employee Checkin/%s\\\">\"}", name);
        parse_str(417, body, &e);
        assert_int_equal(e.cls, BTS_FE_DUPLICATE_LOG);
        assert_string_equal(e.checkin_name, "");
    }
    /* a link in a non-duplicate error is not taken */
    parse_str(417, "{\"exception\":\"X: other <a href=\\\"/app/employee-checkin/C1\\\">\"}", &e);
    assert_string_equal(e.checkin_name, "");
}

/* Every prefix of a real body: truncated JSON must decode to something bounded. */
static void test_truncated_bodies(void **state)
{
    size_t len;
    char *body = read_body("02-checkin-resource-duplicate.json", &len);

    (void)state;
    for (size_t n = 0; n <= len; n++) {
        bts_frappe_error e;
        char *cut = malloc(n ? n : 1);
        assert_non_null(cut);
        memcpy(cut, body, n);
        bts_frappe_error_parse(417, "application/json", cut, n, &e);
        assert_true(strlen(e.message) < sizeof(e.message));
        assert_true(e.message[0] != '\0');
        assert_true(e.cls == (n == len ? BTS_FE_DUPLICATE_LOG : BTS_FE_PERMANENT));
        free(cut);
    }
    free(body);
}

static bool valid_utf8_line(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        size_t len = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3
                   : (*p & 0xF8) == 0xF0 ? 4 : 0;
        if (len == 0 || *p < 0x20)
            return false;
        for (size_t i = 1; i < len; i++)
            if ((p[i] & 0xC0) != 0x80)
                return false;
        p += len;
    }
    return true;
}

static void test_hostile_bodies(void **state)
{
    bts_frappe_error e;
    size_t big = 4u << 20;
    char *buf = malloc(big + 64);
    unsigned seed = 12345;

    (void)state;
    assert_non_null(buf);
    bts_frappe_error_parse(417, NULL, NULL, 0, &e);
    assert_int_equal(e.cls, BTS_FE_PERMANENT);
    bts_frappe_error_parse(417, NULL, NULL, 100, &e); /* NULL body with a length */
    bts_frappe_error_parse(417, NULL, "{}", 0, &e);
    bts_frappe_error_parse(417, NULL, "{}", 2, NULL); /* NULL result: ignored */

    /* deep nesting */
    memset(buf, '[', big);
    bts_frappe_error_parse(500, NULL, buf, big, &e);
    assert_string_equal(e.message, "HTTP 500 (non-JSON body)");

    /* a huge message: bounded, valid UTF-8 (the cut falls inside "é") */
    memcpy(buf, "{\"exception\":\"X: ", 17);
    for (size_t i = 17; i + 1 < big; i += 2)
        memcpy(buf + i, "\xc3\xa9", 2);
    memcpy(buf + big - 1, "\"}", 2);
    bts_frappe_error_parse(417, NULL, buf, big + 1, &e);
    assert_true(strlen(e.message) < sizeof(e.message));
    assert_true(strlen(e.message) > 400);
    assert_true(valid_utf8_line(e.message));

    /* random bytes, and random bytes inside a JSON string */
    for (int round = 0; round < 200; round++) {
        size_t n = (size_t)(rand_r(&seed) % 3000);
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)rand_r(&seed);
        bts_frappe_error_parse(round % 2 ? 404 : 417, NULL, buf, n, &e);
        assert_true(valid_utf8_line(e.message));
        memcpy(buf, "{\"exception\":\"X: ", 17);
        memcpy(buf + n + 17, "\"}", 2);
        bts_frappe_error_parse(417, NULL, buf, n + 19, &e);
        assert_true(valid_utf8_line(e.message));
        assert_true(valid_utf8_line(e.exc_type));
    }
    /* wrong types everywhere */
    parse_str(417, "{\"exc_type\":5,\"exception\":[],\"exc\":{},\"_server_messages\":7,"
                   "\"_error_message\":null,\"errors\":\"x\"}", &e);
    assert_string_equal(e.message, "HTTP 417 (no error message)");
    parse_str(417, "{\"errors\":[5, {\"type\": 1}, {\"message\": [\"x\"]}]}", &e);
    assert_string_equal(e.message, "HTTP 417 (no error message)");
    parse_str(417, "{\"exc\":\"[1, 2]\"}", &e);
    parse_str(417, "{\"exc\":\"[\\\"\\\\n\\\\n   \\\\n\\\"]\"}", &e);
    assert_string_equal(e.message, "HTTP 417 (no error message)");
    /* an exc_type longer than the field is cut */
    memset(buf, 0, 400);
    strcpy(buf, "{\"exc_type\":\"");
    memset(buf + strlen(buf), 'T', 200);
    strcat(buf, "\"}");
    parse_str(417, buf, &e);
    assert_int_equal(strlen(e.exc_type), sizeof(e.exc_type) - 1);
    free(buf);
}

static void test_strip_html(void **state)
{
    static const struct { const char *in, *out; } cases[] = {
        { "a<Br>b", "a b" },
        { "DocType <strong>X</strong> already exists", "DocType X already exists" },
        { "<details><summary>One</summary>Two</details>", "One Two" },
        { "&amp; &lt;b&gt; &quot;q&quot; &#39;s&#39; &#x41;&#66;", "& <b> \"q\" 's' AB" },
        { "  lots \n\t of   space  ", "lots of space" },
        { "<a href=\"x>y\" title='>'>link</a> after", "link after" },
        { "a < b and c > d", "a < b and c > d" },
        { "<!-- a <b> comment -->text", "text" },
        { "cut <a href=\"never closed", "cut" },
        { "&unknown; &#; &#xZZ; &#99999999;", "&unknown; &#; &#xZZ; &#99999999;" },
        { "&#233;t&#xe9;", "\xc3\xa9t\xc3\xa9" },
        { "ctl\x01\x1f" "chars", "ctl chars" },
        { "&nbsp;x&nbsp;", "x" },
        { "", "" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", cases[i].in);
        bts_strip_html(buf);
        assert_string_equal(buf, cases[i].out);
    }
    bts_strip_html(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_bodies),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_status_classes),
        cmocka_unit_test(test_non_json_messages),
        cmocka_unit_test(test_message_sources),
        cmocka_unit_test(test_server_messages_selection),
        cmocka_unit_test(test_checkin_name),
        cmocka_unit_test(test_truncated_bodies),
        cmocka_unit_test(test_hostile_bodies),
        cmocka_unit_test(test_strip_html),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
