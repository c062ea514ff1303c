package images

import (
	"archive/tar"
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	// testRef is the name the test builds under, a tag of its own so that
	// the test never replaces an image `make image` wrote.
	testRef = "docker.io/ovnet/ovnet:image-check"
	// dpkgStatus is where the image's installed packages are listed.
	dpkgStatus = "/var/lib/dpkg/status"
	// containerdTimeout bounds containerd's start and stop; both take well
	// under a second, so this only catches hangs.
	containerdTimeout = 15 * time.Second
)

// programs are what the chart's containers and an operator run from the
// image, found on the image's PATH as its shell would find them.
var programs = []string{
	"ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-appctl", "ovs-ofctl",
	"ovn-controller", "ovn-northd", "ovn-nbctl", "ovn-sbctl", "ovn-appctl",
	"ip", "modprobe",
}

// elfMachines maps GOARCH to the ELF machine its binaries carry.
var elfMachines = map[string]elf.Machine{
	"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "ppc64le": elf.EM_PPC64,
	"s390x": elf.EM_S390, "riscv64": elf.EM_RISCV,
}

// TestImageMatchesDockerfile builds the image the way `make image` does
// (hack/build-image.sh: the Debian layer from the cache, or 2-4 minutes
// to build it once per machine) and checks it holds what the Dockerfile
// says, then imports it into a containerd of its own.
func TestImageMatchesDockerfile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("TestImageMatchesDockerfile needs root: hack/build-image.sh runs mmdebstrap --mode=root, and the test starts containerd")
	}
	d := ourDockerfile(t)
	archive := buildImage(t, testRef)

	keep := map[string]bool{dpkgStatus: true}
	for _, file := range d.Files {
		keep[file] = true
	}
	img, err := ReadArchive(archive, keep)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("names", func(t *testing.T) {
		for _, key := range []string{AnnotationRefName, AnnotationContainerdName} {
			if got := img.Annotations[key]; got != testRef {
				t.Errorf("annotation %s = %q, want %q", key, got, testRef)
			}
		}
	})
	t.Run("config", func(t *testing.T) { checkConfig(t, img, d) })
	t.Run("files", func(t *testing.T) { checkBinaries(t, img, d.Files) })
	t.Run("dirs", func(t *testing.T) {
		for _, dir := range d.Dirs {
			if _, entry, err := img.Resolve(dir); err != nil || entry.Type != tar.TypeDir {
				t.Errorf("directory %s: missing or not a directory (%v)", dir, err)
			}
		}
	})
	t.Run("packages", func(t *testing.T) { checkPackages(t, img, d.Packages) })
	t.Run("programs", func(t *testing.T) {
		for _, program := range programs {
			if _, err := img.LookPath(program); err != nil {
				t.Error(err)
			}
		}
	})
	t.Run("containerd imports it and its programs run", func(t *testing.T) {
		// The subtest's name gives its temporary directories' names, which
		// containerd puts in overlay mount options: no commas in it.
		socket := startContainerd(t)
		checkContainerdImport(t, socket, archive, testRef)
		checkProgramsRun(t, socket, testRef, img)
	})
}

// buildImage runs hack/build-image.sh into a temporary directory and logs
// its timings.
func buildImage(t *testing.T, ref string) string {
	t.Helper()
	archive := filepath.Join(t.TempDir(), "ovnet-image.tar")
	var stderr bytes.Buffer
	cmd := exec.Command("../../hack/build-image.sh", archive, ref)
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	t.Logf("hack/build-image.sh (%.1f s):\n%s", time.Since(start).Seconds(), stderr.String())
	if err != nil {
		t.Fatalf("hack/build-image.sh: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != archive {
		t.Fatalf("hack/build-image.sh printed %q, want the archive %s", got, archive)
	}
	return archive
}

func checkConfig(t *testing.T, img *Image, d Dockerfile) {
	if img.Config.OS != "linux" || img.Config.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s, want linux/%s", img.Config.OS, img.Config.Architecture, runtime.GOARCH)
	}
	for key, want := range d.Labels {
		if got, ok := img.Config.Config.Labels[key]; !ok || got != want {
			t.Errorf("label %s = %q, want the Dockerfile's %q", key, got, want)
		}
	}
}

