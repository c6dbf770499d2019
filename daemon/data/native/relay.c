// netmon's native relay (see relay.h). One epoll set per instance, edge
// triggered: a socket's readiness is kept in flags (READABLE, WRITABLE) that an
// event sets and an EAGAIN clears, and move() pumps one direction until it
// would block. Backpressure: a direction with bytes waiting for its writer
// reads nothing more, so the kernel's buffers fill and TCP slows the sender.
//
// A connection is two sockets, side 0 the client and side 1 the backend;
// direction d reads side d and writes side 1 - d. A FIN read on one side is
// passed on as a FIN (shutdown SHUT_WR) once every byte before it is written
// (half-close); a reset or an error on one side resets the other (SO_LINGER 0,
// then close). The connection ends when both FINs are passed on, on a reset or
// an error, on the idle timeout (both closed), or when JavaScript closes it.
//
// Memory: a connection is one struct; bytes are read into the instance's one
// buffer and written at once; only what a writer did not take is copied into a
// buffer of the connection's own, freed when written. A direction that fills
// the buffer in one read is bulk: it moves on with splice(2) through a pipe
// taken from the instance's pool (the bytes never enter user space).
//
// A closed connection's struct lives until the end of the current poll or
// tick (its slot and id are given up at once): events already fetched from
// epoll may still point at it.
#define _GNU_SOURCE
#include "relay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { ST_IDLE, ST_CONNECTING, ST_RELAYING, ST_CLOSED };
/* per side */
enum { S_READABLE = 1, S_WRITABLE = 2, S_RDHUP = 4, S_RD_EOF = 8, S_WR_SHUT = 16 };
/* epoll tags in the low bits of the pointer (structs are at least 16-byte aligned) */
enum { TAG_CLIENT = 0, TAG_BACKEND = 1, TAG_LISTENER = 2, TAG_MASK = 3 };

/* an id is a slot and the slot's generation, in 31 bits (a small integer in JavaScript); a generation wraps
   after 2048 uses of its slot, far more than one batch of events can hold */
#define SLOT_BITS 20
#define SLOT_MAX (1u << SLOT_BITS)
#define GEN_MASK 0x7ffu
#define POLL_BATCH 256
#define SOCKET_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)
#define PIPE_POOL_MAX 64
#define PIPE_SIZE (256 * 1024)
/* a splice that moves less than this ends the direction's bulk mode */
#define BULK_MIN (16 * 1024)
/* reads (or splices) per direction per event before the socket is re-armed and others go first */
#define MOVE_BUDGET 16

/* how a direction moves: recv/send through the shared buffer, splice through a pipe, or recv/send for good */
enum { BULK_NO = 0, BULK_YES = 1, BULK_NEVER = 2 };

struct pipe_pair {
  int r, w;
  struct pipe_pair *next;
};

struct pending {
  char *data;
  uint32_t off, len;
};

struct relay_conn {
  double id;
  uint32_t slot;
  uint8_t state;
  uint8_t side[2];
  int8_t first_fin; /* the side whose FIN came first, -1 none */
  uint8_t bulk[2]; /* BULK_*: how direction d moves */
  uint8_t first_byte_sent; /* EV_FIRST_BYTE reported */
  int fd[2];
  uint32_t pending_in; /* client bytes among pend[0] at the connect (counted once connected) */
  struct pending pend[2]; /* bytes read in direction d, not yet written */
  struct pipe_pair *pipe[2];
  uint32_t piped[2];
  double bytes[2];
  struct relay_accounting acct;
  uint32_t idle_ms, connect_ms;
  double last; /* last byte either way, or the connect start */
  double t_connect; /* when the connect began */
  double t_first_in, t_first_out;
  /* the timer wheel */
  struct relay_conn *wnext, *wprev;
  uint64_t wtick;
  uint8_t in_wheel;
  struct relay_conn *dead_next;
};

struct listener {
  int fd;
  uint32_t slot;
  int paused;
  double resume_at;
};

