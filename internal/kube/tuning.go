package kube

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
)

// meshctl's Kubernetes clients are tuned here, and only here: every client a
// command builds comes from RESTConfig, which applies tune.
//
// client-go's defaults (5 requests a second, bursts of 10) suit controllers
// that mostly watch. meshctl's commands read and write a handful of objects
// per namespace or Service, many at once: inject and validate over dozens of
// namespaces, expose's plan of a few dozen reads. Under the defaults they
// would spend most of their time in client-go's rate limiter (with 50
// namespaces inject alone would take over a minute). kubectl allows bursts
// of 300 too.
const (
	QPS   = 100
	Burst = 300
)

// tune returns a copy of rc with meshctl's rate limits, speaking protobuf to
// the API server for built-in kinds, as the controllers do: the server then
// encodes the watch events meshctl shares with them once, not again as JSON,
// and protobuf decodes thousands of pods several times faster than JSON
// (validate's lists). The dynamic client (custom resources, expose's objects)
// always speaks JSON: client-go's dynamic.ConfigFor sets it.
func tune(rc *rest.Config) *rest.Config {
	rc = rest.CopyConfig(rc)
	rc.QPS, rc.Burst = QPS, Burst
	rc.ContentType = runtime.ContentTypeProtobuf
	rc.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	return rc
}
