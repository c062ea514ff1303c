package images

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// The OCI image-spec names this check reads; the structs below hold only
// the fields it uses.
const (
	// AnnotationRefName is the OCI name of an index entry (skopeo writes it).
	AnnotationRefName = "org.opencontainers.image.ref.name"
	// AnnotationContainerdName is the name `ctr images import` takes as is.
	AnnotationContainerdName = "io.containerd.image.name"
	mediaTypeLayerGzip       = "application/vnd.oci.image.layer.v1.tar+gzip"
	mediaTypeLayer           = "application/vnd.oci.image.layer.v1.tar"
	whiteoutPrefix           = ".wh."
	whiteoutOpaque           = ".wh..wh..opq"
)

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type index struct {
	Manifests []descriptor `json:"manifests"`
}

type manifest struct {
	Config descriptor   `json:"config"`
	Layers []descriptor `json:"layers"`
}

// Config is the part of an image's configuration the check compares.
type Config struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Config       struct {
		Env    []string          `json:"Env"`
		Labels map[string]string `json:"Labels"`
	} `json:"config"`
}

// Entry is one path of the image's file system, after all layers.
type Entry struct {
	Type     byte // tar.TypeReg, tar.TypeDir, tar.TypeSymlink, ...
	Mode     int64
	Linkname string
	// Content is kept only for the paths ReadArchive was asked for.
	Content []byte
}

// Image is an OCI image archive's single image, read whole.
type Image struct {
	// Annotations of its index entry, where its names are.
	Annotations map[string]string
	Config      Config
	// Files maps clean absolute paths ("/usr/bin/ovnet") to entries.
	Files map[string]Entry
}

// ReadArchive reads an OCI archive (a tar of an OCI image layout) holding
// one image. It keeps the content of the regular files whose final paths
// (symlinks in parent directories not followed) are in keep.
func ReadArchive(archive string, keep map[string]bool) (*Image, error) {
	dir, err := os.MkdirTemp("", "ovnet-image-check-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := untarLayout(archive, dir); err != nil {
		return nil, fmt.Errorf("unpack %s: %w", archive, err)
	}
	var idx index
	if err := readJSON(dir, "index.json", &idx); err != nil {
		return nil, err
	}
	if len(idx.Manifests) != 1 {
		return nil, fmt.Errorf("index.json lists %d images, want 1", len(idx.Manifests))
	}
	var m manifest
	if err := readJSON(dir, blobPath(idx.Manifests[0].Digest), &m); err != nil {
		return nil, err
	}
	img := &Image{Annotations: idx.Manifests[0].Annotations, Files: map[string]Entry{}}
	if err := readJSON(dir, blobPath(m.Config.Digest), &img.Config); err != nil {
		return nil, err
	}
	for _, layer := range m.Layers {
		if err := img.applyLayer(dir+"/"+blobPath(layer.Digest), layer.MediaType, keep); err != nil {
			return nil, fmt.Errorf("layer %s: %w", layer.Digest, err)
		}
	}
	return img, nil
}

// untarLayout extracts the layout's regular files (index.json, oci-layout,
// blobs/sha256/*) into dir; the archive holds nothing else.
func untarLayout(archive, dir string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean(hdr.Name)
		if hdr.Typeflag != tar.TypeReg || strings.HasPrefix(name, "..") || path.IsAbs(name) {
			continue
		}
		if err := os.MkdirAll(path.Join(dir, path.Dir(name)), 0o755); err != nil {
			return err
		}
		out, err := os.Create(path.Join(dir, name))
		if err != nil {
			return err
		}
		_, err = io.Copy(out, tr)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
}

func blobPath(digest string) string {
	algorithm, hex, _ := strings.Cut(digest, ":")
	return path.Join("blobs", algorithm, hex)
}

func readJSON(dir, name string, v any) error {
	data, err := os.ReadFile(path.Join(dir, name))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// applyLayer lays one layer over the files so far, whiteouts included.
func (img *Image) applyLayer(blob, mediaType string, keep map[string]bool) error {
	f, err := os.Open(blob)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = f
	switch mediaType {
	case mediaTypeLayerGzip:
		gz, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		defer gz.Close()
		r = gz
	case mediaTypeLayer:
	default:
		return fmt.Errorf("unknown layer media type %q", mediaType)
	}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Join("/", hdr.Name)
		dir, base := path.Split(name)
		switch {
		case base == whiteoutOpaque:
			img.remove(path.Clean(dir), false)
		case strings.HasPrefix(base, whiteoutPrefix):
			img.remove(path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix)), true)
		default:
			entry := Entry{Type: hdr.Typeflag, Mode: hdr.Mode, Linkname: hdr.Linkname}
			if hdr.Typeflag == tar.TypeLink { // a hard link is its target again
				entry = img.Files[path.Join("/", hdr.Linkname)]
			}
			if keep[name] && hdr.Typeflag == tar.TypeReg {
				if entry.Content, err = io.ReadAll(tr); err != nil {
					return err
				}
			}
			img.Files[name] = entry
		}
	}
}

// remove drops everything under dir, and dir itself when self is set.
func (img *Image) remove(dir string, self bool) {
	if self {
		delete(img.Files, dir)
	}
	prefix := strings.TrimSuffix(dir, "/") + "/"
	for name := range img.Files {
		if strings.HasPrefix(name, prefix) {
			delete(img.Files, name)
		}
	}
}

// Resolve follows symlinks (in any component) to the entry a path names
// inside the image, as the container would see it.
func (img *Image) Resolve(name string) (string, Entry, error) {
	const maxLinks = 40
	resolved := "/"
	rest := strings.Split(strings.Trim(path.Clean(name), "/"), "/")
	for links := 0; len(rest) > 0; {
		component := rest[0]
		rest = rest[1:]
		if component == "" || component == "." {
			continue
		}
		next := path.Join(resolved, component)
		entry, ok := img.Files[next]
		if !ok {
			return "", Entry{}, fmt.Errorf("%s: %s does not exist", name, next)
		}
		if entry.Type != tar.TypeSymlink {
			resolved = next
			continue
		}
		if links++; links > maxLinks {
			return "", Entry{}, fmt.Errorf("%s: too many symlinks", name)
		}
		target := entry.Linkname
		if !path.IsAbs(target) {
			target = path.Join(resolved, target)
		}
		rest = append(strings.Split(strings.Trim(path.Clean(target), "/"), "/"), rest...)
		resolved = "/"
	}
	entry, ok := img.Files[resolved]
	if !ok && resolved != "/" {
		return "", Entry{}, fmt.Errorf("%s does not exist", name)
	}
	if resolved == "/" {
		entry = Entry{Type: tar.TypeDir, Mode: 0o755}
	}
	return resolved, entry, nil
}

// LookPath finds a program on the image's PATH, as a shell in it would.
func (img *Image) LookPath(program string) (string, error) {
	for _, env := range img.Config.Config.Env {
		value, found := strings.CutPrefix(env, "PATH=")
		if !found {
			continue
		}
		for _, dir := range strings.Split(value, ":") {
			resolved, entry, err := img.Resolve(path.Join(dir, program))
			if err == nil && entry.Type == tar.TypeReg && entry.Mode&0o111 != 0 {
				return resolved, nil
			}
		}
		return "", fmt.Errorf("%s is not on the image's PATH %s", program, value)
	}
	return "", fmt.Errorf("the image's config sets no PATH")
}
