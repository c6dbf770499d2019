// The Node-API side of the native relay, shared by binding.c (the functions
// JavaScript calls, the instance's life on the thread's libuv loop) and
// events.c (the events queued in C and handed to JavaScript).
#ifndef NETMON_BINDING_H
#define NETMON_BINDING_H

#include <node_api.h>
#include <uv.h>

#include "relay.h"
#include "wait.h"

/* events handed to JavaScript per call; numbers per event: type, id, a, b, c, d, the length of the text, when */
#define EVENT_CAP 1024
#define EVENT_WIDTH 8

/* one event waiting in C for the end of the poll or tick */
struct queued {
  double v[EVENT_WIDTH];
  char text[RELAY_TEXT_MAX];
};

/* the relay of one thread (Node-API instance data) */
struct inst {
  napi_env env;
  struct relay *r;
  /* how the relay is woken on the thread's loop (wait.c) */
  struct relay_wait wait;
  napi_ref cb, events_ref, text_ref, table_ref;
  napi_async_context actx;
  /* what JavaScript reads: EVENT_CAP events of EVENT_WIDTH numbers, and RELAY_TEXT_MAX bytes of text each */
  double *events;
  uint8_t *text;
  double scratch[2];
  struct queued *q;
  uint32_t qlen, qcap;
  double dropped;
  napi_async_cleanup_hook_handle cleanup;
};

/* events.c */
/* relay_event_fn: queues the event (counted in `dropped` when out of memory) */
void on_event(void *ctx, int type, double id, double a, double b, double c, double d, double at, const char *text,
              size_t text_len);
/* hands every queued event to JavaScript, in chunks of EVENT_CAP, one callback per chunk */
void deliver(struct inst *I);

/* fds.c: openFds(), fdLimit() and acceptQueue(fd), which need no relay */
napi_value js_open_fds(napi_env env, napi_callback_info info);
napi_value js_fd_limit(napi_env env, napi_callback_info info);
napi_value js_accept_queue(napi_env env, napi_callback_info info);

#endif
