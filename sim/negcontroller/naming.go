package negcontroller

import (
	"crypto/sha256"
	"fmt"
	"strings"
)

// maxNameLength is Compute's limit on resource names.
const maxNameLength = 63

// NEGName is GKE's default name for a standalone NEG
// (ingress-gce pkg/utils/namer: k8s1-<clusterUID8>-<ns>-<svc>-<port>-<hash8>),
// with the descriptive fields trimmed evenly to fit 63 characters.
func NEGName(clusterUID, namespace, service string, port int32) string {
	portStr := fmt.Sprint(port)
	uid := clusterUID
	if len(uid) > 8 {
		uid = uid[:8]
	}
	// "k8s1-" + uid + 4 dashes + 8 hash characters around the three fields.
	budget := maxNameLength - len("k8s1-") - len(uid) - 4 - 8
	fields := trimFieldsEvenly(budget, namespace, service, portStr)
	sum := sha256.Sum256([]byte(strings.Join([]string{uid, namespace, service, portStr}, ";")))
	return fmt.Sprintf("k8s1-%s-%s-%s-%s-%x", uid, fields[0], fields[1], fields[2], sum[:4])
}

// trimFieldsEvenly shortens the longest fields first until they fit max.
func trimFieldsEvenly(max int, fields ...string) []string {
	total := 0
	for _, f := range fields {
		total += len(f)
	}
	out := append([]string(nil), fields...)
	for total > max {
		longest := 0
		for i := range out {
			if len(out[i]) > len(out[longest]) {
				longest = i
			}
		}
		out[longest] = out[longest][:len(out[longest])-1]
		total--
	}
	return out
}
