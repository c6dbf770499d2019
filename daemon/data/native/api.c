// The native relay's public calls (relay.h): the instance, and what
// JavaScript asks of one connection (adopt, connect, close, addresses).
#define _GNU_SOURCE
#include "relay-int.h"

/* ---- the public calls for one connection ---- */

double relay_adopt(struct relay *r, int fd) {
  int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0) return -errno;
  int flags = fcntl(own, F_GETFL);
  if (flags < 0 || fcntl(own, F_SETFL, flags | O_NONBLOCK) < 0) {
    int e = errno;
    close(own);
    return -e;
  }
  struct relay_conn *c = conn_new(r, own);
  if (!c) {
    close(own);
    return -ENOMEM;
  }
  int e = watch(r, own, c, TAG_CLIENT, SOCKET_EVENTS);
  if (e < 0) {
    conn_end(r, c, 0);
    return e;
  }
  return c->id;
}

int relay_connect(struct relay *r, double id, const char *host, int port, uint32_t connect_ms, uint32_t idle_ms,
                  const void *preface, size_t preface_len, const void *pending, size_t pending_len,
                  const struct relay_accounting *acct, uint32_t retry) {
  struct relay_conn *c = conn_get(r, id);
  if (!c) return -ENOENT;
  if (c->state != ST_IDLE) return -EALREADY;
  struct sockaddr_storage ss;
  socklen_t len;
  int e = parse_addr(host, port, &ss, &len);
  if (e < 0) return e;
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
    e = -errno;
    close(fd);
    return e;
  }
  /* after a failed attempt, the client's bytes kept for a replay go between the preface and the pending */
  size_t replay_len = c->replay.len;
  size_t total = preface_len + replay_len + pending_len;
  if (total > UINT32_MAX) {
    close(fd);
    return -E2BIG;
  }
  if (total > 0) {
    char *buf = malloc(total);
    if (!buf) {
      close(fd);
      return -ENOMEM;
    }
    if (preface_len) memcpy(buf, preface, preface_len);
    if (replay_len) memcpy(buf + preface_len, c->replay.data, replay_len);
    if (pending_len) memcpy(buf + preface_len + replay_len, pending, pending_len);
    c->pend[0] = (struct pending){buf, 0, (uint32_t)total};
  }
  c->replayed = (uint32_t)replay_len;
  c->fd[1] = fd;
  c->side[1] = 0;
  c->acct = *acct;
  c->retry = (uint8_t)(retry & (RELAY_RETRY_SILENT | RELAY_RETRY_REPLAY));
  c->connect_ms = connect_ms > 0 ? connect_ms : 1;
  c->idle_ms = idle_ms;
  r->now = relay_now(r);
  c->last = r->now;
  c->t_connect = r->now;
  c->pending_in = (uint32_t)pending_len;
  c->state = ST_CONNECTING;
  e = watch(r, fd, c, TAG_BACKEND, SOCKET_EVENTS);
  if (e < 0) {
    close(fd);
    c->fd[1] = -1;
    free(c->pend[0].data);
    c->pend[0] = (struct pending){0};
    c->pending_in = 0;
    c->replayed = 0;
    c->state = ST_IDLE;
    return e;
  }
  wheel_file(r, c);
  return 0;
}

int relay_configure(struct relay *r, double id, const struct relay_options *o) {
  struct relay_conn *c = conn_get(r, id);
  if (!c) return -ENOENT;
  if (c->state != ST_IDLE) return -EALREADY;
  c->client_idle_ms = o->client_idle_ms;
  c->first_byte_ms = o->first_byte_ms;
  c->replay.max = o->replay_max;
  c->watch_max = o->watch_bytes;
  return 0;
}

int relay_close(struct relay *r, double id, int reset, double bytes[2]) {
  struct relay_conn *c = conn_get(r, id);
  if (!c) return -ENOENT;
  bytes[0] = c->bytes[0];
  bytes[1] = c->bytes[1];
  conn_end(r, c, reset ? 3 : 0);
  return 0;
}

int relay_client_addresses(struct relay *r, double id, char *local, size_t local_len, int *local_port, char *peer,
                           size_t peer_len, int *peer_port) {
  struct relay_conn *c = conn_get(r, id);
  if (!c) return -ENOENT;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(c->fd[0], (struct sockaddr *)&ss, &len) < 0) return -errno;
  format_addr(&ss, local, local_len, local_port);
  len = sizeof ss;
  if (getpeername(c->fd[0], (struct sockaddr *)&ss, &len) < 0) return -errno;
  format_addr(&ss, peer, peer_len, peer_port);
  return 0;
}

/* ---- the instance ---- */

