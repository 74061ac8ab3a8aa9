/* namematch: names that people read as the same match; different people do not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "bts/namematch.h"

typedef struct {
    const char *a, *b;
    bool match;
} match_case;

static const match_case match_cases[] = {
    /* case, spacing, word order */
    {"Aisha Test", "aisha test", true},
    {"  Aisha   Test ", "Aisha Test", true},
    {"Test Aisha", "Aisha Test", true},
    {"Aisha\tTest", "Aisha Test", true},
    {"Aisha\xc2\xa0Test", "Aisha Test", true},           /* no-break space */
    {"Mary-Jane Smith", "Mary Jane Smith", true},
    {"O'Brien Sean", "Sean OBrien", true},
    /* Latin diacritics, precomposed and combining */
    {"Jos\xc3\xa9 Mu\xc3\xb1oz", "Jose Munoz", true},
    {"Jose\xcc\x81 Mun\xcc\x83oz", "Jose Munoz", true},
    {"\xc3\x85sa \xc3\x98stberg", "Asa Ostberg", true},
    {"Zo\xc3\xab \xc5\x81ukasz", "zoe lukasz", true},
    {"Stra\xc3\x9f" "e", "Strasse", true},
    {"\xc5\x9e" "ahin \xc4\xb0lker", "Sahin Ilker", true},
    {"\xc3\x86sa", "AEsa", true},
    /* Arabic: alef forms, teh marbuta, alef maksura, tatweel, harakat, عبد joined */
    {"\xd8\xa3\xd8\xad\xd9\x85\xd8\xaf", "\xd8\xa7\xd8\xad\xd9\x85\xd8\xaf", true}, /* أحمد = احمد */
    {"\xd8\xa5\xd9\x8a\xd9\x85\xd8\xa7\xd9\x86", "\xd8\xa7\xd9\x8a\xd9\x85\xd8\xa7\xd9\x86", true}, /* إيمان */
    {"\xd8\xa2\xd9\x85\xd9\x86\xd8\xa9", "\xd8\xa7\xd9\x85\xd9\x86\xd9\x87", true}, /* آمنة = امنه */
    {"\xd9\x85\xd9\x88\xd8\xb3\xd9\x89", "\xd9\x85\xd9\x88\xd8\xb3\xd9\x8a", true}, /* موسى = موسي */
    {"\xd9\x85\xd9\x80\xd9\x80\xd8\xad\xd9\x85\xd8\xaf", "\xd9\x85\xd8\xad\xd9\x85\xd8\xaf", true}, /* tatweel */
    {"\xd9\x85\xd9\x8f\xd8\xad\xd9\x8e\xd9\x85\xd9\x91\xd9\x8e\xd8\xaf", "\xd9\x85\xd8\xad\xd9\x85\xd8\xaf", true}, /* مُحَمَّد */
    {"\xd8\xb9\xd8\xa8\xd8\xaf \xd8\xa7\xd9\x84\xd9\x84\xd9\x87", "\xd8\xb9\xd8\xa8\xd8\xaf\xd8\xa7\xd9\x84\xd9\x84\xd9\x87", true}, /* عبد الله = عبدالله */
    {"\xd8\xb9\xd8\xa8\xd8\xaf \xd8\xa7\xd9\x84\xd9\x84\xd9\x87 \xd8\xb9\xd9\x84\xd9\x8a", "\xd8\xb9\xd9\x84\xd9\x8a \xd8\xb9\xd8\xa8\xd8\xaf\xd8\xa7\xd9\x84\xd9\x84\xd9\x87", true}, /* and word order */
    {"Abdul Rahman Ali", "Ali Abdulrahman", true},
    {"\xd9\xa1\xd9\xa2", "12", true},                     /* Arabic-Indic digits */
    /* different people stay different */
    {"Aisha Test", "Aisha Tester", false},
    {"Aisha Test", "Aisha", false},
    {"Ali Hassan", "Hassan Ali Omar", false},
    {"\xd8\xb9\xd9\x84\xd9\x8a", "\xd8\xb9\xd9\x84\xd8\xa7", false},     /* علي vs علا */
    {"", "", false},
    {"  ", "---", false},
    {NULL, "Aisha", false},
};

static void test_match_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(match_cases); i++) {
        const match_case *c = &match_cases[i];
        if (bts_name_match(c->a, c->b) != c->match)
            fail_msg("case %zu: \"%s\" vs \"%s\" should %smatch", i, c->a ? c->a : "(null)",
                     c->b, c->match ? "" : "not ");
    }
}

typedef struct {
    const char *name;
    const char *key;
} key_case;

static const key_case key_cases[] = {
    {"  Test   AISHA ", "aisha test"},
    {"Jos\xc3\xa9", "jose"},
    {"a\xffz", "a z"},                          /* a stray byte is a separator */
    {"\xd8\xa3\xd8\xad\xd9\x85\xd8\xaf", "\xd8\xa7\xd8\xad\xd9\x85\xd8\xaf"},
    {"", ""},
};

static void test_key_table(void **state)
{
    char key[BTS_NAME_KEY_MAX];
    (void)state;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(key_cases); i++) {
        int r = bts_name_key(key_cases[i].name, key, sizeof(key));
        assert_int_equal(r, (int)strlen(key_cases[i].key));
        assert_string_equal(key, key_cases[i].key);
    }
}

static void test_small_buffer_is_einval(void **state)
{
    char key[4];
    (void)state;
    assert_int_equal(bts_name_key("Aisha Test", key, sizeof(key)), BTS_EINVAL);
    assert_int_equal(bts_name_key("Al", key, sizeof(key)), 2);
}

static void test_long_name_is_cut_not_overrun(void **state)
{
    char name[2000], key[BTS_NAME_KEY_MAX];
    (void)state;
    for (size_t i = 0; i + 1 < sizeof(name); i++)
        name[i] = (i % 7 == 6) ? ' ' : 'a';
    name[sizeof(name) - 1] = '\0';
    assert_true(bts_name_key(name, key, sizeof(key)) > 0);
    assert_true(strlen(key) < sizeof(key));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_table),
        cmocka_unit_test(test_key_table),
        cmocka_unit_test(test_small_buffer_is_einval),
        cmocka_unit_test(test_long_name_is_cut_not_overrun),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
