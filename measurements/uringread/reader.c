// reader: the C half of measurements/uringread, a reader of WebSocket frames doing nothing
// else, reading them one of three ways (run.sh builds it, runs it and measures its CPU).
//
//   reader MODE HOST PORT PATH CONNECTIONS SECONDS
//
// It opens CONNECTIONS WebSocket connections, asks each socket for the kernel's receive
// time (SO_TIMESTAMPNS) as the load generator does, and reads frames:
//   epoll       epoll_wait, then one recvmsg a ready socket (the load generator's pollers);
//   uring       an io_uring multishot recvmsg a socket, buffers from a ring, completions
//               reaped by io_uring_enter (IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN);
//   uring-coop  the same with IORING_SETUP_COOP_TASKRUN.
// It stops after SECONDS and prints the frames and receive times it read; none is a failure.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

// conn is one connection's place in its frame stream: the header bytes seen of the next
// frame, or the payload bytes still to skip.
struct conn {
	int fd;
	unsigned char hdr[10];
	int have, skip;
};

static long frames, stamps;

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

// consume counts the frames that end in p[:n] (server frames: unmasked, no extensions).
static void consume(struct conn *c, const unsigned char *p, int n) {
	while (n > 0) {
		if (c->skip > 0) {
			int k = n < c->skip ? n : c->skip;
			c->skip -= k, p += k, n -= k;
			if (c->skip == 0) frames++;
			continue;
		}
		c->hdr[c->have++] = *p++, n--;
		if (c->have < 2) continue;
		int len = c->hdr[1] & 127, want = len == 126 ? 4 : len == 127 ? 10 : 2;
		if (c->have < want) continue;
		long long size = len;
		if (len == 126) size = (c->hdr[2] << 8) | c->hdr[3];
		if (len == 127) for (size = 0, len = 2; len < 10; len++) size = size << 8 | c->hdr[len];
		c->have = 0;
		c->skip = (int)size;
		if (size == 0) frames++;
	}
}

// stamp reads the kernel's receive time from a message's control data.
static void stamp(struct msghdr *m) {
	for (struct cmsghdr *h = CMSG_FIRSTHDR(m); h; h = CMSG_NXTHDR(m, h)) {
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_TIMESTAMPNS) {
			stamps++;
		}
	}
}

static int dial(const char *host, int port, const char *path) {
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	inet_pton(AF_INET, host, &a.sin_addr);
	if (connect(fd, (void *)&a, sizeof a) < 0) {
		fprintf(stderr, "reader: connect %s:%d: %s\n", host, port, strerror(errno));
		exit(3);
	}
	char req[512];
	int n = snprintf(req, sizeof req,
		"GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
		path, host, port);
	if (write(fd, req, n) != n) {
		perror("reader: handshake");
		exit(3);
	}
	char buf[2048];
	int got = 0; // byte by byte: the first frame must stay in the socket
	while (got < (int)sizeof buf) {
		if (read(fd, buf + got, 1) != 1) {
			perror("reader: handshake");
			exit(3);
		}
		got++;
		if (got >= 4 && memcmp(buf + got - 4, "\r\n\r\n", 4) == 0) break;
	}
	if (got < 12 || memcmp(buf, "HTTP/1.1 101", 12) != 0) {
		fprintf(stderr, "reader: handshake refused: %.*s\n", got, buf);
		exit(3);
	}
	int on = 1;
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static void readEpoll(struct conn *cs, int n, double end) {
	int ep = epoll_create1(0);
	for (int i = 0; i < n; i++) {
		struct epoll_event e = {.events = EPOLLIN, .data.u32 = i};
		epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &e);
	}
	static unsigned char buf[65536];
	char ctl[128];
	struct epoll_event ev[256];
	do {
		int k = epoll_wait(ep, ev, 256, 100);
		for (int j = 0; j < k; j++) {
			struct conn *c = &cs[ev[j].data.u32];
			struct iovec io = {buf, sizeof buf};
			struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
			int r = recvmsg(c->fd, &m, 0);
			if (r > 0) {
				stamp(&m);
				consume(c, buf, r);
			}
		}
	} while (now() < end);
}

static void arm(struct io_uring *ring, struct msghdr *mh, struct conn *cs, int i) {
	struct io_uring_sqe *s = io_uring_get_sqe(ring);
	io_uring_prep_recvmsg_multishot(s, cs[i].fd, mh, 0);
	s->flags |= IOSQE_BUFFER_SELECT;
	s->buf_group = 1;
	io_uring_sqe_set_data64(s, i);
}

