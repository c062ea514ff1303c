package harness

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"
)

// birdReadyTimeout bounds BIRD's start: it opens its control socket at
// once.
const birdReadyTimeout = 10 * time.Second

// BIRDNeighbor is one BGP session of a BIRD router.
type BIRDNeighbor struct {
	// Name is the BGP protocol's name in BIRD (letters, digits, _).
	Name    string
	Address netip.Addr
	AS      uint32
	// Local is BIRD's address of the session; RouterID when unset.
	Local netip.Addr
	// Password is the TCP MD5 password, if any.
	Password string
	// RouteReflectorClient makes BIRD reflect the neighbour's routes to
	// its other iBGP neighbours (and theirs to it).
	RouteReflectorClient bool
	// Export sends the neighbour the routes BIRD learned from the others
	// (a route server's part; a reflector client gets them anyway).
	Export bool
	// Multihop, when set, allows the neighbour this many hops away (BIRD's
	// multihop); zero means on a link BIRD shares (direct).
	Multihop uint8
}

// BIRDStatic is a static route of BIRD's own table: the route a multihop
// session's next hops resolve through, where no IGP runs.
type BIRDStatic struct {
	Prefix netip.Prefix
	Via    netip.Addr
}

// BIRDOptions says how to run BIRD.
type BIRDOptions struct {
	// NetNS is the namespace BIRD runs in.
	NetNS string
	// RouterID is also the local address of every session that names
	// none.
	RouterID  netip.Addr
	AS        uint32
	Neighbors []BIRDNeighbor
	Static    []BIRDStatic
	// IPv6 adds an IPv6 channel to every session (multiprotocol BGP over
	// the IPv4 session, RFC 4760) and installs the IPv6 routes learned
	// into the namespace's table too.
	IPv6 bool
}

// BIRD is the BIRD routing daemon (Debian's bird2), a BGP peer ovnet did
// not write: it installs what it learns into its namespace's main table,
// so the namespace routes by what was announced.
type BIRD struct {
	// Socket is its control socket, for birdc.
	Socket  string
	LogFile string
	daemon  *daemon
}

var birdConfig = template.Must(template.New("bird.conf").Parse(`router id {{.RouterID}};
log "{{.Log}}" all;
protocol device { scan time 1; }
protocol kernel {
	ipv4 { import none; export all; };
	merge paths on;
}
{{- if .IPv6}}
protocol kernel {
	ipv6 { import none; export all; };
	merge paths on;
}
{{- end}}
{{- if .Static}}
protocol static {
	ipv4;
	{{- range .Static}}
	route {{.Prefix}} via {{.Via}};
	{{- end}}
}
{{- end}}
{{range .Neighbors}}
protocol bgp {{.Name}} {
	local {{if .Local.IsValid}}{{.Local}}{{else}}{{$.RouterID}}{{end}} as {{$.AS}};
	neighbor {{.Address}} as {{.AS}};
	{{- if .Password}}
	password "{{.Password}}";
	{{- end}}
	{{- if .RouteReflectorClient}}
	rr client;
	{{- end}}
	{{- if .Multihop}}
	# Next hops resolve through the static routes.
	multihop {{.Multihop}};
	{{- else}}
	# The nodes share the external host's link: their addresses are next
	# hops as they are, for iBGP too (no IGP to resolve them through).
	direct;
	{{- end}}
	connect retry time 1;
	error wait time 1, 2;
	ipv4 { import all; export {{if or .RouteReflectorClient .Export}}where source = RTS_BGP{{else}}none{{end}}; };
	{{- if $.IPv6}}
	ipv6 { import all; export {{if or .RouteReflectorClient .Export}}where source = RTS_BGP{{else}}none{{end}}; };
	{{- end}}
}
{{end}}`))

// StartBIRD writes BIRD's configuration into a temporary directory and
// runs it in opts.NetNS until Stop or tb's cleanup.
func StartBIRD(tb T, opts BIRDOptions) *BIRD {
	tb.Helper()
	lookPath(tb, "birdc")
	dir := socketDir(tb)
	b := &BIRD{Socket: filepath.Join(dir, "bird.ctl"), LogFile: filepath.Join(dir, "bird.log")}
	conf := filepath.Join(dir, "bird.conf")
	f, err := os.Create(conf)
	if err != nil {
		tb.Fatalf("bird: %v", err)
	}
	err = birdConfig.Execute(f, struct {
		BIRDOptions
		Log string
	}{opts, b.LogFile})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		tb.Fatalf("bird: writing %s: %v", conf, err)
	}
	b.daemon = spawn(tb, daemonSpec{name: "bird in " + netnsLabel(opts.NetNS), logFile: b.LogFile,
		stderrFile: filepath.Join(dir, "bird.stderr"), argv: inNetNS(opts.NetNS, "bird", "-f", "-c", conf, "-s", b.Socket)})
	tb.Cleanup(func() { b.Stop(tb) })
	b.daemon.waitFor(tb, birdReadyTimeout, "bird answers on "+b.Socket, func() error {
		_, err := b.Command("show", "status")
		return err
	})
	return b
}

// Command runs birdc with args and returns its output.
func (b *BIRD) Command(args ...string) (string, error) {
	return toolOutput(append([]string{"birdc", "-s", b.Socket}, args...)...)
}

// Routes reads the BGP routes of BIRD's tables (IPv4, and IPv6 with
// BIRDOptions.IPv6): each prefix with the next
// hops of its routes (every path, best or not; a stale one kept for a
// restarting peer too). A route learned over a multihop session shows
// the router its next hop resolves through.
func (b *BIRD) Routes() (map[netip.Prefix][]netip.Addr, error) {
	out, err := b.Command("show", "route", "where", "source", "=", "RTS_BGP")
	if err != nil {
		return nil, err
	}
	return parseBIRDRoutes(out)
}

// parseBIRDRoutes reads "show route": a line starting with a prefix opens
// its routes, indented "via ADDR on IFACE" lines give their next hops.
func parseBIRDRoutes(out string) (map[netip.Prefix][]netip.Addr, error) {
	routes := map[netip.Prefix][]netip.Addr{}
	var current netip.Prefix
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if p, err := netip.ParsePrefix(fields[0]); err == nil && line[0] != ' ' && line[0] != '\t' {
			current = p
			routes[p] = routes[p]
			continue
		}
		if fields[0] == "via" && len(fields) > 1 && current.IsValid() {
			hop, err := netip.ParseAddr(fields[1])
			if err != nil {
				return nil, fmt.Errorf("bird route %s: next hop %q: %w", current, fields[1], err)
			}
			routes[current] = append(routes[current], hop)
		}
	}
	return routes, sc.Err()
}

// Stop stops BIRD (SIGTERM: it closes its sessions) and waits until it
// exited. A second call does nothing.
func (b *BIRD) Stop(tb T) {
	tb.Helper()
	if b.daemon == nil {
		return
	}
	b.daemon.stop(tb)
	b.daemon = nil
}

// Established says whether BIRD's session with the named neighbour is up.
func (b *BIRD) Established(name string) (bool, error) {
	out, err := b.Command("show", "protocols", name)
	if err != nil {
		return false, err
	}
	return strings.Contains(out, "Established"), nil
}
