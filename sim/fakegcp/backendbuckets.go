package fakegcp

// Backend buckets are here because URL maps may point at them (the URL map
// recording does); nothing in the simulation serves from them.
func backendBucketKind() *kind {
	return &kind{
		collection: "backendBuckets", method: "backendBuckets", apiKind: "compute#backendBucket",
		typeName: "backend_bucket",
		update:   true, patch: true,
		// Recorded: backend buckets word their 404 differently.
		notFound: `BackendBucket "%s" not found`,
		prepare: func(_ *Server, c *change) *APIError {
			if str(c.next, "bucketName") == "" {
				return errRequired("resource.bucketName")
			}
			return nil
		},
	}
}
