// Node-API binding of the native relay (relay.c): one relay per worker thread
// (Node-API instance data), run on the thread's own libuv loop, so JavaScript
// and the relay never run at the same time and share the state table without
// locks. wait.c wakes the relay on that loop (its epoll fd watched by the
// loop, or waiting in the loop's place) and drives its timer wheel.
//
// Events are queued in C while a poll or tick runs and handed to JavaScript
// after it (events.c): JavaScript therefore never runs inside relay_poll or
// relay_tick, and the relay's public calls it makes from the callback never
// emit events (relay.h).
//
// File descriptors: a socket accepted here, a backend socket connected here and
// a client socket taken with adopt() (a duplicate: JavaScript closes its own)
// belong to the relay from then on; JavaScript only ever holds connection ids.
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"

static void after_wait(void *ctx) { deliver(ctx); }

/* ---- teardown with the thread (worker exit or terminate) ---- */

static void wait_closed(void *ctx) {
  struct inst *I = ctx;
  relay_free(I->r);
  napi_async_cleanup_hook_handle cleanup = I->cleanup;
  free(I->q);
  free(I);
  napi_remove_async_cleanup_hook(cleanup);
}

static void on_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  (void)handle;
  struct inst *I = arg;
  wait_close(&I->wait);
}

/* ---- argument helpers ---- */

#define THROW(env, msg)                        \
  do {                                         \
    napi_throw_error((env), "E_NATIVE", (msg)); \
    return NULL;                               \
  } while (0)

static struct inst *instance(napi_env env) {
  void *p = NULL;
  napi_get_instance_data(env, &p);
  return p;
}

static napi_value num(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

static double arg_num(napi_env env, napi_value v) {
  double d = 0;
  if (napi_get_value_double(env, v, &d) != napi_ok) return -1;
  return d;
}

static int arg_str(napi_env env, napi_value v, char *buf, size_t len) {
  size_t n = 0;
  return napi_get_value_string_utf8(env, v, buf, len, &n) == napi_ok && n < len - 1 ? 0 : -1;
}

/* A Buffer (or null/undefined: none). 0, or -1 for anything else. */
static int arg_bytes(napi_env env, napi_value v, void **data, size_t *len) {
  *data = NULL;
  *len = 0;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_null || t == napi_undefined) return 0;
  bool is;
  if (napi_is_buffer(env, v, &is) != napi_ok || !is) return -1;
  return napi_get_buffer_info(env, v, data, len) == napi_ok ? 0 : -1;
}

static napi_value args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) THROW(env, "missing arguments");
  napi_value ok;
  napi_get_boolean(env, true, &ok);
  return ok;
}

/* ---- the functions JavaScript calls ---- */

/** init(counters: Float64Array, origin: number, onEvents: (n) => void): [Float64Array events, Uint8Array text] */
static napi_value js_init(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!args(env, info, 3, argv)) return NULL;
  if (instance(env)) THROW(env, "the native relay is already started on this thread");
  napi_typedarray_type type;
  size_t len;
  void *data;
  napi_value ab;
  size_t offset;
  if (napi_get_typedarray_info(env, argv[0], &type, &len, &data, &ab, &offset) != napi_ok || type != napi_float64_array)
    THROW(env, "counters: a Float64Array is wanted");
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) THROW(env, "no event loop");
  struct inst *I = calloc(1, sizeof *I);
  if (!I) THROW(env, "out of memory");
  I->env = env;
  I->r = relay_new(on_event, I, 50);
  if (!I->r) {
    free(I);
    THROW(env, "cannot create the epoll set");
  }
  relay_set_origin(I->r, arg_num(env, argv[1]));
  relay_set_counters(I->r, data, len);
  napi_create_reference(env, argv[0], 1, &I->table_ref);
  napi_create_reference(env, argv[2], 1, &I->cb);
  napi_value events_ab, text_ab, events, text, name, resource;
  napi_create_arraybuffer(env, EVENT_CAP * EVENT_WIDTH * sizeof(double), (void **)&I->events, &events_ab);
  napi_create_arraybuffer(env, EVENT_CAP * RELAY_TEXT_MAX, (void **)&I->text, &text_ab);
  napi_create_typedarray(env, napi_float64_array, EVENT_CAP * EVENT_WIDTH, events_ab, 0, &events);
  napi_create_typedarray(env, napi_uint8_array, EVENT_CAP * RELAY_TEXT_MAX, text_ab, 0, &text);
  napi_create_reference(env, events_ab, 1, &I->events_ref);
  napi_create_reference(env, text_ab, 1, &I->text_ref);
  napi_create_object(env, &resource);
  napi_create_string_utf8(env, "netmon.relay", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &I->actx);
  if (wait_init(&I->wait, loop, I->r, after_wait, wait_closed, I) < 0) {
    relay_free(I->r);
    free(I);
    THROW(env, "cannot watch the relay on the event loop");
  }
  napi_add_async_cleanup_hook(env, on_cleanup, I, &I->cleanup);
  napi_set_instance_data(env, I, NULL, NULL);
  napi_value out;
  napi_create_array_with_length(env, 2, &out);
  napi_set_element(env, out, 0, events);
  napi_set_element(env, out, 1, text);
  return out;
}