struct relay {
  int ep;
  relay_event_fn emit;
  void *ctx;
  double origin;
  double now; /* cached per poll/tick */
  double *counters;
  size_t ncounters;
  char *buf;
  /* connections by slot; ids carry a generation so a reused slot is a new id */
  struct relay_conn **conns;
  uint32_t *gens;
  uint32_t cap, count;
  uint32_t *free_slots;
  uint32_t nfree;
  struct relay_conn *dead;
  int in_batch;
  /* listeners by slot */
  struct listener **listeners;
  uint32_t nlisteners;
  uint32_t paused;
  /* the timer wheel: slot tick % RELAY_WHEEL_SLOTS holds connections due at tick */
  struct relay_conn *wheel[RELAY_WHEEL_SLOTS];
  uint32_t tick_ms;
  uint64_t wheel_tick; /* last tick processed */
  uint32_t in_wheel;
  struct pipe_pair *pipes;
  uint32_t npipes;
};

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

/* ---- the timer wheel: idle and connect deadlines, coarse (tick_ms) ---- */

static double deadline(const struct relay_conn *c) {
  if (c->state == ST_CONNECTING) return c->last + c->connect_ms;
  if (c->state == ST_RELAYING && c->idle_ms > 0) return c->last + c->idle_ms;
  return 0;
}

