/* The memory floor of biotime-syncd's stack: a program that only makes one HTTP request
 * with this system's libcurl (and links the daemon's other libraries), then prints its peak
 * resident set. tests/bench/bench.py prints it beside the daemon's own peak, so what the
 * daemon adds is plain. Usage: bench_curl_floor URL */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <libconfig.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

static size_t discard(char *data, size_t size, size_t nmemb, void *ud)
{
    (void)data, (void)ud;
    return size * nmemb;
}

int main(int argc, char **argv)
{
    char line[256];
    if (argc != 2) {
        fprintf(stderr, "usage: %s URL\n", argv[0]);
        return 64;
    }
    /* touch the other libraries the daemon links, as it does */
    config_t cfg;
    config_init(&cfg);
    config_destroy(&cfg);
    cJSON_Delete(cJSON_Parse("{}"));
    sd_notify(0, "");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, argv[1]);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    curl_global_cleanup();
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            fputs(line, stdout);
    if (f)
        fclose(f);
    return rc == CURLE_OK ? 0 : 1;
}
