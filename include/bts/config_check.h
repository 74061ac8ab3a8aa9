/* Checks of single config values (URL, label, time zone, date, field name...). Each
 * returns NULL when the value is good (possibly normalised in place, e.g. a URL's trailing
 * slash dropped) or a phrase saying what is wrong with it. */
#ifndef BTS_CONFIG_CHECK_H
#define BTS_CONFIG_CHECK_H

const char *bts_config_check_url(char *value);
const char *bts_config_check_label(char *value);
const char *bts_config_check_zone(char *value);
const char *bts_config_check_date(char *value);
const char *bts_config_check_fieldname(char *value);
const char *bts_config_check_nonempty(char *value);
const char *bts_config_check_readable(char *value);
const char *bts_config_check_placeholder(const char *value);
const char *bts_config_check_file_path(char *value);

#endif
