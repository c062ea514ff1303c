package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
)

// Resources whose objects carry an allocation's record.
const (
	resourcePods  = "pods"
	resourceNodes = "nodes"
)

// annotator writes records (annotations) on pods and nodes. It sends the
// merge patch through a REST client of its own and never decodes the
// object the API server answers with: nothing reads it (the reconcilers
// read objects from the cache, which the watch brings the patched object
// to), and decoding a pod per addressed pod was a tenth of the pod
// reconciler's CPU (test/perf/README.md, "Sixth round"). Errors are still
// decoded, so apierrors.IsNotFound and the like work on them.
type annotator struct {
	// core is a REST client of the core API group.
	core rest.Interface
}

// newAnnotator returns an annotator using cfg's server, credentials and
// rate limits over httpClient (the manager's, so connections are shared).
func newAnnotator(cfg *rest.Config, httpClient *http.Client) (*annotator, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.APIPath = "/api"
	cfg.GroupVersion = &corev1.SchemeGroupVersion
	cfg.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	// The answer is not decoded, but the API server still encodes it:
	// protobuf is its cheaper encoding. The headers are those of
	// controller-runtime's client, whose requests share the connection:
	// HTTP/2 sends a header the connection's other requests also send as
	// an index into its table, where one of the patches' own could be
	// evicted by the pods' paths between two patches and sent in full.
	cfg.ContentType = runtime.ContentTypeProtobuf
	if cfg.UserAgent == "" {
		cfg.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	core, err := rest.RESTClientForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("core API client: %w", err)
	}
	return &annotator{core: core}, nil
}

// patch merges keys into the annotations of the object of resource named
// namespace/name (namespace empty for a cluster-scoped resource) with one
// merge patch.
func (a *annotator) patch(ctx context.Context, resource, namespace, name string, keys map[string]string) error {
	annotations, err := json.Marshal(keys)
	if err != nil {
		return fmt.Errorf("encode annotations: %w", err)
	}
	body := slices.Concat([]byte(`{"metadata":{"annotations":`), annotations, []byte(`}}`))
	err = a.core.Patch(types.MergePatchType).NamespaceIfScoped(namespace, namespace != "").
		Resource(resource).Name(name).Body(body).Do(ctx).Error()
	if err != nil {
		return fmt.Errorf("annotate %s: %w", name, err)
	}
	return nil
}
