package simcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	gkeclient "github.com/GoogleCloudPlatform/gke-gateway-api/pkg/client/clientset/versioned"
	"github.com/spf13/pflag"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/meshctl/meshctl/sim/fakecertmanager"
	"github.com/meshctl/meshctl/sim/fakeiam"
	"github.com/meshctl/meshctl/sim/gkegateway"
	"github.com/meshctl/meshctl/sim/state"
)

// gatewayFlags are `meshsim up`'s knobs for the GKE Gateway controller
// stand-in; the daemon `up` starts reads them from $MESHSIM_GATEWAY_KNOBS.
type gatewayFlags struct {
	accept, program, resync time.Duration
}

func addGatewayFlags(f *pflag.FlagSet) *gatewayFlags {
	k, gke := gkegateway.DefaultKnobs(), gkegateway.GKEKnobs()
	g := &gatewayFlags{}
	f.DurationVar(&g.accept, "gateway-accept-delay", time.Duration(k.AcceptDelay),
		fmt.Sprintf("how long after its creation a Gateway is Accepted (GKE: about %s)", time.Duration(gke.AcceptDelay)))
	f.DurationVar(&g.program, "gateway-program-delay", time.Duration(k.ProgramDelay),
		fmt.Sprintf("the earliest a Gateway is Programmed after its creation (GKE: about %s, up to 10m)", time.Duration(gke.ProgramDelay)))
	f.DurationVar(&g.resync, "gateway-resync", time.Duration(k.Resync),
		fmt.Sprintf("how often the Gateway controller reconciles without a change (GKE: about %s)", time.Duration(gke.Resync)))
	return g
}

// export hands the changed knobs to the daemon through its environment,
// as --fleet-provisioning-time does.
func (g *gatewayFlags) export(f *pflag.FlagSet) {
	k := map[string]string{}
	for flag, field := range map[string]struct {
		key string
		d   time.Duration
	}{"gateway-accept-delay": {"acceptDelay", g.accept}, "gateway-program-delay": {"programDelay", g.program}, "gateway-resync": {"resync", g.resync}} {
		if f.Changed(flag) {
			k[field.key] = field.d.String()
		}
	}
	if len(k) > 0 {
		b, _ := json.Marshal(k)
		os.Setenv(gkegateway.KnobsEnv, string(b))
	}
}

// summary is what `up` prints about the controller.
func (g *gatewayFlags) summary() string {
	return fmt.Sprintf("class %s: Accepted after %s, Programmed after %s at the earliest (--gateway-accept-delay, --gateway-program-delay)",
		gkegateway.ClassName, g.accept, g.program)
}

// gatewaySim is the daemon's GKE Gateway controller: its cluster objects
// are installed before the daemon answers (so `meshsim up` returns with
// the CRDs Established), its knobs are served at /meshsim/gateway/knobs,
// and it runs once the Compute endpoint listens.
type gatewaySim struct {
	cfg   *rest.Config
	knobs *gkegateway.KnobsHolder
}

func newGatewaySim(ctx context.Context, d state.Dir) (*gatewaySim, error) {
	knobs, err := gkegateway.ParseKnobs(os.Getenv(gkegateway.KnobsEnv))
	if err != nil {
		return nil, fmt.Errorf("$%s: %w", gkegateway.KnobsEnv, err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", d.Kubeconfig())
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 100, 200
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	gw, err := gwclient.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	if err := gkegateway.Install(ctx, dyn, gw); err != nil {
		return nil, fmt.Errorf("install the Gateway API: %w", err)
	}
	return &gatewaySim{cfg: cfg, knobs: gkegateway.NewKnobsHolder(knobs)}, nil
}

// handler answers the controller's knobs and passes the rest on.
func (g *gatewaySim) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == gkegateway.KnobsPath {
			g.knobs.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// run reconciles until ctx ends, against the Compute API at endpoint and
// the Certificate Manager API at the same endpoint.
func (g *gatewaySim) run(ctx context.Context, s state.Sim, endpoint, clusterUID string) error {
	kube, err := kubernetes.NewForConfig(g.cfg)
	if err != nil {
		return err
	}
	gw, err := gwclient.NewForConfig(g.cfg)
	if err != nil {
		return err
	}
	gke, err := gkeclient.NewForConfig(g.cfg)
	if err != nil {
		return err
	}
	// GKE's controller calls Compute as the project's GKE service agent,
	// not as the user: the user's permissions do not bound it.
	sc := s.Scenario
	agent := &http.Client{Transport: fakeiam.AsPrincipal(fakeiam.GKEServiceAgent(strconv.FormatInt(sc.ProjectNumber, 10)), nil)}
	svc, err := gkegateway.NewComputeService(ctx, endpoint, agent)
	if err != nil {
		return err
	}
	c := gkegateway.New(gkegateway.Clients{Kube: kube, Gateway: gw, GKE: gke, Compute: svc}, gkegateway.Options{
		Project: sc.Project, ProjectNumber: sc.ProjectNumber, Location: sc.Location, Cluster: sc.Cluster,
		Network: sc.Network, NetworkProject: sc.NetworkProject(), NodeTag: sc.NodeTag(), ClusterUID: clusterUID, Knobs: g.knobs,
		CertificateMaps: gkegateway.CertificateManagerREST{Endpoint: strings.TrimSuffix(endpoint, "/") + strings.TrimSuffix(fakecertmanager.Prefix, "/"), Client: agent},
		Logf:            log.Printf,
	})
	c.Run(ctx)
	return nil
}
