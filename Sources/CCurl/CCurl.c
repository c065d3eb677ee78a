#include "CCurl.h"

CURLcode knify_curl_global_init(void) { return curl_global_init(CURL_GLOBAL_DEFAULT); }

CURLcode knify_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}
CURLcode knify_curl_setopt_off(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}
CURLcode knify_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}
CURLcode knify_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}
CURLcode knify_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}
CURLcode knify_curl_setopt_data_callback(CURL *handle, CURLoption option, knify_curl_data_cb callback) {
    return curl_easy_setopt(handle, option, callback);
}
CURLcode knify_curl_setopt_xferinfo_callback(CURL *handle, knify_curl_xferinfo_cb callback) {
    return curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, callback);
}
CURLcode knify_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}
CURLcode knify_curl_getinfo_pointer(CURL *handle, CURLINFO info, void **value) {
    return curl_easy_getinfo(handle, info, value);
}
CURLMcode knify_curl_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}
int knify_curl_pause_continue(void) { return CURLPAUSE_CONT; }
size_t knify_curl_writefunc_pause(void) { return CURL_WRITEFUNC_PAUSE; }