static void wheel_remove(struct relay *r, struct relay_conn *c) {
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
static void wheel_file(struct relay *r, struct relay_conn *c) {
  wheel_remove(r, c);
  double due = deadline(c);
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

static struct relay_conn *conn_new(struct relay *r, int client_fd) {
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
  c->acct = (struct relay_accounting){-1, -1, -1, -1};
  r->conns[slot] = c;
  r->count++;
  return c;
}

static struct relay_conn *conn_get(struct relay *r, double id) {
  if (!(id >= 0) || id >= 2147483648.0) return NULL;
  uint32_t slot = (uint32_t)id & (SLOT_MAX - 1);
  if (slot >= r->cap) return NULL;
  struct relay_conn *c = r->conns[slot];
  return c && c->id == id ? c : NULL;
}

static void close_fd(int fd, int reset) {
  if (fd < 0) return;
  if (reset) {
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  close(fd);
}

static void pipe_release(struct relay *r, struct relay_conn *c, int d) {
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

static struct pipe_pair *pipe_take(struct relay *r) {
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
static void conn_end(struct relay *r, struct relay_conn *c, int reset_mask) {
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

static void bury(struct relay *r) {
  while (r->dead) {
    struct relay_conn *c = r->dead;
    r->dead = c->dead_next;
    free(c);
  }
}

/* Reports the end, then closes. `why` is enum relay_end. */
static void conn_finish(struct relay *r, struct relay_conn *c, int why, int err, int reset_mask) {
  double id = c->id, in = c->bytes[0], out = c->bytes[1];
  conn_end(r, c, reset_mask);
  r->emit(r->ctx, EV_CLOSED, id, why, in, out, err, r->now, NULL);
}

/* Side `s` failed with `err`: the other side is reset, the connection ends. */
static void side_failed(struct relay *r, struct relay_conn *c, int s, int err) {
  int reset = err == ECONNRESET || err == EPIPE;
  int why = s == 0 ? (reset ? END_CLIENT_RESET : END_CLIENT_ERROR) : (reset ? END_BACKEND_RESET : END_BACKEND_ERROR);
  conn_finish(r, c, why, err, s == 0 ? 2 : 1);
}

/* ---- the relay ---- */

static void account(struct relay *r, struct relay_conn *c, int d, size_t n) {
  c->bytes[d] += (double)n;
  c->last = r->now;
  double *t = r->counters;
  if (!t) return;
  int32_t a = d == 0 ? c->acct.listener_in : c->acct.listener_out;
  int32_t b = d == 0 ? c->acct.backend_in : c->acct.backend_out;
  if (a >= 0) t[a] += (double)n;
  if (b >= 0) t[b] += (double)n;
}

static void first_bytes(struct relay *r, struct relay_conn *c, int d) {
  if (d == 0) {
    if (c->t_first_in == 0) c->t_first_in = relay_now(r);
    return;
  }
  if (c->first_byte_sent) return;
  c->first_byte_sent = 1;
  c->t_first_out = relay_now(r);
  r->emit(r->ctx, EV_FIRST_BYTE, c->id, c->t_first_out, c->t_first_in, 0, 0, c->t_first_out, NULL);
}

/* Keeps data[0..n) to write later (the writer took none or part of it). 0 or -ENOMEM. */
static int keep(struct relay_conn *c, int d, const char *data, size_t n) {
  struct pending *p = &c->pend[d];
  char *buf = malloc(n);
  if (!buf) return -ENOMEM;
  memcpy(buf, data, n);
  p->data = buf;
  p->off = 0;
  p->len = (uint32_t)n;
  return 0;
}

/* Writes what direction d holds (buffer, then pipe). 1: all written, 0: would block, -errno. */
static int flush(struct relay_conn *c, int d) {
  int dst = c->fd[1 - d];
  struct pending *p = &c->pend[d];
  while (p->len > 0) {
    ssize_t w = send(dst, p->data + p->off, p->len, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN ? 0 : -errno;
    }
    p->off += (uint32_t)w;
    p->len -= (uint32_t)w;
    if (p->len > 0) return 0;
    free(p->data);
    p->data = NULL;
    p->off = 0;
  }
  while (c->piped[d] > 0) {
    ssize_t w = splice(c->pipe[d]->r, NULL, dst, NULL, c->piped[d], SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN ? 0 : -errno;
    }
    c->piped[d] -= (uint32_t)w;
  }
  return 1;
}

static int all_done(const struct relay_conn *c) {
  return (c->side[0] & S_RD_EOF) && (c->side[1] & S_WR_SHUT) && (c->side[1] & S_RD_EOF) &&
         (c->side[0] & S_WR_SHUT);
}

/* Reads from side src into direction d's pipe (splice). >0 bytes, 0 EOF, -1 errno set. */
static ssize_t splice_in(struct relay *r, struct relay_conn *c, int d) {
  if (!c->pipe[d]) c->pipe[d] = pipe_take(r);
  if (!c->pipe[d]) {
    c->bulk[d] = BULK_NEVER;
    errno = EAGAIN;
    return -2;
  }
  ssize_t n = splice(c->fd[d], NULL, c->pipe[d]->w, NULL, PIPE_SIZE, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  if (n < 0 && (errno == EINVAL || errno == ENOSYS)) {
    /* a socket splice(2) does not take: recv/send from now on */
    c->bulk[d] = BULK_NEVER;
    pipe_release(r, c, d);
    return -2;
  }
  return n;
}

/*
 * Moves direction d until it would block (or MOVE_BUDGET reads, then the
 * source socket is re-armed so epoll reports it again after the others).
 * Returns 0, or -1 when the connection ended (it must not be touched again).
 */
static int move(struct relay *r, struct relay_conn *c, int d) {
  int src = d, dst = 1 - d;
  for (int budget = MOVE_BUDGET;; budget--) {
    if (c->pend[d].len > 0 || c->piped[d] > 0) {
      if (!(c->side[dst] & S_WRITABLE)) return 0;
      int f = flush(c, d);
      if (f < 0) {
        side_failed(r, c, dst, -f);
        return -1;
      }
      if (f == 0) {
        c->side[dst] &= ~S_WRITABLE;
        return 0;
      }
      if (c->bulk[d] == BULK_NO) pipe_release(r, c, d);
    }
    if (c->side[src] & S_RD_EOF) {
      if (!(c->side[dst] & S_WR_SHUT)) {
        /* the FIN, after every byte before it; the last one is sent by the close */
        c->side[dst] |= S_WR_SHUT;
        if (c->first_fin < 0) c->first_fin = (int8_t)src;
        if (all_done(c)) {
          conn_finish(r, c, c->first_fin == 0 ? END_CLIENT_CLOSE : END_BACKEND_CLOSE, 0, 0);
          return -1;
        }
        shutdown(c->fd[dst], SHUT_WR);
      }
      return 0;
    }
    if (!(c->side[src] & S_READABLE)) return 0;
    if (budget == 0) {
      struct epoll_event ev = {.events = SOCKET_EVENTS, .data.u64 = (uint64_t)(uintptr_t)c | (uint64_t)src};
      epoll_ctl(r->ep, EPOLL_CTL_MOD, c->fd[src], &ev);
      return 0;
    }
    ssize_t n = -2;
    if (c->bulk[d] == BULK_YES) n = splice_in(r, c, d);
    if (n > 0) {
      c->piped[d] += (uint32_t)n;
      account(r, c, d, (size_t)n);
      first_bytes(r, c, d);
      if (n < BULK_MIN) c->bulk[d] = BULK_NO;
      continue;
    }
    if (n == -2) {
      n = recv(c->fd[src], r->buf, RELAY_BUF_SIZE, 0);
      if (n > 0) {
        account(r, c, d, (size_t)n);
        first_bytes(r, c, d);
        /* a short read emptied the socket (a stream socket returns what it holds): no recv just for EAGAIN,
           unless a FIN came (it must be read) */
        if (n < RELAY_BUF_SIZE) {
          if (!(c->side[src] & S_RDHUP)) c->side[src] &= ~S_READABLE;
        } else if (c->bulk[d] == BULK_NO) {
          c->bulk[d] = BULK_YES;
        }
        ssize_t w = send(c->fd[dst], r->buf, (size_t)n, MSG_NOSIGNAL);
        if (w < 0) {
          if (errno != EAGAIN && errno != EINTR) {
            side_failed(r, c, dst, errno);
            return -1;
          }
          w = 0;
        }
        if (w < n) {
          if (keep(c, d, r->buf + w, (size_t)(n - w)) < 0) {
            side_failed(r, c, dst, ENOMEM);
            return -1;
          }
          c->side[dst] &= ~S_WRITABLE;
          return 0;
        }
        continue;
      }
    }
    if (n == 0) {
      c->side[src] |= S_RD_EOF;
      c->side[src] &= ~S_READABLE;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      c->side[src] &= ~S_READABLE;
      return 0;
    }
    side_failed(r, c, src, errno);
    return -1;
  }
}

static void pump(struct relay *r, struct relay_conn *c) {
  if (move(r, c, 0) < 0) return;
  move(r, c, 1);
}

static int watch(struct relay *r, int fd, void *ptr, int tag, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.u64 = (uint64_t)(uintptr_t)ptr | (uint64_t)tag};
  return epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}


/* The connect failed (err): back to a client alone, which JavaScript may send elsewhere or close. */
static void connect_failed(struct relay *r, struct relay_conn *c, int err) {
  wheel_remove(r, c);
  close_fd(c->fd[1], 0);
  c->fd[1] = -1;
  c->side[1] = 0;
  free(c->pend[0].data);
  c->pend[0] = (struct pending){0};
  c->pending_in = 0;
  c->state = ST_IDLE;
  double now = relay_now(r);
  r->emit(r->ctx, EV_CONNECT_FAILED, c->id, err, now, 0, 0, now, NULL);
}

/* The backend's connect completed (or failed: only then is SO_ERROR read). */
static void connected(struct relay *r, struct relay_conn *c, uint32_t ev) {
  int err = 0;
  if (ev & (EPOLLERR | EPOLLHUP)) {
    socklen_t len = sizeof err;
    if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  }
  if (err != 0) {
    connect_failed(r, c, err);
    return;
  }
  c->state = ST_RELAYING;
  c->last = r->now;
  wheel_file(r, c);
  double now = relay_now(r);
  r->emit(r->ctx, EV_CONNECTED, c->id, now, c->t_connect, 0, 0, now, NULL);
  /* the client bytes read before the relay are relayed first: counted now, and they start the first-byte clock */
  if (c->pending_in > 0) {
    account(r, c, 0, c->pending_in);
    c->t_first_in = now;
    c->pending_in = 0;
  }
  pump(r, c);
}

static void on_socket(struct relay *r, struct relay_conn *c, int s, uint32_t ev) {
  if (c->state == ST_CLOSED) return;
  if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) c->side[s] |= S_READABLE;
  if (ev & (EPOLLRDHUP | EPOLLERR | EPOLLHUP)) c->side[s] |= S_RDHUP;
  if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) c->side[s] |= S_WRITABLE;
  if (c->state == ST_RELAYING) {
    pump(r, c);
    return;
  }
  if (s == 1 && c->state == ST_CONNECTING) {
    if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) connected(r, c, ev);
    return;
  }
  /* the client, before the relay: its bytes and a FIN wait in its socket; a reset or a hang-up ends it */
  if (s == 0 && (ev & (EPOLLERR | EPOLLHUP))) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd[0], SOL_SOCKET, SO_ERROR, &err, &len);
    conn_finish(r, c, err == ECONNRESET || err == 0 ? END_CLIENT_RESET : END_CLIENT_ERROR, err, 3);
  }
}

/* ---- listeners ---- */

static struct listener *listener_get(const struct relay *r, uint32_t slot) {
  return slot < r->nlisteners ? r->listeners[slot] : NULL;
}

static void format_addr(const struct sockaddr_storage *ss, char *text, size_t len, int *port) {
  text[0] = 0;
  *port = 0;
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &a->sin_addr, text, (socklen_t)len);
    *port = ntohs(a->sin_port);
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &a->sin6_addr, text, (socklen_t)len);
    *port = ntohs(a->sin6_port);
  }
}