// checkBinaries: every file the Dockerfile copies is a static executable
// for this architecture (the daemon copies the plugin onto hosts whatever
// their libc).
func checkBinaries(t *testing.T, img *Image, files []string) {
	for _, file := range files {
		entry, ok := img.Files[file]
		if !ok {
			t.Errorf("%s: missing", file)
			continue
		}
		if entry.Type != tar.TypeReg || entry.Mode&0o111 == 0 {
			t.Errorf("%s: not an executable file (type %c, mode %o)", file, entry.Type, entry.Mode)
			continue
		}
		binary, err := elf.NewFile(bytes.NewReader(entry.Content))
		if err != nil {
			t.Errorf("%s: not an ELF binary: %v", file, err)
			continue
		}
		if binary.Machine != elfMachines[runtime.GOARCH] {
			t.Errorf("%s: built for %v, want %s", file, binary.Machine, runtime.GOARCH)
		}
		for _, prog := range binary.Progs {
			if prog.Type == elf.PT_INTERP {
				t.Errorf("%s: dynamically linked, want static (CGO_ENABLED=0)", file)
			}
		}
	}
}

// checkPackages: dpkg lists each of the Dockerfile's packages as installed.
func checkPackages(t *testing.T, img *Image, packages []string) {
	entry, ok := img.Files[dpkgStatus]
	if !ok {
		t.Fatalf("%s missing", dpkgStatus)
	}
	status := dpkgStates(entry.Content)
	for _, pkg := range packages {
		if got := status[pkg]; got != "install ok installed" {
			t.Errorf("package %s: status %q, want installed", pkg, got)
		}
	}
}

// dpkgStates maps each package of a dpkg status file to its Status field.
func dpkgStates(status []byte) map[string]string {
	states := map[string]string{}
	var pkg string
	scanner := bufio.NewScanner(bytes.NewReader(status))
	scanner.Buffer(nil, 1<<20)
	for scanner.Scan() {
		line := scanner.Text()
		if name, ok := strings.CutPrefix(line, "Package: "); ok {
			pkg = name
		} else if state, ok := strings.CutPrefix(line, "Status: "); ok && pkg != "" {
			states[pkg] = state
		} else if line == "" {
			pkg = ""
		}
	}
	return states
}

// ctrNamespace is the containerd namespace the test imports into.
const ctrNamespace = "ovnet-image-check"

