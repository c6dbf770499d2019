// Inside the native relay (relay.h is its interface): the state every part
// shares, and the calls between its parts. conn.c: time, the timer wheel,
// connection slots and ids, pipes and the one end of a connection; relay.c:
// moving bytes, half-close, resets, the connect's outcome; early.c: what is
// watched until the backend's first byte (the replay copy, an empty answer,
// the first bytes for protocol counting); listen.c: listening and accepting;
// api.c: the instance and the public calls for one connection.
#ifndef NETMON_RELAY_INT_H
#define NETMON_RELAY_INT_H
/* each .c defines _GNU_SOURCE first (splice, accept4, pipe2) */
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
/* TAG_LOOP: the worker's libuv epoll fd, watched while the relay waits in the loop's place (relay_watch_loop) */
enum { TAG_CLIENT = 0, TAG_BACKEND = 1, TAG_LISTENER = 2, TAG_LOOP = 3, TAG_MASK = 3 };

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

/* the client's protocol is known from its first 24 bytes (sniff.ts: the HTTP/2 preface is the longest
   signature): one event's worth is handed over; a server's greeting line from its first 512 (sniff.ts
   MAX_GREETING_LINE). Past these the classifier has its answer, so handing over more changes nothing. */
#define WATCH_CLIENT_MAX RELAY_TEXT_MAX
#define WATCH_SERVER_MAX 512

/* what a connection's timer is due for (deadline()) */
enum { DUE_NONE, DUE_CONNECT, DUE_IDLE, DUE_CLIENT_IDLE, DUE_FIRST_BYTE };

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

/* the client's bytes kept for a replay (relay_options.replay_max); max 0: none kept (off, over, answered) */
struct replay {
  char *data;
  uint32_t len, cap, max;
};

struct relay_conn {
  double id;
  uint32_t slot;
  uint8_t state;
  uint8_t side[2];
  int8_t first_fin; /* the side whose FIN came first, -1 none */
  uint8_t bulk[2]; /* BULK_*: how direction d moves */
  uint8_t first_byte_sent; /* EV_FIRST_BYTE reported */
  uint8_t retry; /* enum relay_retry: the empty answers that fail the current attempt */
  int fd[2];
  uint32_t pending_in; /* client bytes among pend[0] at the connect (counted once connected) */
  struct pending pend[2]; /* bytes read in direction d, not yet written */
  struct pipe_pair *pipe[2];
  uint32_t piped[2];
  double bytes[2];
  struct relay_accounting acct;
  uint32_t idle_ms, connect_ms, client_idle_ms, first_byte_ms;
  struct replay replay;
  uint32_t replayed; /* bytes of the replay in pend[0] for the current attempt (counted once connected) */
  /* protocol counting (EV_PEEK): the side handed over (-1: none yet), bytes read and handed from it;
     watch_max 0: done or off */
  int8_t watch_side;
  uint32_t watch_max, watch_seen, watch_given;
  double last; /* last byte either way, or the connect start */
  double t_connect; /* when the connect began */
  double t_connected; /* when it completed */
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
  /* the loop's epoll fd while it is watched here (relay_watch_loop), else -1 */
  int loop_fd;
  /* listeners by slot */
  struct listener **listeners;
  uint32_t nlisteners;
  uint32_t paused;
  /* the descriptor number accepting stops at (relay_set_fd_ceiling), 0: none */
  int fd_ceiling;
  /* the timer wheel: slot tick % RELAY_WHEEL_SLOTS holds connections due at tick */
  struct relay_conn *wheel[RELAY_WHEEL_SLOTS];
  uint32_t tick_ms;
  uint64_t wheel_tick; /* last tick processed */
  uint32_t in_wheel;
  struct pipe_pair *pipes;
  uint32_t npipes;
};


/* conn.c */
/* when connection c is next due (0: never), and for what (*what: DUE_*) */
double deadline(const struct relay_conn *c, int *what);
void wheel_remove(struct relay *r, struct relay_conn *c);
void wheel_file(struct relay *r, struct relay_conn *c);
struct relay_conn *conn_new(struct relay *r, int client_fd);
struct relay_conn *conn_get(struct relay *r, double id);
void close_fd(int fd, int reset);
void pipe_release(struct relay *r, struct relay_conn *c, int d);
struct pipe_pair *pipe_take(struct relay *r);
void conn_end(struct relay *r, struct relay_conn *c, int reset_mask);
void bury(struct relay *r);
void conn_finish(struct relay *r, struct relay_conn *c, int why, int err, int reset_mask);
/* relay.c */
void pump(struct relay *r, struct relay_conn *c);
/* bytes read from side d: counted (and timed) */
void account(struct relay *r, struct relay_conn *c, int d, size_t n);
/* epoll: watch fd with `ptr` tagged `tag` (TAG_*); 0 or -errno */
int watch(struct relay *r, int fd, void *ptr, int tag, uint32_t events);
void connect_failed(struct relay *r, struct relay_conn *c, int err, int reset);
/* early.c */
void replay_keep(struct relay_conn *c, const char *data, size_t n);
void replay_drop(struct relay_conn *c);
int empty_answer(struct relay *r, struct relay_conn *c, int err);
void backend_fin(struct relay *r, struct relay_conn *c);
void watch_feed(struct relay *r, struct relay_conn *c, int d, const char *data, size_t n);
void on_socket(struct relay *r, struct relay_conn *c, int s, uint32_t ev);
/* listen.c */
struct listener *listener_get(const struct relay *r, uint32_t slot);
void format_addr(const struct sockaddr_storage *ss, char *text, size_t len, int *port);
void resume_listeners(struct relay *r);
void on_listener(struct relay *r, struct listener *l);
int parse_addr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len);

#endif
