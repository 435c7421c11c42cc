package fakegcp

// The differences the simulator keeps from the recorded exchanges, per
// recording, in the order they occur; each with its cause.

// cause says why a difference is kept.
type cause string

const (
	// causeNormalised: the recording replaced a value by a fixed text (a
	// timestamp, a generation, an id under a name's placeholder) that the
	// replayer still compares; no server can answer it.
	causeNormalised cause = "normalised"
	// causeNaming: the recording reuses one placeholder for two objects and the
	// replayer can name only the last, so requests meant for the first go
	// to the second.
	causeNaming cause = "naming"
	// causeDeliberate: the simulator answers otherwise on purpose, because a
	// real client needs it: gcloud, tested in gcloud_test.go.
	causeDeliberate cause = "deliberate"
	// causeRecording: the recorded answer contradicts Google's documented API or
	// describes a project unlike the simulated one.
	causeRecording cause = "recording"
)

// knownDifference allows the differences of one differing exchange,
// matched in order within a recording.
type knownDifference struct {
	request string   // method and path after the project, as the replayer names it
	diffs   []string // prefixes of the allowed differences; none: the whole exchange
	why     string
	cause   cause
}

// bornDoneOperation: the recordings of URL map writes and of an address's
// setLabels answer an operation already DONE that carries neither
// operationType nor targetLink, with progress 0. The simulator also
// completes these at once (DefaultKnobs), but its operations always carry
// both fields and say progress 100 when DONE: gcloud reads operationType
// and targetLink of every DONE operation (googlecloudsdk
// api_lib/compute/waiters.py: _IsDeleteOp, ResourceGetRequest) and fails
// without them: TestGcloudNeedsTheBornDoneOperationsFields gives gcloud the
// recorded answer, and gcloud crashes. The forwarding rules' setLabels
// recordings show born-DONE operations with progress 100 and both fields.
var bornDoneOperation = []string{".progress: 100, want 0", ".operationType: unexpected", ".targetLink: unexpected"}

const (
	whyBornDone = "operation born DONE: see bornDoneOperation"
	// The chain recording creates two target HTTPS proxies under one
	// placeholder and later deletes both. The replayer can only name the
	// second, so the first is never deleted; everything it references is then
	// rightly still in use, and the operations polled after the refused
	// deletes are the last ones the replayer knows.
	whySharedPlaceholder = "the first proxy cannot be named by the replayer and survives (see the chain comment)"
	// The regional forwarding rule recording creates two regional backend
	// services under one placeholder and deletes both at the end; the
	// replayer names the second twice, which is gone the second time.
	whySecondBackendService = "the replayer names the second backend service twice; it is gone the second time"
	// Recorded: an update (PUT, or PATCH of a list) answers with the old and
	// the new list entries both (the backends and health checks twice, the
	// certificate twice), keeps a link relative and echoes the secret; Google
	// documents update as replacing the object and patch as a JSON merge
	// patch, in which lists replace, and it keeps only the secret's SHA-256.
	whyListsReplace = "lists replace on update and patch, as Google documents; the recording doubles them"
)

// instanceNIC: the backend service recordings create an instance whose
// network interface comes back with only its network. Google fills in
// name (nic0), networkIP from the subnetwork, subnetwork, stackType and
// kind (documented in instances.get and shown by every `gcloud compute
// instances describe`); meshsim vm and the reachability model read the
// address, network and subnetwork from there.
var instanceNIC = knownDifference{"GET /zones/us-central1-a/instances/{instanceID}",
	[]string{".networkInterfaces[0].kind: unexpected", ".networkInterfaces[0].name: unexpected", ".networkInterfaces[0].networkIP: unexpected",
		".networkInterfaces[0].stackType: unexpected", ".networkInterfaces[0].subnetwork: unexpected"},
	"a real instance's network interface shows its name, address, subnetwork and stack type (see instanceNIC)", causeRecording}

