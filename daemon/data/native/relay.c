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
#include "relay-int.h"

/* Side `s` failed with `err`: the other side is reset, the connection ends. */
static void side_failed(struct relay *r, struct relay_conn *c, int s, int err) {
  if (s == 1 && (err == ECONNRESET || err == EPIPE) && empty_answer(r, c, err)) return;
  int reset = err == ECONNRESET || err == EPIPE;
  int why = s == 0 ? (reset ? END_CLIENT_RESET : END_CLIENT_ERROR) : (reset ? END_BACKEND_RESET : END_BACKEND_ERROR);
  conn_finish(r, c, why, err, s == 0 ? 2 : 1);
}

/* ---- the relay ---- */

void account(struct relay *r, struct relay_conn *c, int d, size_t n) {
  c->bytes[d] += (double)n;
  c->last = r->now;
  double *t = r->counters;
  if (!t) return;
  int32_t a = d == 0 ? c->acct.listener_in : c->acct.listener_out;
  int32_t b = d == 0 ? c->acct.backend_in : c->acct.backend_out;
  if (a >= 0) t[a] += (double)n;
  if (b >= 0) t[b] += (double)n;
}

/* The first byte each way: the client's starts the first-byte clock (and its timeout), the backend's ends it. */
static void first_bytes(struct relay *r, struct relay_conn *c, int d) {
  if (d == 0) {
    if (c->t_first_in != 0) return;
    c->t_first_in = relay_now(r);
    /* the first-byte timeout may now be due before what the wheel holds it for */
    if (c->first_byte_ms > 0 && !c->first_byte_sent) wheel_file(r, c);
    return;
  }
  if (c->first_byte_sent) return;
  c->first_byte_sent = 1;
  /* the backend answered: nothing to replay any more, whatever happens next */
  replay_drop(c);
  c->t_first_out = relay_now(r);
  r->emit(r->ctx, EV_FIRST_BYTE, c->id, c->t_first_out, c->t_first_in, 0, 0, c->t_first_out, NULL, 0);
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
        if (d == 0) replay_keep(c, r->buf, (size_t)n);
        watch_feed(r, c, d, r->buf, (size_t)n);
        /* a short read emptied the socket (a stream socket returns what it holds): no recv just for EAGAIN,
           unless a FIN came (it must be read) */
        if (n < RELAY_BUF_SIZE) {
          if (!(c->side[src] & S_RDHUP)) c->side[src] &= ~S_READABLE;
        } else if (c->bulk[d] == BULK_NO && !(d == 0 && c->replay.max > 0)) {
          /* (client bytes kept for a replay must pass through user space: no splice while they are) */
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
      if (src == 1 && empty_answer(r, c, 0)) return -1;
      c->side[src] |= S_RD_EOF;
      c->side[src] &= ~S_READABLE;
      if (src == 1) backend_fin(r, c);
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

void pump(struct relay *r, struct relay_conn *c) {
  if (move(r, c, 0) < 0) return;
  move(r, c, 1);
}

int watch(struct relay *r, int fd, void *ptr, int tag, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.u64 = (uint64_t)(uintptr_t)ptr | (uint64_t)tag};
  return epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}


/*
 * The attempt failed (err): back to a client alone, which JavaScript may send
 * elsewhere (with the replay copy) or close. The backend is closed, or reset
 * (`reset`) when it may take a half-sent exchange for a complete one.
 */
void connect_failed(struct relay *r, struct relay_conn *c, int err, int reset) {
  wheel_remove(r, c);
  close_fd(c->fd[1], reset);
  c->fd[1] = -1;
  c->side[1] = 0;
  /* client bytes not yet written are in the replay copy when they are wanted again */
  free(c->pend[0].data);
  c->pend[0] = (struct pending){0};
  c->pending_in = 0;
  c->replayed = 0;
  for (int d = 0; d < 2; d++) pipe_release(r, c, d);
  /* the next attempt's first byte is timed afresh */
  c->t_first_in = 0;
  c->state = ST_IDLE;
  double now = relay_now(r);
  int replay = c->replay.max > 0 && c->replay.len > 0;
  r->emit(r->ctx, EV_CONNECT_FAILED, c->id, err, now, replay, 0, now, NULL, 0);
}

/* The backend's connect completed (or failed: only then is SO_ERROR read). */
static void connected(struct relay *r, struct relay_conn *c, uint32_t ev) {
  int err = 0;
  if (ev & (EPOLLERR | EPOLLHUP)) {
    socklen_t len = sizeof err;
    if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  }
  if (err != 0) {
    connect_failed(r, c, err, 0);
    return;
  }
  c->state = ST_RELAYING;
  c->last = r->now;
  c->t_connected = r->now;
  double now = relay_now(r);
  r->emit(r->ctx, EV_CONNECTED, c->id, now, c->t_connect, 0, 0, now, NULL, 0);
  /* a replay was written first: counted for this backend only (the client's were counted once), and it starts
     the first-byte clock */
  if (c->replayed > 0) {
    if (r->counters && c->acct.backend_in >= 0) r->counters[c->acct.backend_in] += c->replayed;
    c->t_first_in = now;
    c->replayed = 0;
  }
  /* the client bytes read before the relay are relayed first (the last bytes of pend[0]): counted now, kept
     for a replay, looked at for the protocol, and they start the first-byte clock */
  if (c->pending_in > 0) {
    const char *p = c->pend[0].data + c->pend[0].off + c->pend[0].len - c->pending_in;
    account(r, c, 0, c->pending_in);
    replay_keep(c, p, c->pending_in);
    watch_feed(r, c, 0, p, c->pending_in);
    c->t_first_in = now;
    c->pending_in = 0;
  }
  wheel_file(r, c);
  pump(r, c);
}

void on_socket(struct relay *r, struct relay_conn *c, int s, uint32_t ev) {
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
