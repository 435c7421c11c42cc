package simcmd

import (
	"fmt"
	"os"
	"time"

	"github.com/meshctl/meshctl/sim/fakegcp"
)

// CertProvisioningDelayEnv sets how long a Google-managed certificate stays
// PROVISIONING once it serves behind a forwarding rule (a Go duration;
// default fakegcp.DefaultKnobs'). Google takes minutes, up to an hour: the
// default is long enough for a test to see a host go without a certificate
// when something swaps it carelessly. The daemon inherits it from `meshsim
// up --cert-provisioning-delay`; POST /meshsim/knobs
// {"certProvisioningDelay":"5s"} changes it at run time.
const CertProvisioningDelayEnv = "MESHSIM_CERT_PROVISIONING_DELAY"

// computeKnobs are the fake Compute API's starting knobs: the defaults, with
// the certificate clock from the environment.
func computeKnobs() (*fakegcp.Knobs, error) {
	k := fakegcp.DefaultKnobs()
	if v := os.Getenv(CertProvisioningDelayEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("$%s: %w", CertProvisioningDelayEnv, err)
		}
		k.CertProvisioningDelay = fakegcp.Duration(d)
	}
	return &k, nil
}