static void pause_listener(struct relay *r, struct listener *l) {
  if (l->paused) return;
  struct epoll_event ev = {.events = 0, .data.u64 = (uint64_t)(uintptr_t)l | TAG_LISTENER};
  epoll_ctl(r->ep, EPOLL_CTL_MOD, l->fd, &ev);
  l->paused = 1;
  l->resume_at = r->now + RELAY_ACCEPT_PAUSE_MS;
  r->paused++;
}

static void resume_listeners(struct relay *r) {
  if (r->paused == 0) return;
  for (uint32_t i = 0; i < r->nlisteners; i++) {
    struct listener *l = r->listeners[i];
    if (!l || !l->paused || r->now < l->resume_at) continue;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)(uintptr_t)l | TAG_LISTENER};
    epoll_ctl(r->ep, EPOLL_CTL_MOD, l->fd, &ev);
    l->paused = 0;
    r->paused--;
  }
}

static void on_listener(struct relay *r, struct listener *l) {
  for (int k = 0; k < RELAY_ACCEPT_BATCH; k++) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN) return;
      int err = errno;
      /* out of descriptors or memory: stop accepting for a moment rather than spin on the ready socket */
      if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) pause_listener(r, l);
      r->emit(r->ctx, EV_LISTEN_ERROR, l->slot, err, 0, 0, 0, r->now, NULL);
      return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct relay_conn *c = conn_new(r, fd);
    if (!c || watch(r, fd, c, TAG_CLIENT, SOCKET_EVENTS) < 0) {
      if (c) conn_end(r, c, 0);
      else close(fd);
      r->emit(r->ctx, EV_LISTEN_ERROR, l->slot, ENOMEM, 0, 0, 0, r->now, NULL);
      continue;
    }
    /* IPv4 (also mapped into IPv6) as a number, which JavaScript turns into text once per address */
    double v4 = -1;
    int port = 0;
    char text[INET6_ADDRSTRLEN] = "";
    if (ss.ss_family == AF_INET) {
      const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
      v4 = ntohl(a->sin_addr.s_addr);
      port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)&ss)->sin6_addr)) {
      const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
      uint32_t w;
      memcpy(&w, &a->sin6_addr.s6_addr[12], 4);
      v4 = ntohl(w);
      port = ntohs(a->sin6_port);
    } else {
      format_addr(&ss, text, sizeof text, &port);
    }
    r->emit(r->ctx, EV_ACCEPT, c->id, l->slot, port, v4, 0, r->now, v4 >= 0 ? NULL : text);
  }
}

