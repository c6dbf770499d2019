// What the native relay watches on a connection until its backend answers, as
// the JavaScript relay does in first-bytes.ts and backend-attempt.ts:
// - the copy of the client's bytes that a retry after an empty answer sends
//   again to the next backend (retry_on empty_response, HAProxy's retry-on
//   empty-response), at most retry_buffer bytes, dropped at the first byte;
// - an empty answer: the backend closes or resets before its first byte while
//   that is its failure, not an answer (empty_answer below): retried, or passed
//   on as it came (a FIN as a half-close);
// - the backend's FIN before its first byte: its whole answer, which ends the
//   replay copy and the first-byte timeout (backend_fin);
// - the first bytes of the side that speaks first, handed to JavaScript
//   (EV_PEEK), whose classifier (edge/sniff.ts) counts the protocol: no
//   protocol is recognised here.
#define _GNU_SOURCE
#include "relay-int.h"

/* ---- the replay copy ---- */

void replay_drop(struct relay_conn *c) {
  free(c->replay.data);
  c->replay = (struct replay){0};
}

/* Keeps a copy of `n` client bytes; past replay.max none is kept any more (that client is not replayed). */
void replay_keep(struct relay_conn *c, const char *data, size_t n) {
  struct replay *p = &c->replay;
  if (p->max == 0 || n == 0) return;
  if (n > p->max - p->len) {
    replay_drop(c);
    return;
  }
  if (p->len + n > p->cap) {
    /* doubling, from 4 KiB, never past max */
    uint32_t cap = p->cap ? p->cap : 4096;
    while (cap < p->len + n) cap = cap > p->max / 2 ? p->max : cap * 2;
    if (cap > p->max) cap = p->max;
    char *data2 = realloc(p->data, cap);
    if (!data2) {
      /* out of memory: not replayed, as if it had outgrown the buffer */
      replay_drop(c);
      return;
    }
    p->data = data2;
    p->cap = cap;
  }
  memcpy(p->data + p->len, data, n);
  p->len += (uint32_t)n;
}

/* ---- an empty answer ---- */

/*
 * The backend closed (err 0: a FIN) or reset before its first byte. That is
 * the backend failing, not an answer, when nothing has happened yet (no byte
 * either way, the client still there, within the connect timeout of the
 * connect: a process that died with connections in its accept queue), or when
 * the client's bytes are kept for a replay and it still waits (a FIN after the
 * client's own FIN is an answer; a reset never is). A FIN already passed on
 * was the backend's answer: what follows it is no empty answer.
 * When the connect's `retry` allows it, the attempt fails (EV_CONNECT_FAILED:
 * ENODATA for a FIN, ECONNRESET for a reset; the backend reset, never left to
 * take a half-sent exchange for a whole one; the client kept for JavaScript to
 * send elsewhere) and 1 is returned. Else EV_EMPTY_ANSWER counts it and 0 is
 * returned: the caller passes it on as it came, a FIN as a half-close, a reset
 * as a reset (backend-attempt.ts emptyResponse and relay-pump.ts do the same).
 */
int empty_answer(struct relay *r, struct relay_conn *c, int err) {
  if (c->bytes[1] != 0 || (c->side[1] & S_RD_EOF)) return 0;
  int ended = (c->side[0] & S_RD_EOF) != 0;
  int silent = c->bytes[0] == 0 && !ended && r->now - c->t_connected <= c->connect_ms;
  int replayable = c->replay.max > 0 && c->replay.len > 0 && (err != 0 || !ended);
  if (!silent && !replayable) return 0;
  int code = err == 0 ? ENODATA : ECONNRESET;
  if ((silent && (c->retry & RELAY_RETRY_SILENT)) || (replayable && (c->retry & RELAY_RETRY_REPLAY))) {
    connect_failed(r, c, code, 1);
    return 1;
  }
  r->emit(r->ctx, EV_EMPTY_ANSWER, c->id, code, 0, 0, 0, r->now, NULL, 0);
  return 0;
}

/*
 * The backend's FIN was read (and is passed on). Before its first byte it is
 * the backend's whole answer: nothing is replayed any more (the client is
 * about to see the FIN), and no first byte is waited for (deadline() drops the
 * first-byte timeout), as first-bytes.ts does at the backend's 'end'.
 */
void backend_fin(struct relay *r, struct relay_conn *c) {
  if (c->first_byte_sent) return;
  replay_drop(c);
  if (c->in_wheel) wheel_file(r, c);
}

/* ---- the first bytes, for protocol counting ---- */

/*
 * `n` bytes were read from side d. Only the side that spoke first is looked at
 * (protocol-watch.ts), until watch_bytes were read from it or the classifier
 * surely has its answer (WATCH_*_MAX); each read is handed over in pieces of
 * RELAY_TEXT_MAX bytes, which JavaScript joins before it classifies them.
 */
void watch_feed(struct relay *r, struct relay_conn *c, int d, const char *data, size_t n) {
  if (c->watch_max == 0 || n == 0) return;
  if (c->watch_side < 0) c->watch_side = (int8_t)d;
  else if (c->watch_side != d) return;
  size_t cap = d == 0 ? WATCH_CLIENT_MAX : WATCH_SERVER_MAX;
  size_t give = cap - c->watch_given;
  if (give > n) give = n;
  for (size_t off = 0; off < give; off += RELAY_TEXT_MAX) {
    size_t k = give - off < RELAY_TEXT_MAX ? give - off : RELAY_TEXT_MAX;
    r->emit(r->ctx, EV_PEEK, c->id, d, (double)(give - off - k), 0, 0, r->now, data + off, k);
  }
  c->watch_given += (uint32_t)give;
  c->watch_seen += (uint32_t)n;
  if (c->watch_seen >= c->watch_max || c->watch_given >= cap) c->watch_max = 0;
}
