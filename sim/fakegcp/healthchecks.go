package fakegcp

// healthCheckTypes maps a health check's type to the field holding its settings.
var healthCheckTypes = map[string]string{
	"TCP":           "tcpHealthCheck",
	"SSL":           "sslHealthCheck",
	"HTTP":          "httpHealthCheck",
	"HTTPS":         "httpsHealthCheck",
	"HTTP2":         "http2HealthCheck",
	"GRPC":          "grpcHealthCheck",
	"GRPC_WITH_TLS": "grpcTlsHealthCheck",
}

func healthCheckKind() *kind {
	return &kind{
		collection: "healthChecks", method: "healthChecks", apiKind: "compute#healthCheck",
		typeName: "health_check", quota: "HEALTH_CHECKS",
		update: true, patch: true,
		prepare: prepareHealthCheck,
	}
}

// prepareHealthCheck fills Google's defaults: 5 s interval and timeout,
// thresholds of 2, and for the type's settings the default port, proxy
// header and request path.
func prepareHealthCheck(_ *Server, c *change) *APIError {
	hc := c.next
	typ := str(hc, "type")
	if typ == "" {
		for t, field := range healthCheckTypes {
			if _, ok := hc[field]; ok {
				typ = t
			}
		}
	}
	field, ok := healthCheckTypes[typ]
	if !ok {
		return errInvalidField("resource.type", typ, "The health check type must be one of TCP, SSL, HTTP, HTTPS, HTTP2, GRPC, GRPC_WITH_TLS.")
	}
	hc["type"] = typ
	setDefault(hc, "checkIntervalSec", 5)
	setDefault(hc, "timeoutSec", 5)
	setDefault(hc, "healthyThreshold", 2)
	setDefault(hc, "unhealthyThreshold", 2)
	interval, _ := num(hc, "checkIntervalSec")
	timeout, _ := num(hc, "timeoutSec")
	if timeout > interval {
		return errInvalidField("resource.timeoutSec", timeout, "TimeoutSec should be less than checkIntervalSec.")
	}
	settings := ensureObj(hc, field)
	if str(settings, "portSpecification") != "USE_SERVING_PORT" && str(settings, "portName") == "" {
		port := 80
		if typ == "SSL" || typ == "HTTPS" || typ == "HTTP2" || typ == "GRPC_WITH_TLS" {
			port = 443
		}
		setDefault(settings, "port", port)
	}
	switch typ {
	case "TCP", "SSL", "HTTP", "HTTPS", "HTTP2":
		setDefault(settings, "proxyHeader", "NONE")
	}
	switch typ {
	case "HTTP", "HTTPS", "HTTP2":
		setDefault(settings, "requestPath", "/")
	}
	return nil
}

// healthCheckPort is the port a health check probes; zero with
// USE_SERVING_PORT, meaning each endpoint's own port.
func healthCheckPort(hc map[string]any) int64 {
	settings := obj(hc, healthCheckTypes[str(hc, "type")])
	if str(settings, "portSpecification") == "USE_SERVING_PORT" {
		return 0
	}
	port, _ := num(settings, "port")
	return port
}

// regionHealthCheckKind: regional health checks follow the global rules;
// internal passthrough and regional managed load balancers use them.
func regionHealthCheckKind() *kind {
	k := healthCheckKind()
	k.scope, k.method, k.quota = regionalScope, "regionHealthChecks", ""
	return k
}

// httpHealthCheckKind is the legacy HTTP health check, which backend
// services of instance groups may still name. Recorded: Google words its
// 404 with the health check's path (global/healthChecks/NAME) and, once an
// insert or delete is DONE, its operation's targetLink names the health
// check too, as if the legacy checks lived among health checks.
func httpHealthCheckKind() *kind {
	return &kind{
		collection: "httpHealthChecks", method: "httpHealthChecks", apiKind: "compute#httpHealthCheck",
		typeName: "http_health_check", quota: "HEALTH_CHECKS",
		update: true, patch: true,
		reportedAs: "healthChecks",
		prepare: func(_ *Server, c *change) *APIError {
			hc := c.next
			setDefault(hc, "port", 80)
			setDefault(hc, "requestPath", "/")
			setDefault(hc, "checkIntervalSec", 5)
			setDefault(hc, "timeoutSec", 5)
			setDefault(hc, "healthyThreshold", 2)
			setDefault(hc, "unhealthyThreshold", 2)
			setDefault(hc, "proxyHeader", "NONE")
			interval, _ := num(hc, "checkIntervalSec")
			timeout, _ := num(hc, "timeoutSec")
			if timeout > interval {
				return errInvalidField("resource.timeoutSec", timeout, "TimeoutSec should be less than checkIntervalSec.")
			}
			return nil
		},
	}
}