/* host (IP literal, optional %zone) and port into a socket address. 0 or -EINVAL. */
static int parse_addr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  if (port < 0 || port > 65535) return -EINVAL;
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    *len = sizeof *a4;
    return 0;
  }
  char bare[INET6_ADDRSTRLEN + IF_NAMESIZE + 1];
  size_t n = strlen(host);
  if (n >= sizeof bare) return -EINVAL;
  memcpy(bare, host, n + 1);
  char *zone = strchr(bare, '%');
  if (zone) *zone++ = 0;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET6, bare, &a6->sin6_addr) != 1) return -EINVAL;
  a6->sin6_family = AF_INET6;
  a6->sin6_port = htons((uint16_t)port);
  if (zone) {
    a6->sin6_scope_id = if_nametoindex(zone);
    if (a6->sin6_scope_id == 0) return -EINVAL;
  }
  *len = sizeof *a6;
  return 0;
}

int relay_listen(struct relay *r, uint32_t slot, const char *host, int port, int backlog, int fd) {
  if (slot >= 65536) return -EINVAL;
  if (listener_get(r, slot)) return -EEXIST;
  if (fd < 0) {
    struct sockaddr_storage ss;
    socklen_t len;
    int e = parse_addr(host, port, &ss, &len);
    if (e < 0) return e;
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, backlog > 0 ? backlog : 511) < 0) {
      e = -errno;
      close(fd);
      return e;
    }
  } else {
    /* an inherited socket (systemd): a duplicate, so that closing ours leaves the inherited one open */
    fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
      int e = -errno;
      close(fd);
      return e;
    }
  }
  if (slot >= r->nlisteners) {
    uint32_t n = slot + 1;
    struct listener **ls = realloc(r->listeners, n * sizeof *ls);
    if (!ls) goto nomem;
    for (uint32_t i = r->nlisteners; i < n; i++) ls[i] = NULL;
    r->listeners = ls;
    r->nlisteners = n;
  }
  struct listener *l = calloc(1, sizeof *l);
  if (!l) goto nomem;
  l->fd = fd;
  l->slot = slot;
  int e = watch(r, fd, l, TAG_LISTENER, EPOLLIN);
  if (e < 0) {
    free(l);
    close(fd);
    return e;
  }
  r->listeners[slot] = l;
  return 0;
