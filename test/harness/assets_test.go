package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKubeAssetsDir(t *testing.T) {
	tests := []struct {
		name string
		// layout creates binaries under root and returns the env to set.
		layout  func(root string) map[string]string
		wantDir string // relative to root; "" when an error is expected
		wantErr string
	}{
		{
			name: "KUBEBUILDER_ASSETS wins",
			layout: func(root string) map[string]string {
				writeBinaries(t, filepath.Join(root, "assets"), kubeBinaries...)
				return map[string]string{assetsEnv: filepath.Join(root, "assets"), cacheEnv: filepath.Join(root, "cache")}
			},
			wantDir: "assets",
		},
		{
			name: "OVNET_CACHE",
			layout: func(root string) map[string]string {
				writeBinaries(t, filepath.Join(root, "cache/k8s-"+kubeVersion+"/bin"), kubeBinaries...)
				return map[string]string{assetsEnv: "", cacheEnv: filepath.Join(root, "cache")}
			},
			wantDir: "cache/k8s-" + kubeVersion + "/bin",
		},
		{
			name: "HOME default",
			layout: func(root string) map[string]string {
				writeBinaries(t, filepath.Join(root, ".cache/ovnet/k8s-"+kubeVersion+"/bin"), kubeBinaries...)
				return map[string]string{assetsEnv: "", cacheEnv: "", "HOME": root}
			},
			wantDir: ".cache/ovnet/k8s-" + kubeVersion + "/bin",
		},
		{
			name: "missing kubectl names it and make tools",
			layout: func(root string) map[string]string {
				writeBinaries(t, filepath.Join(root, "assets"), "etcd", "kube-apiserver")
				return map[string]string{assetsEnv: filepath.Join(root, "assets")}
			},
			wantErr: "missing in " + "%ROOT%/assets: kubectl; run `make tools`",
		},
		{
			name: "empty directory",
			layout: func(root string) map[string]string {
				return map[string]string{assetsEnv: root}
			},
			wantErr: "etcd, kube-apiserver, kubectl",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for k, v := range tt.layout(root) {
				t.Setenv(k, v)
			}
			dir, err := KubeAssetsDir()
			if tt.wantErr != "" {
				want := strings.ReplaceAll(tt.wantErr, "%ROOT%", root)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("KubeAssetsDir() = %q, %v; want error containing %q", dir, err, want)
				}
				return
			}
			if want := filepath.Join(root, tt.wantDir); err != nil || dir != want {
				t.Fatalf("KubeAssetsDir() = %q, %v; want %q", dir, err, want)
			}
		})
	}
}

func writeBinaries(t *testing.T, dir string, names ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if want := filepath.Dir(filepath.Dir(wd)); root != want {
		t.Fatalf("RepoRoot() = %q, want %q (two levels above test/harness)", root, want)
	}
}
