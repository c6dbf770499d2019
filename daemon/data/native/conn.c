// The native relay's bookkeeping (relay-int.h): the clock, the timer wheel of
// connect, idle and first-byte deadlines, connection slots and ids, the pipe pool, and the
// one place a connection ends.
#define _GNU_SOURCE
#include "relay-int.h"

/* ---- time ---- */

static double mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void relay_set_origin(struct relay *r, double origin_ms) {
  r->origin = origin_ms;
  r->now = relay_now(r);
  r->wheel_tick = (uint64_t)(r->now / r->tick_ms);
}
double relay_now(const struct relay *r) { return mono_ms() - r->origin; }

/* ---- the timer wheel: connect, idle and first-byte deadlines, coarse (tick_ms) ---- */

double deadline(const struct relay_conn *c, int *what) {
  *what = DUE_NONE;
  if (c->state == ST_CONNECTING) {
    *what = DUE_CONNECT;
    return c->last + c->connect_ms;
  }
  if (c->state != ST_RELAYING) return 0;
  double at = 0;
  /* The pool's idle timeout (the backend side) and the listener's client_idle (the client side): a relayed
     byte is read on one side and written to the other at once, so each side was last active at c->last, as
     Node's socket timers see it (reads and writes both count). The shorter one ends it; on a tie, the
     listener's. */
  if (c->idle_ms > 0) {
    at = c->last + c->idle_ms;
    *what = DUE_IDLE;
  }
  if (c->client_idle_ms > 0 && (at == 0 || c->last + c->client_idle_ms <= at)) {
    at = c->last + c->client_idle_ms;
    *what = DUE_CLIENT_IDLE;
  }
  /* the first-byte timeout runs from the first client byte relayed (or the replay) to the backend's first
     byte or its FIN (backend_fin) */
  if (c->first_byte_ms > 0 && c->t_first_in > 0 && !c->first_byte_sent && !(c->side[1] & S_RD_EOF)) {
    double fb = c->t_first_in + c->first_byte_ms;
    if (at == 0 || fb < at) {
      at = fb;
      *what = DUE_FIRST_BYTE;
    }
  }
  return at;
}

void wheel_remove(struct relay *r, struct relay_conn *c) {
  if (!c->in_wheel) return;
  struct relay_conn **head = &r->wheel[c->wtick % RELAY_WHEEL_SLOTS];
  if (c->wprev) c->wprev->wnext = c->wnext;
  else *head = c->wnext;
  if (c->wnext) c->wnext->wprev = c->wprev;
  c->wnext = c->wprev = NULL;
  c->in_wheel = 0;
  r->in_wheel--;
}

/* (Re)files c under its deadline; a connection without one leaves the wheel. */
void wheel_file(struct relay *r, struct relay_conn *c) {
  wheel_remove(r, c);
  int what;
  double due = deadline(c, &what);
  if (due <= 0) return;
  uint64_t tick = (uint64_t)(due / r->tick_ms) + 1;
  if (tick <= r->wheel_tick) tick = r->wheel_tick + 1;
  struct relay_conn **head = &r->wheel[tick % RELAY_WHEEL_SLOTS];
  c->wtick = tick;
  c->wprev = NULL;
  c->wnext = *head;
  if (*head) (*head)->wprev = c;
  *head = c;
  c->in_wheel = 1;
  r->in_wheel++;
}

/* ---- connections: slots, ids, the end ---- */

