// How the relay is woken on its worker's libuv loop (wait.c), for binding.c.
#ifndef NETMON_RELAY_WAIT_H
#define NETMON_RELAY_WAIT_H
#include <uv.h>

#include "relay.h"

struct relay_wait {
  uv_loop_t *loop;
  struct relay *r;
  /* watched: the loop's watch of the relay's epoll fd; NULL while the relay waits in the loop's place */
  uv_poll_t *poll;
  uv_prepare_t prepare;
  uv_idle_t idle;
  uv_timer_t timer;
  int in_place, timer_on, open;
  /* after each poll or tick: hand the relay's events to JavaScript */
  void (*after)(void *ctx);
  /* every handle is closed: the owner may free the relay and itself */
  void (*closed)(void *ctx);
  void *ctx;
};

/** Starts watching (the relay's fd in the loop's set). 0 or a libuv error. */
int wait_init(struct relay_wait *w, uv_loop_t *loop, struct relay *r, void (*after)(void *), void (*closed)(void *),
              void *ctx);
/** Waits in the loop's place (on: 1) or is watched by it (0). 0 or -errno (then it stays as it was). */
int wait_in_place(struct relay_wait *w, int on);
/** After a call that may have given the relay a timeout to keep: the tick timer runs while the relay is busy. */
void wait_update(struct relay_wait *w);
/** Closes every handle; `closed` is called once they are. */
void wait_close(struct relay_wait *w);
#endif
