// netmon's native relay: the byte mover for established connections, one
// instance per worker thread. It accepts on listening sockets, connects to the
// backend JavaScript picked, and relays both ways in one epoll set, with
// splice(2) through a pipe for bulk and recv/send through one shared buffer for
// small messages. Every decision (admission, balancing, retries, what to log)
// stays in JavaScript; this code only moves bytes and reports what happened as
// events (relay_event_fn). Nothing here depends on Node: binding.c wires it to
// the worker's libuv loop and to JavaScript.
#ifndef NETMON_RELAY_H
#define NETMON_RELAY_H

#include <stddef.h>
#include <stdint.h>

/* What the relay reports. Every event carries the connection id (or the listener slot). */
enum relay_event {
  /* a client was accepted: a = listener key, b = its port, c = its IPv4 address as a number (IPv4-mapped too),
     else -1 and the address text is passed along */
  EV_ACCEPT = 1,
  /* the backend connect completed: a = when (ms, the instance's clock), b = when the connect began */
  EV_CONNECTED = 2,
  /* the attempt at the backend failed, the client is kept: a = errno (ETIMEDOUT: the connect timeout;
     ENODATA, ECONNRESET: the backend closed or reset before answering, an empty answer the connect's `retry`
     allows to retry (empty_answer in early.c), the backend reset; ETIME: no first byte within first_byte_ms,
     the backend reset), b = time, c = 1 when the client's bytes are kept for a replay */
  EV_CONNECT_FAILED = 3,
  /* the backend's first byte was relayed: a = when, b = when the first client byte was relayed (0: none yet) */
  EV_FIRST_BYTE = 4,
  /* the connection is closed and forgotten: a = enum relay_end, b = bytes in, c = bytes out, d = errno or 0 */
  EV_CLOSED = 5,
  /* accept(2) failed on a listener: a = errno; the listener pauses for RELAY_ACCEPT_PAUSE_MS when out of fds */
  EV_LISTEN_ERROR = 6,
  /* the first bytes of the side that spoke first, for protocol counting (relay_options.watch_bytes):
     a = the side (0 client, 1 backend), b = bytes of the same read that follow in the next EV_PEEK (0: the
     read's last piece), text = at most RELAY_TEXT_MAX bytes */
  EV_PEEK = 7,
  /* an empty answer no retry was allowed for (the connect's `retry`): the backend closed (a = ENODATA) or
     reset (a = ECONNRESET) before its first byte while that was its failure; passed on as it came, a FIN as
     a FIN (half-close: the client's bytes still reach the backend), a reset as a reset (EV_CLOSED follows) */
  EV_EMPTY_ANSWER = 8,
};

/**
 * What an empty answer may do on one attempt (relay_connect `retry`): fail the
 * attempt (EV_CONNECT_FAILED, the backend reset, the client kept for another)
 * rather than be passed on (EV_EMPTY_ANSWER). As the JavaScript relay decides
 * in backend-attempt.ts emptyResponse.
 */
enum relay_retry {
  /* a backend that closes or resets before anything happened (retry_on connect_failure, attempts left) */
  RELAY_RETRY_SILENT = 1,
  /* one that does while the client's bytes are kept for a replay (retry_on empty_response, attempts left) */
  RELAY_RETRY_REPLAY = 2,
};

/* How a connection ended (EV_CLOSED a): the access log's terminations. */
enum relay_end {
  END_CLIENT_CLOSE = 0, /* both sides sent FIN, the client first */
  END_BACKEND_CLOSE = 1, /* both sides sent FIN, the backend first */
  END_IDLE_TIMEOUT = 2, /* no byte either way for the idle timeout: both closed */
  END_CLIENT_RESET = 3, /* the client reset (RST): the backend was reset */
  END_BACKEND_RESET = 4, /* the backend reset (RST): the client was reset */
  END_CLIENT_ERROR = 5, /* another error on the client socket: the backend was reset */
  END_BACKEND_ERROR = 6, /* another error on the backend socket: the client was reset */
  END_CLIENT_IDLE_TIMEOUT = 7, /* no byte from or to the client for relay_options.client_idle_ms: both closed */
};

#define RELAY_BUF_SIZE (64 * 1024)
#define RELAY_ACCEPT_PAUSE_MS 100
#define RELAY_ACCEPT_BATCH 64
#define RELAY_WHEEL_SLOTS 512
/* the most bytes of text one event carries (an address, a piece of the first bytes) */
#define RELAY_TEXT_MAX 48

struct relay;
struct relay_conn;

/**
 * Called for every event, in order, with when it happened (`at`, the
 * instance's clock, to the batch: the start of the poll or tick that found it).
 * `text` (`text_len` bytes, at most RELAY_TEXT_MAX) is the client address for
 * EV_ACCEPT when not IPv4, or the bytes of EV_PEEK, else NULL. The callee must
 * not call back into the relay for the same connection except through the
 * public functions below, which are safe to call from inside the callback.
 */
typedef void (*relay_event_fn)(void *ctx, int type, double id, double a, double b, double c, double d, double at,
                               const char *text, size_t text_len);

/** Where a connection's byte counts are added: indices into the counters array, -1 = none. */
struct relay_accounting {
  int32_t listener_in, listener_out, backend_in, backend_out;
};

/**
 * What one connection needs beyond moving bytes, set once before its first
 * connect (relay_configure); 0 turns each off. They are what the JavaScript
 * relay does in first-bytes.ts and relay-pump.ts.
 */
