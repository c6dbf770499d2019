// How the relay is woken on its worker's libuv loop. JavaScript and the relay
// run on the same thread, so the relay's epoll set (relay.c) is waited on by
// the loop in one of two ways:
//
// - watched: the relay's epoll fd is one of the loop's fds (a uv_poll). Each
//   wake-up is a turn of the loop (libuv's epoll_pwait, twice when Node keeps
//   its idle-time metric, and Node's phases) and then the relay's own
//   epoll_wait. Always safe.
// - in place: the loop's epoll fd (uv_backend_fd) is in the relay's set
//   instead, and the relay waits in a prepare callback, right before the loop
//   would, for as long as the loop would (uv_backend_timeout): one epoll_wait
//   per wake-up, no turn of the loop while only the relay has work. It returns
//   to the loop when the loop's set is ready (its own fds, a message, a
//   thread-pool completion), when the loop's timeout ran out (a timer, an
//   immediate: it is read again after each batch, as JavaScript may have set
//   one), or after WAIT_ROUNDS batches. Because libuv adds an fd to
//   its set only when it next polls, a socket Node starts watching just before
//   this wait would not wake it: so this is used only while Node watches no
//   socket on this thread (every listener accepts in the relay, worker.ts).
//   When it returns without the loop's set being ready, an idle handle makes
//   the loop poll without blocking (its set does not hold the relay's fd, so a
//   blocking poll there would not see the relay's sockets) and come back.
//
// The relay's timer wheel is driven by a uv_timer while it holds connections,
// in both ways.
#include "wait.h"

#include <errno.h>
#include <stdlib.h>

/* relay batches handled in one wait in place before the loop goes round once */
#define WAIT_ROUNDS 256
#define TICK_MS 50

static void on_timer(uv_timer_t *t);

void wait_update(struct relay_wait *w) {
  int want = relay_busy(w->r);
  if (want == w->timer_on) return;
  w->timer_on = want;
  if (want) {
    uv_timer_start(&w->timer, on_timer, TICK_MS, TICK_MS);
  } else {
    uv_timer_stop(&w->timer);
  }
}

static void on_poll(uv_poll_t *p, int status, int events) {
  (void)status;
  (void)events;
  struct relay_wait *w = p->data;
  relay_poll(w->r, 0);
  w->after(w->ctx);
  wait_update(w);
}

static void on_timer(uv_timer_t *t) {
  struct relay_wait *w = t->data;
  relay_tick(w->r);
  w->after(w->ctx);
  wait_update(w);
}

static void on_idle(uv_idle_t *h) { (void)h; }

static void on_prepare(uv_prepare_t *h) {
  struct relay_wait *w = h->data;
  uv_idle_stop(&w->idle);
  for (int round = 0; round < WAIT_ROUNDS; round++) {
    uv_update_time(w->loop);
    int timeout = uv_backend_timeout(w->loop);
    int n = relay_poll(w->r, timeout);
    /* the loop's clock moves on with the wait, so that its timers are seen due */
    uv_update_time(w->loop);
    /* the loop's set is ready: its poll, which comes next, will not block */
    if (n < 0) {
      w->after(w->ctx);
      wait_update(w);
      return;
    }
    w->after(w->ctx);
    wait_update(w);
    if (n == 0 || timeout == 0 || w->in_place == 0) break;
  }
  /* not while watched (JavaScript may have switched): with no prepare to stop it, the loop would never block */
  if (w->in_place) uv_idle_start(&w->idle, on_idle);
}

static void handle_closed(uv_handle_t *h) {
  struct relay_wait *w = h->data;
  if (h->type == UV_POLL) free(h);
  if (--w->open == 0) w->closed(w->ctx);
}

static int watch(struct relay_wait *w) {
  uv_poll_t *p = malloc(sizeof *p);
  if (!p) return UV_ENOMEM;
  int e = uv_poll_init(w->loop, p, relay_fd(w->r));
  if (e < 0) {
    free(p);
    return e;
  }
  p->data = w;
  /* the worker's message port keeps its loop alive; these handles must not */
  uv_unref((uv_handle_t *)p);
  uv_poll_start(p, UV_READABLE, on_poll);
  w->poll = p;
  w->open++;
  return 0;
}

int wait_init(struct relay_wait *w, uv_loop_t *loop, struct relay *r, void (*after)(void *), void (*closed)(void *),
              void *ctx) {
  *w = (struct relay_wait){.loop = loop, .r = r, .after = after, .closed = closed, .ctx = ctx};
  uv_prepare_init(loop, &w->prepare);
  uv_idle_init(loop, &w->idle);
  uv_timer_init(loop, &w->timer);
  w->prepare.data = w->idle.data = w->timer.data = w;
  uv_unref((uv_handle_t *)&w->prepare);
  uv_unref((uv_handle_t *)&w->idle);
  uv_unref((uv_handle_t *)&w->timer);
  w->open = 3;
  return watch(w);
}

int wait_in_place(struct relay_wait *w, int on) {
  on = on ? 1 : 0;
  if (on == w->in_place) return 0;
  if (on) {
    /* the relay's fd leaves the loop's set (uv_close removes it at once) before the loop's set joins the relay's */
    uv_close((uv_handle_t *)w->poll, handle_closed);
    w->poll = NULL;
    int e = relay_watch_loop(w->r, uv_backend_fd(w->loop));
    if (e < 0) {
      int back = watch(w);
      return back < 0 ? back : e;
    }
    uv_prepare_start(&w->prepare, on_prepare);
  } else {
    uv_prepare_stop(&w->prepare);
    uv_idle_stop(&w->idle);
    relay_unwatch_loop(w->r);
    int e = watch(w);
    if (e < 0) {
      /* cannot be watched: it goes on waiting in place */
      relay_watch_loop(w->r, uv_backend_fd(w->loop));
      uv_prepare_start(&w->prepare, on_prepare);
      return e;
    }
  }
  w->in_place = on;
  return 0;
}

void wait_close(struct relay_wait *w) {
  uv_prepare_stop(&w->prepare);
  relay_unwatch_loop(w->r);
  if (w->poll) uv_close((uv_handle_t *)w->poll, handle_closed);
  w->poll = NULL;
  uv_close((uv_handle_t *)&w->prepare, handle_closed);
  uv_close((uv_handle_t *)&w->idle, handle_closed);
  uv_close((uv_handle_t *)&w->timer, handle_closed);
}