#define INSTANCE(env, I)                                                        \
  struct inst *I = instance(env);                                               \
  if (!I) THROW(env, "the native relay is not started on this thread (init)");

/** listen(slot, host, port, backlog, fd): 0 or -errno. fd >= 0 takes that listening socket. */
static napi_value js_listen(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!args(env, info, 5, argv)) return NULL;
  INSTANCE(env, I);
  char host[96] = "";
  int fd = (int)arg_num(env, argv[4]);
  if (fd < 0 && arg_str(env, argv[1], host, sizeof host) < 0) return num(env, -EINVAL);
  return num(env, relay_listen(I->r, (uint32_t)arg_num(env, argv[0]), host, (int)arg_num(env, argv[2]),
                               (int)arg_num(env, argv[3]), fd));
}

/** unlisten(slot): the clients that were in its accept queue (reset by the close), or -1 when not known */
static napi_value js_unlisten(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args(env, info, 1, argv)) return NULL;
  INSTANCE(env, I);
  int queued = relay_unlisten(I->r, (uint32_t)arg_num(env, argv[0]));
  wait_update(&I->wait);
  return num(env, queued);
}

/** listenPort(slot): the bound port, or -1 */
static napi_value js_listen_port(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args(env, info, 1, argv)) return NULL;
  INSTANCE(env, I);
  return num(env, relay_listen_port(I->r, (uint32_t)arg_num(env, argv[0])));
}

/** adopt(fd): a connection id for a duplicate of the client socket fd, or -errno */
static napi_value js_adopt(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args(env, info, 1, argv)) return NULL;
  INSTANCE(env, I);
  return num(env, relay_adopt(I->r, (int)arg_num(env, argv[0])));
}

/**
 * connect(id, host, port, connectMs, idleMs, preface, pending, listenerIn, listenerOut, backendIn, backendOut,
 * retry): 0 or -errno (retry: enum relay_retry bits)
 */
static napi_value js_connect(napi_env env, napi_callback_info info) {
  napi_value argv[12];
  if (!args(env, info, 12, argv)) return NULL;
  INSTANCE(env, I);
  char host[96];
  void *preface, *pending;
  size_t preface_len, pending_len;
  if (arg_str(env, argv[1], host, sizeof host) < 0 || arg_bytes(env, argv[5], &preface, &preface_len) < 0 ||
      arg_bytes(env, argv[6], &pending, &pending_len) < 0)
    return num(env, -EINVAL);
  struct relay_accounting acct = {(int32_t)arg_num(env, argv[7]), (int32_t)arg_num(env, argv[8]),
                                  (int32_t)arg_num(env, argv[9]), (int32_t)arg_num(env, argv[10])};
  double connect_ms = arg_num(env, argv[3]), idle_ms = arg_num(env, argv[4]), retry = arg_num(env, argv[11]);
  int e = relay_connect(I->r, arg_num(env, argv[0]), host, (int)arg_num(env, argv[2]),
                        connect_ms > 0 ? (uint32_t)connect_ms : 0, idle_ms > 0 ? (uint32_t)idle_ms : 0, preface,
                        preface_len, pending, pending_len, &acct, retry > 0 ? (uint32_t)retry : 0);
  wait_update(&I->wait);
  return num(env, e);
}

/** configure(id, clientIdleMs, firstByteMs, replayBytes, watchBytes): 0 or -errno (relay_options) */
static napi_value js_configure(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!args(env, info, 5, argv)) return NULL;
  INSTANCE(env, I);
  double v[4];
  for (int i = 0; i < 4; i++) {
    v[i] = arg_num(env, argv[i + 1]);
    if (!(v[i] >= 0 && v[i] <= UINT32_MAX)) return num(env, -EINVAL);
  }
  struct relay_options o = {(uint32_t)v[0], (uint32_t)v[1], (uint32_t)v[2], (uint32_t)v[3]};
  int e = relay_configure(I->r, arg_num(env, argv[0]), &o);
  return num(env, e);
}