struct relay_options {
  /* the listener's timeouts.client_idle: no byte from or to the client this long ends it (END_CLIENT_IDLE_TIMEOUT) */
  uint32_t client_idle_ms;
  /* the pool's timeouts.first_byte: no backend byte this long after the first client byte relayed to it
     (or the replay) ends the attempt (EV_CONNECT_FAILED ETIME, the backend reset) */
  uint32_t first_byte_ms;
  /* the pool's retry_buffer under retry_on empty_response: the client's bytes kept until the backend's first
     byte, sent again to the next backend after a failed attempt; more than this: none kept */
  uint32_t replay_max;
  /* the listener's inspect_bytes when it counts protocols without routes: EV_PEEK hands over the first bytes
     of the side that speaks first until this many were read */
  uint32_t watch_bytes;
};

/** A new instance (its own epoll set), or NULL with errno set. `tick_ms`: the timer wheel's granularity. */
struct relay *relay_new(relay_event_fn emit, void *ctx, uint32_t tick_ms);
/** Closes every socket (resets for relayed connections) and frees the instance. */
void relay_free(struct relay *r);
/** The epoll fd to watch for readability; call relay_poll() when it is readable. */
int relay_fd(const struct relay *r);
/**
 * Watch `loop_fd` (the event loop's own epoll fd, libuv's uv_backend_fd) in the
 * relay's set, so that relay_poll() with a timeout returns when the loop has
 * something to do: the relay then waits in the loop's place. The relay's fd
 * must not be in the loop's set meanwhile (the kernel refuses a loop of epoll
 * sets: ELOOP). 0 or -errno. relay_unwatch_loop() undoes it.
 */
int relay_watch_loop(struct relay *r, int loop_fd);
void relay_unwatch_loop(struct relay *r);
/**
 * Accepting stops short of the descriptor limit: when an accepted socket's
 * number plus the clients of the same batch (each will want a backend socket)
 * reaches `ceiling`, the listener pauses as on EMFILE (RELAY_ACCEPT_PAUSE_MS)
 * and EV_LISTEN_ERROR reports EMFILE: the descriptors above it are left for
 * the connections already accepted (descriptors are given lowest first, so the
 * number counts those open below it). 0: no ceiling.
 */
void relay_set_fd_ceiling(struct relay *r, int ceiling);
/** The counters byte counts are added to (a shared table), `len` doubles. */
void relay_set_counters(struct relay *r, double *counters, size_t len);
/**
 * Waits up to `timeout_ms` (0: not at all, -1: no limit) for ready sockets and
 * handles them (at most one batch). Returns the number handled, 0 when the wait
 * ended with none, or -1 when the loop's fd (relay_watch_loop) is ready: the
 * loop has events of its own.
 */
int relay_poll(struct relay *r, int timeout_ms);
/** Expires connect, idle, client idle and first-byte timeouts; call every tick_ms. */
void relay_tick(struct relay *r);
/** True while the instance holds connections or paused listeners (the tick timer is needed). */
int relay_busy(const struct relay *r);
/** Open connections (accepted and not yet closed). */
uint32_t relay_count(const struct relay *r);
/** Milliseconds on the instance's clock: CLOCK_MONOTONIC minus `origin_ms` (set to match performance.now()). */
void relay_set_origin(struct relay *r, double origin_ms);
double relay_now(const struct relay *r);

/** Listen on host:port (IP literal, optional %zone) for listener `slot`, or take `fd` (>= 0). 0 or -errno. */
int relay_listen(struct relay *r, uint32_t slot, const char *host, int port, int backlog, int fd);
/**
 * Stop accepting for listener `slot` and close its socket. Returns how many
 * clients were in its accept queue just before the close (relay_accept_queue):
 * the kernel resets them; -1 when not known.
 */
int relay_unlisten(struct relay *r, uint32_t slot);
/**
 * Clients in the accept queue of the listening socket `fd` now (connected, not
 * yet accepted: what `ss -ltn` shows as Recv-Q), from TCP_INFO, which on
 * Linux gives it as tcpi_unacked for a socket in LISTEN; -1 when `fd` is not a
 * listening TCP socket.
 */
int relay_accept_queue(int fd);
/** The port listener `slot` is bound to, or -1. */
int relay_listen_port(const struct relay *r, uint32_t slot);

/** Take a connected client socket: `fd` is duplicated, the caller closes its own. The new id, or -errno. */
double relay_adopt(struct relay *r, int fd);
/**
 * Connect connection `id` to host:port (IP literal) and relay once connected:
 * `preface` (a PROXY header) is sent first, then the client bytes kept from a
 * failed attempt (a replay: counted for this backend only), then `pending`
 * (client bytes read before, counted as client bytes), then the client's
 * stream. `retry` (enum relay_retry bits) says which empty answers fail this
 * attempt. 0 or -errno (EV_CONNECT_FAILED reports a failure found later).
 */
int relay_connect(struct relay *r, double id, const char *host, int port, uint32_t connect_ms, uint32_t idle_ms,
                  const void *preface, size_t preface_len, const void *pending, size_t pending_len,
                  const struct relay_accounting *acct, uint32_t retry);
/** Set connection `id`'s options (before its first connect). 0, -ENOENT, or -EALREADY once connected. */
int relay_configure(struct relay *r, double id, const struct relay_options *o);
/**
 * Close connection `id` now: with `reset`, both sides get a RST (SO_LINGER 0),
 * else a normal close. No EV_CLOSED follows; its byte counts are written to
 * bytes[0..1] (in, out). 0, or -ENOENT for an unknown id.
 */
int relay_close(struct relay *r, double id, int reset, double bytes[2]);
/** The local and peer address of the client socket of `id`, as text and port. 0 or -errno. */
int relay_client_addresses(struct relay *r, double id, char *local, size_t local_len, int *local_port,
                           char *peer, size_t peer_len, int *peer_port);

#endif
