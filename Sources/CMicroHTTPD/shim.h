#ifndef AUTOTUNE_CMICROHTTPD_SHIM_H
#define AUTOTUNE_CMICROHTTPD_SHIM_H
#include <stdint.h>
#include <stddef.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <microhttpd.h>

/* MHD_start_daemon takes its options as C varargs, which Swift cannot pass: this fixes the
   options the dashboard uses. `address` is the socket address to bind (IPv4 or IPv6). */
static inline struct MHD_Daemon *autotune_mhd_start(const struct sockaddr *address, MHD_AccessHandlerCallback handler,
                                                    void *context, unsigned int connection_limit,
                                                    unsigned int timeout_seconds, size_t memory_limit) {
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (address->sa_family == AF_INET6) flags |= MHD_USE_IPv6;
    return MHD_start_daemon(flags, 0, NULL, NULL, handler, context,
                            MHD_OPTION_SOCK_ADDR, address,
                            MHD_OPTION_CONNECTION_LIMIT, connection_limit,
                            MHD_OPTION_CONNECTION_TIMEOUT, timeout_seconds,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, memory_limit,
                            MHD_OPTION_END);
}

/* The port a daemon started on port 0 was given. */
static inline uint16_t autotune_mhd_port(struct MHD_Daemon *daemon) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}
#endif