var knownDifferences = map[string][]knownDifference{
	"compute-managed-ssl-certificate.log": {
		{"GET /global/sslCertificates/{sslCertificateID}", []string{".managed.domainStatus: unexpected", ".managed.status: unexpected"},
			"the recording read the certificate before Google filled its status; meshctl polls managed.status, which the fake reports from the start (PROVISIONING)", causeRecording},
	},
	"compute-url-map.log": {
		{"POST /global/urlMaps", bornDoneOperation, whyBornDone, causeDeliberate},
		{"PUT /global/urlMaps/{urlMapID}", bornDoneOperation, whyBornDone, causeDeliberate},
		{"DELETE /global/urlMaps/{urlMapID}", bornDoneOperation, whyBornDone, causeDeliberate},
		{"GET https://storage.googleapis.com/storage/v1/b/storagebucket-{uniqueId}/o", []string{".prefixes: missing"},
			"the recorded bucket lists folders no request of the recording made; the simulator's buckets hold nothing", causeRecording},
	},
	"compute-target-https-proxy.log": {
		{"POST /global/urlMaps", bornDoneOperation, whyBornDone, causeDeliberate},
		{"POST /global/urlMaps", bornDoneOperation, whyBornDone, causeDeliberate},
		{"GET /global/targetHttpsProxies/{targetHttpsProxyID}", []string{".sslCertificates: 1 items, want 2", ".urlMap: "}, whyListsReplace, causeRecording},
		{"DELETE /global/urlMaps/{urlMapID}", bornDoneOperation, whyBornDone, causeDeliberate},
		{"DELETE /global/urlMaps/{urlMapID}", bornDoneOperation, whyBornDone, causeDeliberate},
	},
	"compute-https-lb-chain.log": {
		{"POST /global/addresses/{addressID}/setLabels", bornDoneOperation, whyBornDone, causeDeliberate},
		{"POST /global/urlMaps", bornDoneOperation, whyBornDone, causeDeliberate},
		{"POST /global/urlMaps", bornDoneOperation, whyBornDone, causeDeliberate},
		{"GET /global/targetHttpsProxies/{targetHttpsProxyID}", nil, whySharedPlaceholder, causeNaming},
		{"DELETE /global/targetHttpsProxies/{targetHttpsProxyID}", nil, whySharedPlaceholder, causeNaming},
		{"DELETE /global/sslCertificates/{sslCertificateID}", nil, whySharedPlaceholder, causeNaming},
		{"GET /global/operations/{operationID}", []string{".targetLink: "}, whySharedPlaceholder, causeNaming},
		{"DELETE /global/urlMaps/{urlMapID}", bornDoneOperation, whyBornDone, causeDeliberate},
		{"DELETE /global/urlMaps/{urlMapID}", nil, whySharedPlaceholder, causeNaming},
		{"DELETE /global/backendServices/{backendServiceID}", nil, whySharedPlaceholder, causeNaming},
		{"GET /global/operations/{operationID}", []string{".targetLink: "}, whySharedPlaceholder, causeNaming},
		{"DELETE /global/healthChecks/{healthCheckID}", nil, whySharedPlaceholder, causeNaming},
		{"GET /global/operations/{operationID}", []string{".targetLink: "}, whySharedPlaceholder, causeNaming},
	},
	"gke-cluster-crud.log": {
		{"GET https://serviceusage.googleapis.com/v1/projects/{projectId}/services/container.googleapis.com",
			[]string{".state: 'ENABLED', want 'DISABLED'", ".config: unexpected", ".parent: unexpected"},
			"the recorded project had the GKE API disabled (the simulated one has every API but mesh.googleapis.com enabled), " +
				"and its answer lacks config and parent, which Service Usage documents and fakehub answers", causeRecording},
		{"GET /locations/us-central1-a/clusters/test-{uniqueId}", gkeNormalised, whyGKENormalised, causeNormalised},
		{"GET /locations/us-central1-a/clusters/test-{uniqueId}", gkeNormalised, whyGKENormalised, causeNormalised},
	},
	"compute-backend-service.log": {
		instanceNIC,
		{"GET /global/backendServices/{backendServiceID}", []string{".backends: 1 items, want 2", ".healthChecks: 1 items, want 2", ".iap.oauth2ClientSecret: missing"},
			whyListsReplace, causeRecording},
		instanceNIC,
	},
	"compute-regional-backend-service.log": {
		instanceNIC,
		{"GET /regions/us-central1/backendServices/{backendServiceID}",
			[]string{".backends: 1 items, want 2", ".healthChecks: 1 items, want 2", ".iap.oauth2ClientSecret: missing", ".region: "},
			whyListsReplace + " (and the region as sent)", causeRecording},
		instanceNIC,
	},
	"compute-regional-forwarding-rule.log": {
		{"GET /global/networks/{networkID}", []string{".name: ", ".selfLink: "},
			"the recording writes the network's numeric id in selfLinkWithId with the name's placeholder, so the replayer takes the id for the name", causeNormalised},
		{"GET /regions/us-central1/subnetworks/{subnetworkID}", []string{".gatewayAddress: '10.128.0.1', want '10.0.0.1'"},
			"the recorded gateway lies outside its subnetwork's own range (10.128.0.0/20); Google documents the default gateway as the range's second address, " +
				"10.128.0.1 here (cloud.google.com/vpc/docs/subnets, reserved IPv4 addresses)", causeRecording},
		{"GET /regions/us-central1/backendServices/{backendServiceID}", nil, whySecondBackendService, causeNaming},
		{"DELETE /regions/us-central1/backendServices/{backendServiceID}", nil, whySecondBackendService, causeNaming},
	},
	"certificatemanager-certificate-map-entry.log": {
		{"GET /operations/{operationID}", []string{".response.selfManaged.pemPrivateKey: missing"}, whyPrivateKey, causeRecording},
		{"GET /certificates/certificatemanagercertificate{uniqueId}", []string{".selfManaged.pemPrivateKey: missing"}, whyPrivateKey, causeRecording},
		{"GET /certificates/certificatemanagercertificate{uniqueId}", []string{".selfManaged.pemPrivateKey: missing"}, whyPrivateKey, causeRecording},
	},
}

const whyPrivateKey = "Google documents a self-managed certificate's pemPrivateKey as input only and the simulator never answers it; the recording echoes it"

// gkeNormalised: the recording replaces instance group names and the pod
// range's hash with fixed text (gke-containercluster-abcdef,
// default-pool-pods-12345678) and reports currentNodeCount 1 for a pool
// created with three nodes; the fake names groups as GKE does
// (gke-<cluster>-<pool>-<hash>-grp), counts the nodes it simulates, and
// lists each pool's zones in nodePools[].locations, as GKE does and meshctl
// needs.
var gkeNormalised = []string{".currentNodeCount: 3, want 1", ".instanceGroupUrls[0]: ", ".nodePools[0].instanceGroupUrls[0]: ",
	".nodePools[0].networkConfig.podRange: ", ".nodePools[0].locations: unexpected"}

const whyGKENormalised = "normalised values in the recording: see gkeNormalised"