// checkContainerdImport imports the archive with plain `ctr images import`
// (no --base-name), unpacking it into overlayfs snapshots as a node would.
func checkContainerdImport(t *testing.T, socket, archive, ref string) {
	ctr := func(args ...string) string {
		t.Helper()
		argv := append([]string{"--address", socket, "--namespace", ctrNamespace}, args...)
		out, err := exec.Command("ctr", argv...).CombinedOutput()
		if err != nil {
			t.Fatalf("ctr %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	start := time.Now()
	ctr("images", "import", "--snapshotter", "overlayfs", archive)
	t.Logf("ctr images import (unpacked): %.1f s", time.Since(start).Seconds())
	if names := strings.Fields(ctr("images", "ls", "--quiet")); !contains(names, ref) {
		t.Fatalf("containerd holds %v after the import, want %s", names, ref)
	}
}

// runScript mounts the image's root file system (ctr images mount) and runs
// each program in it with --version through chroot, so the image's own
// libraries serve them. It runs under `unshare --mount`: the mount lives and
// dies with that namespace, and nothing stays mounted on the host.
const runScript = `set -eu
socket=$1 ref=$2 root=$3; shift 3
ctr --address "$socket" --namespace ` + ctrNamespace + ` images mount "$ref" "$root" >/dev/null
for program; do echo "$program: $(chroot "$root" "$program" --version | head -1)"; done`

// checkProgramsRun: OVS and OVN, dynamically linked, run from the image.
func checkProgramsRun(t *testing.T, socket, ref string, img *Image) {
	argv := []string{"--mount", "--propagation", "private", "sh", "-c", runScript, "sh",
		socket, ref, t.TempDir()}
	for _, program := range []string{"ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovn-controller", "ovn-northd", "ovn-nbctl"} {
		resolved, err := img.LookPath(program)
		if err != nil {
			t.Fatal(err)
		}
		argv = append(argv, resolved)
	}
	out, err := exec.Command("unshare", argv...).CombinedOutput()
	t.Logf("programs in the image:\n%s", out)
	if err != nil {
		t.Fatalf("running the image's programs: %v", err)
	}
	vswitchd, err := img.LookPath("ovs-vswitchd")
	if err != nil {
		t.Fatal(err)
	}
	if v := reportedVersion(string(out), vswitchd); !conntrackFixed(v) {
		t.Errorf("the image's ovs-vswitchd is %q: want 3.1.3 or later, whose userspace conntrack does not abort "+
			"(hack/install-ovs.sh --image)", v)
	}
}

// reportedVersion is the version a program's line of runScript's output
// gives ("<path>: ovs-vswitchd (Open vSwitch) 3.5.0" gives "3.5.0").
func reportedVersion(out, program string) string {
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, program+": "); ok {
			fields := strings.Fields(rest)
			if len(fields) > 0 {
				return fields[len(fields)-1]
			}
		}
	}
	return ""
}

// conntrackFixed reports whether Open vSwitch version v (major.minor.patch)
// has the userspace conntrack fix: 3.1.3 and later.
func conntrackFixed(v string) bool {
	var major, minor, patch int
	if _, err := fmt.Sscanf(v, "%d.%d.%d", &major, &minor, &patch); err != nil {
		return false
	}
	return major > 3 || major == 3 && (minor > 1 || minor == 1 && patch >= 3)
}

// startContainerd runs containerd until the test ends and returns its socket.
func startContainerd(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("containerd"); err != nil {
		t.Fatal("containerd not found: install the Debian package containerd (make deps)")
	}
	dir := t.TempDir()
	socket := filepath.Join(dir, "containerd.sock")
	config := filepath.Join(dir, "config.toml")
	// Every path containerd writes is under dir: root, state, the opt
	// plugin's directory (default /opt/containerd) and the sockets.
	text := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), socket, filepath.Join(dir, "opt"))
	if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("containerd", "--config", config)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// exited is closed once containerd has been reaped; waitErr is then set.
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(containerdTimeout):
			_ = cmd.Process.Kill()
			<-exited
		}
		logFile.Close()
		if t.Failed() {
			log, _ := os.ReadFile(logFile.Name())
			t.Logf("containerd log:\n%s", log)
		}
	})
	deadline := time.Now().Add(containerdTimeout)
	for {
		err := exec.Command("ctr", "--address", socket, "version").Run()
		if err == nil {
			return socket
		}
		select {
		case <-exited:
			t.Fatalf("containerd exited at start: %v", waitErr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("containerd not answering on %s after %s: %v", socket, containerdTimeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestDpkgStates(t *testing.T) {
	status := []byte("Package: a\nStatus: install ok installed\nVersion: 1\n\n" +
		"Package: b\nStatus: deinstall ok config-files\n\nStatus: orphan\n")
	got := dpkgStates(status)
	want := map[string]string{"a": "install ok installed", "b": "deinstall ok config-files"}
	if len(got) != len(want) || got["a"] != want["a"] || got["b"] != want["b"] {
		t.Errorf("dpkgStates = %v, want %v", got, want)
	}
}

func TestConntrackFixed(t *testing.T) {
	for _, tc := range []struct {
		version string
		want    bool
	}{
		{"3.1.0", false}, {"3.1.2", false}, {"3.1.3", true}, {"3.5.0", true}, {"4.0.0", true},
		{"2.17.9", false}, {"", false}, {"3.5", false},
	} {
		if got := conntrackFixed(tc.version); got != tc.want {
			t.Errorf("conntrackFixed(%q) = %v, want %v", tc.version, got, tc.want)
		}
	}
}
