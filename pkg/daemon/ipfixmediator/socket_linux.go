package ipfixmediator

import (
	"net"

	"golang.org/x/sys/unix"
)

// setReadBuffer gives the socket readBuffer bytes, beyond
// net.core.rmem_max when the process may (CAP_NET_ADMIN, as the chart's
// privileged daemon has), else as much as rmem_max allows: the default,
// 208 KiB, holds a few hundred of ovs-vswitchd's datagrams, fewer than
// one second of records at one per packet.
func setReadBuffer(c *net.UDPConn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var forced error
	if err := raw.Control(func(fd uintptr) {
		forced = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, readBuffer)
	}); err == nil && forced == nil {
		return nil
	}
	return c.SetReadBuffer(readBuffer)
}
