// The native relay's events on their way to JavaScript (binding.h). They are
// queued in C while a poll or tick runs and handed over after it, in chunks of
// EVENT_CAP: copied into a Float64Array (EVENT_WIDTH numbers each: type, id, a,
// b, c, d, the length of the text, when) and a Uint8Array (the text of an
// event: the client address of an accept, the bytes of a peek; RELAY_TEXT_MAX
// bytes each) that JavaScript reads, then one call of its callback with the
// count.
#include <stdlib.h>
#include <string.h>

#include "binding.h"

void on_event(void *ctx, int type, double id, double a, double b, double c, double d, double at, const char *text,
              size_t text_len) {
  struct inst *I = ctx;
  if (I->qlen == I->qcap) {
    uint32_t cap = I->qcap ? I->qcap * 2 : 256;
    struct queued *q = realloc(I->q, cap * sizeof *q);
    if (!q) {
      I->dropped++;
      return;
    }
    I->q = q;
    I->qcap = cap;
  }
  struct queued *e = &I->q[I->qlen++];
  e->v[0] = type;
  e->v[1] = id;
  e->v[2] = a;
  e->v[3] = b;
  e->v[4] = c;
  e->v[5] = d;
  e->v[6] = 0;
  e->v[7] = at;
  if (text && text_len > 0) {
    size_t n = text_len < RELAY_TEXT_MAX ? text_len : RELAY_TEXT_MAX;
    memcpy(e->text, text, n);
    e->v[6] = (double)n;
  }
}

static void call_js(struct inst *I, uint32_t n) {
  napi_env env = I->env;
  napi_handle_scope hs;
  if (napi_open_handle_scope(env, &hs) != napi_ok) return;
  napi_value cb, recv, arg, res;
  if (napi_get_reference_value(env, I->cb, &cb) == napi_ok && cb != NULL && napi_get_global(env, &recv) == napi_ok &&
      napi_create_uint32(env, n, &arg) == napi_ok) {
    napi_status st = napi_make_callback(env, I->actx, recv, cb, 1, &arg, &res);
    if (st == napi_pending_exception) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
  }
  napi_close_handle_scope(env, hs);
}

void deliver(struct inst *I) {
  uint32_t off = 0;
  while (off < I->qlen) {
    uint32_t n = I->qlen - off;
    if (n > EVENT_CAP) n = EVENT_CAP;
    for (uint32_t i = 0; i < n; i++) {
      struct queued *e = &I->q[off + i];
      memcpy(I->events + (size_t)i * EVENT_WIDTH, e->v, sizeof e->v);
      if (e->v[6] > 0) memcpy(I->text + (size_t)i * RELAY_TEXT_MAX, e->text, (size_t)e->v[6]);
    }
    off += n;
    call_js(I, n);
  }
  I->qlen = 0;
}

