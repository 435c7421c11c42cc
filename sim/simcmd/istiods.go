package simcmd

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/meshctl/meshctl/sim/state"
)

// IstiodsPath answers where a simulated cluster's istiods listen. On GKE a
// client reaches istiod's debug and xDS ports by port-forwarding to its
// pod; meshsim's istiods are local processes behind kwok pods that run
// nothing, so `meshsim env` points meshctl here instead
// (MESHCTL_ISTIOD_ENDPOINTS): GET ?project=P&location=L&cluster=C answers
// {"istiods":[{"revision","debugURL","secureXDS"}]}.
const IstiodsPath = "/meshsim/istiods"

func istiodsHandler(d state.Dir) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			http.Error(w, "GET only", http.StatusMethodNotAllowed)
			return
		}
		s, err := d.Load()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		q := r.URL.Query()
		c, ok := s.ClusterFor("", q.Get("location"), q.Get("cluster"))
		if !ok || (q.Get("project") != "" && q.Get("project") != c.Scenario.Project) {
			http.Error(w, fmt.Sprintf("meshsim simulates no cluster %s/%s/%s", q.Get("project"), q.Get("location"), q.Get("cluster")), http.StatusNotFound)
			return
		}
		istiods, err := d.Istiods()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		type endpoint struct {
			Revision  string `json:"revision"`
			DebugURL  string `json:"debugURL"`
			SecureXDS string `json:"secureXDS"`
		}
		out := struct {
			Istiods []endpoint `json:"istiods"`
		}{Istiods: []endpoint{}}
		for _, i := range istiods {
			// Records from before several clusters existed name no cluster.
			if i.Cluster == c.Name() || (i.Cluster == "" && !s.Multi()) {
				out.Istiods = append(out.Istiods, endpoint{Revision: i.Revision,
					DebugURL: fmt.Sprintf("http://127.0.0.1:%d/debug", i.MonitorPort), SecureXDS: fmt.Sprintf("127.0.0.1:%d", i.SecureGRPC)})
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
}

// withIstiods serves the istiod directory beside the Google Cloud APIs.
func withIstiods(d state.Dir, apis http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(IstiodsPath, istiodsHandler(d))
	mux.Handle("/", apis)
	return mux
}