/** close(id, reset): 0 or -errno; the connection's bytes in and out are then in bytes() */
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!args(env, info, 2, argv)) return NULL;
  INSTANCE(env, I);
  bool reset = false;
  napi_get_value_bool(env, argv[1], &reset);
  int e = relay_close(I->r, arg_num(env, argv[0]), reset, I->scratch);
  wait_update(&I->wait);
  return num(env, e);
}

/** closedBytes(): [in, out] of the last close() */
static napi_value js_closed_bytes(napi_env env, napi_callback_info info) {
  (void)info;
  INSTANCE(env, I);
  napi_value out;
  napi_create_array_with_length(env, 2, &out);
  napi_set_element(env, out, 0, num(env, I->scratch[0]));
  napi_set_element(env, out, 1, num(env, I->scratch[1]));
  return out;
}

/** addresses(id): [localAddress, localPort, peerAddress, peerPort] of the client socket, or null */
static napi_value js_addresses(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args(env, info, 1, argv)) return NULL;
  INSTANCE(env, I);
  char local[64], peer[64];
  int lport, pport;
  napi_value out;
  if (relay_client_addresses(I->r, arg_num(env, argv[0]), local, sizeof local, &lport, peer, sizeof peer, &pport) < 0) {
    napi_get_null(env, &out);
    return out;
  }
  napi_value s;
  napi_create_array_with_length(env, 4, &out);
  napi_create_string_utf8(env, local, NAPI_AUTO_LENGTH, &s);
  napi_set_element(env, out, 0, s);
  napi_set_element(env, out, 1, num(env, lport));
  napi_create_string_utf8(env, peer, NAPI_AUTO_LENGTH, &s);
  napi_set_element(env, out, 2, s);
  napi_set_element(env, out, 3, num(env, pport));
  return out;
}

/**
 * waitInPlace(on): 0 or -errno. On: the relay waits in the event loop's place
 * (wait.c), allowed only while Node watches no socket on this thread.
 */
static napi_value js_wait_in_place(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args(env, info, 1, argv)) return NULL;
  INSTANCE(env, I);
  bool on = false;
  napi_get_value_bool(env, argv[0], &on);
  return num(env, wait_in_place(&I->wait, on));
}

/** fdCeiling(n): accepting stops short of descriptor number n (relay_set_fd_ceiling); 0: none */
static napi_value js_fd_ceiling(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args(env, info, 1, argv)) return NULL;
  INSTANCE(env, I);
  double n = arg_num(env, argv[0]);
  relay_set_fd_ceiling(I->r, n > 0 && n < 2147483647.0 ? (int)n : 0);
  return NULL;
}

/** stats(): [open connections, events dropped for want of memory] */
static napi_value js_stats(napi_env env, napi_callback_info info) {
  (void)info;
  INSTANCE(env, I);
  napi_value out;
  napi_create_array_with_length(env, 2, &out);
  napi_set_element(env, out, 0, num(env, relay_count(I->r)));
  napi_set_element(env, out, 1, num(env, I->dropped));
  return out;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor fns[] = {
      {"init", NULL, js_init, NULL, NULL, NULL, napi_default, NULL},
      {"listen", NULL, js_listen, NULL, NULL, NULL, napi_default, NULL},
      {"unlisten", NULL, js_unlisten, NULL, NULL, NULL, napi_default, NULL},
      {"listenPort", NULL, js_listen_port, NULL, NULL, NULL, napi_default, NULL},
      {"adopt", NULL, js_adopt, NULL, NULL, NULL, napi_default, NULL},
      {"connect", NULL, js_connect, NULL, NULL, NULL, napi_default, NULL},
      {"configure", NULL, js_configure, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"closedBytes", NULL, js_closed_bytes, NULL, NULL, NULL, napi_default, NULL},
      {"addresses", NULL, js_addresses, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
      {"waitInPlace", NULL, js_wait_in_place, NULL, NULL, NULL, napi_default, NULL},
      {"fdCeiling", NULL, js_fd_ceiling, NULL, NULL, NULL, napi_default, NULL},
      {"openFds", NULL, js_open_fds, NULL, NULL, NULL, napi_default, NULL},
      {"fdLimit", NULL, js_fd_limit, NULL, NULL, NULL, napi_default, NULL},
      {"acceptQueue", NULL, js_accept_queue, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
  return exports;
}
