package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// server answers on a set of TCP listeners and UDP sockets.
type server struct {
	// tcp holds one dual-stack listener per TCP port.
	tcp []net.Listener
	// udp holds an IPv4 and, where the namespace has IPv6, an IPv6 socket
	// per UDP port, each reporting the destination address of a datagram so
	// the answer leaves from that address (a multi-homed host would
	// otherwise answer from whichever address routing picks, which breaks
	// NAT and conntrack).
	udp []*net.UDPConn
	// log receives one line per answered request; nil logs nothing.
	log io.Writer
	// logMu serialises log lines from the serving goroutines.
	logMu sync.Mutex
}

// listen opens every port; on error nothing stays open.
func listen(tcpList, udpList string) (*server, error) {
	tcpPorts, err := parsePorts(tcpList)
	if err != nil {
		return nil, err
	}
	udpPorts, err := parsePorts(udpList)
	if err != nil {
		return nil, err
	}
	if len(tcpPorts)+len(udpPorts) == 0 {
		return nil, usageError{"serve needs --tcp or --udp ports"}
	}
	s := &server{}
	for _, p := range tcpPorts {
		l, err := net.Listen("tcp", ":"+strconv.Itoa(p))
		if err != nil {
			s.close()
			return nil, fmt.Errorf("listen tcp %d: %w", p, err)
		}
		s.tcp = append(s.tcp, l)
	}
	for _, p := range udpPorts {
		conns, err := listenUDP(p)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("listen udp %d: %w", p, err)
		}
		s.udp = append(s.udp, conns...)
	}
	return s, nil
}

// listenUDP opens port on IPv4 and, if the namespace has IPv6, on IPv6 (the
// same port number when port is 0).
func listenUDP(port int) ([]*net.UDPConn, error) {
	c4, err := net.ListenUDP("udp4", &net.UDPAddr{Port: port})
	if err != nil {
		return nil, err
	}
	if err := setPktinfo(c4, syscall.IPPROTO_IP, syscall.IP_PKTINFO); err != nil {
		c4.Close()
		return nil, err
	}
	conns := []*net.UDPConn{c4}
	port = c4.LocalAddr().(*net.UDPAddr).Port
	// "udp6" with a wildcard address is IPv6-only; IPv4 is served by c4.
	c6, err := net.ListenUDP("udp6", &net.UDPAddr{Port: port})
	if err != nil {
		return conns, nil // no IPv6 in this namespace: serve IPv4 only
	}
	if err := setPktinfo(c6, syscall.IPPROTO_IPV6, syscall.IPV6_RECVPKTINFO); err != nil {
		c6.Close()
		c4.Close()
		return nil, err
	}
	return append(conns, c6), nil
}

func setPktinfo(c *net.UDPConn, level, opt int) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), level, opt, 1)
	}); err != nil {
		return err
	}
	return serr
}

// addrs names what is served, e.g. "tcp [::]:80".
func (s *server) addrs() []string {
	var out []string
	for _, l := range s.tcp {
		out = append(out, "tcp "+l.Addr().String())
	}
	for _, c := range s.udp {
		out = append(out, "udp "+c.LocalAddr().String())
	}
	return out
}

func (s *server) close() {
	for _, l := range s.tcp {
		l.Close()
	}
	for _, c := range s.udp {
		c.Close()
	}
}

// serve answers until ctx ends.
func (s *server) serve(ctx context.Context) {
	var wg sync.WaitGroup
	for _, l := range s.tcp {
		wg.Add(1)
		go func() { defer wg.Done(); s.serveTCP(l) }()
	}
	for _, c := range s.udp {
		wg.Add(1)
		go func() { defer wg.Done(); s.serveUDP(c) }()
	}
	<-ctx.Done()
	s.close()
	wg.Wait()
}

// answer is the one line a request gets back.
func answer(proto string, local, client net.Addr) string {
	addrs := strings.Join(hostAddrs(), ",")
	if addrs == "" {
		addrs = "-"
	}
	return fmt.Sprintf("host=%s addrs=%s proto=%s local=%s client=%s\n",
		hostName(), addrs, proto, local, client)
}

