// The native relay's listeners (relay-int.h): bind and listen (or take an
// inherited socket), accept in batches, pause for a moment when out of
// descriptors, and addresses to and from text.
#define _GNU_SOURCE
#include "relay-int.h"

/* ---- listeners ---- */

struct listener *listener_get(const struct relay *r, uint32_t slot) {
  return slot < r->nlisteners ? r->listeners[slot] : NULL;
}

void format_addr(const struct sockaddr_storage *ss, char *text, size_t len, int *port) {
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

void resume_listeners(struct relay *r) {
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

void on_listener(struct relay *r, struct listener *l) {
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
      r->emit(r->ctx, EV_LISTEN_ERROR, l->slot, err, 0, 0, 0, r->now, NULL, 0);
      return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct relay_conn *c = conn_new(r, fd);
    if (!c || watch(r, fd, c, TAG_CLIENT, SOCKET_EVENTS) < 0) {
      if (c) conn_end(r, c, 0);
      else close(fd);
      r->emit(r->ctx, EV_LISTEN_ERROR, l->slot, ENOMEM, 0, 0, 0, r->now, NULL, 0);
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
    r->emit(r->ctx, EV_ACCEPT, c->id, l->slot, port, v4, 0, r->now, v4 >= 0 ? NULL : text, strlen(text));
    /* near the limit: what is left is for the backend sockets of the clients just accepted */
    if (r->fd_ceiling > 0 && fd + k + 1 >= r->fd_ceiling) {
      pause_listener(r, l);
      r->emit(r->ctx, EV_LISTEN_ERROR, l->slot, EMFILE, 0, 0, 0, r->now, NULL, 0);
      return;
    }
  }
}

void relay_set_fd_ceiling(struct relay *r, int ceiling) { r->fd_ceiling = ceiling > 0 ? ceiling : 0; }

/* host (IP literal, optional %zone) and port into a socket address. 0 or -EINVAL. */
int parse_addr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len) {
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

int relay_accept_queue(int fd) {
  struct tcp_info ti;
  socklen_t len = sizeof ti;
  memset(&ti, 0, sizeof ti);
  if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 || ti.tcpi_state != TCP_LISTEN) return -1;
  return (int)ti.tcpi_unacked;
}

int relay_unlisten(struct relay *r, uint32_t slot) {
  struct listener *l = listener_get(r, slot);
  if (!l) return -1;
  if (l->paused) r->paused--;
  /* read right before the close, which resets them (a client that completes its handshake in between is
     reset uncounted) */
  int queued = relay_accept_queue(l->fd);
  /* a listener's event may be in the batch being handled: the struct is freed with it, never reused */
  close(l->fd);
  r->listeners[slot] = NULL;
  free(l);
  return queued;
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
