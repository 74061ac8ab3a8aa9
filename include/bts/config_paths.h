/* Where a config's secrets and state are found when the config gives only a bare name or
 * nothing: the same places inside the unit and for the tools run by hand. */
#ifndef BTS_CONFIG_PATHS_H
#define BTS_CONFIG_PATHS_H

#include <stddef.h>

/* The package's directory of instance configs and secrets, and the state root. */
#ifndef BTS_INSTANCE_DIR
#define BTS_INSTANCE_DIR "/etc/biotime-sync"
#endif
#ifndef BTS_STATE_ROOT
#define BTS_STATE_ROOT "/var/lib/biotime-sync"
#endif

/* The file a *_file key names. A name with a '/' is a path (relative to config_dir). A bare
 * name is a systemd credential when $CREDENTIALS_DIRECTORY holds it; otherwise the tools run
 * by hand look where the unit's LoadCredential= takes it from: config_dir, then
 * BTS_INSTANCE_DIR. Sets *ret (malloc'd) to the first that exists, or, when none does,
 * returns BTS_EINVAL with the places searched in where. */
int bts_config_secret_find(const char *name, const char *config_dir, char **ret,
                           char *where, size_t wherelen);

/* An instance config, BTS_INSTANCE_DIR/NAME.conf (config_dir is its absolute directory),
 * keeps its state in BTS_STATE_ROOT/NAME, as biotime-syncd@NAME.service does. Sets *ret
 * (malloc'd) and returns 1 for such a config, 0 for any other. */
int bts_config_instance_state_dir(const char *config_dir, const char *config_path,
                                  char **ret);

#endif
