package cniserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ovnet/ovnet/pkg/cni"
)

const (
	// shutdownTimeout lets requests in flight finish when the daemon stops.
	shutdownTimeout = 10 * time.Second
	// readHeaderTimeout bounds a request's headers; the plugin sends them
	// at once.
	readHeaderTimeout = 10 * time.Second
	// socketMode keeps the socket to root: whoever can post to it can
	// plug interfaces into any namespace.
	socketMode = 0o600
)

// Listen creates the unix socket, replacing one a previous run left.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("socket directory: %w", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale socket: %w", err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, socketMode); err != nil {
		l.Close()
		return nil, fmt.Errorf("chmod %s: %w", path, err)
	}
	if err := os.Chown(path, 0, 0); err != nil {
		l.Close()
		return nil, fmt.Errorf("chown %s: %w", path, err)
	}
	return l, nil
}

// Serve answers the plugin on listener until ctx ends, then lets the
// requests in flight finish for up to shutdownTimeout.
func (s *Server) Serve(ctx context.Context, listener net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: readHeaderTimeout}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		shutdownCtx, done := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer done()
		_ = srv.Shutdown(shutdownCtx) // requests still running after the timeout are cut
	}()
	err := srv.Serve(listener)
	if errors.Is(err, http.ErrServerClosed) {
		<-stopped
		return nil
	}
	return err
}

// Handler maps each command's path to its handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, cmd := range []cni.Command{cni.CommandAdd, cni.CommandDel, cni.CommandCheck, cni.CommandGC, cni.CommandStatus} {
		mux.HandleFunc("POST "+cmd.Path(), func(w http.ResponseWriter, r *http.Request) { s.serve(cmd, w, r) })
	}
	return mux
}

// serve decodes, validates, runs and answers one command.
func (s *Server) serve(cmd cni.Command, w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var answer any
	req, err := s.readRequest(w, r)
	if err == nil {
		if err = s.rules.validate(cmd, req); err == nil {
			answer, err = s.run(r.Context(), cmd, req)
		}
	} else {
		req = &cni.Request{} // for the log line
	}
	// Clipped: a refused request's fields may be up to a megabyte long.
	log := s.log.WithValues("command", cmd, "container", clip(req.ContainerID), "pod", clip(req.Pod.Namespace+"/"+req.Pod.Name),
		"duration", time.Since(start))
	if err != nil {
		cniErr := cniError(err)
		s.metrics.requests.WithLabelValues(string(cmd), strconv.FormatUint(uint64(cniErr.Code), 10)).
			Observe(time.Since(start).Seconds())
		log.Error(err, "CNI request failed", "code", cniErr.Code)
		writeJSON(w, http.StatusInternalServerError, cniErr)
		return
	}
	s.metrics.requests.WithLabelValues(string(cmd), "success").Observe(time.Since(start).Seconds())
	log.V(1).Info("CNI request served")
	writeJSON(w, http.StatusOK, answer)
}

// run dispatches to the command; answer is ADD's result, nil otherwise.
func (s *Server) run(ctx context.Context, cmd cni.Command, req *cni.Request) (any, error) {
	switch cmd {
	case cni.CommandAdd:
		return s.add(ctx, req)
	case cni.CommandDel:
		return nil, s.del(ctx, req)
	case cni.CommandCheck:
		return nil, s.check(ctx, req)
	case cni.CommandGC:
		return nil, s.gc(ctx, req)
	default:
		return nil, s.cfg.Status(ctx)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v == nil {
		v = struct{}{}
	}
	_ = json.NewEncoder(w).Encode(v) // the plugin reports a truncated body
}