struct relay_conn *conn_new(struct relay *r, int client_fd) {
  uint32_t slot;
  if (r->nfree > 0) {
    slot = r->free_slots[--r->nfree];
  } else {
    if (r->cap == SLOT_MAX) return NULL;
    uint32_t cap = r->cap ? r->cap * 2 : 1024;
    if (cap > SLOT_MAX) cap = SLOT_MAX;
    struct relay_conn **conns = realloc(r->conns, cap * sizeof *conns);
    if (!conns) return NULL;
    r->conns = conns;
    uint32_t *gens = realloc(r->gens, cap * sizeof *gens);
    if (!gens) return NULL;
    r->gens = gens;
    uint32_t *free_slots = realloc(r->free_slots, cap * sizeof *free_slots);
    if (!free_slots) return NULL;
    r->free_slots = free_slots;
    for (uint32_t i = r->cap; i < cap; i++) {
      conns[i] = NULL;
      gens[i] = 0;
    }
    /* hand out low slots first */
    for (uint32_t i = cap; i > r->cap + 1; i--) r->free_slots[r->nfree++] = i - 1;
    slot = r->cap;
    r->cap = cap;
  }
  struct relay_conn *c = calloc(1, sizeof *c);
  if (!c) {
    r->free_slots[r->nfree++] = slot;
    return NULL;
  }
  c->slot = slot;
  c->id = (double)(((r->gens[slot] & GEN_MASK) << SLOT_BITS) | slot);
  c->fd[0] = client_fd;
  c->fd[1] = -1;
  c->first_fin = -1;
  c->watch_side = -1;
  c->acct = (struct relay_accounting){-1, -1, -1, -1};
  r->conns[slot] = c;
  r->count++;
  return c;
}

struct relay_conn *conn_get(struct relay *r, double id) {
  if (!(id >= 0) || id >= 2147483648.0) return NULL;
  uint32_t slot = (uint32_t)id & (SLOT_MAX - 1);
  if (slot >= r->cap) return NULL;
  struct relay_conn *c = r->conns[slot];
  return c && c->id == id ? c : NULL;
}

void close_fd(int fd, int reset) {
  if (fd < 0) return;
  if (reset) {
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  close(fd);
}

void pipe_release(struct relay *r, struct relay_conn *c, int d) {
  struct pipe_pair *p = c->pipe[d];
  if (!p) return;
  c->pipe[d] = NULL;
  if (c->piped[d] == 0 && r->npipes < PIPE_POOL_MAX) {
    p->next = r->pipes;
    r->pipes = p;
    r->npipes++;
  } else {
    close(p->r);
    close(p->w);
    free(p);
  }
  c->piped[d] = 0;
}

struct pipe_pair *pipe_take(struct relay *r) {
  struct pipe_pair *p = r->pipes;
  if (p) {
    r->pipes = p->next;
    r->npipes--;
    return p;
  }
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) return NULL;
  /* a larger pipe moves more per splice; the default (64 KiB) is kept when refused */
  fcntl(fds[1], F_SETPIPE_SZ, PIPE_SIZE);
  p = malloc(sizeof *p);
  if (!p) {
    close(fds[0]);
    close(fds[1]);
    return NULL;
  }
  p->r = fds[0];
  p->w = fds[1];
  return p;
}

/* Closes both sockets (reset: SO_LINGER 0 on `reset_mask` sides) and gives up the id. */
void conn_end(struct relay *r, struct relay_conn *c, int reset_mask) {
  if (c->state == ST_CLOSED) return;
  wheel_remove(r, c);
  close_fd(c->fd[1], reset_mask & 2);
  close_fd(c->fd[0], reset_mask & 1);
  c->fd[0] = c->fd[1] = -1;
  for (int d = 0; d < 2; d++) {
    free(c->pend[d].data);
    c->pend[d].data = NULL;
    c->pend[d].len = 0;
    pipe_release(r, c, d);
  }
  replay_drop(c);
  c->state = ST_CLOSED;
  r->conns[c->slot] = NULL;
  r->gens[c->slot]++;
  r->free_slots[r->nfree++] = c->slot;
  r->count--;
  if (r->in_batch) {
    c->dead_next = r->dead;
    r->dead = c;
  } else {
    free(c);
  }
}

void bury(struct relay *r) {
  while (r->dead) {
    struct relay_conn *c = r->dead;
    r->dead = c->dead_next;
    free(c);
  }
}

/* Reports the end, then closes. `why` is enum relay_end. */
void conn_finish(struct relay *r, struct relay_conn *c, int why, int err, int reset_mask) {
  double id = c->id, in = c->bytes[0], out = c->bytes[1];
  conn_end(r, c, reset_mask);
  r->emit(r->ctx, EV_CLOSED, id, why, in, out, err, r->now, NULL, 0);
}