nomem:
  close(fd);
  return -ENOMEM;
}

void relay_unlisten(struct relay *r, uint32_t slot) {
  struct listener *l = listener_get(r, slot);
  if (!l) return;
  if (l->paused) r->paused--;
  /* a listener's event may be in the batch being handled: the struct is freed with it, never reused */
  close(l->fd);
  r->listeners[slot] = NULL;
  free(l);
}

int relay_listen_port(const struct relay *r, uint32_t slot) {
  struct listener *l = listener_get(r, slot);
  if (!l) return -1;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(l->fd, (struct sockaddr *)&ss, &len) < 0) return -1;
  char text[INET6_ADDRSTRLEN];
  int port;
  format_addr(&ss, text, sizeof text, &port);
  return port;
}

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
                  const struct relay_accounting *acct) {
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
  size_t total = preface_len + pending_len;
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
    if (pending_len) memcpy(buf + preface_len, pending, pending_len);
    c->pend[0] = (struct pending){buf, 0, (uint32_t)total};
  }
  c->fd[1] = fd;
  c->side[1] = 0;
  c->acct = *acct;
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
    c->state = ST_IDLE;
    return e;
  }
  wheel_file(r, c);
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

void relay_poll(struct relay *r) {
  struct epoll_event evs[POLL_BATCH];
  int n = epoll_wait(r->ep, evs, POLL_BATCH, 0);
  if (n <= 0) return;
  r->now = relay_now(r);
  r->in_batch = 1;
  for (int i = 0; i < n; i++) {
    uint64_t u = evs[i].data.u64;
    int tag = (int)(u & TAG_MASK);
    void *p = (void *)(uintptr_t)(u & ~(uint64_t)TAG_MASK);
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
        double due = deadline(c);
        if (due > 0 && r->now >= due) {
          if (c->state == ST_CONNECTING) {
            /* the connect timeout: reported like a failed connect */
            connect_failed(r, c, ETIMEDOUT);
          } else {
            conn_finish(r, c, END_IDLE_TIMEOUT, 0, 0);
          }
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
