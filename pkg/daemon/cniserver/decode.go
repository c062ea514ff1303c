package cniserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/ovnet/ovnet/pkg/cni"
)

const (
	// maxRequestBytes bounds a request body. The plugin's largest request
	// is GC's list of attachments, under 100 bytes each: a node's few
	// hundred pods need tens of kilobytes.
	maxRequestBytes = 1 << 20
	// maxDecoding bounds the bodies read at once, so that the memory
	// they take is bounded too (maxDecoding x maxRequestBytes, and the
	// decoder's copy), however many clients post at once. Reading a body
	// takes microseconds; a runtime's burst of pods waits that long.
	maxDecoding = 16
	// bodyReadTimeout bounds the reading of one body: the plugin writes
	// it at once, so a client trickling it only holds a decoding slot
	// that long.
	bodyReadTimeout = 5 * time.Second
)

// errBodyTooLarge explains a refused body.
var errBodyTooLarge = fmt.Errorf("request body exceeds %d bytes", maxRequestBytes)

// readRequest decodes r's body within the bounds above: a body
// announced too large is refused unread, and one that turns out too large
// is cut at the limit.
func (s *Server) readRequest(w http.ResponseWriter, r *http.Request) (*cni.Request, error) {
	if r.ContentLength > maxRequestBytes {
		return nil, fmt.Errorf("%w: %w (Content-Length %d)", errInvalidRequest, errBodyTooLarge, r.ContentLength)
	}
	release, err := s.decodeSlot(r.Context())
	if err != nil {
		return nil, err
	}
	defer release()
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(bodyReadTimeout)) // fails only for a writer without a connection, in tests
	defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
	return decodeRequest(http.MaxBytesReader(w, r.Body, maxRequestBytes))
}

// decodeSlot waits for one of the maxDecoding slots; release frees it.
func (s *Server) decodeSlot(ctx context.Context) (release func(), err error) {
	select {
	case s.decoding <- struct{}{}:
		return func() { <-s.decoding }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: the client left while waiting to be read: %w", errInvalidRequest, ctx.Err())
	}
}

// decodeRequest reads exactly one JSON request, refusing unknown fields
// and anything after it. Every error wraps errInvalidRequest.
func decodeRequest(body io.Reader) (*cni.Request, error) {
	req := &cni.Request{}
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(req)
	if err == nil {
		if _, err = dec.Token(); errors.Is(err, io.EOF) {
			err = nil
		} else if err == nil {
			err = errors.New("data after the request object")
		}
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, fmt.Errorf("%w: %w", errInvalidRequest, errBodyTooLarge)
	case err != nil:
		return nil, fmt.Errorf("%w: body does not decode: %v", errInvalidRequest, err)
	}
	return req, nil
}
