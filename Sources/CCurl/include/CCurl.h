#ifndef KNIFY_CCURL_H
#define KNIFY_CCURL_H

#include <curl/curl.h>

// Typed wrappers for libcurl's variadic calls and function-like macros, which Swift cannot import.

typedef size_t (*knify_curl_data_cb)(char *data, size_t size, size_t nmemb, void *userdata);
typedef int (*knify_curl_xferinfo_cb)(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                                      curl_off_t ultotal, curl_off_t ulnow);

CURLcode knify_curl_global_init(void);

CURLcode knify_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode knify_curl_setopt_off(CURL *handle, CURLoption option, curl_off_t value);
CURLcode knify_curl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode knify_curl_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode knify_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode knify_curl_setopt_data_callback(CURL *handle, CURLoption option, knify_curl_data_cb callback);
CURLcode knify_curl_setopt_xferinfo_callback(CURL *handle, knify_curl_xferinfo_cb callback);

CURLcode knify_curl_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode knify_curl_getinfo_pointer(CURL *handle, CURLINFO info, void **value);

CURLMcode knify_curl_multi_setopt_long(CURLM *multi, CURLMoption option, long value);

/// CURLPAUSE_CONT and CURL_WRITEFUNC_PAUSE are composite macros.
int knify_curl_pause_continue(void);
size_t knify_curl_writefunc_pause(void);

#endif