struct relay *relay_new(relay_event_fn emit, void *ctx, uint32_t tick_ms) {
  struct relay *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->buf = malloc(RELAY_BUF_SIZE);
  r->ep = epoll_create1(EPOLL_CLOEXEC);
  if (!r->buf || r->ep < 0) {
    int e = errno;
    if (r->ep >= 0) close(r->ep);
    free(r->buf);
    free(r);
    errno = e ? e : ENOMEM;
    return NULL;
  }
  r->loop_fd = -1;
  r->emit = emit;
  r->ctx = ctx;
  r->tick_ms = tick_ms > 0 ? tick_ms : 50;
  r->now = relay_now(r);
  r->wheel_tick = (uint64_t)(r->now / r->tick_ms);
  return r;
}

void relay_free(struct relay *r) {
  if (!r) return;
  r->in_batch = 0;
  for (uint32_t i = 0; i < r->cap; i++) {
    struct relay_conn *c = r->conns[i];
    if (c) conn_end(r, c, c->state == ST_RELAYING ? 3 : 0);
  }
  bury(r);
  for (uint32_t i = 0; i < r->nlisteners; i++) relay_unlisten(r, i);
  while (r->pipes) {
    struct pipe_pair *p = r->pipes;
    r->pipes = p->next;
    close(p->r);
    close(p->w);
    free(p);
  }
  close(r->ep);
  free(r->listeners);
  free(r->conns);
  free(r->gens);
  free(r->free_slots);
  free(r->buf);
  free(r);
}

int relay_fd(const struct relay *r) { return r->ep; }

void relay_set_counters(struct relay *r, double *counters, size_t len) {
  r->counters = counters;
  r->ncounters = len;
}

uint32_t relay_count(const struct relay *r) { return r->count; }

int relay_busy(const struct relay *r) { return r->in_wheel > 0 || r->paused > 0; }

int relay_watch_loop(struct relay *r, int loop_fd) {
  if (r->loop_fd >= 0) return 0;
  /* level-triggered: the loop's set stays ready until the loop has taken its events */
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_LOOP};
  if (epoll_ctl(r->ep, EPOLL_CTL_ADD, loop_fd, &ev) < 0) return -errno;
  r->loop_fd = loop_fd;
  return 0;
}

void relay_unwatch_loop(struct relay *r) {
  if (r->loop_fd < 0) return;
  epoll_ctl(r->ep, EPOLL_CTL_DEL, r->loop_fd, NULL);
  r->loop_fd = -1;
}

int relay_poll(struct relay *r, int timeout_ms) {
  struct epoll_event evs[POLL_BATCH];
  int n = epoll_wait(r->ep, evs, POLL_BATCH, timeout_ms);
  if (n <= 0) return 0;
  r->now = relay_now(r);
  r->in_batch = 1;
  int loop_ready = 0, handled = 0;
  for (int i = 0; i < n; i++) {
    uint64_t u = evs[i].data.u64;
    int tag = (int)(u & TAG_MASK);
    void *p = (void *)(uintptr_t)(u & ~(uint64_t)TAG_MASK);
    if (tag == TAG_LOOP) {
      loop_ready = 1;
      continue;
    }
    handled++;
    if (tag == TAG_LISTENER) {
      /* a listener closed during this batch is gone from the table: skip its event */
      struct listener *l = p;
      int live = 0;
      for (uint32_t k = 0; k < r->nlisteners && !live; k++) live = r->listeners[k] == l;
      if (live) on_listener(r, l);
    } else {
      on_socket(r, p, tag, evs[i].events);
    }
  }
  r->in_batch = 0;
  bury(r);
  return loop_ready ? -1 : handled;
}

/* c's deadline passed: what it was due for happens */
static void expire(struct relay *r, struct relay_conn *c, int what) {
  if (what == DUE_CONNECT) {
    connect_failed(r, c, ETIMEDOUT, 0);
  } else if (what == DUE_FIRST_BYTE) {
    /* a failed attempt, as a connect timeout, but the backend got bytes: it is reset, never left to take a
       half-sent exchange for a complete one (backend-attempt.ts firstByteTimedOut) */
    connect_failed(r, c, ETIME, 1);
  } else {
    conn_finish(r, c, what == DUE_CLIENT_IDLE ? END_CLIENT_IDLE_TIMEOUT : END_IDLE_TIMEOUT, 0, 0);
  }
}

void relay_tick(struct relay *r) {
  r->now = relay_now(r);
  resume_listeners(r);
  uint64_t to = (uint64_t)(r->now / r->tick_ms);
  if (to <= r->wheel_tick) return;
  uint64_t from = r->wheel_tick + 1;
  /* after a long stall every slot is visited once */
  if (to - from >= RELAY_WHEEL_SLOTS) from = to - RELAY_WHEEL_SLOTS + 1;
  r->wheel_tick = to;
  r->in_batch = 1;
  for (uint64_t t = from; t <= to; t++) {
    struct relay_conn *c = r->wheel[t % RELAY_WHEEL_SLOTS];
    while (c) {
      struct relay_conn *next = c->wnext;
      if (c->wtick <= to) {
        int what;
        double due = deadline(c, &what);
        if (due > 0 && r->now >= due) {
          expire(r, c, what);
        } else {
          wheel_file(r, c);
        }
      }
      c = next;
    }
  }
  r->in_batch = 0;
  bury(r);
}

