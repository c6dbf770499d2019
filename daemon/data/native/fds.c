// The process's file descriptors as the fd guard reads them (../../process-fds.ts):
// how many are open and the soft limit, and the accept queue of a listening
// socket (of Node's, too, by its fd), with one system call each and no
// allocation. Called every few accepts, so cheaper than what Node offers for the
// same (fs.statSync builds a Stats object; the limit is only in /proc/self/limits,
// a text table the kernel formats at each read). Neither needs the relay: they
// work on any thread, the main one included.
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "binding.h"

/**
 * openFds(): the open descriptors of the whole process, from the size of
 * /proc/self/fd (Linux 6.2 and later count them there, without a descriptor);
 * -1 when that is not known (an older kernel says 0): the caller counts
 * another way.
 */
napi_value js_open_fds(napi_env env, napi_callback_info info) {
  (void)info;
  struct statx st;
  double n = -1;
  if (statx(AT_FDCWD, "/proc/self/fd", 0, STATX_SIZE, &st) == 0 && st.stx_size > 0) n = (double)st.stx_size;
  napi_value out;
  napi_create_double(env, n, &out);
  return out;
}

/** fdLimit(): the soft RLIMIT_NOFILE (getrlimit(2)); -1 when unlimited or unknown. */
napi_value js_fd_limit(napi_env env, napi_callback_info info) {
  (void)info;
  struct rlimit rl;
  double n = -1;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) n = (double)rl.rlim_cur;
  napi_value out;
  napi_create_double(env, n, &out);
  return out;
}

/**
 * acceptQueue(fd): clients waiting in the accept queue of the listening socket
 * `fd` (any listening TCP socket of the process, Node's included), which a
 * close would reset: relay_accept_queue(); -1 when it is not one.
 */
napi_value js_accept_queue(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok)
    fd = -1;
  napi_value out;
  napi_create_double(env, (double)relay_accept_queue(fd), &out);
  return out;
}