func (s *server) logf(format string, args ...any) {
	if s.log == nil {
		return
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	fmt.Fprintf(s.log, format, args...)
}

func (s *server) serveTCP(l net.Listener) {
	for {
		conn, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // e.g. out of file descriptors
			continue
		}
		go s.answerTCP(conn)
	}
}

func (s *server) answerTCP(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(drainTimeout))
	if _, err := io.WriteString(conn, answer("tcp", conn.LocalAddr(), conn.RemoteAddr())); err != nil {
		return
	}
	s.logf("answered tcp %s -> %s\n", conn.RemoteAddr(), conn.LocalAddr())
	// FIN first, then read what the client sent until it closes too, so the
	// close never turns into a RST that would discard the answer.
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	_, _ = io.Copy(io.Discard, conn)
}

func (s *server) serveUDP(c *net.UDPConn) {
	buf := make([]byte, maxDatagram)
	oob := make([]byte, 256)
	port := c.LocalAddr().(*net.UDPAddr).Port
	for {
		_, oobn, _, client, err := c.ReadMsgUDP(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		dst, ifindex := packetDestination(oob[:oobn])
		local := &net.UDPAddr{IP: dst, Port: port}
		if dst == nil {
			local = c.LocalAddr().(*net.UDPAddr)
		}
		reply := []byte(answer("udp", local, client))
		if _, _, err := c.WriteMsgUDP(reply, sourceControl(dst, ifindex), client); err != nil {
			s.logf("answer udp %s: %v\n", client, err)
			continue
		}
		s.logf("answered udp %s -> %s\n", client, local)
	}
}

// packetDestination reads the IP_PKTINFO / IPV6_PKTINFO control message: the
// address a datagram was sent to and the interface it came in on.
func packetDestination(oob []byte) (net.IP, int32) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, 0
	}
	for _, m := range msgs {
		switch {
		case m.Header.Level == syscall.IPPROTO_IP && m.Header.Type == syscall.IP_PKTINFO &&
			len(m.Data) >= syscall.SizeofInet4Pktinfo:
			pi := (*syscall.Inet4Pktinfo)(unsafe.Pointer(&m.Data[0]))
			return net.IP(append([]byte(nil), pi.Addr[:]...)), 0
		case m.Header.Level == syscall.IPPROTO_IPV6 && m.Header.Type == syscall.IPV6_PKTINFO &&
			len(m.Data) >= syscall.SizeofInet6Pktinfo:
			pi := (*syscall.Inet6Pktinfo)(unsafe.Pointer(&m.Data[0]))
			// The interface matters for link-local destinations.
			return net.IP(append([]byte(nil), pi.Addr[:]...)), int32(pi.Ifindex)
		}
	}
	return nil, 0
}

// sourceControl is the control message that makes an answer leave from src;
// nil (the kernel chooses) when src is unknown.
func sourceControl(src net.IP, ifindex int32) []byte {
	if src == nil {
		return nil
	}
	if ip4 := src.To4(); ip4 != nil {
		b := make([]byte, syscall.CmsgSpace(syscall.SizeofInet4Pktinfo))
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&b[0]))
		h.Level, h.Type = syscall.IPPROTO_IP, syscall.IP_PKTINFO
		h.SetLen(syscall.CmsgLen(syscall.SizeofInet4Pktinfo))
		pi := (*syscall.Inet4Pktinfo)(unsafe.Pointer(&b[syscall.CmsgLen(0)]))
		copy(pi.Spec_dst[:], ip4)
		return b
	}
	b := make([]byte, syscall.CmsgSpace(syscall.SizeofInet6Pktinfo))
	h := (*syscall.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = syscall.IPPROTO_IPV6, syscall.IPV6_PKTINFO
	h.SetLen(syscall.CmsgLen(syscall.SizeofInet6Pktinfo))
	pi := (*syscall.Inet6Pktinfo)(unsafe.Pointer(&b[syscall.CmsgLen(0)]))
	copy(pi.Addr[:], src.To16())
	pi.Ifindex = uint32(ifindex)
	return b
}
