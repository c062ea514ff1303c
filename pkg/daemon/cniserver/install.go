package cniserver

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ovnet/ovnet/pkg/cni"
)

// ConflistName sorts first, so a runtime that takes the first config in
// the directory takes ovnet's.
const ConflistName = "01-ovnet.conflist"

// conflistVersion is the version runtimes that do not know cniVersions
// read; newer ones pick the highest of cniVersions they support.
const conflistVersion = "1.0.0"

// conflist is the network configuration list the daemon installs.
type conflist struct {
	CNIVersion  string        `json:"cniVersion"`
	CNIVersions []string      `json:"cniVersions"`
	Name        string        `json:"name"`
	Plugins     []pluginEntry `json:"plugins"`
}

// pluginEntry is ovnet's entry in the list. Not cni.NetConf: its embedded
// PluginConf marshals itself and would drop serverSocket.
type pluginEntry struct {
	Type         string `json:"type"`
	ServerSocket string `json:"serverSocket"`
}

// Install says where the plugin and its conflist go.
type Install struct {
	// PluginBinary is the plugin to copy; empty installs nothing.
	PluginBinary string
	// BinDir is the runtime's plugin directory, ConfDir its conflist one.
	BinDir  string
	ConfDir string
	// Socket is the daemon's, named in the conflist.
	Socket string
}

// InstallPlugin copies the plugin into the runtime's bin dir and writes
// the conflist, each through a temporary file renamed into place, so a
// runtime never execs a half-copied binary or reads a half-written file.
func InstallPlugin(cfg Install) error {
	if cfg.PluginBinary == "" {
		return nil
	}
	if err := copyAtomic(cfg.PluginBinary, filepath.Join(cfg.BinDir, cni.PluginType), 0o755); err != nil {
		return fmt.Errorf("install CNI plugin: %w", err)
	}
	list := conflist{CNIVersion: conflistVersion, CNIVersions: []string{conflistVersion, cni.SpecVersion},
		Name: cni.PluginType, Plugins: []pluginEntry{{Type: cni.PluginType, ServerSocket: cfg.Socket}}}
	data, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return fmt.Errorf("encode conflist: %w", err)
	}
	if err := writeAtomic(filepath.Join(cfg.ConfDir, ConflistName), data, 0o644); err != nil {
		return fmt.Errorf("install conflist: %w", err)
	}
	return nil
}

func copyAtomic(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return replaceFile(dst, mode, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}

func writeAtomic(dst string, data []byte, mode os.FileMode) error {
	return replaceFile(dst, mode, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// replaceFile writes a temporary file beside dst and renames it over dst.
func replaceFile(dst string, mode os.FileMode, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}