static void readUring(struct conn *cs, int n, unsigned flags, double end) {
	struct io_uring ring;
	struct io_uring_params p = {.flags = flags};
	int rc = io_uring_queue_init_params(4096, &ring, &p);
	if (rc < 0) {
		fprintf(stderr, "reader: io_uring: %s\n", strerror(-rc));
		exit(3);
	}
	enum { nbuf = 4096, bufSize = 4096 };
	struct io_uring_buf_ring *br = mmap(NULL, nbuf * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	io_uring_buf_ring_init(br);
	struct io_uring_buf_reg reg = {.ring_addr = (unsigned long)br, .ring_entries = nbuf, .bgid = 1};
	if ((rc = io_uring_register_buf_ring(&ring, &reg, 0)) != 0) {
		fprintf(stderr, "reader: buffer ring: %s\n", strerror(-rc));
		exit(3);
	}
	unsigned char *mem = malloc((size_t)nbuf * bufSize);
	for (int i = 0; i < nbuf; i++) io_uring_buf_ring_add(br, mem + (size_t)i * bufSize, bufSize, i, io_uring_buf_ring_mask(nbuf), i);
	io_uring_buf_ring_advance(br, nbuf);
	struct msghdr mh = {.msg_controllen = 64}; // the room each buffer keeps for control data
	for (int i = 0; i < n; i++) arm(&ring, &mh, cs, i);
	io_uring_submit(&ring);
	long rearmed = 0;
	do {
		struct __kernel_timespec ts = {0, 100000000};
		struct io_uring_cqe *cqe;
		io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts, NULL);
		unsigned head, seen = 0;
		io_uring_for_each_cqe(&ring, head, cqe) {
			seen++;
			int i = (int)cqe->user_data;
			if (cqe->res < 0 && cqe->res != -ENOBUFS) {
				fprintf(stderr, "reader: recvmsg on connection %d: %s\n", i, strerror(-cqe->res));
				exit(1);
			}
			if (cqe->res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
				int bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
				void *b = mem + (size_t)bid * bufSize;
				struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(b, cqe->res, &mh);
				unsigned payload = o ? io_uring_recvmsg_payload_length(o, cqe->res, &mh) : 0;
				if (payload == 0) { // a multishot recvmsg's end of stream: a header, no payload
					fprintf(stderr, "reader: connection %d ended\n", i);
					exit(1);
				}
				// The control data follows the room kept for the name (none asked for).
				struct msghdr m = {.msg_control = (char *)(o + 1) + mh.msg_namelen, .msg_controllen = o->controllen};
				stamp(&m);
				consume(&cs[i], io_uring_recvmsg_payload(o, &mh), payload);
				io_uring_buf_ring_add(br, b, bufSize, bid, io_uring_buf_ring_mask(nbuf), 0);
				io_uring_buf_ring_advance(br, 1);
			}
			if (!(cqe->flags & IORING_CQE_F_MORE)) { // stopped (out of buffers): again
				arm(&ring, &mh, cs, i);
				rearmed++;
			}
		}
		io_uring_cq_advance(&ring, seen);
	} while (now() < end);
	if (rearmed) fprintf(stderr, "reader: %ld receives armed again\n", rearmed);
}

int main(int argc, char **argv) {
	if (argc != 7) {
		fprintf(stderr, "usage: reader epoll|uring|uring-coop HOST PORT PATH CONNECTIONS SECONDS\n");
		return 2;
	}
	const char *mode = argv[1];
	int n = atoi(argv[5]);
	struct conn *cs = calloc(n, sizeof *cs);
	for (int i = 0; i < n; i++) cs[i].fd = dial(argv[2], atoi(argv[3]), argv[4]);
	double end = now() + atof(argv[6]);
	if (strcmp(mode, "epoll") == 0)
		readEpoll(cs, n, end);
	else if (strcmp(mode, "uring") == 0)
		readUring(cs, n, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, end);
	else if (strcmp(mode, "uring-coop") == 0)
		readUring(cs, n, IORING_SETUP_COOP_TASKRUN, end);
	else {
		fprintf(stderr, "reader: unknown mode %s\n", mode);
		return 2;
	}
	if (frames == 0 || stamps == 0) {
		fprintf(stderr, "reader: %ld frames, %ld receive times\n", frames, stamps);
		return 1;
	}
	printf("reader %s: %ld frames, %ld receive times\n", mode, frames, stamps);
	return 0;
}
